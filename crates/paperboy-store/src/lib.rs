//! Paperboy's storage: the [`Store`] trait and its two backends, SQLite (the embedded default:
//! one file under the data directory) and PostgreSQL (for several stateless replicas).
//!
//! Both backends pass the same conformance suite (`tests/conformance.rs`). Each owns its
//! migrations (`migrations/sqlite`, `migrations/postgres`), applied when the store opens.

mod model;
pub mod postgres;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use paperboy_core::{ArxivId, NewPaper, Paper};

pub use model::{
    Backend, ChangeCursor, ChangedPapers, FeedPage, FeedQuery, FeedSort, NewUser, PaperCursor,
    Stats, UpsertSummary, User, author_key, sort_trending,
};

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule was broken (a taken username, say).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be read back.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database reported an error.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database reported an error.
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection could be had.
    #[error("could not get a database connection: {0}")]
    Pool(String),
    /// The schema could not be brought up to date.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database file or URL is unusable.
    #[error("cannot open the database: {0}")]
    Open(String),
    /// The integrity check found a problem.
    #[error("integrity check failed: {0}")]
    Integrity(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Paperboy keeps. Implemented by [`sqlite::SqliteStore`] and
/// [`postgres::PgStore`]; both must behave the same (see the conformance suite).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Stores papers in one transaction: new ones are inserted, known ones updated (a newer
    /// version replaces title, abstract and authors; missing optional fields keep what was
    /// stored). A paper with a feed entry enters (or updates) the daily feed.
    async fn upsert_papers(&self, papers: &[NewPaper]) -> StoreResult<UpsertSummary>;

    /// One paper by id (the version, if any, is ignored).
    async fn paper(&self, id: &ArxivId) -> StoreResult<Option<Paper>>;

    /// A page of the daily feed.
    async fn feed(&self, query: &FeedQuery) -> StoreResult<FeedPage>;

    /// The most recent day that has papers on the daily list.
    async fn latest_feed_date(&self) -> StoreResult<Option<NaiveDate>>;

    /// The nearest days before and after `date` that have papers on the daily list.
    async fn neighbour_feed_dates(
        &self,
        date: NaiveDate,
    ) -> StoreResult<(Option<NaiveDate>, Option<NaiveDate>)>;

    /// The catalogue, newest first, `limit` papers after `cursor`.
    async fn list_papers(
        &self,
        cursor: Option<&PaperCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Paper>>;

    /// Papers with an author of this name (case-insensitive), newest first.
    async fn papers_by_author(&self, name: &str, limit: u32) -> StoreResult<Vec<Paper>>;

    /// Creates an account. A taken username or email is a [`StoreError::Conflict`].
    async fn create_user(&self, user: &NewUser) -> StoreResult<User>;

    /// An account by username.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;

    /// Sets or removes `user_id`'s upvote on a paper; returns the paper's upvote count after.
    /// Voting twice counts once.
    async fn set_vote(&self, user_id: i64, paper: &ArxivId, up: bool) -> StoreResult<i64>;

    /// Whether `user_id` upvoted the paper.
    async fn has_voted(&self, user_id: i64, paper: &ArxivId) -> StoreResult<bool>;

    /// A value of the key-value state (sync cursors and the like).
    async fn get_state(&self, key: &str) -> StoreResult<Option<String>>;

    /// Sets a value of the key-value state.
    async fn set_state(&self, key: &str, value: &str) -> StoreResult<()>;

    /// Counts of what is stored.
    async fn stats(&self) -> StoreResult<Stats>;

    /// Runs the backend's own consistency checks; an error names what is wrong.
    async fn check_integrity(&self) -> StoreResult<()>;

    // ---- search ----

    /// Papers changed (inserted, updated, voted on, hidden) after `cursor`, oldest change
    /// first, at most `limit` changes: keyset on `(modified_at, id)`, so a caller that keeps
    /// the returned cursor sees every change exactly in order (the search index catches up
    /// this way). Hidden papers come back as `removed`.
    async fn papers_changed_since(
        &self,
        cursor: Option<&ChangeCursor>,
        limit: u32,
    ) -> StoreResult<ChangedPapers>;
}

/// Opens the store a configuration names: a `postgres://` (or `postgresql://`) URL selects
/// PostgreSQL; `sqlite://PATH` a SQLite file; nothing, `DATA_DIR/paperboy.sqlite`.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> StoreResult<Arc<dyn Store>> {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PgStore::connect(url).await?))
        }
        Some(url) if url.starts_with("sqlite://") => {
            let path = Path::new(&url["sqlite://".len()..]);
            Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
        }
        Some(url) => Err(StoreError::Open(format!(
            "unsupported database URL `{}`: use postgres://… or sqlite://PATH",
            url.split('@').next_back().unwrap_or("")
        ))),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StoreError::Open(format!("cannot create {}: {e}", data_dir.display()))
            })?;
            Ok(Arc::new(
                sqlite::SqliteStore::open(&data_dir.join("paperboy.sqlite")).await?,
            ))
        }
    }
}
