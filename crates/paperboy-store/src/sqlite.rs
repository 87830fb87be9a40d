//! The SQLite backend: one database file in WAL mode with foreign keys on. One writer
//! connection (SQLite allows one writer at a time) and a pool of readers; every call runs on
//! tokio's blocking threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{
    ArxivId, Email, FeedEntry, NewPaper, OrgRef, Organization, Paper, StoredUserRef, UserRef,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::api::{ApiToken, CreatedApiToken};
use crate::model::{authors_from_json, authors_to_json};
use crate::{
    AuthorClaim, ClaimStatus, HiddenPaper, MembershipStatus, OrgMember, OrgProfile, OrgRole,
    PendingMembership, PendingSignup,
};
use crate::{
    Backend, Comment, FeedPage, FeedQuery, FeedSort, FeedSubmission, NewComment, NewUser,
    PaperCursor, Stats, Store, StoreError, StoreResult, UpsertSummary, User, author_key,
};
use crate::{
    Cadence, ConfirmationMessage, DeliveryOutcome, Edition, EditionBuilt, ImportedSubscriber,
    NewEdition, NewSubscriber, OutboxCounts, OutboxMessage, SubscribeOutcome, Subscriber,
    SubscriberStatus, email_key,
};
use crate::{ChangeCursor, ChangedPapers};

/// Migrations, in order; `PRAGMA user_version` records how many were applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_community.sql"),
    include_str!("../migrations/sqlite/0003_api.sql"),
    include_str!("../migrations/sqlite/0004_mail.sql"),
    include_str!("../migrations/sqlite/0005_search.sql"),
    include_str!("../migrations/sqlite/0006_site.sql"),
    include_str!("../migrations/sqlite/0007_mail_outbox.sql"),
    include_str!("../migrations/sqlite/0008_sweep_indexes.sql"),
    include_str!("../migrations/sqlite/0009_comment_html.sql"),
    include_str!("../migrations/sqlite/0010_membership_and_signups.sql"),
];

/// Reader connections: at most this many reads run at once; the rest wait their turn rather
/// than open (and later close) connections of their own. Each keeps at most 4 MiB of pages
/// (`cache_size`), so the readers together hold a bounded 32 MiB whatever is read.
const READERS: usize = 8;

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_permits: tokio::sync::Semaphore,
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
         PRAGMA cache_size = -4096;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

impl SqliteStore {
    /// Adds a comment, with its rendered HTML if given (see [`Store::add_comment`]).
    async fn insert_comment(
        &self,
        comment: &NewComment,
        rendered: Option<(String, i32)>,
    ) -> StoreResult<Comment> {
        let c = comment.clone();
        let (html, version) = rendered.map_or((None, 0), |(h, v)| (Some(h), v));
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let paper = c.paper.base().to_owned();
            let exists = tx
                .query_row(
                    "SELECT 1 FROM papers WHERE id = ?1 AND hidden = 0",
                    [&paper],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound(format!("paper {paper}")));
            }
            if let Some(parent) = c.parent_id {
                let ok = tx
                    .query_row(
                        "SELECT 1 FROM comments WHERE id = ?1 AND paper_id = ?2 AND parent_id IS NULL",
                        params![parent, paper],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if !ok {
                    return Err(StoreError::Conflict(
                        "replies go to a top-level comment of the same paper".into(),
                    ));
                }
            }
            let id: i64 = tx.query_row(
                "INSERT INTO comments (paper_id, user_id, parent_id, body, created_at, body_html,
                                       html_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![paper, c.user_id, c.parent_id, c.body, now_ms(), html, version],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE papers SET local_comments = local_comments + 1, modified_at = ?1 WHERE id = ?2",
                params![now_ms(), paper],
            )?;
            let comment = tx.query_row(
                &format!("{COMMENT_SELECT} WHERE c.id = ?1"),
                [id],
                comment_from_row,
            )??;
            tx.commit()?;
            Ok(comment)
        })
        .await
    }

    /// Replaces a comment's body; its stored HTML becomes `rendered` (cleared if `None`).
    async fn update_comment(
        &self,
        id: i64,
        user_id: i64,
        body: &str,
        rendered: Option<(String, i32)>,
    ) -> StoreResult<Comment> {
        let body = body.to_owned();
        let (html, version) = rendered.map_or((None, 0), |(h, v)| (Some(h), v));
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE comments SET body = ?1, edited_at = ?2, body_html = ?5, html_version = ?6
                 WHERE id = ?3 AND user_id = ?4 AND deleted = 0 AND hidden = 0
                   AND paper_id IN (SELECT id FROM papers WHERE hidden = 0)",
                params![body, now_ms(), id, user_id, html, version],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("comment {id}")));
            }
            let comment = tx.query_row(
                &format!("{COMMENT_SELECT} WHERE c.id = ?1"),
                [id],
                comment_from_row,
            )??;
            tx.commit()?;
            Ok(comment)
        })
        .await
    }

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
                readers: Mutex::new(Vec::with_capacity(READERS)),
                reader_permits: tokio::sync::Semaphore::new(READERS),
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
        let _permit = inner
            .reader_permits
            .acquire()
            .await
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let task_inner = inner.clone();
        tokio::task::spawn_blocking(move || {
            // Holding a permit guarantees a free connection, or room to open one.
            let conn = match lock(&task_inner.readers).pop() {
                Some(conn) => conn,
                None => open_connection(&task_inner.path)?,
            };
            let result = f(&conn);
            lock(&task_inner.readers).push(conn);
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
    // The version is read under the write lock (an IMMEDIATE transaction), so two processes
    // opening a new database at once cannot both apply the same migration.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: usize = tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Migration(format!(
            "the database is at schema version {applied}, newer than this Paperboy knows ({}); upgrade Paperboy",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Migration(format!("SQLite migration {}: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tracing::info!(version = i + 1, "applied SQLite migration");
    }
    tx.commit()?;
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
const USER_COLUMNS_U: &str = "u.id, u.username, u.fullname, u.avatar_url, u.email, u.password_hash,
    u.is_admin, u.suspended, u.created_at";

const COMMENT_SELECT: &str = "SELECT c.id, c.paper_id, c.user_id, u.username, u.fullname,
    c.parent_id, c.body, c.created_at, c.edited_at, c.deleted, c.hidden, c.body_html,
    c.html_version
    FROM comments c JOIN users u ON u.id = c.user_id";

fn comment_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<Comment>> {
    let created: i64 = r.get(7)?;
    let edited: Option<i64> = r.get(8)?;
    let (id, paper_id, user_id, username, fullname, parent_id, body, deleted) = (
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(9)?,
    );
    let hidden = r.get(10)?;
    let (body_html, html_version) = (r.get(11)?, r.get(12)?);
    Ok((|| {
        Ok(Comment {
            id,
            paper_id,
            user_id,
            username,
            fullname,
            parent_id,
            body,
            created_at: from_ms(created)?,
            edited_at: edited.map(from_ms).transpose()?,
            deleted,
            hidden,
            body_html,
            html_version,
        })
    })())
}

const ORG_SELECT: &str = "SELECT o.id, o.name, o.fullname, o.avatar_url,
    (SELECT count(*) FROM org_members m WHERE m.org_id = o.id AND m.status = 'active'),
    (SELECT count(*) FROM daily_entries d JOIN papers p ON p.id = d.paper_id
      WHERE d.organization_id = o.id AND p.hidden = 0)
    FROM organizations o";

const PENDING_SELECT: &str = "SELECT m.org_id, o.name, o.fullname, m.user_id, u.username,
    u.fullname, m.status, m.joined_at
    FROM org_members m JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id";

fn pending_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<PendingMembership>> {
    let status: String = r.get(6)?;
    let Some(status) = MembershipStatus::parse(&status) else {
        return Ok(Err(crate::site::corrupt_status(
            "membership status",
            &status,
        )));
    };
    let created_at = match from_ms(r.get(7)?) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(PendingMembership {
        org_id: r.get(0)?,
        org_name: r.get(1)?,
        org_fullname: r.get(2)?,
        user_id: r.get(3)?,
        username: r.get(4)?,
        fullname: r.get(5)?,
        status,
        created_at,
    }))
}

/// `user_id`'s role and membership status in an organization.
fn membership_of(
    conn: &Connection,
    org_id: i64,
    user_id: i64,
) -> StoreResult<Option<(OrgRole, MembershipStatus)>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT role, status FROM org_members WHERE org_id = ?1 AND user_id = ?2",
            params![org_id, user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(role, status)| {
        Ok((
            OrgRole::parse(&role).ok_or_else(|| crate::site::corrupt_status("role", &role))?,
            MembershipStatus::parse(&status)
                .ok_or_else(|| crate::site::corrupt_status("membership status", &status))?,
        ))
    })
    .transpose()
}

fn is_org_admin(conn: &Connection, org_id: i64, user_id: i64) -> StoreResult<bool> {
    Ok(matches!(
        membership_of(conn, org_id, user_id)?,
        Some((OrgRole::Admin, MembershipStatus::Active))
    ))
}

fn org_admins(conn: &Connection, org_id: i64) -> StoreResult<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM org_members WHERE org_id = ?1 AND role = 'admin' AND status = 'active'",
        [org_id],
        |r| r.get(0),
    )?)
}

