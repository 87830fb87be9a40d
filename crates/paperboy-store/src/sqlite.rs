//! The SQLite backend: one database file in WAL mode with foreign keys on. One writer
//! connection (SQLite allows one writer at a time) and a pool of readers; every call runs on
//! tokio's blocking threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{
    ArxivId, FeedEntry, NewPaper, OrgRef, Organization, Paper, StoredUserRef, UserRef,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::model::{authors_from_json, authors_to_json};
use crate::{
    Backend, ChangeCursor, ChangedPapers, FeedPage, FeedQuery, FeedSort, NewUser, PaperCursor,
    Stats, Store, StoreError, StoreResult, UpsertSummary, User, author_key,
};

/// Migrations, in order; `PRAGMA user_version` records how many were applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_search.sql"),
];

/// Readers kept open for reuse.
const MAX_IDLE_READERS: usize = 16;

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable: SQLite rolls back any
    // transaction the panicking code left open when the `Transaction` guard dropped.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;
         PRAGMA cache_size = -32000;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(|e| StoreError::Pool(e.to_string()))?
    }

    fn open_blocking(path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Open(format!("{}: {e}", parent.display())))?;
        }
        let mut writer = open_connection(path)?;
        // The writer checkpoints the WAL less often than SQLite's default (1,000 pages): bulk
        // imports touch index pages all over the file, and each checkpoint rewrites them.
        writer.execute_batch(
            "PRAGMA wal_autocheckpoint = 16384;
             PRAGMA journal_size_limit = 67108864;
             PRAGMA cache_size = -65536;",
        )?;
        migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match lock(&inner.readers).pop() {
                Some(conn) => conn,
                None => open_connection(&inner.path)?,
            };
            let result = f(&conn);
            let mut idle = lock(&inner.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Pool(e.to_string()))?
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&inner.writer)))
            .await
            .map_err(|e| StoreError::Pool(e.to_string()))?
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Migration(format!(
            "the database is at schema version {applied}, newer than this Paperboy knows ({}); upgrade Paperboy",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        // IMMEDIATE takes the write lock first; re-reading the version under it makes a
        // second process opening the same file at the same moment skip what the first applied.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now as usize > i {
            tx.commit()?;
            continue;
        }
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Migration(format!("SQLite migration {}: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied SQLite migration");
    }
    Ok(())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| StoreError::Corrupt(format!("timestamp {v}")))
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

const PAPER_COLUMNS: &str = "p.id, p.version, p.title, p.summary, p.categories, p.published_at,
    p.updated_at, p.comment, p.journal_ref, p.doi, p.github_repo, p.github_stars,
    p.project_page, p.ai_summary, p.keywords,
    COALESCE(p.source_upvotes, 0) + p.local_upvotes AS upvotes,
    COALESCE(p.source_comments, 0) + p.local_comments AS num_comments,
    p.discussion_id, d.feed_date, d.submitted_at, u.username, u.fullname, u.avatar_url,
    o.name, o.fullname, o.avatar_url, p.authors
    FROM papers p
    LEFT JOIN daily_entries d ON d.paper_id = p.id
    LEFT JOIN users u ON u.id = d.submitter_id
    LEFT JOIN organizations o ON o.id = d.organization_id";

