//! The PostgreSQL backend, for teams running several stateless replicas on one database.
//! Bulk writes go through `UNNEST` arrays: one statement per table per batch.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use paperboy_core::{ArxivId, Email, FeedEntry, NewPaper, Organization, Paper, StoredUserRef};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

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

/// Migrations, in order; the table `paperboy_migrations` records those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_init.sql"),
    include_str!("../migrations/postgres/0002_community.sql"),
    include_str!("../migrations/postgres/0003_api.sql"),
    include_str!("../migrations/postgres/0004_mail.sql"),
    include_str!("../migrations/postgres/0005_search.sql"),
    include_str!("../migrations/postgres/0006_site.sql"),
    include_str!("../migrations/postgres/0007_mail_outbox.sql"),
    include_str!("../migrations/postgres/0008_sweep_indexes.sql"),
    include_str!("../migrations/postgres/0009_comment_html.sql"),
    include_str!("../migrations/postgres/0010_membership_and_signups.sql"),
];

/// Key of the advisory lock that serializes migrations between replicas starting together.
const MIGRATION_LOCK: i64 = 0x7061_7065_7262_6f79; // "paperboy"

/// A store in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

fn pool_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Pool(e.to_string())
}

impl PgStore {
    /// Adds a comment, with its rendered HTML if given (see [`Store::add_comment`]).
    async fn insert_comment(
        &self,
        c: &NewComment,
        rendered: Option<(&str, i32)>,
    ) -> StoreResult<Comment> {
        let (html, version) = rendered.map_or((None, 0), |(h, v)| (Some(h), v));
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let paper = c.paper.base();
        if tx
            .query_opt(
                "SELECT 1 FROM papers WHERE id = $1 AND NOT hidden",
                &[&paper],
            )
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("paper {paper}")));
        }
        if let Some(parent) = c.parent_id
            && tx
                .query_opt(
                    "SELECT 1 FROM comments WHERE id = $1 AND paper_id = $2 AND parent_id IS NULL",
                    &[&parent, &paper],
                )
                .await?
                .is_none()
        {
            return Err(StoreError::Conflict(
                "replies go to a top-level comment of the same paper".into(),
            ));
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO comments (paper_id, user_id, parent_id, body, created_at, body_html,
                                       html_version)
                 VALUES ($1, $2, $3, $4, now(), $5, $6) RETURNING id",
                &[&paper, &c.user_id, &c.parent_id, &c.body, &html, &version],
            )
            .await?
            .get(0);
        tx.execute(
            "UPDATE papers SET local_comments = local_comments + 1, modified_at = now() WHERE id = $1",
            &[&paper],
        )
        .await?;
        let row = tx
            .query_one(&format!("{COMMENT_SELECT} WHERE c.id = $1"), &[&id])
            .await?;
        let comment = comment_from_row(&row)?;
        tx.commit().await?;
        Ok(comment)
    }

    /// Replaces a comment's body; its stored HTML becomes `rendered` (cleared if `None`).
    async fn update_comment(
        &self,
        id: i64,
        user_id: i64,
        body: &str,
        rendered: Option<(&str, i32)>,
    ) -> StoreResult<Comment> {
        let (html, version) = rendered.map_or((None, 0), |(h, v)| (Some(h), v));
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE comments SET body = $1, edited_at = now(), body_html = $4, html_version = $5
                 WHERE id = $2 AND user_id = $3 AND NOT deleted AND NOT hidden
                   AND paper_id IN (SELECT id FROM papers WHERE NOT hidden)",
                &[&body, &id, &user_id, &html, &version],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("comment {id}")));
        }
        comment_from_row(
            &client
                .query_one(&format!("{COMMENT_SELECT} WHERE c.id = $1"), &[&id])
                .await?,
        )
    }

    /// Connects to `url` (`postgres://user@host:port/db`) and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Open(format!("invalid PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(pool_err)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS paperboy_migrations (
                 version INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
        let applied: i32 = tx
            .query_one(
                "SELECT COALESCE(max(version), 0) FROM paperboy_migrations",
                &[],
            )
            .await?
            .get(0);
        let applied = applied as usize;
        if applied > MIGRATIONS.len() {
            return Err(StoreError::Migration(format!(
                "the database is at schema version {applied}, newer than this Paperboy knows ({}); upgrade Paperboy",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            tx.batch_execute(sql).await.map_err(|e| {
                StoreError::Migration(format!("PostgreSQL migration {}: {e}", i + 1))
            })?;
            tx.execute(
                "INSERT INTO paperboy_migrations (version) VALUES ($1)",
                &[&((i + 1) as i32)],
            )
            .await?;
            tracing::info!(version = i + 1, "applied PostgreSQL migration");
        }
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn query_papers(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Vec<Paper>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        let rows = client.query(&stmt, params).await?;
        rows.iter().map(paper_from_row).collect()
    }
}

const PAPER_COLUMNS: &str = "p.id, p.version, p.title, p.summary, p.categories, p.published_at,
    p.updated_at, p.comment, p.journal_ref, p.doi, p.github_repo, p.github_stars,
    p.project_page, p.ai_summary, p.keywords::text,
    COALESCE(p.source_upvotes, 0) + p.local_upvotes AS upvotes,
    COALESCE(p.source_comments, 0) + p.local_comments AS num_comments,
    p.discussion_id, d.feed_date, d.submitted_at, u.username, u.fullname, u.avatar_url,
    o.name, o.fullname, o.avatar_url, p.authors::text
    FROM papers p
    LEFT JOIN daily_entries d ON d.paper_id = p.id
    LEFT JOIN users u ON u.id = d.submitter_id
    LEFT JOIN organizations o ON o.id = d.organization_id";

fn paper_from_row(row: &Row) -> StoreResult<Paper> {
    let id: String = row.try_get(0)?;
    let categories: String = row.try_get(4)?;
    let keywords: String = row.try_get(14)?;
    let feed_date: Option<NaiveDate> = row.try_get(18)?;
    let submitted_at: Option<DateTime<Utc>> = row.try_get(19)?;
    let username: Option<String> = row.try_get(20)?;
    let org_name: Option<String> = row.try_get(23)?;
    let authors: String = row.try_get(26)?;
    let feed = match (feed_date, submitted_at) {
        (Some(feed_date), Some(submitted_at)) => Some(FeedEntry {
            feed_date,
            submitted_at,
            submitter: match username {
                Some(username) => Some(StoredUserRef {
                    username,
                    fullname: row.try_get(21)?,
                    avatar_url: row.try_get(22)?,
                }),
                None => None,
            },
            organization: match org_name {
                Some(name) => Some(Organization {
                    name,
                    fullname: row.try_get(24)?,
                    avatar_url: row.try_get(25)?,
                }),
                None => None,
            },
        }),
        _ => None,
    };
    Ok(Paper {
        id: ArxivId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        version: row.try_get::<_, Option<i32>>(1)?.map(|v| v as u32),
        title: row.try_get(2)?,
        summary: row.try_get(3)?,
        authors: authors_from_json(&authors)?,
        categories: categories.split_whitespace().map(str::to_owned).collect(),
        published_at: row.try_get(5)?,
        updated_at: row.try_get(6)?,
        comment: row.try_get(7)?,
        journal_ref: row.try_get(8)?,
        doi: row.try_get(9)?,
        github_repo: row.try_get(10)?,
        github_stars: row.try_get(11)?,
        project_page: row.try_get(12)?,
        ai_summary: row.try_get(13)?,
        keywords: serde_json::from_str(&keywords)
            .map_err(|e| StoreError::Corrupt(format!("keywords of {id}: {e}")))?,
        upvotes: row.try_get(15)?,
        num_comments: row.try_get(16)?,
        discussion_id: row.try_get(17)?,
        feed,
    })
}

const USER_COLUMNS: &str =
    "id, username, fullname, avatar_url, email, password_hash, is_admin, suspended, created_at";
const USER_COLUMNS_U: &str = "u.id, u.username, u.fullname, u.avatar_url, u.email, u.password_hash,
    u.is_admin, u.suspended, u.created_at";

const COMMENT_SELECT: &str = "SELECT c.id, c.paper_id, c.user_id, u.username, u.fullname,
    c.parent_id, c.body, c.created_at, c.edited_at, c.deleted, c.hidden, c.body_html,
    c.html_version
    FROM comments c JOIN users u ON u.id = c.user_id";

fn comment_from_row(r: &Row) -> StoreResult<Comment> {
    Ok(Comment {
        id: r.try_get(0)?,
        paper_id: r.try_get(1)?,
        user_id: r.try_get(2)?,
        username: r.try_get(3)?,
        fullname: r.try_get(4)?,
        parent_id: r.try_get(5)?,
        body: r.try_get(6)?,
        created_at: r.try_get(7)?,
        edited_at: r.try_get(8)?,
        deleted: r.try_get(9)?,
        hidden: r.try_get(10)?,
        body_html: r.try_get(11)?,
        html_version: r.try_get(12)?,
    })
}

fn user_from_row(r: &Row) -> StoreResult<User> {
    Ok(User {
        id: r.try_get(0)?,
        username: r.try_get(1)?,
        fullname: r.try_get(2)?,
        avatar_url: r.try_get(3)?,
        email: r.try_get(4)?,
        password_hash: r.try_get(5)?,
        is_admin: r.try_get(6)?,
        suspended: r.try_get(7)?,
        created_at: r.try_get(8)?,
    })
}

/// Splits a batch into runs without a repeated id, so that each run can be one `UNNEST`
/// upsert (PostgreSQL refuses to update a row twice in one statement) and the batch keeps
/// its order: a later record of the same paper still wins.
fn runs_without_repeats(papers: &[NewPaper]) -> Vec<&[NewPaper]> {
    let mut runs = Vec::new();
    let mut seen = HashSet::new();
    let mut start = 0;
    for (i, p) in papers.iter().enumerate() {
        if !seen.insert(p.id.base()) {
            runs.push(&papers[start..i]);
            seen.clear();
            seen.insert(p.id.base());
            start = i;
        }
    }
    if start < papers.len() {
        runs.push(&papers[start..]);
    }
    runs
}

async fn upsert_run(
    tx: &deadpool_postgres::Transaction<'_>,
    papers: &[NewPaper],
    now: DateTime<Utc>,
) -> StoreResult<UpsertSummary> {
    let ids: Vec<&str> = papers.iter().map(|p| p.id.base()).collect();
    let stmt = tx
        .prepare_cached("SELECT id, version FROM papers WHERE id = ANY($1)")
        .await?;
    let stored: HashMap<String, Option<i32>> = tx
        .query(&stmt, &[&ids])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let summary = UpsertSummary {
        inserted: (papers.len() - stored.len()) as u64,
        updated: stored.len() as u64,
    };

    // Organizations and submitters first: feed entries point at them.
    let mut org_names = Vec::new();
    let mut org_fullnames = Vec::new();
    let mut org_avatars = Vec::new();
    let mut user_names = Vec::new();
    let mut user_fullnames = Vec::new();
    let mut user_avatars = Vec::new();
    {
        let mut seen_orgs = HashSet::new();
        let mut seen_users = HashSet::new();
        for feed in papers.iter().filter_map(|p| p.feed.as_ref()) {
            if let Some(o) = &feed.organization
                && seen_orgs.insert(o.name.as_str())
            {
                org_names.push(o.name.as_str());
                org_fullnames.push(o.fullname.as_str());
                org_avatars.push(o.avatar_url.as_deref());
            }
            if let Some(u) = &feed.submitter
                && seen_users.insert(u.username.as_str())
            {
                user_names.push(u.username.as_str());
                user_fullnames.push(u.fullname.as_str());
                user_avatars.push(u.avatar_url.as_deref());
            }
        }
    }
    let mut org_ids: HashMap<String, i64> = HashMap::new();
    if !org_names.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO organizations (name, fullname, avatar_url)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
                 ON CONFLICT (name) DO UPDATE SET fullname = excluded.fullname,
                     avatar_url = COALESCE(excluded.avatar_url, organizations.avatar_url)
                 RETURNING id, name",
            )
            .await?;
        for row in tx
            .query(&stmt, &[&org_names, &org_fullnames, &org_avatars])
            .await?
        {
            org_ids.insert(row.get(1), row.get(0));
        }
    }
    let mut user_ids: HashMap<String, i64> = HashMap::new();
    if !user_names.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO users (username, fullname, avatar_url, created_at)
                 SELECT u.*, $4 FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u
                 ON CONFLICT (username) DO UPDATE SET fullname = excluded.fullname,
                     avatar_url = COALESCE(excluded.avatar_url, users.avatar_url)
                 WHERE users.password_hash IS NULL",
            )
            .await?;
        tx.execute(&stmt, &[&user_names, &user_fullnames, &user_avatars, &now])
            .await?;
        let stmt = tx
            .prepare_cached("SELECT id, username FROM users WHERE username = ANY($1)")
            .await?;
        for row in tx.query(&stmt, &[&user_names]).await? {
            user_ids.insert(row.get(1), row.get(0));
        }
    }

    let mut versions = Vec::with_capacity(papers.len());
    let mut titles = Vec::with_capacity(papers.len());
    let mut summaries = Vec::with_capacity(papers.len());
    let mut categories = Vec::with_capacity(papers.len());
    let mut published = Vec::with_capacity(papers.len());
    let mut updated = Vec::with_capacity(papers.len());
    let mut comments = Vec::with_capacity(papers.len());
    let mut journal_refs = Vec::with_capacity(papers.len());
    let mut dois = Vec::with_capacity(papers.len());
    let mut repos = Vec::with_capacity(papers.len());
    let mut stars = Vec::with_capacity(papers.len());
    let mut project_pages = Vec::with_capacity(papers.len());
    let mut ai_summaries = Vec::with_capacity(papers.len());
    let mut keywords = Vec::with_capacity(papers.len());
    let mut upvotes = Vec::with_capacity(papers.len());
    let mut num_comments = Vec::with_capacity(papers.len());
    let mut discussions = Vec::with_capacity(papers.len());
    let mut authors = Vec::with_capacity(papers.len());
    for p in papers {
        authors.push(authors_to_json(&p.authors));
        versions.push(p.id.version().map(|v| v as i32));
        titles.push(p.title.as_str());
        summaries.push(p.summary.as_str());
        categories.push(p.categories.join(" "));
        published.push(p.published_at);
        updated.push(p.updated_at);
        comments.push(p.comment.as_deref());
        journal_refs.push(p.journal_ref.as_deref());
        dois.push(p.doi.as_deref());
        repos.push(p.github_repo.as_deref());
        stars.push(p.github_stars);
        project_pages.push(p.project_page.as_deref());
        ai_summaries.push(p.ai_summary.as_deref());
        keywords.push(
            serde_json::to_string(&p.keywords).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        upvotes.push(p.source_upvotes);
        num_comments.push(p.source_comments);
        discussions.push(p.discussion_id.as_deref());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO papers (id, version, title, summary, categories, published_at, updated_at,
                 comment, journal_ref, doi, github_repo, github_stars, project_page, ai_summary,
                 keywords, source_upvotes, source_comments, discussion_id, created_at, modified_at,
                 authors)
             SELECT t.id, t.version, t.title, t.summary, t.categories, t.published_at, t.updated_at,
                 t.comment, t.journal_ref, t.doi, t.github_repo, t.github_stars, t.project_page,
                 t.ai_summary, t.keywords::jsonb, t.source_upvotes, t.source_comments,
                 t.discussion_id, $19, $19, t.authors::jsonb
             FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[],
                 $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[], $10::text[],
                 $11::text[], $12::int8[], $13::text[], $14::text[], $15::text[], $16::int8[],
                 $17::int8[], $18::text[], $20::text[])
               AS t(id, version, title, summary, categories, published_at, updated_at, comment,
                 journal_ref, doi, github_repo, github_stars, project_page, ai_summary, keywords,
                 source_upvotes, source_comments, discussion_id, authors)
             ON CONFLICT (id) DO UPDATE SET
                 version = CASE WHEN COALESCE(excluded.version, 0) >= COALESCE(papers.version, 0)
                     THEN excluded.version ELSE papers.version END,
                 title = CASE WHEN COALESCE(excluded.version, 0) >= COALESCE(papers.version, 0)
                     THEN excluded.title ELSE papers.title END,
                 summary = CASE WHEN COALESCE(excluded.version, 0) >= COALESCE(papers.version, 0)
                     THEN excluded.summary ELSE papers.summary END,
                 authors = CASE WHEN COALESCE(excluded.version, 0) >= COALESCE(papers.version, 0)
                     AND excluded.authors <> '[]'::jsonb THEN excluded.authors ELSE papers.authors END,
                 categories = CASE WHEN excluded.categories <> '' THEN excluded.categories
                     ELSE papers.categories END,
                 published_at = LEAST(papers.published_at, excluded.published_at),
                 updated_at = GREATEST(papers.updated_at, excluded.updated_at),
                 comment = COALESCE(excluded.comment, papers.comment),
                 journal_ref = COALESCE(excluded.journal_ref, papers.journal_ref),
                 doi = COALESCE(excluded.doi, papers.doi),
                 github_repo = COALESCE(excluded.github_repo, papers.github_repo),
                 github_stars = COALESCE(excluded.github_stars, papers.github_stars),
                 project_page = COALESCE(excluded.project_page, papers.project_page),
                 ai_summary = COALESCE(excluded.ai_summary, papers.ai_summary),
                 keywords = CASE WHEN excluded.keywords <> '[]'::jsonb THEN excluded.keywords
                     ELSE papers.keywords END,
                 source_upvotes = COALESCE(excluded.source_upvotes, papers.source_upvotes),
                 source_comments = COALESCE(excluded.source_comments, papers.source_comments),
                 discussion_id = COALESCE(excluded.discussion_id, papers.discussion_id),
                 modified_at = excluded.modified_at",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &ids,
            &versions,
            &titles,
            &summaries,
            &categories,
            &published,
            &updated,
            &comments,
            &journal_refs,
            &dois,
            &repos,
            &stars,
            &project_pages,
            &ai_summaries,
            &keywords,
            &upvotes,
            &num_comments,
            &discussions,
            &now,
            &authors,
        ],
    )
    .await?;

    // Authors: replaced when the record is at least as new as what was stored.
    let replace: Vec<&NewPaper> = papers
        .iter()
        .filter(|p| !p.authors.is_empty())
        .filter(|p| match stored.get(p.id.base()) {
            None => true,
            Some(old) => p.id.version().map_or(0, |v| v as i32) >= old.unwrap_or(0),
        })
        .collect();
    if !replace.is_empty() {
        let replaced: Vec<&str> = replace
            .iter()
            .map(|p| p.id.base())
            .filter(|id| stored.contains_key(*id))
            .collect();
        if !replaced.is_empty() {
            let stmt = tx
                .prepare_cached("DELETE FROM author_papers WHERE paper_id = ANY($1)")
                .await?;
            tx.execute(&stmt, &[&replaced]).await?;
        }
        let mut a_key = Vec::new();
        let mut a_paper = Vec::new();
        for p in &replace {
            for a in &p.authors {
                a_key.push(author_key(&a.name));
                a_paper.push(p.id.base());
            }
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO author_papers (name_key, paper_id)
                 SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        tx.execute(&stmt, &[&a_key, &a_paper]).await?;
    }

    let mut f_paper = Vec::new();
    let mut f_date = Vec::new();
    let mut f_at = Vec::new();
    let mut f_user: Vec<Option<i64>> = Vec::new();
    let mut f_org: Vec<Option<i64>> = Vec::new();
    for p in papers {
        if let Some(feed) = &p.feed {
            f_paper.push(p.id.base());
            f_date.push(feed.feed_date);
            f_at.push(feed.submitted_at);
            f_user.push(
                feed.submitter
                    .as_ref()
                    .and_then(|u| user_ids.get(&u.username).copied()),
            );
            f_org.push(
                feed.organization
                    .as_ref()
                    .and_then(|o| org_ids.get(&o.name).copied()),
            );
        }
    }
    if !f_paper.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO daily_entries (paper_id, feed_date, submitted_at, submitter_id, organization_id)
                 SELECT * FROM UNNEST($1::text[], $2::date[], $3::timestamptz[], $4::int8[], $5::int8[])
                 ON CONFLICT (paper_id) DO UPDATE SET feed_date = excluded.feed_date,
                     submitted_at = excluded.submitted_at,
                     submitter_id = COALESCE(excluded.submitter_id, daily_entries.submitter_id),
                     organization_id = COALESCE(excluded.organization_id, daily_entries.organization_id)",
            )
            .await?;
        tx.execute(&stmt, &[&f_paper, &f_date, &f_at, &f_user, &f_org])
            .await?;
    }
    Ok(summary)
}

