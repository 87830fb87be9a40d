//! Papers, their ordered authors, organizations, and the daily feed.
//!
//! Two things are kept apart: the **catalogue** ([`Paper`]: every paper Paperboy knows) and the
//! **daily feed** ([`FeedEntry`]: a paper that was submitted to the daily list on a feed date,
//! by a user, optionally for an organization).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::ArxivId;

/// An author as an importer or a submission gives it, in the paper's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuthor {
    /// The name as printed on the paper.
    pub name: String,
    /// Hidden on huggingface.co (kept, but not shown).
    pub hidden: bool,
    /// The Hugging Face user who claimed this authorship, when known.
    pub hf_user: Option<String>,
}

impl NewAuthor {
    /// An author known only by name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            hidden: false,
            hf_user: None,
        }
    }
}

/// A user as a source names it (a submitter on huggingface.co, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// The unique handle.
    pub username: String,
    /// The display name.
    pub fullname: String,
    /// A picture, when the source has one.
    pub avatar_url: Option<String>,
}

/// An organization as a source names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgRef {
    /// The unique handle, used in URLs (`/orgs/{name}`).
    pub name: String,
    /// The display name.
    pub fullname: String,
    /// A logo, when the source has one.
    pub avatar_url: Option<String>,
}

/// A paper's entry on the daily list, as an importer or a submission gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedEntry {
    /// The day of the daily list the paper belongs to (UTC).
    pub feed_date: NaiveDate,
    /// When it was put on the list.
    pub submitted_at: DateTime<Utc>,
    /// Who put it there.
    pub submitter: Option<UserRef>,
    /// For which organization.
    pub organization: Option<OrgRef>,
}

/// A paper as an importer or the arXiv client gives it. Storing it again updates the stored
/// paper; a newer version replaces title, abstract and authors.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPaper {
    /// The paper's id; its version, when given, is the version these metadata describe.
    pub id: ArxivId,
    /// Title as given (may hold LaTeX).
    pub title: String,
    /// Abstract as given (may hold LaTeX).
    pub summary: String,
    /// Authors, in order.
    pub authors: Vec<NewAuthor>,
    /// arXiv categories, primary first.
    pub categories: Vec<String>,
    /// When the first version appeared.
    pub published_at: DateTime<Utc>,
    /// When the latest known version appeared.
    pub updated_at: Option<DateTime<Utc>>,
    /// The arXiv comment field ("12 pages, 3 figures").
    pub comment: Option<String>,
    /// Journal reference.
    pub journal_ref: Option<String>,
    /// DOI.
    pub doi: Option<String>,
    /// Code repository.
    pub github_repo: Option<String>,
    /// Stars of that repository, when known.
    pub github_stars: Option<i64>,
    /// Project page.
    pub project_page: Option<String>,
    /// A one-sentence summary (huggingface.co's `ai_summary`).
    pub ai_summary: Option<String>,
    /// Keywords (huggingface.co's `ai_keywords`).
    pub keywords: Vec<String>,
    /// Upvotes counted by the source (huggingface.co), added to local votes.
    pub source_upvotes: Option<i64>,
    /// Comments counted by the source.
    pub source_comments: Option<i64>,
    /// The discussion id on the source.
    pub discussion_id: Option<String>,
    /// The daily-list entry, when the source is a daily list.
    pub feed: Option<NewFeedEntry>,
}

impl NewPaper {
    /// A paper with only the required fields set.
    pub fn new(
        id: ArxivId,
        title: impl Into<String>,
        summary: impl Into<String>,
        published_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            title: title.into(),
            summary: summary.into(),
            authors: Vec::new(),
            categories: Vec::new(),
            published_at,
            updated_at: None,
            comment: None,
            journal_ref: None,
            doi: None,
            github_repo: None,
            github_stars: None,
            project_page: None,
            ai_summary: None,
            keywords: Vec::new(),
            source_upvotes: None,
            source_comments: None,
            discussion_id: None,
            feed: None,
        }
    }
}

/// A stored author of a paper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Author {
    /// Position on the paper, from 0.
    pub position: u32,
    /// The name as printed.
    pub name: String,
    /// Hidden on huggingface.co.
    pub hidden: bool,
    /// The user who claimed this authorship.
    pub user: Option<String>,
}

/// A stored organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    /// Handle.
    pub name: String,
    /// Display name.
    pub fullname: String,
    /// Logo.
    pub avatar_url: Option<String>,
}

/// A paper's entry on the daily list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedEntry {
    /// The day of the daily list.
    pub feed_date: NaiveDate,
    /// When it was put there.
    pub submitted_at: DateTime<Utc>,
    /// Who put it there.
    pub submitter: Option<StoredUserRef>,
    /// For which organization.
    pub organization: Option<Organization>,
}

/// A user as shown beside a paper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredUserRef {
    /// Handle.
    pub username: String,
    /// Display name.
    pub fullname: String,
    /// Picture.
    pub avatar_url: Option<String>,
}

/// A paper in the catalogue, with what the community added to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paper {
    /// The id (without version).
    pub id: ArxivId,
    /// The latest version stored.
    pub version: Option<u32>,
    /// Title.
    pub title: String,
    /// Abstract.
    pub summary: String,
    /// Authors in order.
    pub authors: Vec<Author>,
    /// arXiv categories, primary first.
    pub categories: Vec<String>,
    /// First version's date.
    pub published_at: DateTime<Utc>,
    /// Latest version's date.
    pub updated_at: Option<DateTime<Utc>>,
    /// arXiv comment.
    pub comment: Option<String>,
    /// Journal reference.
    pub journal_ref: Option<String>,
    /// DOI.
    pub doi: Option<String>,
    /// Code repository.
    pub github_repo: Option<String>,
    /// Its stars.
    pub github_stars: Option<i64>,
    /// Project page.
    pub project_page: Option<String>,
    /// One-sentence summary.
    pub ai_summary: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Upvotes: the source's count plus local votes.
    pub upvotes: i64,
    /// Comments: the source's count plus local comments.
    pub num_comments: i64,
    /// Discussion id on the source.
    pub discussion_id: Option<String>,
    /// The daily-list entry, if the paper was submitted to the daily list.
    pub feed: Option<FeedEntry>,
}

impl Paper {
    /// Authors shown to readers (hidden ones left out).
    pub fn visible_authors(&self) -> impl Iterator<Item = &Author> {
        self.authors.iter().filter(|a| !a.hidden)
    }
}