/// Reads a paper row (columns as in [`PAPER_COLUMNS`]).
fn paper_from_row(row: &Row<'_>) -> rusqlite::Result<StoreResult<Paper>> {
    let id: String = row.get(0)?;
    let categories: String = row.get(4)?;
    let keywords: String = row.get(14)?;
    let feed_date: Option<String> = row.get(18)?;
    let submitted_at: Option<i64> = row.get(19)?;
    let username: Option<String> = row.get(20)?;
    let org_name: Option<String> = row.get(23)?;
    let published_at: i64 = row.get(5)?;
    let updated_at: Option<i64> = row.get(6)?;
    let version: Option<i64> = row.get(1)?;
    let authors: String = row.get(26)?;
    let build = || -> StoreResult<Paper> {
        let feed = match (feed_date, submitted_at) {
            (Some(date), Some(at)) => Some(FeedEntry {
                feed_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                    .map_err(|_| StoreError::Corrupt(format!("feed date {date}")))?,
                submitted_at: from_ms(at)?,
                submitter: match username {
                    Some(username) => Some(StoredUserRef {
                        username,
                        fullname: row.get(21)?,
                        avatar_url: row.get(22)?,
                    }),
                    None => None,
                },
                organization: match org_name {
                    Some(name) => Some(Organization {
                        name,
                        fullname: row.get(24)?,
                        avatar_url: row.get(25)?,
                    }),
                    None => None,
                },
            }),
            _ => None,
        };
        Ok(Paper {
            id: ArxivId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            version: version.map(|v| v as u32),
            title: row.get(2)?,
            summary: row.get(3)?,
            authors: authors_from_json(&authors)?,
            categories: categories.split_whitespace().map(str::to_owned).collect(),
            published_at: from_ms(published_at)?,
            updated_at: updated_at.map(from_ms).transpose()?,
            comment: row.get(7)?,
            journal_ref: row.get(8)?,
            doi: row.get(9)?,
            github_repo: row.get(10)?,
            github_stars: row.get(11)?,
            project_page: row.get(12)?,
            ai_summary: row.get(13)?,
            keywords: serde_json::from_str(&keywords)
                .map_err(|e| StoreError::Corrupt(format!("keywords of {id}: {e}")))?,
            upvotes: row.get(15)?,
            num_comments: row.get(16)?,
            discussion_id: row.get(17)?,
            feed,
        })
    };
    Ok(build())
}

/// Runs a paper query.
fn query_papers(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> StoreResult<Vec<Paper>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map(params, paper_from_row)?
        .map(|r| r.map_err(StoreError::from).and_then(|p| p))
        .collect()
}

fn upsert_org(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut HashMap<String, i64>,
    org: &OrgRef,
) -> StoreResult<i64> {
    if let Some(id) = cache.get(&org.name) {
        return Ok(*id);
    }
    let id = tx
        .prepare_cached(
            "INSERT INTO organizations (name, fullname, avatar_url) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET fullname = excluded.fullname,
                 avatar_url = COALESCE(excluded.avatar_url, organizations.avatar_url)
             RETURNING id",
        )?
        .query_row(params![org.name, org.fullname, org.avatar_url], |r| {
            r.get(0)
        })?;
    cache.insert(org.name.clone(), id);
    Ok(id)
}

fn upsert_submitter(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut HashMap<String, i64>,
    user: &UserRef,
) -> StoreResult<i64> {
    if let Some(id) = cache.get(&user.username) {
        return Ok(*id);
    }
    // Imported submitters are accounts without a password; a local account of the same name
    // keeps its own profile.
    tx.prepare_cached(
        "INSERT INTO users (username, fullname, avatar_url, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (username) DO UPDATE SET fullname = excluded.fullname,
             avatar_url = COALESCE(excluded.avatar_url, users.avatar_url)
         WHERE users.password_hash IS NULL",
    )?
    .execute(params![
        user.username,
        user.fullname,
        user.avatar_url,
        now_ms()
    ])?;
    let id = tx
        .prepare_cached("SELECT id FROM users WHERE username = ?1")?
        .query_row([&user.username], |r| r.get(0))?;
    cache.insert(user.username.clone(), id);
    Ok(id)
}

