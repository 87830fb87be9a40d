//! Test helpers shared by Paperboy's crates.
//!
//! - [`sqlite_store`] and [`postgres_store`] give a fresh store per test (PostgreSQL: a schema
//!   of its own in the database `TEST_DATABASE_URL` names).
//! - [`conformance!`] runs a suite of store tests on both backends.
//! - [`skip`] is the skip policy: a test that needs something a newcomer's machine may lack
//!   (PostgreSQL, Chromium, an SMTP server, Python tools) prints why it skipped — unless
//!   `PAPERBOY_STRICT_TESTS=1` (set by CI), where a skip is a failure.
//! - [`smtp::SmtpSink`] is a real SMTP server (aiosmtpd) that keeps what it receives.
//! - [`hostile`] is the hostile-input corpus every output is tested against.

pub mod hostile;
pub mod smtp;

use std::sync::Arc;

use paperboy_store::Store;

/// Whether skips are failures (`PAPERBOY_STRICT_TESTS=1`, as CI sets it).
pub fn strict() -> bool {
    std::env::var("PAPERBOY_STRICT_TESTS").as_deref() == Ok("1")
}

/// Skips the calling test with a printed reason, or fails it under [`strict`].
pub fn skip(reason: &str) {
    if strict() {
        panic!("required by PAPERBOY_STRICT_TESTS=1 but unavailable: {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// A store in a fresh SQLite file; keep the directory alive as long as the store.
pub async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = paperboy_store::sqlite::SqliteStore::open(&dir.path().join("test.sqlite"))
        .await
        .expect("open SQLite store");
    (Arc::new(store), dir)
}

/// The URL of a fresh, empty schema in the `TEST_DATABASE_URL` database, or `None` (after
/// [`skip`]) when the variable is not set.
pub async fn postgres_url() -> Option<String> {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        skip("TEST_DATABASE_URL is not set, so PostgreSQL is not tested");
        return None;
    };
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to TEST_DATABASE_URL");
    tokio::spawn(conn);
    let schema = format!("t_{:016x}", rand::random::<u64>());
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}

/// A store in a fresh PostgreSQL schema, or `None` (after [`skip`]).
pub async fn postgres_store() -> Option<Arc<dyn Store>> {
    let url = postgres_url().await?;
    let store = paperboy_store::postgres::PgStore::connect(&url)
        .await
        .expect("open PostgreSQL store");
    Some(Arc::new(store))
}

/// Stores a paper `id` ("A paper", published 2025-10-27) for a test to act on.
pub async fn seed_paper(store: &Arc<dyn Store>, id: &str) {
    let p = paperboy_core::NewPaper::new(
        paperboy_core::ArxivId::parse(id).expect("id"),
        "A paper",
        "An abstract.",
        chrono::DateTime::parse_from_rfc3339("2025-10-27T10:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc),
    );
    store.upsert_papers(&[p]).await.expect("seed paper");
}

/// Makes a local account `name` (`name@example.org`, a placeholder password hash); its id.
pub async fn seed_user(store: &Arc<dyn Store>, name: &str) -> i64 {
    store
        .create_user(&paperboy_store::NewUser {
            username: paperboy_core::Username::parse(name).expect("username"),
            fullname: format!("{name} full"),
            email: Some(
                paperboy_core::Email::parse(&format!("{name}@example.org")).expect("email"),
            ),
            password_hash: Some("$argon2id$old".into()),
            is_admin: false,
        })
        .await
        .expect("user")
        .id
}

/// Declares a conformance suite: each named `async fn NAME(store: Arc<dyn Store>)` of the
/// calling module runs as a test against SQLite (`sqlite_backend::NAME`) and PostgreSQL
/// (`postgres_backend::NAME`, skipped without `TEST_DATABASE_URL`).
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = $crate::sqlite_store().await;
                    super::$name(store).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = $crate::postgres_store().await else { return };
                    super::$name(store).await;
                }
            )*
        }
    };
}
