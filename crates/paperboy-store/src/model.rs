//! The request and result types of the [`crate::Store`] trait.

use chrono::{DateTime, Utc};
use paperboy_core::trending::{TrendingInput, trending_score};
use paperboy_core::{DateWindow, Paper};
use serde::Serialize;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// How a feed page is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedSort {
    /// Most upvoted first, then in the order they were submitted (the site's order).
    #[default]
    Upvotes,
    /// Most recently submitted first (huggingface.co's `publishedAt`).
    PublishedAt,
    /// By the trending score (see `paperboy_core::trending`).
    Trending,
}

/// A request for a page of the daily feed.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    /// The feed dates to list.
    pub window: DateWindow,
    /// Only papers submitted by this username.
    pub submitter: Option<String>,
    /// Order.
    pub sort: FeedSort,
    /// Papers to skip.
    pub offset: u32,
    /// Papers to return.
    pub limit: u32,
}

/// A page of the daily feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// The papers, each with its feed entry.
    pub papers: Vec<Paper>,
    /// Whether more papers follow this page.
    pub has_more: bool,
}

/// A position in the catalogue (newest first): papers after it are older.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperCursor {
    /// Publication time of the last paper seen.
    pub published_at: DateTime<Utc>,
    /// Its id.
    pub id: String,
}

impl PaperCursor {
    /// The cursor after `paper`.
    pub fn after(paper: &Paper) -> Self {
        Self {
            published_at: paper.published_at,
            id: paper.id.base().to_owned(),
        }
    }