fn upsert_batch(conn: &mut Connection, papers: &[NewPaper]) -> StoreResult<UpsertSummary> {
    let tx = conn.transaction()?;
    let mut summary = UpsertSummary::default();
    let mut orgs = HashMap::new();
    let mut users = HashMap::new();
    let now = now_ms();
    {
        let mut existing =
            tx.prepare_cached("SELECT version, authors FROM papers WHERE id = ?1")?;
        let mut upsert = tx.prepare_cached(
            "INSERT INTO papers (id, version, title, summary, categories, published_at, updated_at,
                 comment, journal_ref, doi, github_repo, github_stars, project_page, ai_summary,
                 keywords, source_upvotes, source_comments, discussion_id, created_at, modified_at,
                 authors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?19, ?21)
             ON CONFLICT (id) DO UPDATE SET
                 version = CASE WHEN ?20 THEN excluded.version ELSE papers.version END,
                 title = CASE WHEN ?20 THEN excluded.title ELSE papers.title END,
                 summary = CASE WHEN ?20 THEN excluded.summary ELSE papers.summary END,
                 authors = CASE WHEN ?20 AND excluded.authors <> '[]' THEN excluded.authors
                     ELSE papers.authors END,
                 categories = CASE WHEN excluded.categories <> '' THEN excluded.categories
                     ELSE papers.categories END,
                 published_at = min(papers.published_at, excluded.published_at),
                 updated_at = max(COALESCE(excluded.updated_at, papers.updated_at),
                     COALESCE(papers.updated_at, excluded.updated_at)),
                 comment = COALESCE(excluded.comment, papers.comment),
                 journal_ref = COALESCE(excluded.journal_ref, papers.journal_ref),
                 doi = COALESCE(excluded.doi, papers.doi),
                 github_repo = COALESCE(excluded.github_repo, papers.github_repo),
                 github_stars = COALESCE(excluded.github_stars, papers.github_stars),
                 project_page = COALESCE(excluded.project_page, papers.project_page),
                 ai_summary = COALESCE(excluded.ai_summary, papers.ai_summary),
                 keywords = CASE WHEN excluded.keywords <> '[]' THEN excluded.keywords
                     ELSE papers.keywords END,
                 source_upvotes = COALESCE(excluded.source_upvotes, papers.source_upvotes),
                 source_comments = COALESCE(excluded.source_comments, papers.source_comments),
                 discussion_id = COALESCE(excluded.discussion_id, papers.discussion_id),
                 modified_at = excluded.modified_at",
        )?;
        let mut delete_author =
            tx.prepare_cached("DELETE FROM author_papers WHERE name_key = ?1 AND paper_id = ?2")?;
        let mut insert_author = tx.prepare_cached(
            "INSERT OR IGNORE INTO author_papers (name_key, paper_id) VALUES (?1, ?2)",
        )?;
        let mut upsert_feed = tx.prepare_cached(
            "INSERT INTO daily_entries (paper_id, feed_date, submitted_at, submitter_id, organization_id)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (paper_id) DO UPDATE SET feed_date = excluded.feed_date,
                 submitted_at = excluded.submitted_at,
                 submitter_id = COALESCE(excluded.submitter_id, daily_entries.submitter_id),
                 organization_id = COALESCE(excluded.organization_id, daily_entries.organization_id)",
        )?;
        for paper in papers {
            let id = paper.id.base();
            let stored: Option<(Option<i64>, String)> = existing
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let version = paper.id.version().map(i64::from);
            // Newer (or equal) metadata replaces the text; older metadata only fills gaps.
            let newer = match &stored {
                None => true,
                Some((old, _)) => version.unwrap_or(0) >= old.unwrap_or(0),
            };
            match stored {
                None => summary.inserted += 1,
                Some(_) => summary.updated += 1,
            }
            let keywords = serde_json::to_string(&paper.keywords)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            upsert.execute(params![
                id,
                version,
                paper.title,
                paper.summary,
                paper.categories.join(" "),
                ms(paper.published_at),
                paper.updated_at.map(ms),
                paper.comment,
                paper.journal_ref,
                paper.doi,
                paper.github_repo,
                paper.github_stars,
                paper.project_page,
                paper.ai_summary,
                keywords,
                paper.source_upvotes,
                paper.source_comments,
                paper.discussion_id,
                now,
                newer,
                authors_to_json(&paper.authors),
            ])?;
            if newer && !paper.authors.is_empty() {
                if let Some((_, old_json)) = &stored {
                    for old in authors_from_json(old_json)? {
                        delete_author.execute(params![author_key(&old.name), id])?;
                    }
                }
                for author in &paper.authors {
                    insert_author.execute(params![author_key(&author.name), id])?;
                }
            }
            if let Some(feed) = &paper.feed {
                let submitter = feed
                    .submitter
                    .as_ref()
                    .map(|u| upsert_submitter(&tx, &mut users, u))
                    .transpose()?;
                let org = feed
                    .organization
                    .as_ref()
                    .map(|o| upsert_org(&tx, &mut orgs, o))
                    .transpose()?;
                upsert_feed.execute(params![
                    id,
                    feed.feed_date.format("%Y-%m-%d").to_string(),
                    ms(feed.submitted_at),
                    submitter,
                    org
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(summary)
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<User>> {
    let created: i64 = r.get(8)?;
    let user = |created_at| User {
        id: r.get(0).unwrap_or_default(),
        username: r.get(1).unwrap_or_default(),
        fullname: r.get(2).unwrap_or_default(),
        avatar_url: r.get(3).unwrap_or_default(),
        email: r.get(4).unwrap_or_default(),
        password_hash: r.get(5).unwrap_or_default(),
        is_admin: r.get(6).unwrap_or_default(),
        suspended: r.get(7).unwrap_or_default(),
        created_at,
    };
    Ok(from_ms(created).map(user))
}

const USER_COLUMNS: &str =
    "id, username, fullname, avatar_url, email, password_hash, is_admin, suspended, created_at";

fn map_unique(e: rusqlite::Error, what: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(format!("{what} is taken"))
        }
        _ => StoreError::Sqlite(e),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn upsert_papers(&self, papers: &[NewPaper]) -> StoreResult<UpsertSummary> {
        let papers = papers.to_vec();
        self.write(move |conn| upsert_batch(conn, &papers)).await
    }

    async fn paper(&self, id: &ArxivId) -> StoreResult<Option<Paper>> {
        let id = id.base().to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {PAPER_COLUMNS} WHERE p.id = ?1");
            Ok(query_papers(conn, &sql, &[&id])?.pop())
        })
        .await
    }

    async fn feed(&self, query: &FeedQuery) -> StoreResult<FeedPage> {
        let q = query.clone();
        self.read(move |conn| {
            let start = q.window.start().format("%Y-%m-%d").to_string();
            let end = q.window.end_exclusive().format("%Y-%m-%d").to_string();
            let order = match q.sort {
                FeedSort::Upvotes | FeedSort::Trending => {
                    "upvotes DESC, d.submitted_at ASC, p.id ASC"
                }
                FeedSort::PublishedAt => "d.submitted_at DESC, p.id DESC",
            };
            let (limit, offset) = match q.sort {
                FeedSort::Trending => (-1i64, 0i64),
                _ => (i64::from(q.limit) + 1, i64::from(q.offset)),
            };
            let submitter = q.submitter.clone();
            let sql = format!(
                "SELECT {PAPER_COLUMNS}
                 WHERE d.feed_date >= ?1 AND d.feed_date < ?2 AND p.hidden = 0
                   AND (?3 IS NULL OR u.username = ?3)
                 ORDER BY {order} LIMIT ?4 OFFSET ?5"
            );
            let mut papers =
                query_papers(conn, &sql, &[&start, &end, &submitter, &limit, &offset])?;
            Ok(crate::model::page(&mut papers, &q))
        })
        .await
    }

    async fn latest_feed_date(&self) -> StoreResult<Option<NaiveDate>> {
        self.read(|conn| {
            let d: Option<String> =
                conn.query_row("SELECT max(feed_date) FROM daily_entries", [], |r| r.get(0))?;
            d.map(|d| parse_date(&d)).transpose()
        })
        .await
    }

    async fn neighbour_feed_dates(
        &self,
        date: NaiveDate,
    ) -> StoreResult<(Option<NaiveDate>, Option<NaiveDate>)> {
        self.read(move |conn| {
            let d = date.format("%Y-%m-%d").to_string();
            let prev: Option<String> = conn.query_row(
                "SELECT max(feed_date) FROM daily_entries WHERE feed_date < ?1",
                [&d],
                |r| r.get(0),
            )?;
            let next: Option<String> = conn.query_row(
                "SELECT min(feed_date) FROM daily_entries WHERE feed_date > ?1",
                [&d],
                |r| r.get(0),
            )?;
            Ok((
                prev.map(|d| parse_date(&d)).transpose()?,
                next.map(|d| parse_date(&d)).transpose()?,
            ))
        })
        .await
    }

    async fn list_papers(
        &self,
        cursor: Option<&PaperCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Paper>> {
        let cursor = cursor.cloned();
        self.read(move |conn| {
            let limit = i64::from(limit);
            match cursor {
                None => query_papers(
                    conn,
                    &format!(
                        "SELECT {PAPER_COLUMNS} WHERE p.hidden = 0
                         ORDER BY p.published_at DESC, p.id DESC LIMIT ?1"
                    ),
                    &[&limit],
                ),
                Some(c) => query_papers(
                    conn,
                    &format!(
                        "SELECT {PAPER_COLUMNS} WHERE p.hidden = 0 AND (p.published_at, p.id) < (?1, ?2)
                         ORDER BY p.published_at DESC, p.id DESC LIMIT ?3"
                    ),
                    &[&ms(c.published_at), &c.id, &limit],
                ),
            }
        })
        .await
    }

    async fn papers_by_author(&self, name: &str, limit: u32) -> StoreResult<Vec<Paper>> {
        let key = author_key(name);
        self.read(move |conn| {
            query_papers(
                conn,
                &format!(
                    "SELECT {PAPER_COLUMNS} WHERE p.hidden = 0 AND p.id IN
                       (SELECT paper_id FROM author_papers WHERE name_key = ?1)
                     ORDER BY p.published_at DESC, p.id DESC LIMIT ?2"
                ),
                &[&key, &i64::from(limit)],
            )
        })
        .await
    }

    async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        let user = user.clone();
        self.write(move |conn| {
            let sql = format!(
                "INSERT INTO users (username, fullname, email, password_hash, is_admin, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {USER_COLUMNS}"
            );
            conn.query_row(
                &sql,
                params![
                    user.username.as_str(),
                    user.fullname,
                    user.email.as_ref().map(|e| e.as_str()),
                    user.password_hash,
                    user.is_admin,
                    now_ms()
                ],
                user_from_row,
            )
            .map_err(|e| map_unique(e, "that username or email"))?
        })
        .await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                [&username],
                user_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn set_vote(&self, user_id: i64, paper: &ArxivId, up: bool) -> StoreResult<i64> {
        let id = paper.base().to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let exists: bool = tx
                .query_row("SELECT 1 FROM papers WHERE id = ?1", [&id], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound(format!("paper {id}")));
            }
            let changed = if up {
                tx.execute(
                    "INSERT INTO votes (user_id, paper_id, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![user_id, id, now_ms()],
                )?
            } else {
                tx.execute(
                    "DELETE FROM votes WHERE user_id = ?1 AND paper_id = ?2",
                    params![user_id, id],
                )?
            };
            if changed > 0 {
                let delta = if up { 1 } else { -1 };
                tx.execute(
                    "UPDATE papers SET local_upvotes = local_upvotes + ?1, modified_at = ?2 WHERE id = ?3",
                    params![delta, now_ms(), id],
                )?;
            }
            let count: i64 = tx.query_row(
                "SELECT COALESCE(source_upvotes, 0) + local_upvotes FROM papers WHERE id = ?1",
                [&id],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(count)
        })
        .await
    }

    async fn has_voted(&self, user_id: i64, paper: &ArxivId) -> StoreResult<bool> {
        let id = paper.base().to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM votes WHERE user_id = ?1 AND paper_id = ?2",
                    params![user_id, id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
        .await
    }

    async fn get_state(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT value FROM state WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()?)
        })
        .await
    }

    async fn set_state(&self, key: &str, value: &str) -> StoreResult<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [&key, &value],
            )?;
            Ok(())
        })
        .await
    }

    async fn stats(&self) -> StoreResult<Stats> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM daily_entries),
                        (SELECT count(*) FROM author_papers), (SELECT count(*) FROM users),
                        (SELECT count(*) FROM organizations), (SELECT count(*) FROM votes),
                        (SELECT count(DISTINCT feed_date) FROM daily_entries)",
                [],
                |r| {
                    Ok(Stats {
                        papers: r.get(0)?,
                        feed_entries: r.get(1)?,
                        authors: r.get(2)?,
                        users: r.get(3)?,
                        organizations: r.get(4)?,
                        votes: r.get(5)?,
                        feed_days: r.get(6)?,
                    })
                },
            )?)
        })
        .await
    }

    async fn check_integrity(&self) -> StoreResult<()> {
        self.read(|conn| {
            let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if result != "ok" {
                return Err(StoreError::Integrity(result));
            }
            let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
            let mut rows = stmt.query([])?;
            if let Some(row) = rows.next()? {
                let table: String = row.get(0)?;
                return Err(StoreError::Integrity(format!(
                    "a row of {table} points at a missing row"
                )));
            }
            let drift: i64 = conn.query_row(
                "SELECT count(*) FROM papers p
                 WHERE p.local_upvotes <> (SELECT count(*) FROM votes v WHERE v.paper_id = p.id)",
                [],
                |r| r.get(0),
            )?;
            if drift > 0 {
                return Err(StoreError::Integrity(format!(
                    "{drift} papers' upvote counts differ from their votes"
                )));
            }
            Ok(())
        })
        .await
    }

    // ---- search ----

    async fn papers_changed_since(
        &self,
        cursor: Option<&ChangeCursor>,
        limit: u32,
    ) -> StoreResult<ChangedPapers> {
        let (after_ms, after_id) = match cursor {
            Some(c) => (ms(c.modified_at), c.id.clone()),
            None => (i64::MIN, String::new()),
        };
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                // Spelled out (not a row-value comparison) so SQLite walks the index.
                "SELECT id, modified_at, hidden FROM papers
                 WHERE modified_at >= ?1 AND (modified_at > ?1 OR id > ?2)
                 ORDER BY modified_at, id LIMIT ?3",
            )?;
            let keys = stmt
                .query_map(params![after_ms, after_id, i64::from(limit)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, bool>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let Some((last_id, last_ms, _)) = keys.last().cloned() else {
                return Ok(ChangedPapers::default());
            };
            let papers = query_papers(
                conn,
                &format!(
                    "SELECT {PAPER_COLUMNS} WHERE p.hidden = 0
                     AND p.modified_at >= ?1 AND (p.modified_at > ?1 OR p.id > ?2)
                     AND p.modified_at <= ?3 AND (p.modified_at < ?3 OR p.id <= ?4)
                     ORDER BY p.modified_at, p.id"
                ),
                &[&after_ms, &after_id, &last_ms, &last_id],
            )?;
            let removed = keys.into_iter().filter(|k| k.2).map(|k| k.0).collect();
            Ok(ChangedPapers {
                papers,
                removed,
                next: Some(ChangeCursor {
                    modified_at: from_ms(last_ms)?,
                    id: last_id,
                }),
            })
        })
        .await
    }
}

fn parse_date(s: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| StoreError::Corrupt(format!("date {s}")))
}