const ORG_SELECT: &str = "SELECT o.id, o.name, o.fullname, o.avatar_url,
    (SELECT count(*) FROM org_members m WHERE m.org_id = o.id AND m.status = 'active'),
    (SELECT count(*) FROM daily_entries d JOIN papers p ON p.id = d.paper_id
      WHERE d.organization_id = o.id AND NOT p.hidden)
    FROM organizations o";

fn org_from_row(r: &Row) -> StoreResult<OrgProfile> {
    Ok(OrgProfile {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        fullname: r.try_get(2)?,
        avatar_url: r.try_get(3)?,
        members: r.try_get(4)?,
        papers: r.try_get(5)?,
    })
}

const CLAIM_SELECT: &str = "SELECT c.id, c.user_id, u.username, u.fullname, c.name, c.name_key,
    c.status, c.created_at, c.decided_at
    FROM author_claims c JOIN users u ON u.id = c.user_id";

fn claim_from_row(r: &Row) -> StoreResult<AuthorClaim> {
    let status: String = r.try_get(6)?;
    Ok(AuthorClaim {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        username: r.try_get(2)?,
        fullname: r.try_get(3)?,
        name: r.try_get(4)?,
        name_key: r.try_get(5)?,
        status: ClaimStatus::parse(&status)
            .ok_or_else(|| crate::site::corrupt_status("claim status", &status))?,
        created_at: r.try_get(7)?,
        decided_at: r.try_get(8)?,
    })
}