    /// An opaque text form for URLs.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.published_at.timestamp_millis(), self.id)
    }

    /// Reads the text form back; `None` if it was not made by [`PaperCursor::encode`].
    pub fn decode(s: &str) -> Option<Self> {
        let (ms, id) = s.split_once('_')?;
        let published_at = DateTime::from_timestamp_millis(ms.parse().ok()?)?;
        paperboy_core::ArxivId::parse(id).ok()?;
        Some(Self {
            published_at,
            id: id.to_owned(),
        })
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertSummary {
    /// Papers that were new.
    pub inserted: u64,
    /// Papers that were already stored and were updated.
    pub updated: u64,
}

impl std::ops::AddAssign for UpsertSummary {
    fn add_assign(&mut self, rhs: Self) {
        self.inserted += rhs.inserted;
        self.updated += rhs.updated;
    }
}

/// Counts of what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Papers in the catalogue.
    pub papers: i64,
    /// Papers on the daily list.
    pub feed_entries: i64,
    /// Author rows.
    pub authors: i64,
    /// Accounts (local and imported submitters).
    pub users: i64,
    /// Organizations.
    pub organizations: i64,
    /// Local upvotes.
    pub votes: i64,
    /// Distinct days of the daily list.
    pub feed_days: i64,
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Handle.
    pub username: paperboy_core::Username,
    /// Display name.
    pub fullname: String,
    /// Email, for local accounts.
    pub email: Option<paperboy_core::Email>,
    /// Argon2 PHC string, for accounts that can sign in.
    pub password_hash: Option<String>,
    /// Administrator.
    pub is_admin: bool,
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Handle.
    pub username: String,
    /// Display name.
    pub fullname: String,
    /// Picture.
    pub avatar_url: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Argon2 PHC string.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Administrator.
    pub is_admin: bool,
    /// Suspended by an administrator.
    pub suspended: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// Orders papers by trending score at `now`, highest first (ties: more upvotes, then id).
pub fn sort_trending(papers: &mut [Paper], now: DateTime<Utc>) {
    let score = |p: &Paper| {
        trending_score(
            TrendingInput {
                upvotes: p.upvotes,
                recent_star_growth: None,
                since: p.feed.as_ref().map_or(p.published_at, |f| f.submitted_at),
            },
            now,
        )
    };
    papers.sort_by(|a, b| {
        score(b)
            .total_cmp(&score(a))
            .then(b.upvotes.cmp(&a.upvotes))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Cuts a page out of rows fetched for `q`: for the trending order, all rows of the window
/// were fetched and are sorted here; for the others, `limit + 1` rows were fetched.
pub(crate) fn page(papers: &mut Vec<Paper>, q: &FeedQuery) -> FeedPage {
    if q.sort == FeedSort::Trending {
        // A past window trends as it did when it closed; the current one as of now.
        let window_end = q
            .window
            .end_exclusive()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        sort_trending(papers, Utc::now().min(window_end));
        let start = (q.offset as usize).min(papers.len());
        papers.drain(..start);
    }
    let has_more = papers.len() > q.limit as usize;
    papers.truncate(q.limit as usize);
    FeedPage {
        papers: std::mem::take(papers),
        has_more,
    }
}

/// How authors are kept on a paper row: an ordered JSON array.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAuthor<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    hidden: bool,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    user: Option<std::borrow::Cow<'a, str>>,
}

/// The JSON text stored for a paper's authors.
pub(crate) fn authors_to_json(authors: &[paperboy_core::NewAuthor]) -> String {
    let stored: Vec<StoredAuthor<'_>> = authors
        .iter()
        .map(|a| StoredAuthor {
            name: a.name.as_str().into(),
            hidden: a.hidden,
            user: a.hf_user.as_deref().map(Into::into),
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

/// Reads the stored authors back.
pub(crate) fn authors_from_json(
    json: &str,
) -> Result<Vec<paperboy_core::Author>, crate::StoreError> {
    let stored: Vec<StoredAuthor<'_>> = serde_json::from_str(json)
        .map_err(|e| crate::StoreError::Corrupt(format!("authors: {e}")))?;
    Ok(stored
        .into_iter()
        .enumerate()
        .map(|(i, a)| paperboy_core::Author {
            position: i as u32,
            name: a.name.into_owned(),
            hidden: a.hidden,
            user: a.user.map(std::borrow::Cow::into_owned),
        })
        .collect())
}

/// The key an author name is found by: lowercased, white space collapsed. "Ada  LOVELACE"
/// and "ada lovelace" are one author.
pub fn author_key(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A comment to add.
#[derive(Debug, Clone)]
pub struct NewComment {
    /// The paper commented on.
    pub paper: paperboy_core::ArxivId,
    /// The author.
    pub user_id: i64,
    /// The comment replied to (a top-level comment of the same paper: replies are one level deep).
    pub parent_id: Option<i64>,
    /// Markdown source.
    pub body: String,
}

/// A stored comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// Row id.
    pub id: i64,
    /// The paper (base id).
    pub paper_id: String,
    /// The author's account id.
    pub user_id: i64,
    /// The author's handle.
    pub username: String,
    /// The author's display name.
    pub fullname: String,
    /// The comment replied to.
    pub parent_id: Option<i64>,
    /// Markdown source (empty once deleted).
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it was last edited.
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted by its author (kept as a placeholder so replies keep their place).
    pub deleted: bool,
    /// Hidden by an administrator (kept as a placeholder too).
    pub hidden: bool,
    /// The body rendered to safe HTML when it was written or edited (`None` until then).
    pub body_html: Option<String>,
    /// The renderer version that made `body_html` (0: none); the web crate re-renders a
    /// comment whose version is not its current one.
    pub html_version: i32,
}

/// A paper put on the daily list by a user.
#[derive(Debug, Clone)]
pub struct FeedSubmission {
    /// The day of the list.
    pub feed_date: chrono::NaiveDate,
    /// When.
    pub submitted_at: DateTime<Utc>,
    /// By whom.
    pub submitter_id: i64,
    /// For which organization (the submitter is a member of it).
    pub organization_id: Option<i64>,
}

/// A position in the stream of paper changes (see `Store::papers_changed_since`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeCursor {
    /// When the last change seen was made.
    pub modified_at: DateTime<Utc>,
    /// The id of the paper it changed.
    pub id: String,
}

impl ChangeCursor {
    /// An opaque text form, to keep in a file or the key-value state.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.modified_at.timestamp_micros(), self.id)
    }

    /// Reads the text form back; `None` if it was not made by [`ChangeCursor::encode`].
    pub fn decode(s: &str) -> Option<Self> {
        let (us, id) = s.split_once('_')?;
        let modified_at = DateTime::from_timestamp_micros(us.parse().ok()?)?;
        Some(Self {
            modified_at,
            id: id.to_owned(),
        })
    }
}

/// One page of paper changes.
#[derive(Debug, Clone, Default)]
pub struct ChangedPapers {
    /// Papers changed and visible, in change order.
    pub papers: Vec<Paper>,
    /// Papers changed and now hidden.
    pub removed: Vec<String>,
    /// Where the next call starts; `None` when nothing changed after the cursor given.
    pub next: Option<ChangeCursor>,
}