/// Makes a pending membership an approved one, joined now.
fn activate(conn: &Connection, org_id: i64, user_id: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE org_members SET status = 'active', joined_at = ?1 WHERE org_id = ?2 AND user_id = ?3",
        params![now_ms(), org_id, user_id],
    )?;
    Ok(())
}

/// A foreign key naming a missing row becomes [`StoreError::NotFound`].
fn map_missing(e: rusqlite::Error, what: &str) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StoreError::NotFound(what.to_owned())
        }
        e => e.into(),
    }
}

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<OrgProfile> {
    Ok(OrgProfile {
        id: r.get(0)?,
        name: r.get(1)?,
        fullname: r.get(2)?,
        avatar_url: r.get(3)?,
        members: r.get(4)?,
        papers: r.get(5)?,
    })
}

const CLAIM_SELECT: &str = "SELECT c.id, c.user_id, u.username, u.fullname, c.name, c.name_key,
    c.status, c.created_at, c.decided_at
    FROM author_claims c JOIN users u ON u.id = c.user_id";

fn claim_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<AuthorClaim>> {
    let status: String = r.get(6)?;
    let created: i64 = r.get(7)?;
    let decided: Option<i64> = r.get(8)?;
    let (id, user_id, username, fullname, name, name_key) = (
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    );
    Ok((|| {
        Ok(AuthorClaim {
            id,
            user_id,
            username,
            fullname,
            name,
            name_key,
            status: ClaimStatus::parse(&status)
                .ok_or_else(|| crate::site::corrupt_status("claim status", &status))?,
            created_at: from_ms(created)?,
            decided_at: decided.map(from_ms).transpose()?,
        })
    })())
}

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
            let sql = format!("SELECT {PAPER_COLUMNS} WHERE p.id = ?1 AND p.hidden = 0");
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
            // The window and the page are written into the SQL as literals (formatted dates and
            // integers, nothing a user typed): SQLite re-prepares a statement whose plan
            // depends on a bound value each time it is bound, which cost a fifth of the
            // feed's time. Statements stay cached per window.
            let submitter_clause = if q.submitter.is_some() {
                "AND u.username = ?1"
            } else {
                ""
            };
            let sql = format!(
                "SELECT {PAPER_COLUMNS}
                 WHERE d.feed_date >= '{start}' AND d.feed_date < '{end}' AND p.hidden = 0
                   {submitter_clause}
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            );
            let mut papers = match &q.submitter {
                Some(name) => query_papers(conn, &sql, &[name])?,
                None => query_papers(conn, &sql, &[])?,
            };
            Ok(crate::model::page(&mut papers, &q))
        })
        .await
    }

    async fn latest_feed_date(&self) -> StoreResult<Option<NaiveDate>> {
        self.read(|conn| {
            let d: Option<String> = conn
                .prepare_cached("SELECT max(feed_date) FROM daily_entries")?
                .query_row([], |r| r.get(0))?;
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
            let prev: Option<String> = conn
                .prepare_cached("SELECT max(feed_date) FROM daily_entries WHERE feed_date < ?1")?
                .query_row([&d], |r| r.get(0))?;
            let next: Option<String> = conn
                .prepare_cached("SELECT min(feed_date) FROM daily_entries WHERE feed_date > ?1")?
                .query_row([&d], |r| r.get(0))?;
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
                .query_row(
                    "SELECT 1 FROM papers WHERE id = ?1 AND hidden = 0",
                    [&id],
                    |_| Ok(()),
                )
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

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [id],
                user_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email.to_owned();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"),
                [&email],
                user_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, user_id, now_ms(), ms(expires_at)],
            )?;
            // Expired sessions are swept as new ones are made.
            conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [now_ms()])?;
            Ok(())
        })
        .await
    }

    async fn session_user(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS_U} FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.suspended = 0"
            ))?
            .query_row(params![token_hash, now_ms()], user_from_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [&token_hash])?;
            Ok(())
        })
        .await
    }

    async fn add_comment(&self, comment: &NewComment) -> StoreResult<Comment> {
        self.insert_comment(comment, None).await
    }

    async fn add_comment_with_html(
        &self,
        comment: &NewComment,
        html: &str,
        html_version: i32,
    ) -> StoreResult<Comment> {
        self.insert_comment(comment, Some((html.to_owned(), html_version)))
            .await
    }

    async fn edit_comment_with_html(
        &self,
        id: i64,
        user_id: i64,
        body: &str,
        html: &str,
        html_version: i32,
    ) -> StoreResult<Comment> {
        self.update_comment(id, user_id, body, Some((html.to_owned(), html_version)))
            .await
    }

    async fn comments_to_render(
        &self,
        version: Option<i32>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, String)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, body FROM comments
                 WHERE id > ?1 AND deleted = 0
                   AND (?2 IS NULL OR body_html IS NULL OR html_version <> ?2)
                 ORDER BY id LIMIT ?3",
            )?;
            stmt.query_map(params![after, version, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .map(|r| r.map_err(StoreError::from))
            .collect()
        })
        .await
    }

    async fn comments_for_page(
        &self,
        paper: &ArxivId,
        viewer: Option<i64>,
        version: i32,
        html_chars: u32,
    ) -> StoreResult<Vec<Comment>> {
        let paper = paper.base().to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.id, c.paper_id, c.user_id, u.username, u.fullname, c.parent_id,
                    CASE WHEN c.user_id IS ?2 OR c.body_html IS NULL OR c.html_version <> ?3
                         THEN c.body ELSE '' END,
                    c.created_at, c.edited_at, c.deleted, c.hidden, substr(c.body_html, 1, ?4),
                    c.html_version
                 FROM comments c JOIN users u ON u.id = c.user_id
                 WHERE c.paper_id = ?1 ORDER BY c.id",
            )?;
            stmt.query_map(
                params![paper, viewer, version, html_chars],
                comment_from_row,
            )?
            .map(|r| r.map_err(StoreError::from).and_then(|c| c))
            .collect()
        })
        .await
    }

    async fn set_comment_html(
        &self,
        id: i64,
        body: &str,
        html: &str,
        version: i32,
    ) -> StoreResult<bool> {
        let (body, html) = (body.to_owned(), html.to_owned());
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE comments SET body_html = ?1, html_version = ?2
                 WHERE id = ?3 AND body = ?4 AND deleted = 0",
                params![html, version, id, body],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn comments(&self, paper: &ArxivId) -> StoreResult<Vec<Comment>> {
        let paper = paper.base().to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{COMMENT_SELECT} WHERE c.paper_id = ?1 ORDER BY c.id"
            ))?;
            stmt.query_map([&paper], comment_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(|c| c))
                .collect()
        })
        .await
    }

    async fn delete_comment(&self, id: i64, user_id: i64) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let row: Option<(String, bool)> = tx
                .query_row(
                    "UPDATE comments SET deleted = 1, body = '', body_html = NULL WHERE id = ?1 AND user_id = ?2 AND deleted = 0
                     RETURNING paper_id, hidden",
                    params![id, user_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((paper, hidden)) = row else {
                return Err(StoreError::NotFound(format!("comment {id}")));
            };
            // A hidden comment was already taken off the count.
            if !hidden {
                tx.execute(
                    "UPDATE papers SET local_comments = local_comments - 1, modified_at = ?1 WHERE id = ?2",
                    params![now_ms(), paper],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn submit_to_feed(&self, paper: &ArxivId, entry: &FeedSubmission) -> StoreResult<bool> {
        let paper = paper.base().to_owned();
        let e = entry.clone();
        self.write(move |conn| {
            if let Some(org) = e.organization_id {
                let member = conn
                    .query_row(
                        "SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?2 AND status = 'active'",
                        params![org, e.submitter_id],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if !member {
                    return Err(StoreError::Conflict(
                        "only an approved member submits for an organization".into(),
                    ));
                }
            }
            let n = conn.execute(
                "INSERT INTO daily_entries (paper_id, feed_date, submitted_at, submitter_id, organization_id)
                 SELECT id, ?2, ?3, ?4, ?5 FROM papers WHERE id = ?1 AND hidden = 0
                 ON CONFLICT (paper_id) DO NOTHING",
                params![
                    paper,
                    e.feed_date.format("%Y-%m-%d").to_string(),
                    ms(e.submitted_at),
                    e.submitter_id,
                    e.organization_id
                ],
            )?;
            if n == 0 {
                let exists = conn
                    .query_row("SELECT 1 FROM papers WHERE id = ?1 AND hidden = 0", [&paper], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound(format!("paper {paper}")));
                }
            }
            Ok(n > 0)
        })
        .await
    }

    async fn voted_among(&self, user_id: i64, ids: &[ArxivId]) -> StoreResult<Vec<String>> {
        let ids: Vec<String> = ids.iter().map(|i| i.base().to_owned()).collect();
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT 1 FROM votes WHERE user_id = ?1 AND paper_id = ?2")?;
            let mut voted = Vec::new();
            for id in ids {
                if stmt.exists(params![user_id, id])? {
                    voted.push(id);
                }
            }
            Ok(voted)
        })
        .await
    }

    // ---- api ----

    async fn search_papers_simple(&self, query: &str, limit: u32) -> StoreResult<Vec<Paper>> {
        let words = crate::api::search_words(query);
        if words.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |conn| {
            // SQLite's LIKE ignores ASCII case; the ranking re-checks with Unicode case.
            let mut sql = format!("SELECT {PAPER_COLUMNS} WHERE p.hidden = 0");
            for i in 1..=words.len() {
                sql.push_str(&format!(
                    " AND (p.title LIKE ?{i} ESCAPE '\\' OR p.summary LIKE ?{i} ESCAPE '\\'
                          OR p.authors LIKE ?{i} ESCAPE '\\')"
                ));
            }
            sql.push_str(&format!(
                " ORDER BY upvotes DESC, p.published_at DESC LIMIT {}",
                crate::api::SEARCH_CANDIDATES
            ));
            let patterns: Vec<String> = words.iter().map(|w| crate::api::like_pattern(w)).collect();
            let params: Vec<&dyn rusqlite::ToSql> =
                patterns.iter().map(|p| p as &dyn rusqlite::ToSql).collect();
            let papers = query_papers(conn, &sql, &params)?;
            Ok(crate::api::rank_search(papers, &words, limit))
        })
        .await
    }

    async fn feed_by_organization(&self, name: &str, limit: u32) -> StoreResult<Vec<Paper>> {
        let name = name.to_owned();
        self.read(move |conn| {
            query_papers(
                conn,
                &format!(
                    "SELECT {PAPER_COLUMNS} WHERE p.hidden = 0 AND o.name = ?1
                     ORDER BY d.submitted_at DESC, p.id DESC LIMIT ?2"
                ),
                &[&name, &i64::from(limit)],
            )
        })
        .await
    }

    async fn create_api_token(&self, user_id: i64, name: &str) -> StoreResult<CreatedApiToken> {
        let name = name.to_owned();
        let secret = crate::api::generate_token_secret();
        let hash = crate::api::hash_token(&secret);
        self.write(move |conn| {
            let exists = conn
                .query_row("SELECT 1 FROM users WHERE id = ?1", [user_id], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound(format!("user {user_id}")));
            }
            let now = now_ms();
            let id: i64 = conn.query_row(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![user_id, name, hash, now],
                |r| r.get(0),
            )?;
            Ok(CreatedApiToken {
                token: ApiToken {
                    id,
                    user_id,
                    name,
                    created_at: from_ms(now)?,
                    last_used_at: None,
                },
                secret,
            })
        })
        .await
    }

    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens
                 WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map([user_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })?;
            rows.map(|row| {
                let (id, user_id, name, created, used) = row?;
                Ok(ApiToken {
                    id,
                    user_id,
                    name,
                    created_at: from_ms(created)?,
                    last_used_at: used.map(from_ms).transpose()?,
                })
            })
            .collect()
        })
        .await
    }

    async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> StoreResult<bool> {
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE api_tokens SET revoked_at = ?1
                 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL",
                params![now_ms(), token_id, user_id],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn authenticate_api_token(&self, secret: &str) -> StoreResult<Option<User>> {
        let hash = crate::api::hash_token(secret);
        let now = now_ms();
        let stale = now - crate::api::TOKEN_USE_GRANULARITY.num_milliseconds();
        // Most calls only read (on the reader pool): the use is written at most once per
        // TOKEN_USE_GRANULARITY, so API calls do not queue behind the single writer.
        let found = self
            .read({
                let hash = hash.clone();
                move |conn| {
                    let token: Option<(i64, i64, Option<i64>)> = conn
                        .query_row(
                            "SELECT id, user_id, last_used_at FROM api_tokens
                             WHERE token_hash = ?1 AND revoked_at IS NULL",
                            [&hash],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .optional()?;
                    let Some((token_id, user_id, used)) = token else {
                        return Ok(None);
                    };
                    let user = conn
                        .query_row(
                            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                            [user_id],
                            user_from_row,
                        )
                        .optional()?
                        .transpose()?;
                    Ok(user.map(|u| (token_id, used, u)))
                }
            })
            .await?;
        let Some((token_id, used, user)) = found else {
            return Ok(None);
        };
        if used.is_none_or(|t| t < stale) {
            let revoked = self
                .write(move |conn| {
                    let n = conn.execute(
                        "UPDATE api_tokens SET last_used_at = ?1
                         WHERE id = ?2 AND revoked_at IS NULL",
                        params![now, token_id],
                    )?;
                    Ok(n == 0)
                })
                .await?;
            // Revoked between the read and the write: refused, as it would be a moment later.
            if revoked {
                return Ok(None);
            }
        }
        Ok(Some(user))
    }

    // ---- mail ----

    async fn subscribe(&self, request: &NewSubscriber) -> StoreResult<SubscribeOutcome> {
        let r = request.clone();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let key = email_key(&r.email);
            let existing = tx
                .query_row(
                    &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = ?1"),
                    [&key],
                    subscriber_from_row,
                )
                .optional()?
                .transpose()?;
            let now = now_ms();
            let outcome = match existing {
                Some(s) if s.status == SubscriberStatus::Confirmed => match r.user_id {
                    // An account asks for an address it is not linked to: the link waits for
                    // the confirmation mailed to the address; the subscription goes on as is.
                    Some(user) if s.user_id != Some(user) => {
                        let s = tx.query_row(
                            &format!(
                                "UPDATE subscribers SET confirm_token_hash = ?2,
                                     confirm_expires_at = ?3, link_user_id = ?4
                                 WHERE id = ?1 RETURNING {SUBSCRIBER_COLUMNS}"
                            ),
                            params![
                                s.id,
                                r.confirm_token_hash,
                                ms(r.confirm_expires_at),
                                user
                            ],
                            subscriber_from_row,
                        )??;
                        SubscribeOutcome::ConfirmationNeeded(s)
                    }
                    _ => SubscribeOutcome::AlreadyConfirmed(s),
                },
                Some(s) => {
                    let s = tx.query_row(
                        &format!(
                            "UPDATE subscribers SET status = 'pending', cadence = ?2,
                                 link_user_id = ?3, confirm_token_hash = ?4,
                                 confirm_expires_at = ?5
                             WHERE id = ?1 RETURNING {SUBSCRIBER_COLUMNS}"
                        ),
                        params![
                            s.id,
                            r.cadence.as_str(),
                            r.user_id,
                            r.confirm_token_hash,
                            ms(r.confirm_expires_at)
                        ],
                        subscriber_from_row,
                    )??;
                    SubscribeOutcome::ConfirmationNeeded(s)
                }
                None => {
                    let s = tx.query_row(
                        &format!(
                            "INSERT INTO subscribers (email, email_key, link_user_id, cadence, status,
                                 confirm_token_hash, confirm_expires_at, unsubscribe_token, created_at)
                             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8)
                             RETURNING {SUBSCRIBER_COLUMNS}"
                        ),
                        params![
                            r.email.as_str(),
                            key,
                            r.user_id,
                            r.cadence.as_str(),
                            r.confirm_token_hash,
                            ms(r.confirm_expires_at),
                            r.unsubscribe_token,
                            now
                        ],
                        subscriber_from_row,
                    )??;
                    SubscribeOutcome::ConfirmationNeeded(s)
                }
            };
            if let SubscribeOutcome::ConfirmationNeeded(s) = &outcome {
                tx.execute(
                    "INSERT INTO confirmation_outbox
                         (subscriber_id, token, status, attempts, next_attempt_at, created_at)
                     VALUES (?1, ?2, 'queued', 0, ?3, ?3)
                     ON CONFLICT (subscriber_id) DO UPDATE SET token = excluded.token,
                         status = 'queued', attempts = 0,
                         next_attempt_at = excluded.next_attempt_at, claim = NULL,
                         lease_until = NULL, last_error = NULL, sent_at = NULL",
                    params![s.id, r.confirm_token, now],
                )?;
            }
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn import_subscribers(&self, list: &[ImportedSubscriber]) -> StoreResult<u64> {
        let list = list.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut added = 0;
            {
                let mut stmt = tx.prepare(
                    "INSERT INTO subscribers (email, email_key, cadence, status, unsubscribe_token,
                         created_at, confirmed_at)
                     VALUES (?1, ?2, ?3, 'confirmed', ?4, ?5, ?5)
                     ON CONFLICT (email_key) DO NOTHING",
                )?;
                let now = now_ms();
                for s in &list {
                    added += stmt.execute(params![
                        s.email.as_str(),
                        email_key(&s.email),
                        s.cadence.as_str(),
                        s.unsubscribe_token,
                        now
                    ])? as u64;
                }
            }
            tx.commit()?;
            Ok(added)
        })
        .await
    }

    async fn confirm_subscriber(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let s = tx
                .query_row(
                    &format!(
                        "UPDATE subscribers SET status = 'confirmed',
                             confirmed_at = CASE WHEN status = 'confirmed' THEN confirmed_at
                                                 ELSE ?2 END,
                             user_id = COALESCE(link_user_id, user_id), link_user_id = NULL,
                             confirm_token_hash = NULL, confirm_expires_at = NULL
                         WHERE confirm_token_hash = ?1 AND status IN ('pending', 'confirmed')
                           AND confirm_expires_at > ?2
                         RETURNING {SUBSCRIBER_COLUMNS}"
                    ),
                    params![token_hash, ms(now)],
                    subscriber_from_row,
                )
                .optional()?
                .transpose()?;
            if let Some(s) = &s {
                cancel_queued_confirmation(&tx, s.id)?;
            }
            tx.commit()?;
            Ok(s)
        })
        .await
    }

    async fn unsubscribe(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        let token = token.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let s = tx
                .query_row(
                    &format!(
                        "UPDATE subscribers SET status = 'unsubscribed',
                             unsubscribed_at = COALESCE(unsubscribed_at, ?2),
                             confirm_token_hash = NULL, confirm_expires_at = NULL,
                             link_user_id = NULL
                         WHERE unsubscribe_token = ?1
                         RETURNING {SUBSCRIBER_COLUMNS}"
                    ),
                    params![token, ms(now)],
                    subscriber_from_row,
                )
                .optional()?
                .transpose()?;
            if let Some(s) = &s {
                cancel_queued_confirmation(&tx, s.id)?;
            }
            tx.commit()?;
            Ok(s)
        })
        .await
    }

    async fn subscriber_by_token(&self, token: &str) -> StoreResult<Option<Subscriber>> {
        let token = token.to_owned();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE unsubscribe_token = ?1"
                ),
                [&token],
                subscriber_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn subscriber_by_email(&self, email: &Email) -> StoreResult<Option<Subscriber>> {
        let key = email_key(email);
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = ?1"),
                [&key],
                subscriber_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn set_subscriber_cadence(
        &self,
        token: &str,
        cadence: Cadence,
    ) -> StoreResult<Option<Subscriber>> {
        let token = token.to_owned();
        self.write(move |conn| {
            conn.query_row(
                &format!(
                    "UPDATE subscribers SET cadence = ?2 WHERE unsubscribe_token = ?1
                     RETURNING {SUBSCRIBER_COLUMNS}"
                ),
                params![token, cadence.as_str()],
                subscriber_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn confirmed_subscribers(
        &self,
        cadence: Cadence,
        limit: u32,
    ) -> StoreResult<Vec<Subscriber>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers
                 WHERE cadence = ?1 AND status = 'confirmed' ORDER BY id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![cadence.as_str(), limit], subscriber_from_row)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row??);
            }
            Ok(out)
        })
        .await
    }

    async fn build_edition(
        &self,
        edition: &NewEdition,
        now: DateTime<Utc>,
    ) -> StoreResult<EditionBuilt> {
        let e = edition.clone();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let date = e.date.format("%Y-%m-%d").to_string();
            let papers = serde_json::to_string(&e.paper_ids)
                .map_err(|err| StoreError::Corrupt(err.to_string()))?;
            let created = tx.execute(
                "INSERT INTO editions (cadence, edition_date, paper_ids, created_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (cadence, edition_date) DO NOTHING",
                params![e.cadence.as_str(), date, papers, ms(now)],
            )? == 1;
            let edition = tx.query_row(
                &format!(
                    "SELECT {EDITION_COLUMNS} FROM editions
                         WHERE cadence = ?1 AND edition_date = ?2"
                ),
                params![e.cadence.as_str(), date],
                edition_from_row,
            )??;
            let enqueued = tx.execute(
                "INSERT INTO outbox (subscriber_id, edition_id, status, next_attempt_at, created_at)
                 SELECT id, ?1, 'queued', ?2, ?2 FROM subscribers
                 WHERE cadence = ?3 AND status = 'confirmed'
                 ORDER BY id
                 ON CONFLICT (subscriber_id, edition_id) DO NOTHING",
                params![edition.id, ms(now), e.cadence.as_str()],
            )? as u64;
            tx.commit()?;
            Ok(EditionBuilt {
                edition,
                created,
                enqueued,
            })
        })
        .await
    }

    async fn edition(&self, id: i64) -> StoreResult<Option<Edition>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {EDITION_COLUMNS} FROM editions WHERE id = ?1"),
                [id],
                edition_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn latest_edition(&self, cadence: Option<Cadence>) -> StoreResult<Option<Edition>> {
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {EDITION_COLUMNS} FROM editions
                     WHERE ?1 IS NULL OR cadence = ?1
                     ORDER BY edition_date DESC, id DESC LIMIT 1"
                ),
                [cadence.map(Cadence::as_str)],
                edition_from_row,
            )
            .optional()?
            .transpose()
        })
        .await
    }

    async fn claim_outbox(
        &self,
        limit: u32,
        claim: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.write(move |conn| {
            let claimed = claim_rows(conn, Queue::Digests, limit, claim, now, lease_until)?;
            Ok(claimed
                .into_iter()
                .map(|(id, attempts, edition_id, subscriber)| OutboxMessage {
                    id,
                    claim,
                    attempts,
                    edition_id,
                    subscriber,
                })
                .collect())
        })
        .await
    }

    async fn record_delivery(
        &self,
        id: i64,
        claim: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let outcome = outcome.clone();
        self.write(move |conn| record_outcome(conn, Queue::Digests, id, claim, &outcome, now))
            .await
    }

    async fn outbox_counts(&self, edition_id: Option<i64>) -> StoreResult<OutboxCounts> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT status, count(*) FROM outbox
                 WHERE ?1 IS NULL OR edition_id = ?1 GROUP BY status",
            )?;
            let mut counts = OutboxCounts::default();
            let rows = stmt.query_map([edition_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (status, n) = row?;
                counts.add(&status, n);
            }
            Ok(counts)
        })
        .await
    }

    async fn renew_confirmation(
        &self,
        token_hash: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE subscribers SET confirm_expires_at = max(confirm_expires_at, ?2)
                 WHERE confirm_token_hash = ?1 AND status IN ('pending', 'confirmed')",
                params![token_hash, ms(until)],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn upvoted_paper_ids(&self, user_id: i64, limit: u32) -> StoreResult<Vec<String>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT paper_id FROM votes WHERE user_id = ?1
                 ORDER BY created_at DESC, paper_id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![user_id, limit], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn claim_confirmations(
        &self,
        limit: u32,
        claim: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<ConfirmationMessage>> {
        self.write(move |conn| {
            let claimed = claim_rows(conn, Queue::Confirmations, limit, claim, now, lease_until)?;
            Ok(claimed
                .into_iter()
                .map(|(id, attempts, token, subscriber)| ConfirmationMessage {
                    id,
                    claim,
                    attempts,
                    token,
                    subscriber,
                })
                .collect())
        })
        .await
    }

    async fn record_confirmation(
        &self,
        id: i64,
        claim: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let outcome = outcome.clone();
        self.write(move |conn| record_outcome(conn, Queue::Confirmations, id, claim, &outcome, now))
            .await
    }

    async fn confirmation_counts(&self) -> StoreResult<OutboxCounts> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare("SELECT status, count(*) FROM confirmation_outbox GROUP BY status")?;
            let mut counts = OutboxCounts::default();
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (status, n) = row?;
                counts.add(&status, n);
            }
            Ok(counts)
        })
        .await
    }

    // ---- site ----

    async fn organization(&self, name: &str) -> StoreResult<Option<OrgProfile>> {
        let name = name.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!("{ORG_SELECT} WHERE o.name = ?1"))?
                .query_row([&name], org_from_row)
                .optional()
                .map_err(StoreError::from)
        })
        .await
    }

    async fn organizations(&self, limit: u32) -> StoreResult<Vec<OrgProfile>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{ORG_SELECT} ORDER BY 6 DESC, 5 DESC, o.name LIMIT ?1"
            ))?;
            stmt.query_map([i64::from(limit)], org_from_row)?
                .map(|r| r.map_err(StoreError::from))
                .collect()
        })
        .await
    }

    async fn create_organization(
        &self,
        name: &str,
        fullname: &str,
        creator_id: i64,
    ) -> StoreResult<OrgProfile> {
        let (name, fullname) = (name.to_owned(), fullname.to_owned());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let id: i64 = tx
                .query_row(
                    "INSERT INTO organizations (name, fullname) VALUES (?1, ?2) RETURNING id",
                    params![name, fullname],
                    |r| r.get(0),
                )
                .map_err(|e| map_unique(e, "that organization name"))?;
            tx.execute(
                "INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?1, ?2, 'admin', ?3)",
                params![id, creator_id, now_ms()],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    StoreError::NotFound(format!("user {creator_id}"))
                }
                e => e.into(),
            })?;
            let org = tx.query_row(&format!("{ORG_SELECT} WHERE o.id = ?1"), [id], org_from_row)?;
            tx.commit()?;
            Ok(org)
        })
        .await
    }

    async fn org_members(&self, org_id: i64) -> StoreResult<Vec<OrgMember>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT u.id, u.username, u.fullname, u.avatar_url, m.role, m.joined_at
                 FROM org_members m JOIN users u ON u.id = m.user_id
                 WHERE m.org_id = ?1 AND m.status = 'active'
                 ORDER BY m.role = 'admin' DESC, m.joined_at, u.username",
            )?;
            let rows = stmt.query_map([org_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            rows.map(|r| {
                let (user_id, username, fullname, avatar_url, role, joined) = r?;
                Ok(OrgMember {
                    user_id,
                    username,
                    fullname,
                    avatar_url,
                    role: OrgRole::parse(&role)
                        .ok_or_else(|| crate::site::corrupt_status("role", &role))?,
                    joined_at: from_ms(joined)?,
                })
            })
            .collect()
        })
        .await
    }

    async fn user_organizations(&self, user_id: i64) -> StoreResult<Vec<OrgProfile>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{ORG_SELECT} WHERE o.id IN (SELECT org_id FROM org_members WHERE user_id = ?1 AND status = 'active')
                 ORDER BY o.name"
            ))?;
            stmt.query_map([user_id], org_from_row)?
                .map(|r| r.map_err(StoreError::from))
                .collect()
        })
        .await
    }

    async fn request_membership(&self, org_id: i64, user_id: i64) -> StoreResult<MembershipStatus> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let status = match membership_of(&tx, org_id, user_id)? {
                Some((_, MembershipStatus::Invited)) => {
                    activate(&tx, org_id, user_id)?;
                    MembershipStatus::Active
                }
                Some((_, status)) => status,
                None => {
                    tx.execute(
                        "INSERT INTO org_members (org_id, user_id, role, joined_at, status)
                         VALUES (?1, ?2, 'member', ?3, 'requested')",
                        params![org_id, user_id, now_ms()],
                    )
                    .map_err(|e| map_missing(e, "organization or user"))?;
                    MembershipStatus::Requested
                }
            };
            tx.commit()?;
            Ok(status)
        })
        .await
    }

    async fn invite_to_organization(
        &self,
        org_id: i64,
        admin_id: i64,
        user_id: i64,
    ) -> StoreResult<MembershipStatus> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if !is_org_admin(&tx, org_id, admin_id)? {
                return Err(crate::site::not_admin());
            }
            let status = match membership_of(&tx, org_id, user_id)? {
                Some((_, MembershipStatus::Requested)) => {
                    activate(&tx, org_id, user_id)?;
                    MembershipStatus::Active
                }
                Some((_, status)) => status,
                None => {
                    tx.execute(
                        "INSERT INTO org_members (org_id, user_id, role, joined_at, status)
                         VALUES (?1, ?2, 'member', ?3, 'invited')",
                        params![org_id, user_id, now_ms()],
                    )
                    .map_err(|e| map_missing(e, &format!("user {user_id}")))?;
                    MembershipStatus::Invited
                }
            };
            tx.commit()?;
            Ok(status)
        })
        .await
    }

    async fn decide_membership(
        &self,
        org_id: i64,
        user_id: i64,
        actor_id: i64,
        accept: bool,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let may = match membership_of(&tx, org_id, user_id)? {
                Some((_, MembershipStatus::Requested)) => is_org_admin(&tx, org_id, actor_id)?,
                Some((_, MembershipStatus::Invited)) => actor_id == user_id,
                _ => false,
            };
            if !may {
                return Err(StoreError::NotFound(
                    "a request or invitation to answer".into(),
                ));
            }
            if accept {
                activate(&tx, org_id, user_id)?;
            } else {
                tx.execute(
                    "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
                    params![org_id, user_id],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn pending_memberships(&self, org_id: i64) -> StoreResult<Vec<PendingMembership>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{PENDING_SELECT} WHERE m.org_id = ?1 AND m.status <> 'active'
                 ORDER BY m.joined_at, u.username"
            ))?;
            stmt.query_map([org_id], pending_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(|p| p))
                .collect()
        })
        .await
    }

    async fn user_pending_memberships(&self, user_id: i64) -> StoreResult<Vec<PendingMembership>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{PENDING_SELECT} WHERE m.user_id = ?1 AND m.status <> 'active'
                 ORDER BY m.joined_at, o.name"
            ))?;
            stmt.query_map([user_id], pending_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(|p| p))
                .collect()
        })
        .await
    }

    async fn set_org_role(
        &self,
        org_id: i64,
        admin_id: i64,
        user_id: i64,
        role: OrgRole,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if !is_org_admin(&tx, org_id, admin_id)? {
                return Err(crate::site::not_admin());
            }
            let Some((current, MembershipStatus::Active)) = membership_of(&tx, org_id, user_id)?
            else {
                return Err(StoreError::NotFound(format!("member {user_id}")));
            };
            if current == OrgRole::Admin && role == OrgRole::Member && org_admins(&tx, org_id)? <= 1
            {
                return Err(StoreError::Conflict(
                    "the last administrator stays one until another is made administrator".into(),
                ));
            }
            tx.execute(
                "UPDATE org_members SET role = ?1 WHERE org_id = ?2 AND user_id = ?3",
                params![role.as_str(), org_id, user_id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn remove_org_member(
        &self,
        org_id: i64,
        actor_id: i64,
        user_id: i64,
    ) -> StoreResult<bool> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if actor_id != user_id && !is_org_admin(&tx, org_id, actor_id)? {
                return Err(crate::site::not_admin());
            }
            let Some((role, status)) = membership_of(&tx, org_id, user_id)? else {
                return Ok(false);
            };
            if role == OrgRole::Admin
                && status == MembershipStatus::Active
                && org_admins(&tx, org_id)? <= 1
            {
                return Err(StoreError::Conflict(
                    "the last administrator cannot leave: make another member administrator first"
                        .into(),
                ));
            }
            tx.execute(
                "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
                params![org_id, user_id],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn detach_org_paper(
        &self,
        org_id: i64,
        admin_id: i64,
        paper: &ArxivId,
    ) -> StoreResult<bool> {
        let paper = paper.base().to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if !is_org_admin(&tx, org_id, admin_id)? {
                return Err(crate::site::not_admin());
            }
            let n = tx.execute(
                "UPDATE daily_entries SET organization_id = NULL
                 WHERE paper_id = ?1 AND organization_id = ?2",
                params![paper, org_id],
            )?;
            if n > 0 {
                tx.execute(
                    "UPDATE papers SET modified_at = ?1 WHERE id = ?2",
                    params![now_ms(), paper],
                )?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    async fn claim_author(&self, user_id: i64, name: &str) -> StoreResult<AuthorClaim> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = author_key(&name);
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO author_claims (user_id, name_key, name, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, name_key) DO NOTHING",
                params![user_id, key, name, now_ms()],
            )?;
            let claim = tx.query_row(
                &format!("{CLAIM_SELECT} WHERE c.user_id = ?1 AND c.name_key = ?2"),
                params![user_id, key],
                claim_from_row,
            )??;
            tx.commit()?;
            Ok(claim)
        })
        .await
    }

    async fn author_claims(&self, name: &str) -> StoreResult<Vec<AuthorClaim>> {
        let key = author_key(name);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{CLAIM_SELECT} WHERE c.name_key = ?1 ORDER BY c.id"
            ))?;
            stmt.query_map([&key], claim_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(|c| c))
                .collect()
        })
        .await
    }

    async fn user_author_claims(&self, user_id: i64) -> StoreResult<Vec<AuthorClaim>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{CLAIM_SELECT} WHERE c.user_id = ?1 ORDER BY c.id"
            ))?;
            stmt.query_map([user_id], claim_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(|c| c))
                .collect()
        })
        .await
    }

    async fn pending_author_claims(&self, limit: u32) -> StoreResult<Vec<AuthorClaim>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{CLAIM_SELECT} WHERE c.status = 'pending' ORDER BY c.id LIMIT ?1"
            ))?;
            stmt.query_map([i64::from(limit)], claim_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(|c| c))
                .collect()
        })
        .await
    }

    async fn decide_author_claim(
        &self,
        claim_id: i64,
        admin_id: i64,
        confirm: bool,
    ) -> StoreResult<AuthorClaim> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let status = if confirm { "confirmed" } else { "rejected" };
            let n = tx
                .execute(
                    "UPDATE author_claims SET status = ?1, decided_at = ?2, decided_by = ?3 WHERE id = ?4",
                    params![status, now_ms(), admin_id, claim_id],
                )
                .map_err(|e| map_unique(e, "that author name (another account holds it)"))?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("claim {claim_id}")));
            }
            let claim = tx.query_row(
                &format!("{CLAIM_SELECT} WHERE c.id = ?1"),
                [claim_id],
                claim_from_row,
            )??;
            tx.commit()?;
            Ok(claim)
        })
        .await
    }

    async fn set_paper_hidden(&self, id: &ArxivId, hidden: bool) -> StoreResult<bool> {
        let id = id.base().to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE papers SET hidden = ?1, modified_at = ?2 WHERE id = ?3 AND hidden <> ?1",
                params![hidden, now_ms(), id],
            )?;
            if n == 0
                && conn
                    .query_row("SELECT 1 FROM papers WHERE id = ?1", [&id], |_| Ok(()))
                    .optional()?
                    .is_none()
            {
                return Err(StoreError::NotFound(format!("paper {id}")));
            }
            Ok(n > 0)
        })
        .await
    }

    async fn paper_hidden(&self, id: &ArxivId) -> StoreResult<bool> {
        let id = id.base().to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT hidden FROM papers WHERE id = ?1", [&id], |r| {
                    r.get::<_, bool>(0)
                })
                .optional()?
                .unwrap_or(false))
        })
        .await
    }

    async fn hidden_papers(&self, limit: u32) -> StoreResult<Vec<HiddenPaper>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, title FROM papers WHERE hidden = 1 ORDER BY modified_at DESC LIMIT ?1",
            )?;
            stmt.query_map([i64::from(limit)], |r| {
                Ok(HiddenPaper {
                    id: r.get(0)?,
                    title: r.get(1)?,
                })
            })?
            .map(|r| r.map_err(StoreError::from))
            .collect()
        })
        .await
    }

    async fn set_comment_hidden(&self, id: i64, hidden: bool) -> StoreResult<Option<String>> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let row: Option<(String, bool, bool)> = tx
                .query_row(
                    "SELECT paper_id, hidden, deleted FROM comments WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((paper, was_hidden, deleted)) = row else {
                return Err(StoreError::NotFound(format!("comment {id}")));
            };
            if was_hidden == hidden {
                return Ok(None);
            }
            tx.execute(
                "UPDATE comments SET hidden = ?1 WHERE id = ?2",
                params![hidden, id],
            )?;
            if !deleted {
                let delta = if hidden { -1 } else { 1 };
                tx.execute(
                    "UPDATE papers SET local_comments = local_comments + ?1, modified_at = ?2 WHERE id = ?3",
                    params![delta, now_ms(), paper],
                )?;
            }
            tx.commit()?;
            Ok(Some(paper))
        })
        .await
    }

    async fn set_user_suspended(&self, user_id: i64, suspended: bool) -> StoreResult<bool> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE users SET suspended = ?1 WHERE id = ?2 AND suspended <> ?1",
                params![suspended, user_id],
            )?;
            if n == 0
                && tx
                    .query_row("SELECT 1 FROM users WHERE id = ?1", [user_id], |_| Ok(()))
                    .optional()?
                    .is_none()
            {
                return Err(StoreError::NotFound(format!("user {user_id}")));
            }
            if suspended {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    async fn suspended_users(&self, limit: u32) -> StoreResult<Vec<User>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE suspended = 1 ORDER BY username LIMIT ?1"
            ))?;
            stmt.query_map([i64::from(limit)], user_from_row)?
                .map(|r| r.map_err(StoreError::from).and_then(|u| u))
                .collect()
        })
        .await
    }

    async fn set_fullname(&self, user_id: i64, fullname: &str) -> StoreResult<()> {
        let fullname = fullname.to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE users SET fullname = ?1 WHERE id = ?2",
                params![fullname, user_id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {user_id}")));
            }
            Ok(())
        })
        .await
    }

    async fn set_email(&self, user_id: i64, email: &Email) -> StoreResult<()> {
        let email = email.as_str().to_owned();
        self.write(move |conn| {
            let n = conn
                .execute(
                    "UPDATE users SET email = ?1 WHERE id = ?2",
                    params![email, user_id],
                )
                .map_err(|e| map_unique(e, "that email"))?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {user_id}")));
            }
            Ok(())
        })
        .await
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> StoreResult<()> {
        let hash = password_hash.to_owned();
        let keep = keep_session.map(str::to_owned);
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![hash, user_id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {user_id}")));
            }
            tx.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
                params![user_id, keep],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn create_password_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, user_id, now_ms(), ms(expires_at)],
            )?;
            // Old links are swept as new ones are made.
            conn.execute(
                "DELETE FROM password_resets WHERE expires_at < ?1",
                [now_ms() - 7 * 24 * 3600 * 1000],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_pending_signup(
        &self,
        token_hash: &str,
        signup: &PendingSignup,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        let p = signup.clone();
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM pending_signups WHERE expires_at < ?1",
                [now_ms()],
            )?;
            conn.execute(
                "INSERT INTO pending_signups
                 (token_hash, username, fullname, email, password_hash, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    token_hash,
                    p.username,
                    p.fullname,
                    p.email,
                    p.password_hash,
                    now_ms(),
                    ms(expires_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn take_pending_signup(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PendingSignup>> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            Ok(conn
                .query_row(
                    "DELETE FROM pending_signups WHERE token_hash = ?1
                     RETURNING username, fullname, email, password_hash, expires_at",
                    [&token_hash],
                    |r| {
                        Ok((
                            PendingSignup {
                                username: r.get(0)?,
                                fullname: r.get(1)?,
                                email: r.get(2)?,
                                password_hash: r.get(3)?,
                            },
                            r.get::<_, i64>(4)?,
                        ))
                    },
                )
                .optional()?
                .filter(|(_, expires)| *expires > ms(now))
                .map(|(p, _)| p))
        })
        .await
    }

    async fn password_reset_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS_U} FROM password_resets r JOIN users u ON u.id = r.user_id
                 WHERE r.token_hash = ?1 AND r.used_at IS NULL AND r.expires_at > ?2
                   AND u.suspended = 0"
            ))?
            .query_row(params![token_hash, ms(now)], user_from_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let (token_hash, hash) = (token_hash.to_owned(), password_hash.to_owned());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let user_id: Option<i64> = tx
                .query_row(
                    "UPDATE password_resets SET used_at = ?2
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                       AND user_id IN (SELECT id FROM users WHERE suspended = 0)
                     RETURNING user_id",
                    params![token_hash, ms(now)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(user_id) = user_id else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE password_resets SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
                params![user_id, ms(now)],
            )?;
            tx.execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![hash, user_id],
            )?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
            let user = tx.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [user_id],
                user_from_row,
            )??;
            tx.commit()?;
            Ok(Some(user))
        })
        .await
    }

    async fn paper_upvoters(&self, paper: &ArxivId, limit: u32) -> StoreResult<Vec<StoredUserRef>> {
        let paper = paper.base().to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT u.username, u.fullname, u.avatar_url FROM votes v JOIN users u ON u.id = v.user_id
                 WHERE v.paper_id = ?1 AND u.suspended = 0
                 ORDER BY v.created_at DESC, u.username LIMIT ?2",
            )?;
            stmt.query_map(params![paper, i64::from(limit)], |r| {
                Ok(StoredUserRef {
                    username: r.get(0)?,
                    fullname: r.get(1)?,
                    avatar_url: r.get(2)?,
                })
            })?
            .map(|r| r.map_err(StoreError::from))
            .collect()
        })
        .await
    }

    async fn edit_comment(&self, id: i64, user_id: i64, body: &str) -> StoreResult<Comment> {
        self.update_comment(id, user_id, body, None).await
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

/// The two durable mail queues: digests (`outbox`) and confirmations (`confirmation_outbox`).
/// They share their life cycle, so they share the claim and the recording of outcomes.
#[derive(Clone, Copy)]
enum Queue {
    Digests,
    Confirmations,
}

impl Queue {
    fn table(self) -> &'static str {
        match self {
            Self::Digests => "outbox",
            Self::Confirmations => "confirmation_outbox",
        }
    }

    /// The queue's own column returned with a claim: the edition, or the token.
    fn payload(self) -> &'static str {
        match self {
            Self::Digests => "edition_id",
            Self::Confirmations => "COALESCE(token, '')",
        }
    }
}