/// A foreign key naming a missing row becomes [`StoreError::NotFound`].
fn map_missing(e: tokio_postgres::Error, what: &str) -> StoreError {
    if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::NotFound(what.to_owned())
    } else {
        StoreError::Postgres(e)
    }
}

const PENDING_SELECT: &str = "SELECT m.org_id, o.name, o.fullname, m.user_id, u.username,
    u.fullname, m.status, m.joined_at
    FROM org_members m JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id";

fn pending_from_row(r: &Row) -> StoreResult<PendingMembership> {
    let status: String = r.try_get(6)?;
    Ok(PendingMembership {
        org_id: r.try_get(0)?,
        org_name: r.try_get(1)?,
        org_fullname: r.try_get(2)?,
        user_id: r.try_get(3)?,
        username: r.try_get(4)?,
        fullname: r.try_get(5)?,
        status: MembershipStatus::parse(&status)
            .ok_or_else(|| crate::site::corrupt_status("membership status", &status))?,
        created_at: r.try_get(7)?,
    })
}

/// Locks an organization's row: membership changes of one organization take turns.
async fn lock_org(tx: &deadpool_postgres::Transaction<'_>, org_id: i64) -> StoreResult<()> {
    if tx
        .query_opt(
            "SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE",
            &[&org_id],
        )
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound(format!("organization {org_id}")));
    }
    Ok(())
}

