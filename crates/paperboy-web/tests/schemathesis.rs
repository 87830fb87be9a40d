//! The API against its own OpenAPI document: `schemathesis` (from the Python venv `.ci/run`
//! prepares) fuzzes every operation of a live server with all its checks. Zero server errors
//! and zero schema violations, or the test fails. Writes are fuzzed with a real token. Skips (via `paperboy_testkit::skip`) when
//! the venv is missing. `PAPERBOY_SCHEMATHESIS_SEED` picks another seed (default 4).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef};
use paperboy_store::Store;

/// The Python venv with the API test tools: `PAPERBOY_VENV`, else the one `.ci/run` makes.
fn venv() -> PathBuf {
    std::env::var_os("PAPERBOY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/paperboy-venv"))
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn paper(i: u32) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(&format!("2510.{i:05}")).expect("id"),
        format!("Paper number {i} on attention"),
        format!("Abstract {i} with <b>markup</b> & \"quotes\"."),
        t("2025-10-20T12:00:00Z"),
    );
    p.authors = vec![NewAuthor::named("Ada Lovelace")];
    p.source_upvotes = Some(i64::from(i));
    if i.is_multiple_of(2) {
        let day = 20 + i % 9;
        p.feed = Some(NewFeedEntry {
            feed_date: NaiveDate::from_ymd_opt(2025, 10, day).expect("day"),
            submitted_at: t(&format!("2025-10-{day}T08:00:00Z")),
            submitter: Some(UserRef {
                username: "akhaliq".into(),
                fullname: "AK".into(),
                avatar_url: None,
            }),
            organization: i.is_multiple_of(4).then(|| OrgRef {
                name: "acme".into(),
                fullname: "Acme".into(),
                avatar_url: None,
            }),
        });
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_and_no_schema_violations() {
    let schemathesis = venv().join("bin/schemathesis");
    if !schemathesis.exists() {
        paperboy_testkit::skip(&format!(
            "{} is missing: run .ci/run (or set PAPERBOY_VENV) to install schemathesis",
            schemathesis.display()
        ));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        paperboy_store::sqlite::SqliteStore::open(&dir.path().join("st.sqlite"))
            .await
            .expect("open store"),
    );
    store
        .upsert_papers(&(1..=40).map(paper).collect::<Vec<_>>())
        .await
        .expect("seed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    // Indexing is fuzzed with a real token against a local fake of the arXiv API that
    // serves a recorded response.
    let user = store
        .create_user(&paperboy_store::NewUser {
            username: paperboy_core::Username::parse("fuzzer").expect("name"),
            fullname: "Fuzzer".into(),
            email: None,
            password_hash: None,
            is_admin: false,
        })
        .await
        .expect("user");
    let token = store
        .create_api_token(user.id, "schemathesis")
        .await
        .expect("token")
        .secret;
    let arxiv = paperboy_ingest::ArxivClient::new(
        &common::fake_arxiv().await,
        std::time::Duration::from_millis(1),
    );
    let state = paperboy_web::AppState::new(store).with_arxiv(arxiv);
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));

    let out = tokio::process::Command::new(&schemathesis)
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .args([
            "run",
            &format!("{base}/api/openapi.json"),
            "--checks",
            "all",
            "--max-examples",
            "40",
            // One worker: CPython 3.11's `ast.parse` is not thread-safe, and hypothesis
            // calls it while describing filters.
            "--workers",
            "1",
            "--seed",
            &std::env::var("PAPERBOY_SCHEMATHESIS_SEED").unwrap_or_else(|_| "4".into()),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--no-color",
            // Health checks judge the data generator's speed, not the server: on a loaded
            // CI machine they would fail the run for nothing.
            "--suppress-health-check",
            "all",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
        ])
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("passed") || stdout.contains("PASSED"),
        "{stdout}"
    );
}