/// Cancels the subscriber's queued confirmation message, whose token no longer works.
fn cancel_queued_confirmation(
    tx: &rusqlite::Transaction<'_>,
    subscriber_id: i64,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE confirmation_outbox SET status = 'cancelled', token = NULL
         WHERE subscriber_id = ?1 AND status = 'queued'",
        [subscriber_id],
    )?;
    Ok(())
}

/// Atomically claims due rows of a queue: one UPDATE under SQLite's single writer lock, so no
/// two workers (or processes) hold the same row. Returns (id, attempts, payload, subscriber)
/// by id.
fn claim_rows<P: rusqlite::types::FromSql>(
    conn: &mut Connection,
    queue: Queue,
    limit: u32,
    claim: i64,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> StoreResult<Vec<(i64, i32, P, Subscriber)>> {
    let tx = conn.transaction()?;
    let table = queue.table();
    let ids: Vec<(i64, i32, P, i64)> = {
        let mut stmt = tx.prepare(&format!(
            "UPDATE {table} SET status = 'sending', claim = ?1, lease_until = ?3
             WHERE id IN (
                 SELECT id FROM {table}
                 WHERE (status = 'queued' AND next_attempt_at <= ?2)
                    OR (status = 'sending' AND lease_until <= ?2)
                 ORDER BY id LIMIT ?4)
             RETURNING id, attempts, {}, subscriber_id",
            queue.payload()
        ))?;
        let rows = stmt.query_map(params![claim, ms(now), ms(lease_until), limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(ids.len());
    {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = ?1"
        ))?;
        for (id, attempts, payload, subscriber_id) in ids {
            let subscriber = stmt.query_row([subscriber_id], subscriber_from_row)??;
            out.push((id, attempts, payload, subscriber));
        }
    }
    tx.commit()?;
    out.sort_by_key(|m| m.0);
    Ok(out)
}

/// Records the outcome of a claimed row, if the claim still holds. A settled confirmation
/// forgets its token.
fn record_outcome(
    conn: &mut Connection,
    queue: Queue,
    id: i64,
    claim: i64,
    outcome: &DeliveryOutcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let (status, error, next): (&str, Option<&str>, Option<i64>) = match outcome {
        DeliveryOutcome::Sent => ("sent", None, None),
        DeliveryOutcome::Retry { error, not_before } => {
            ("queued", Some(error.as_str()), Some(ms(*not_before)))
        }
        DeliveryOutcome::Failed { error } => ("failed", Some(error.as_str()), None),
        DeliveryOutcome::Cancelled => ("cancelled", None, None),
    };
    let forget = match queue {
        Queue::Digests => "",
        Queue::Confirmations => ", token = CASE WHEN ?3 = 'queued' THEN token ELSE NULL END",
    };
    let n = conn.execute(
        &format!(
            "UPDATE {} SET status = ?3, attempts = attempts + 1,
                 last_error = COALESCE(?4, last_error),
                 next_attempt_at = COALESCE(?5, next_attempt_at),
                 sent_at = CASE WHEN ?3 = 'sent' THEN ?6 ELSE sent_at END,
                 claim = NULL, lease_until = NULL{forget}
             WHERE id = ?1 AND claim = ?2 AND status = 'sending'",
            queue.table()
        ),
        params![id, claim, status, error, next, ms(now)],
    )?;
    Ok(n == 1)
}

const SUBSCRIBER_COLUMNS: &str =
    "id, email, user_id, cadence, status, unsubscribe_token, created_at";

fn subscriber_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<Subscriber>> {
    let cadence: String = r.get(3)?;
    let status: String = r.get(4)?;
    let created_at: i64 = r.get(6)?;
    let id: i64 = r.get(0)?;
    let email: String = r.get(1)?;
    let user_id: Option<i64> = r.get(2)?;
    let unsubscribe_token: String = r.get(5)?;
    Ok((|| {
        Ok(Subscriber {
            id,
            email,
            user_id,
            cadence: Cadence::from_stored(&cadence)?,
            status: SubscriberStatus::from_stored(&status)?,
            unsubscribe_token,
            created_at: from_ms(created_at)?,
        })
    })())
}

const EDITION_COLUMNS: &str = "id, cadence, edition_date, paper_ids, created_at";

fn edition_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<Edition>> {
    let id: i64 = r.get(0)?;
    let cadence: String = r.get(1)?;
    let date: String = r.get(2)?;
    let papers: String = r.get(3)?;
    let created_at: i64 = r.get(4)?;
    Ok((|| {
        Ok(Edition {
            id,
            cadence: Cadence::from_stored(&cadence)?,
            date: parse_date(&date)?,
            paper_ids: serde_json::from_str(&papers)
                .map_err(|e| StoreError::Corrupt(format!("papers of edition {id}: {e}")))?,
            created_at: from_ms(created_at)?,
        })
    })())
}

fn parse_date(s: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| StoreError::Corrupt(format!("date {s}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_reader_keeps_a_bounded_page_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("db.sqlite"))
            .await
            .expect("open");
        // Every reader is opened by `open_connection`, as this one.
        let size = store
            .read(|conn| Ok(conn.query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0))?))
            .await
            .expect("read");
        // Negative: KiB. At most 4 MiB per reader, whatever is read.
        assert!((-4096..0).contains(&size), "cache_size {size}");
    }
}