/// `user_id`'s role and membership status in an organization.
async fn membership_of(
    tx: &deadpool_postgres::Transaction<'_>,
    org_id: i64,
    user_id: i64,
) -> StoreResult<Option<(OrgRole, MembershipStatus)>> {
    let Some(row) = tx
        .query_opt(
            "SELECT role, status FROM org_members WHERE org_id = $1 AND user_id = $2",
            &[&org_id, &user_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let (role, status): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    Ok(Some((
        OrgRole::parse(&role).ok_or_else(|| crate::site::corrupt_status("role", &role))?,
        MembershipStatus::parse(&status)
            .ok_or_else(|| crate::site::corrupt_status("membership status", &status))?,
    )))
}

async fn is_org_admin(
    tx: &deadpool_postgres::Transaction<'_>,
    org_id: i64,
    user_id: i64,
) -> StoreResult<bool> {
    Ok(matches!(
        membership_of(tx, org_id, user_id).await?,
        Some((OrgRole::Admin, MembershipStatus::Active))
    ))
}

async fn org_admins(tx: &deadpool_postgres::Transaction<'_>, org_id: i64) -> StoreResult<i64> {
    Ok(tx
        .query_one(
            "SELECT count(*) FROM org_members WHERE org_id = $1 AND role = 'admin' AND status = 'active'",
            &[&org_id],
        )
        .await?
        .get(0))
}

/// Makes a pending membership an approved one, joined now.
async fn activate(
    tx: &deadpool_postgres::Transaction<'_>,
    org_id: i64,
    user_id: i64,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE org_members SET status = 'active', joined_at = now() WHERE org_id = $1 AND user_id = $2",
        &[&org_id, &user_id],
    )
    .await?;
    Ok(())
}

fn map_unique(e: tokio_postgres::Error, what: &str) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(format!("{what} is taken"))
    } else {
        StoreError::Postgres(e)
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn upsert_papers(&self, papers: &[NewPaper]) -> StoreResult<UpsertSummary> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let now = Utc::now();
        let mut summary = UpsertSummary::default();
        for run in runs_without_repeats(papers) {
            summary += upsert_run(&tx, run, now).await?;
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn paper(&self, id: &ArxivId) -> StoreResult<Option<Paper>> {
        let sql = format!("SELECT {PAPER_COLUMNS} WHERE p.id = $1 AND NOT p.hidden");
        Ok(self.query_papers(&sql, &[&id.base()]).await?.pop())
    }

    async fn feed(&self, q: &FeedQuery) -> StoreResult<FeedPage> {
        let order = match q.sort {
            FeedSort::Upvotes | FeedSort::Trending => "upvotes DESC, d.submitted_at ASC, p.id ASC",
            FeedSort::PublishedAt => "d.submitted_at DESC, p.id DESC",
        };
        let (limit, offset): (Option<i64>, i64) = match q.sort {
            FeedSort::Trending => (None, 0),
            _ => (Some(i64::from(q.limit) + 1), i64::from(q.offset)),
        };
        let sql = format!(
            "SELECT {PAPER_COLUMNS}
             WHERE d.feed_date >= $1 AND d.feed_date < $2 AND NOT p.hidden
               AND ($3::text IS NULL OR u.username = $3)
             ORDER BY {order} LIMIT $4 OFFSET $5"
        );
        let mut papers = self
            .query_papers(
                &sql,
                &[
                    &q.window.start(),
                    &q.window.end_exclusive(),
                    &q.submitter,
                    &limit,
                    &offset,
                ],
            )
            .await?;
        Ok(crate::model::page(&mut papers, q))
    }

    async fn latest_feed_date(&self) -> StoreResult<Option<NaiveDate>> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT max(feed_date) FROM daily_entries", &[])
            .await?
            .get(0))
    }

    async fn neighbour_feed_dates(
        &self,
        date: NaiveDate,
    ) -> StoreResult<(Option<NaiveDate>, Option<NaiveDate>)> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT max(feed_date) FROM daily_entries WHERE feed_date < $1),
                        (SELECT min(feed_date) FROM daily_entries WHERE feed_date > $1)",
                &[&date],
            )
            .await?;
        Ok((row.get(0), row.get(1)))
    }

    async fn list_papers(
        &self,
        cursor: Option<&PaperCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Paper>> {
        let limit = i64::from(limit);
        match cursor {
            None => {
                self.query_papers(
                    &format!(
                        "SELECT {PAPER_COLUMNS} WHERE NOT p.hidden
                         ORDER BY p.published_at DESC, p.id DESC LIMIT $1"
                    ),
                    &[&limit],
                )
                .await
            }
            Some(c) => {
                self.query_papers(
                    &format!(
                        "SELECT {PAPER_COLUMNS} WHERE NOT p.hidden AND (p.published_at, p.id) < ($1, $2)
                         ORDER BY p.published_at DESC, p.id DESC LIMIT $3"
                    ),
                    &[&c.published_at, &c.id, &limit],
                )
                .await
            }
        }
    }

    async fn papers_by_author(&self, name: &str, limit: u32) -> StoreResult<Vec<Paper>> {
        self.query_papers(
            &format!(
                "SELECT {PAPER_COLUMNS} WHERE NOT p.hidden AND p.id IN
                   (SELECT paper_id FROM author_papers WHERE name_key = $1)
                 ORDER BY p.published_at DESC, p.id DESC LIMIT $2"
            ),
            &[&author_key(name), &i64::from(limit)],
        )
        .await
    }

    async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO users (username, fullname, email, password_hash, is_admin, created_at)
                     VALUES ($1, $2, $3, $4, $5, now()) RETURNING {USER_COLUMNS}"
                ),
                &[
                    &user.username.as_str(),
                    &user.fullname,
                    &user.email.as_ref().map(|e| e.as_str()),
                    &user.password_hash,
                    &user.is_admin,
                ],
            )
            .await
            .map_err(|e| map_unique(e, "that username or email"))?;
        user_from_row(&row)
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"),
                &[&username],
            )
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn set_vote(&self, user_id: i64, paper: &ArxivId, up: bool) -> StoreResult<i64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = paper.base();
        // Locking the paper row serializes concurrent votes on it, so the count cannot drift.
        let exists = tx
            .query_opt(
                "SELECT 1 FROM papers WHERE id = $1 AND NOT hidden FOR UPDATE",
                &[&id],
            )
            .await?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!("paper {id}")));
        }
        let changed = if up {
            tx.execute(
                "INSERT INTO votes (user_id, paper_id, created_at) VALUES ($1, $2, now())
                 ON CONFLICT DO NOTHING",
                &[&user_id, &id],
            )
            .await?
        } else {
            tx.execute(
                "DELETE FROM votes WHERE user_id = $1 AND paper_id = $2",
                &[&user_id, &id],
            )
            .await?
        };
        if changed > 0 {
            let delta: i64 = if up { 1 } else { -1 };
            tx.execute(
                "UPDATE papers SET local_upvotes = local_upvotes + $1, modified_at = now() WHERE id = $2",
                &[&delta, &id],
            )
            .await?;
        }
        let count: i64 = tx
            .query_one(
                "SELECT COALESCE(source_upvotes, 0) + local_upvotes FROM papers WHERE id = $1",
                &[&id],
            )
            .await?
            .get(0);
        tx.commit().await?;
        Ok(count)
    }

    async fn has_voted(&self, user_id: i64, paper: &ArxivId) -> StoreResult<bool> {
        let client = self.client().await?;
        Ok(client
            .query_opt(
                "SELECT 1 FROM votes WHERE user_id = $1 AND paper_id = $2",
                &[&user_id, &paper.base()],
            )
            .await?
            .is_some())
    }

    async fn get_state(&self, key: &str) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        Ok(client
            .query_opt("SELECT value FROM state WHERE key = $1", &[&key])
            .await?
            .map(|r| r.get(0)))
    }

    async fn set_state(&self, key: &str, value: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO state (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .await?;
        Ok(())
    }

    async fn stats(&self) -> StoreResult<Stats> {
        let client = self.client().await?;
        let r = client
            .query_one(
                "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM daily_entries),
                        (SELECT count(*) FROM author_papers), (SELECT count(*) FROM users),
                        (SELECT count(*) FROM organizations), (SELECT count(*) FROM votes),
                        (SELECT count(DISTINCT feed_date) FROM daily_entries)",
                &[],
            )
            .await?;
        Ok(Stats {
            papers: r.get(0),
            feed_entries: r.get(1),
            authors: r.get(2),
            users: r.get(3),
            organizations: r.get(4),
            votes: r.get(5),
            feed_days: r.get(6),
        })
    }

    async fn check_integrity(&self) -> StoreResult<()> {
        let client = self.client().await?;
        let drift: i64 = client
            .query_one(
                "SELECT count(*) FROM papers p
                 WHERE p.local_upvotes <> (SELECT count(*) FROM votes v WHERE v.paper_id = p.id)",
                &[],
            )
            .await?
            .get(0);
        if drift > 0 {
            return Err(StoreError::Integrity(format!(
                "{drift} papers' upvote counts differ from their votes"
            )));
        }
        Ok(())
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"),
                &[&email],
            )
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, now(), $3)",
                &[&token_hash, &user_id, &expires_at],
            )
            .await?;
        client
            .execute("DELETE FROM sessions WHERE expires_at < now()", &[])
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {USER_COLUMNS_U}
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.suspended"
                ),
                &[&token_hash],
            )
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])
            .await?;
        Ok(())
    }

    async fn add_comment(&self, c: &NewComment) -> StoreResult<Comment> {
        self.insert_comment(c, None).await
    }

    async fn add_comment_with_html(
        &self,
        comment: &NewComment,
        html: &str,
        html_version: i32,
    ) -> StoreResult<Comment> {
        self.insert_comment(comment, Some((html, html_version)))
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
        self.update_comment(id, user_id, body, Some((html, html_version)))
            .await
    }

    async fn comments_to_render(
        &self,
        version: Option<i32>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, String)>> {
        let client = self.client().await?;
        Ok(client
            .query(
                "SELECT id, body FROM comments
                 WHERE id > $1 AND NOT deleted
                   AND ($2::INTEGER IS NULL OR body_html IS NULL OR html_version <> $2)
                 ORDER BY id LIMIT $3",
                &[&after, &version, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn comments_for_page(
        &self,
        paper: &ArxivId,
        viewer: Option<i64>,
        version: i32,
        html_chars: u32,
    ) -> StoreResult<Vec<Comment>> {
        let client = self.client().await?;
        let html_chars = i32::try_from(html_chars).unwrap_or(i32::MAX);
        client
            .query(
                "SELECT c.id, c.paper_id, c.user_id, u.username, u.fullname, c.parent_id,
                    CASE WHEN c.user_id = $2::BIGINT OR c.body_html IS NULL
                              OR c.html_version <> $3::INTEGER
                         THEN c.body ELSE '' END,
                    c.created_at, c.edited_at, c.deleted, c.hidden,
                    left(c.body_html, $4::INTEGER), c.html_version
                 FROM comments c JOIN users u ON u.id = c.user_id
                 WHERE c.paper_id = $1 ORDER BY c.id",
                &[&paper.base(), &viewer, &version, &html_chars],
            )
            .await?
            .iter()
            .map(comment_from_row)
            .collect()
    }

    async fn set_comment_html(
        &self,
        id: i64,
        body: &str,
        html: &str,
        version: i32,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE comments SET body_html = $1, html_version = $2
                 WHERE id = $3 AND body = $4 AND NOT deleted",
                &[&html, &version, &id, &body],
            )
            .await?;
        Ok(n > 0)
    }

    async fn comments(&self, paper: &ArxivId) -> StoreResult<Vec<Comment>> {
        let client = self.client().await?;
        client
            .query(
                &format!("{COMMENT_SELECT} WHERE c.paper_id = $1 ORDER BY c.id"),
                &[&paper.base()],
            )
            .await?
            .iter()
            .map(comment_from_row)
            .collect()
    }

    async fn delete_comment(&self, id: i64, user_id: i64) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "UPDATE comments SET deleted = TRUE, body = '', body_html = NULL WHERE id = $1 AND user_id = $2 AND NOT deleted
                 RETURNING paper_id, hidden",
                &[&id, &user_id],
            )
            .await?
        else {
            return Err(StoreError::NotFound(format!("comment {id}")));
        };
        let (paper, hidden): (String, bool) = (row.get(0), row.get(1));
        // A hidden comment was already taken off the count.
        if !hidden {
            tx.execute(
                "UPDATE papers SET local_comments = local_comments - 1, modified_at = now() WHERE id = $1",
                &[&paper],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn submit_to_feed(&self, paper: &ArxivId, e: &FeedSubmission) -> StoreResult<bool> {
        let client = self.client().await?;
        let id = paper.base();
        if let Some(org) = e.organization_id
            && client
                .query_opt(
                    "SELECT 1 FROM org_members WHERE org_id = $1 AND user_id = $2 AND status = 'active'",
                    &[&org, &e.submitter_id],
                )
                .await?
                .is_none()
        {
            return Err(StoreError::Conflict(
                "only an approved member submits for an organization".into(),
            ));
        }
        let n = client
            .execute(
                "INSERT INTO daily_entries (paper_id, feed_date, submitted_at, submitter_id, organization_id)
                 SELECT id, $2, $3, $4, $5 FROM papers WHERE id = $1 AND NOT hidden
                 ON CONFLICT (paper_id) DO NOTHING",
                &[&id, &e.feed_date, &e.submitted_at, &e.submitter_id, &e.organization_id],
            )
            .await?;
        if n == 0
            && client
                .query_opt("SELECT 1 FROM papers WHERE id = $1 AND NOT hidden", &[&id])
                .await?
                .is_none()
        {
            return Err(StoreError::NotFound(format!("paper {id}")));
        }
        Ok(n > 0)
    }

    async fn voted_among(&self, user_id: i64, ids: &[ArxivId]) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let ids: Vec<&str> = ids.iter().map(ArxivId::base).collect();
        Ok(client
            .query(
                "SELECT paper_id FROM votes WHERE user_id = $1 AND paper_id = ANY($2)",
                &[&user_id, &ids],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    // ---- api ----

    async fn search_papers_simple(&self, query: &str, limit: u32) -> StoreResult<Vec<Paper>> {
        let words = crate::api::search_words(query);
        if words.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = format!("SELECT {PAPER_COLUMNS} WHERE NOT p.hidden");
        for i in 1..=words.len() {
            sql.push_str(&format!(
                " AND (p.title ILIKE ${i} OR p.summary ILIKE ${i} OR p.authors::text ILIKE ${i})"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY upvotes DESC, p.published_at DESC LIMIT {}",
            crate::api::SEARCH_CANDIDATES
        ));
        let patterns: Vec<String> = words.iter().map(|w| crate::api::like_pattern(w)).collect();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = patterns
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let papers = self.query_papers(&sql, &params).await?;
        Ok(crate::api::rank_search(papers, &words, limit))
    }

    async fn feed_by_organization(&self, name: &str, limit: u32) -> StoreResult<Vec<Paper>> {
        self.query_papers(
            &format!(
                "SELECT {PAPER_COLUMNS} WHERE NOT p.hidden AND o.name = $1
                 ORDER BY d.submitted_at DESC, p.id DESC LIMIT $2"
            ),
            &[&name, &i64::from(limit)],
        )
        .await
    }

    async fn create_api_token(&self, user_id: i64, name: &str) -> StoreResult<CreatedApiToken> {
        let secret = crate::api::generate_token_secret();
        let hash = crate::api::hash_token(&secret);
        let client = self.client().await?;
        let row = client
            .query_opt(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at)
                 SELECT id, $2, $3, now() FROM users WHERE id = $1
                 RETURNING id, created_at",
                &[&user_id, &name, &hash],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))?;
        Ok(CreatedApiToken {
            token: ApiToken {
                id: row.try_get(0)?,
                user_id,
                name: name.to_owned(),
                created_at: row.try_get(1)?,
                last_used_at: None,
            },
            secret,
        })
    }

    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens
                 WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
                &[&user_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    name: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    last_used_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE api_tokens SET revoked_at = now()
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                &[&token_id, &user_id],
            )
            .await?;
        Ok(n > 0)
    }

    async fn authenticate_api_token(&self, secret: &str) -> StoreResult<Option<User>> {
        let hash = crate::api::hash_token(secret);
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    // The use is written at most once per TOKEN_USE_GRANULARITY: most API
                    // calls only read, instead of each updating (and locking) the token's row.
                    "WITH t AS (SELECT id, user_id, last_used_at FROM api_tokens
                                WHERE token_hash = $1 AND revoked_at IS NULL),
                          u AS (UPDATE api_tokens SET last_used_at = now()
                                WHERE id = (SELECT id FROM t)
                                  AND (last_used_at IS NULL
                                       OR last_used_at < now() - make_interval(secs => $2)))
                     SELECT {USER_COLUMNS} FROM users WHERE id = (SELECT user_id FROM t)"
                ),
                &[
                    &hash,
                    &(crate::api::TOKEN_USE_GRANULARITY.num_seconds() as f64),
                ],
            )
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    // ---- mail ----

    async fn subscribe(&self, r: &NewSubscriber) -> StoreResult<SubscribeOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let key = email_key(&r.email);
        // Lock the address's row (if any) so concurrent requests for one address serialize.
        let existing = tx
            .query_opt(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = $1 FOR UPDATE"
                ),
                &[&key],
            )
            .await?
            .as_ref()
            .map(subscriber_from_row)
            .transpose()?;
        let outcome = match existing {
            Some(s) if s.status == SubscriberStatus::Confirmed => match r.user_id {
                // An account asks for an address it is not linked to: the link waits for the
                // confirmation mailed to the address; the subscription goes on as is.
                Some(user) if s.user_id != Some(user) => {
                    let row = tx
                        .query_one(
                            &format!(
                                "UPDATE subscribers SET confirm_token_hash = $2,
                                     confirm_expires_at = $3, link_user_id = $4
                                 WHERE id = $1 RETURNING {SUBSCRIBER_COLUMNS}"
                            ),
                            &[&s.id, &r.confirm_token_hash, &r.confirm_expires_at, &user],
                        )
                        .await?;
                    SubscribeOutcome::ConfirmationNeeded(subscriber_from_row(&row)?)
                }
                _ => SubscribeOutcome::AlreadyConfirmed(s),
            },
            Some(s) => {
                let row = tx
                    .query_one(
                        &format!(
                            "UPDATE subscribers SET status = 'pending', cadence = $2,
                                 link_user_id = $3, confirm_token_hash = $4,
                                 confirm_expires_at = $5
                             WHERE id = $1 RETURNING {SUBSCRIBER_COLUMNS}"
                        ),
                        &[
                            &s.id,
                            &r.cadence.as_str(),
                            &r.user_id,
                            &r.confirm_token_hash,
                            &r.confirm_expires_at,
                        ],
                    )
                    .await?;
                SubscribeOutcome::ConfirmationNeeded(subscriber_from_row(&row)?)
            }
            None => {
                let row = tx
                    .query_opt(
                        &format!(
                            "INSERT INTO subscribers (email, email_key, link_user_id, cadence, status,
                                 confirm_token_hash, confirm_expires_at, unsubscribe_token, created_at)
                             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, now())
                             ON CONFLICT (email_key) DO NOTHING
                             RETURNING {SUBSCRIBER_COLUMNS}"
                        ),
                        &[
                            &r.email.as_str(),
                            &key,
                            &r.user_id,
                            &r.cadence.as_str(),
                            &r.confirm_token_hash,
                            &r.confirm_expires_at,
                            &r.unsubscribe_token,
                        ],
                    )
                    .await?;
                match row {
                    Some(row) => SubscribeOutcome::ConfirmationNeeded(subscriber_from_row(&row)?),
                    None => {
                        return Err(StoreError::Conflict(
                            "that address is being subscribed concurrently; try again".into(),
                        ));
                    }
                }
            }
        };
        if let SubscribeOutcome::ConfirmationNeeded(s) = &outcome {
            tx.execute(
                "INSERT INTO confirmation_outbox
                     (subscriber_id, token, status, attempts, next_attempt_at, created_at)
                 VALUES ($1, $2, 'queued', 0, now(), now())
                 ON CONFLICT (subscriber_id) DO UPDATE SET token = excluded.token,
                     status = 'queued', attempts = 0,
                     next_attempt_at = excluded.next_attempt_at, claim = NULL,
                     lease_until = NULL, last_error = NULL, sent_at = NULL",
                &[&s.id, &r.confirm_token],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn import_subscribers(&self, list: &[ImportedSubscriber]) -> StoreResult<u64> {
        let client = self.client().await?;
        let emails: Vec<&str> = list.iter().map(|s| s.email.as_str()).collect();
        let keys: Vec<String> = list.iter().map(|s| email_key(&s.email)).collect();
        let cadences: Vec<&str> = list.iter().map(|s| s.cadence.as_str()).collect();
        let tokens: Vec<&str> = list.iter().map(|s| s.unsubscribe_token.as_str()).collect();
        let n = client
            .execute(
                "INSERT INTO subscribers (email, email_key, cadence, status, unsubscribe_token,
                     created_at, confirmed_at)
                 SELECT e, k, c, 'confirmed', t, now(), now()
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS u(e, k, c, t)
                 ON CONFLICT (email_key) DO NOTHING",
                &[&emails, &keys, &cadences, &tokens],
            )
            .await?;
        Ok(n)
    }

    async fn confirm_subscriber(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "WITH s AS (
                         UPDATE subscribers SET status = 'confirmed',
                             confirmed_at = CASE WHEN status = 'confirmed' THEN confirmed_at
                                                 ELSE $2 END,
                             user_id = COALESCE(link_user_id, user_id), link_user_id = NULL,
                             confirm_token_hash = NULL, confirm_expires_at = NULL
                         WHERE confirm_token_hash = $1 AND status IN ('pending', 'confirmed')
                           AND confirm_expires_at > $2
                         RETURNING {SUBSCRIBER_COLUMNS}),
                     {CANCEL_QUEUED_CONFIRMATION}
                     SELECT * FROM s"
                ),
                &[&token_hash, &now],
            )
            .await?
            .as_ref()
            .map(subscriber_from_row)
            .transpose()
    }

    async fn unsubscribe(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "WITH s AS (
                         UPDATE subscribers SET status = 'unsubscribed',
                             unsubscribed_at = COALESCE(unsubscribed_at, $2),
                             confirm_token_hash = NULL, confirm_expires_at = NULL,
                             link_user_id = NULL
                         WHERE unsubscribe_token = $1
                         RETURNING {SUBSCRIBER_COLUMNS}),
                     {CANCEL_QUEUED_CONFIRMATION}
                     SELECT * FROM s"
                ),
                &[&token, &now],
            )
            .await?
            .as_ref()
            .map(subscriber_from_row)
            .transpose()
    }

    async fn subscriber_by_token(&self, token: &str) -> StoreResult<Option<Subscriber>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE unsubscribe_token = $1"
                ),
                &[&token],
            )
            .await?
            .as_ref()
            .map(subscriber_from_row)
            .transpose()
    }

    async fn subscriber_by_email(&self, email: &Email) -> StoreResult<Option<Subscriber>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = $1"),
                &[&email_key(email)],
            )
            .await?
            .as_ref()
            .map(subscriber_from_row)
            .transpose()
    }

    async fn set_subscriber_cadence(
        &self,
        token: &str,
        cadence: Cadence,
    ) -> StoreResult<Option<Subscriber>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "UPDATE subscribers SET cadence = $2 WHERE unsubscribe_token = $1
                     RETURNING {SUBSCRIBER_COLUMNS}"
                ),
                &[&token, &cadence.as_str()],
            )
            .await?
            .as_ref()
            .map(subscriber_from_row)
            .transpose()
    }

    async fn confirmed_subscribers(
        &self,
        cadence: Cadence,
        limit: u32,
    ) -> StoreResult<Vec<Subscriber>> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers
                     WHERE cadence = $1 AND status = 'confirmed' ORDER BY id LIMIT $2"
                ),
                &[&cadence.as_str(), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(subscriber_from_row)
            .collect()
    }

    async fn build_edition(&self, e: &NewEdition, now: DateTime<Utc>) -> StoreResult<EditionBuilt> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let papers = serde_json::json!(e.paper_ids);
        let created = tx
            .execute(
                "INSERT INTO editions (cadence, edition_date, paper_ids, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (cadence, edition_date) DO NOTHING",
                &[&e.cadence.as_str(), &e.date, &papers, &now],
            )
            .await?
            == 1;
        let row = tx
            .query_one(
                &format!(
                    "SELECT {EDITION_COLUMNS} FROM editions WHERE cadence = $1 AND edition_date = $2"
                ),
                &[&e.cadence.as_str(), &e.date],
            )
            .await?;
        let edition = edition_from_row(&row)?;
        let enqueued = tx
            .execute(
                "INSERT INTO outbox (subscriber_id, edition_id, status, next_attempt_at, created_at)
                 SELECT id, $1, 'queued', $2, $2 FROM subscribers
                 WHERE cadence = $3 AND status = 'confirmed'
                 ORDER BY id
                 ON CONFLICT (subscriber_id, edition_id) DO NOTHING",
                &[&edition.id, &now, &e.cadence.as_str()],
            )
            .await?;
        tx.commit().await?;
        Ok(EditionBuilt {
            edition,
            created,
            enqueued,
        })
    }

    async fn edition(&self, id: i64) -> StoreResult<Option<Edition>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {EDITION_COLUMNS} FROM editions WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(edition_from_row)
            .transpose()
    }

    async fn latest_edition(&self, cadence: Option<Cadence>) -> StoreResult<Option<Edition>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {EDITION_COLUMNS} FROM editions
                     WHERE $1::text IS NULL OR cadence = $1
                     ORDER BY edition_date DESC, id DESC LIMIT 1"
                ),
                &[&cadence.map(Cadence::as_str)],
            )
            .await?
            .as_ref()
            .map(edition_from_row)
            .transpose()
    }

    async fn claim_outbox(
        &self,
        limit: u32,
        claim: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let client = self.client().await?;
        let rows = claim_rows(&client, Queue::Digests, limit, claim, now, lease_until).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(OutboxMessage {
                    id: r.get(0),
                    claim,
                    attempts: r.get(1),
                    edition_id: r.get(2),
                    subscriber: subscriber_from_row_at(r, 3)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    async fn record_delivery(
        &self,
        id: i64,
        claim: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        record_outcome(&client, Queue::Digests, id, claim, outcome, now).await
    }

    async fn outbox_counts(&self, edition_id: Option<i64>) -> StoreResult<OutboxCounts> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT status, count(*) FROM outbox
                 WHERE $1::bigint IS NULL OR edition_id = $1 GROUP BY status",
                &[&edition_id],
            )
            .await?;
        let mut counts = OutboxCounts::default();
        for r in rows {
            counts.add(r.get::<_, &str>(0), r.get(1));
        }
        Ok(counts)
    }

    async fn renew_confirmation(
        &self,
        token_hash: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE subscribers SET confirm_expires_at = GREATEST(confirm_expires_at, $2)
                 WHERE confirm_token_hash = $1 AND status IN ('pending', 'confirmed')",
                &[&token_hash, &until],
            )
            .await?;
        Ok(n == 1)
    }

    async fn upvoted_paper_ids(&self, user_id: i64, limit: u32) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT paper_id FROM votes WHERE user_id = $1
                 ORDER BY created_at DESC, paper_id LIMIT $2",
                &[&user_id, &i64::from(limit)],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn claim_confirmations(
        &self,
        limit: u32,
        claim: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<ConfirmationMessage>> {
        let client = self.client().await?;
        let rows = claim_rows(
            &client,
            Queue::Confirmations,
            limit,
            claim,
            now,
            lease_until,
        )
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(ConfirmationMessage {
                    id: r.get(0),
                    claim,
                    attempts: r.get(1),
                    token: r.get(2),
                    subscriber: subscriber_from_row_at(r, 3)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    async fn record_confirmation(
        &self,
        id: i64,
        claim: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        record_outcome(&client, Queue::Confirmations, id, claim, outcome, now).await
    }

    async fn confirmation_counts(&self) -> StoreResult<OutboxCounts> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT status, count(*) FROM confirmation_outbox GROUP BY status",
                &[],
            )
            .await?;
        let mut counts = OutboxCounts::default();
        for r in rows {
            counts.add(r.get::<_, &str>(0), r.get(1));
        }
        Ok(counts)
    }

    // ---- site ----

    async fn organization(&self, name: &str) -> StoreResult<Option<OrgProfile>> {
        let client = self.client().await?;
        client
            .query_opt(&format!("{ORG_SELECT} WHERE o.name = $1"), &[&name])
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    async fn organizations(&self, limit: u32) -> StoreResult<Vec<OrgProfile>> {
        let client = self.client().await?;
        client
            .query(
                &format!("{ORG_SELECT} ORDER BY 6 DESC, 5 DESC, o.name LIMIT $1"),
                &[&i64::from(limit)],
            )
            .await?
            .iter()
            .map(org_from_row)
            .collect()
    }

    async fn create_organization(
        &self,
        name: &str,
        fullname: &str,
        creator_id: i64,
    ) -> StoreResult<OrgProfile> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO organizations (name, fullname) VALUES ($1, $2) RETURNING id",
                &[&name, &fullname],
            )
            .await
            .map_err(|e| map_unique(e, "that organization name"))?
            .get(0);
        tx.execute(
            "INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES ($1, $2, 'admin', now())",
            &[&id, &creator_id],
        )
        .await
        .map_err(|e| map_missing(e, &format!("user {creator_id}")))?;
        let org = org_from_row(
            &tx.query_one(&format!("{ORG_SELECT} WHERE o.id = $1"), &[&id])
                .await?,
        )?;
        tx.commit().await?;
        Ok(org)
    }

    async fn org_members(&self, org_id: i64) -> StoreResult<Vec<OrgMember>> {
        let client = self.client().await?;
        client
            .query(
                "SELECT u.id, u.username, u.fullname, u.avatar_url, m.role, m.joined_at
                 FROM org_members m JOIN users u ON u.id = m.user_id
                 WHERE m.org_id = $1 AND m.status = 'active'
                 ORDER BY m.role = 'admin' DESC, m.joined_at, u.username",
                &[&org_id],
            )
            .await?
            .iter()
            .map(|r| {
                let role: String = r.try_get(4)?;
                Ok(OrgMember {
                    user_id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    fullname: r.try_get(2)?,
                    avatar_url: r.try_get(3)?,
                    role: OrgRole::parse(&role)
                        .ok_or_else(|| crate::site::corrupt_status("role", &role))?,
                    joined_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn user_organizations(&self, user_id: i64) -> StoreResult<Vec<OrgProfile>> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "{ORG_SELECT} WHERE o.id IN (SELECT org_id FROM org_members WHERE user_id = $1 AND status = 'active')
                     ORDER BY o.name"
                ),
                &[&user_id],
            )
            .await?
            .iter()
            .map(org_from_row)
            .collect()
    }

    async fn request_membership(&self, org_id: i64, user_id: i64) -> StoreResult<MembershipStatus> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_org(&tx, org_id).await?;
        let status = match membership_of(&tx, org_id, user_id).await? {
            Some((_, MembershipStatus::Invited)) => {
                activate(&tx, org_id, user_id).await?;
                MembershipStatus::Active
            }
            Some((_, status)) => status,
            None => {
                tx.execute(
                    "INSERT INTO org_members (org_id, user_id, role, joined_at, status)
                     VALUES ($1, $2, 'member', now(), 'requested')",
                    &[&org_id, &user_id],
                )
                .await
                .map_err(|e| map_missing(e, "organization or user"))?;
                MembershipStatus::Requested
            }
        };
        tx.commit().await?;
        Ok(status)
    }

    async fn invite_to_organization(
        &self,
        org_id: i64,
        admin_id: i64,
        user_id: i64,
    ) -> StoreResult<MembershipStatus> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_org(&tx, org_id).await?;
        if !is_org_admin(&tx, org_id, admin_id).await? {
            return Err(crate::site::not_admin());
        }
        let status = match membership_of(&tx, org_id, user_id).await? {
            Some((_, MembershipStatus::Requested)) => {
                activate(&tx, org_id, user_id).await?;
                MembershipStatus::Active
            }
            Some((_, status)) => status,
            None => {
                tx.execute(
                    "INSERT INTO org_members (org_id, user_id, role, joined_at, status)
                     VALUES ($1, $2, 'member', now(), 'invited')",
                    &[&org_id, &user_id],
                )
                .await
                .map_err(|e| map_missing(e, &format!("user {user_id}")))?;
                MembershipStatus::Invited
            }
        };
        tx.commit().await?;
        Ok(status)
    }

    async fn decide_membership(
        &self,
        org_id: i64,
        user_id: i64,
        actor_id: i64,
        accept: bool,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_org(&tx, org_id).await?;
        let may = match membership_of(&tx, org_id, user_id).await? {
            Some((_, MembershipStatus::Requested)) => is_org_admin(&tx, org_id, actor_id).await?,
            Some((_, MembershipStatus::Invited)) => actor_id == user_id,
            _ => false,
        };
        if !may {
            return Err(StoreError::NotFound(
                "a request or invitation to answer".into(),
            ));
        }
        if accept {
            activate(&tx, org_id, user_id).await?;
        } else {
            tx.execute(
                "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2",
                &[&org_id, &user_id],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pending_memberships(&self, org_id: i64) -> StoreResult<Vec<PendingMembership>> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "{PENDING_SELECT} WHERE m.org_id = $1 AND m.status <> 'active'
                     ORDER BY m.joined_at, u.username"
                ),
                &[&org_id],
            )
            .await?
            .iter()
            .map(pending_from_row)
            .collect()
    }

    async fn user_pending_memberships(&self, user_id: i64) -> StoreResult<Vec<PendingMembership>> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "{PENDING_SELECT} WHERE m.user_id = $1 AND m.status <> 'active'
                     ORDER BY m.joined_at, o.name"
                ),
                &[&user_id],
            )
            .await?
            .iter()
            .map(pending_from_row)
            .collect()
    }

    async fn set_org_role(
        &self,
        org_id: i64,
        admin_id: i64,
        user_id: i64,
        role: OrgRole,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_org(&tx, org_id).await?;
        if !is_org_admin(&tx, org_id, admin_id).await? {
            return Err(crate::site::not_admin());
        }
        let Some((current, MembershipStatus::Active)) = membership_of(&tx, org_id, user_id).await?
        else {
            return Err(StoreError::NotFound(format!("member {user_id}")));
        };
        if current == OrgRole::Admin
            && role == OrgRole::Member
            && org_admins(&tx, org_id).await? <= 1
        {
            return Err(StoreError::Conflict(
                "the last administrator stays one until another is made administrator".into(),
            ));
        }
        tx.execute(
            "UPDATE org_members SET role = $1 WHERE org_id = $2 AND user_id = $3",
            &[&role.as_str(), &org_id, &user_id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_org_member(
        &self,
        org_id: i64,
        actor_id: i64,
        user_id: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Every membership change locks the organization first, so two administrators
        // cannot both leave at once.
        lock_org(&tx, org_id).await?;
        if actor_id != user_id && !is_org_admin(&tx, org_id, actor_id).await? {
            return Err(crate::site::not_admin());
        }
        let Some((role, status)) = membership_of(&tx, org_id, user_id).await? else {
            return Ok(false);
        };
        if role == OrgRole::Admin
            && status == MembershipStatus::Active
            && org_admins(&tx, org_id).await? <= 1
        {
            return Err(StoreError::Conflict(
                "the last administrator cannot leave: make another member administrator first"
                    .into(),
            ));
        }
        tx.execute(
            "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2",
            &[&org_id, &user_id],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn detach_org_paper(
        &self,
        org_id: i64,
        admin_id: i64,
        paper: &ArxivId,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_org(&tx, org_id).await?;
        if !is_org_admin(&tx, org_id, admin_id).await? {
            return Err(crate::site::not_admin());
        }
        let id = paper.base();
        let n = tx
            .execute(
                "UPDATE daily_entries SET organization_id = NULL
                 WHERE paper_id = $1 AND organization_id = $2",
                &[&id, &org_id],
            )
            .await?;
        if n > 0 {
            tx.execute(
                "UPDATE papers SET modified_at = now() WHERE id = $1",
                &[&id],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn claim_author(&self, user_id: i64, name: &str) -> StoreResult<AuthorClaim> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = author_key(&name);
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO author_claims (user_id, name_key, name, created_at) VALUES ($1, $2, $3, now())
                 ON CONFLICT (user_id, name_key) DO NOTHING",
                &[&user_id, &key, &name],
            )
            .await
            .map_err(|e| map_missing(e, &format!("user {user_id}")))?;
        claim_from_row(
            &client
                .query_one(
                    &format!("{CLAIM_SELECT} WHERE c.user_id = $1 AND c.name_key = $2"),
                    &[&user_id, &key],
                )
                .await?,
        )
    }

    async fn author_claims(&self, name: &str) -> StoreResult<Vec<AuthorClaim>> {
        let key = author_key(name);
        let client = self.client().await?;
        client
            .query(
                &format!("{CLAIM_SELECT} WHERE c.name_key = $1 ORDER BY c.id"),
                &[&key],
            )
            .await?
            .iter()
            .map(claim_from_row)
            .collect()
    }

    async fn user_author_claims(&self, user_id: i64) -> StoreResult<Vec<AuthorClaim>> {
        let client = self.client().await?;
        client
            .query(
                &format!("{CLAIM_SELECT} WHERE c.user_id = $1 ORDER BY c.id"),
                &[&user_id],
            )
            .await?
            .iter()
            .map(claim_from_row)
            .collect()
    }

    async fn pending_author_claims(&self, limit: u32) -> StoreResult<Vec<AuthorClaim>> {
        let client = self.client().await?;
        client
            .query(
                &format!("{CLAIM_SELECT} WHERE c.status = 'pending' ORDER BY c.id LIMIT $1"),
                &[&i64::from(limit)],
            )
            .await?
            .iter()
            .map(claim_from_row)
            .collect()
    }

    async fn decide_author_claim(
        &self,
        claim_id: i64,
        admin_id: i64,
        confirm: bool,
    ) -> StoreResult<AuthorClaim> {
        let client = self.client().await?;
        let status = if confirm { "confirmed" } else { "rejected" };
        let n = client
            .execute(
                "UPDATE author_claims SET status = $1, decided_at = now(), decided_by = $2 WHERE id = $3",
                &[&status, &admin_id, &claim_id],
            )
            .await
            .map_err(|e| map_unique(e, "that author name (another account holds it)"))?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("claim {claim_id}")));
        }
        claim_from_row(
            &client
                .query_one(&format!("{CLAIM_SELECT} WHERE c.id = $1"), &[&claim_id])
                .await?,
        )
    }

    async fn set_paper_hidden(&self, id: &ArxivId, hidden: bool) -> StoreResult<bool> {
        let client = self.client().await?;
        let id = id.base();
        let n = client
            .execute(
                "UPDATE papers SET hidden = $1, modified_at = now() WHERE id = $2 AND hidden <> $1",
                &[&hidden, &id],
            )
            .await?;
        if n == 0
            && client
                .query_opt("SELECT 1 FROM papers WHERE id = $1", &[&id])
                .await?
                .is_none()
        {
            return Err(StoreError::NotFound(format!("paper {id}")));
        }
        Ok(n > 0)
    }

    async fn paper_hidden(&self, id: &ArxivId) -> StoreResult<bool> {
        let client = self.client().await?;
        Ok(client
            .query_opt("SELECT hidden FROM papers WHERE id = $1", &[&id.base()])
            .await?
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false))
    }

    async fn hidden_papers(&self, limit: u32) -> StoreResult<Vec<HiddenPaper>> {
        let client = self.client().await?;
        Ok(client
            .query(
                "SELECT id, title FROM papers WHERE hidden ORDER BY modified_at DESC LIMIT $1",
                &[&i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| HiddenPaper {
                id: r.get(0),
                title: r.get(1),
            })
            .collect())
    }

    async fn set_comment_hidden(&self, id: i64, hidden: bool) -> StoreResult<Option<String>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT paper_id, hidden, deleted FROM comments WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
        else {
            return Err(StoreError::NotFound(format!("comment {id}")));
        };
        let (paper, was_hidden, deleted): (String, bool, bool) =
            (row.get(0), row.get(1), row.get(2));
        if was_hidden == hidden {
            return Ok(None);
        }
        tx.execute(
            "UPDATE comments SET hidden = $1 WHERE id = $2",
            &[&hidden, &id],
        )
        .await?;
        if !deleted {
            let delta: i64 = if hidden { -1 } else { 1 };
            tx.execute(
                "UPDATE papers SET local_comments = local_comments + $1, modified_at = now() WHERE id = $2",
                &[&delta, &paper],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(paper))
    }

    async fn set_user_suspended(&self, user_id: i64, suspended: bool) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET suspended = $1 WHERE id = $2 AND suspended <> $1",
                &[&suspended, &user_id],
            )
            .await?;
        if n == 0
            && tx
                .query_opt("SELECT 1 FROM users WHERE id = $1", &[&user_id])
                .await?
                .is_none()
        {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        if suspended {
            tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
                .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn suspended_users(&self, limit: u32) -> StoreResult<Vec<User>> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE suspended ORDER BY username LIMIT $1"
                ),
                &[&i64::from(limit)],
            )
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn set_fullname(&self, user_id: i64, fullname: &str) -> StoreResult<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE users SET fullname = $1 WHERE id = $2",
                &[&fullname, &user_id],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        Ok(())
    }

    async fn set_email(&self, user_id: i64, email: &Email) -> StoreResult<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE users SET email = $1 WHERE id = $2",
                &[&email.as_str(), &user_id],
            )
            .await
            .map_err(|e| map_unique(e, "that email"))?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        Ok(())
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET password_hash = $1 WHERE id = $2",
                &[&password_hash, &user_id],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        tx.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
            &[&user_id, &keep_session],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_password_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, now(), $3)",
                &[&token_hash, &user_id, &expires_at],
            )
            .await?;
        client
            .execute(
                "DELETE FROM password_resets WHERE expires_at < now() - interval '7 days'",
                &[],
            )
            .await?;
        Ok(())
    }

    async fn create_pending_signup(
        &self,
        token_hash: &str,
        signup: &PendingSignup,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM pending_signups WHERE expires_at < now()", &[])
            .await?;
        client
            .execute(
                "INSERT INTO pending_signups
                 (token_hash, username, fullname, email, password_hash, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, now(), $6)",
                &[
                    &token_hash,
                    &signup.username,
                    &signup.fullname,
                    &signup.email,
                    &signup.password_hash,
                    &expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn take_pending_signup(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PendingSignup>> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "DELETE FROM pending_signups WHERE token_hash = $1
                 RETURNING username, fullname, email, password_hash, expires_at",
                &[&token_hash],
            )
            .await?
        else {
            return Ok(None);
        };
        let expires: DateTime<Utc> = row.try_get(4)?;
        if expires <= now {
            return Ok(None);
        }
        Ok(Some(PendingSignup {
            username: row.try_get(0)?,
            fullname: row.try_get(1)?,
            email: row.try_get(2)?,
            password_hash: row.try_get(3)?,
        }))
    }

    async fn password_reset_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {USER_COLUMNS_U}
                 FROM password_resets r JOIN users u ON u.id = r.user_id
                 WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2
                   AND NOT u.suspended"
                ),
                &[&token_hash, &now],
            )
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "UPDATE password_resets SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                   AND user_id IN (SELECT id FROM users WHERE NOT suspended)
                 RETURNING user_id",
                &[&token_hash, &now],
            )
            .await?
        else {
            return Ok(None);
        };
        let user_id: i64 = row.get(0);
        tx.execute(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            &[&user_id, &now],
        )
        .await?;
        tx.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2",
            &[&password_hash, &user_id],
        )
        .await?;
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await?;
        let user = user_from_row(
            &tx.query_one(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                &[&user_id],
            )
            .await?,
        )?;
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn paper_upvoters(&self, paper: &ArxivId, limit: u32) -> StoreResult<Vec<StoredUserRef>> {
        let client = self.client().await?;
        Ok(client
            .query(
                "SELECT u.username, u.fullname, u.avatar_url FROM votes v JOIN users u ON u.id = v.user_id
                 WHERE v.paper_id = $1 AND NOT u.suspended
                 ORDER BY v.created_at DESC, u.username LIMIT $2",
                &[&paper.base(), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| StoredUserRef {
                username: r.get(0),
                fullname: r.get(1),
                avatar_url: r.get(2),
            })
            .collect())
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
        let (after_at, after_id) = match cursor {
            Some(c) => (c.modified_at, c.id.clone()),
            None => (DateTime::<Utc>::UNIX_EPOCH, String::new()),
        };
        let keys = {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT id, modified_at, hidden FROM papers WHERE (modified_at, id) > ($1, $2)
                     ORDER BY modified_at, id LIMIT $3",
                )
                .await?;
            client
                .query(&stmt, &[&after_at, &after_id, &i64::from(limit)])
                .await?
                .iter()
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, DateTime<Utc>>(1),
                        r.get::<_, bool>(2),
                    )
                })
                .collect::<Vec<_>>()
        };
        let Some((last_id, last_at, _)) = keys.last().cloned() else {
            return Ok(ChangedPapers::default());
        };
        let papers = self
            .query_papers(
                &format!(
                    "SELECT {PAPER_COLUMNS} WHERE NOT p.hidden
                     AND (p.modified_at, p.id) > ($1, $2) AND (p.modified_at, p.id) <= ($3, $4)
                     ORDER BY p.modified_at, p.id"
                ),
                &[&after_at, &after_id, &last_at, &last_id],
            )
            .await?;
        let removed = keys.into_iter().filter(|k| k.2).map(|k| k.0).collect();
        Ok(ChangedPapers {
            papers,
            removed,
            next: Some(ChangeCursor {
                modified_at: last_at,
                id: last_id,
            }),
        })
    }
}

/// A CTE step cancelling the queued confirmation message of the subscriber updated by the
/// CTE `s`: its token no longer works.
const CANCEL_QUEUED_CONFIRMATION: &str = "cancelled AS (
         UPDATE confirmation_outbox SET status = 'cancelled', token = NULL
         WHERE subscriber_id IN (SELECT id FROM s) AND status = 'queued')";

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
            Self::Digests => "o.edition_id",
            Self::Confirmations => "COALESCE(o.token, '')",
        }
    }
}

/// Claims due rows of a queue; SKIP LOCKED lets concurrent workers each take different rows
/// without waiting. Rows: id, attempts, payload, then the subscriber's columns.
async fn claim_rows(
    client: &deadpool_postgres::Client,
    queue: Queue,
    limit: u32,
    claim: i64,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> StoreResult<Vec<Row>> {
    let table = queue.table();
    Ok(client
        .query(
            &format!(
                "WITH due AS (
                     SELECT id FROM {table}
                     WHERE (status = 'queued' AND next_attempt_at <= $2)
                        OR (status = 'sending' AND lease_until <= $2)
                     ORDER BY id LIMIT $4
                     FOR UPDATE SKIP LOCKED)
                 UPDATE {table} o SET status = 'sending', claim = $1, lease_until = $3
                 FROM due, subscribers s
                 WHERE o.id = due.id AND s.id = o.subscriber_id
                 RETURNING o.id, o.attempts, {},
                     s.id, s.email, s.user_id, s.cadence, s.status, s.unsubscribe_token,
                     s.created_at",
                queue.payload()
            ),
            &[&claim, &now, &lease_until, &i64::from(limit)],
        )
        .await?)
}

/// Records the outcome of a claimed row, if the claim still holds. A settled confirmation
/// forgets its token.
async fn record_outcome(
    client: &deadpool_postgres::Client,
    queue: Queue,
    id: i64,
    claim: i64,
    outcome: &DeliveryOutcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let (status, error, next): (&str, Option<&str>, Option<DateTime<Utc>>) = match outcome {
        DeliveryOutcome::Sent => ("sent", None, None),
        DeliveryOutcome::Retry { error, not_before } => {
            ("queued", Some(error.as_str()), Some(*not_before))
        }
        DeliveryOutcome::Failed { error } => ("failed", Some(error.as_str()), None),
        DeliveryOutcome::Cancelled => ("cancelled", None, None),
    };
    let forget = match queue {
        Queue::Digests => "",
        Queue::Confirmations => ", token = CASE WHEN $3 = 'queued' THEN token ELSE NULL END",
    };
    let n = client
        .execute(
            &format!(
                "UPDATE {} SET status = $3, attempts = attempts + 1,
                     last_error = COALESCE($4, last_error),
                     next_attempt_at = COALESCE($5, next_attempt_at),
                     sent_at = CASE WHEN $3 = 'sent' THEN $6 ELSE sent_at END,
                     claim = NULL, lease_until = NULL{forget}
                 WHERE id = $1 AND claim = $2 AND status = 'sending'",
                queue.table()
            ),
            &[&id, &claim, &status, &error, &next, &now],
        )
        .await?;
    Ok(n == 1)
}

const SUBSCRIBER_COLUMNS: &str =
    "id, email, user_id, cadence, status, unsubscribe_token, created_at";

fn subscriber_from_row(r: &Row) -> StoreResult<Subscriber> {
    subscriber_from_row_at(r, 0)
}

fn subscriber_from_row_at(r: &Row, at: usize) -> StoreResult<Subscriber> {
    Ok(Subscriber {
        id: r.get(at),
        email: r.get(at + 1),
        user_id: r.get(at + 2),
        cadence: Cadence::from_stored(r.get(at + 3))?,
        status: SubscriberStatus::from_stored(r.get(at + 4))?,
        unsubscribe_token: r.get(at + 5),
        created_at: r.get(at + 6),
    })
}

const EDITION_COLUMNS: &str = "id, cadence, edition_date, paper_ids, created_at";

fn edition_from_row(r: &Row) -> StoreResult<Edition> {
    let id: i64 = r.get(0);
    let papers: serde_json::Value = r.get(3);
    Ok(Edition {
        id,
        cadence: Cadence::from_stored(r.get(1))?,
        date: r.get(2),
        paper_ids: serde_json::from_value(papers)
            .map_err(|e| StoreError::Corrupt(format!("papers of edition {id}: {e}")))?,
        created_at: r.get(4),
    })
}
