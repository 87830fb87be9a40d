//! The JSON shapes of the API, as huggingface.co returns them (field names, `Z` timestamps
//! with milliseconds) and as its Python client reads them. Built from stored [`Paper`]s.

use paperboy_core::{Paper, Segment, format_hf_timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error: `{"error": "…"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// The Hugging Face user who claimed an authorship.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorUser {
    /// Username.
    pub user: String,
    /// Display name (the username when nothing better is known).
    pub fullname: String,
}

/// An author of a paper.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiAuthor {
    /// A stable id of this authorship.
    #[serde(rename = "_id")]
    pub id: String,
    /// The name as printed on the paper.
    pub name: String,
    /// Hidden by the source.
    pub hidden: bool,
    /// The user who claimed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<AuthorUser>,
}

/// A user (a submitter).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiUser {
    /// A stable id (the username).
    #[serde(rename = "_id")]
    pub id: String,
    /// Username (what the client reads as `username`).
    pub user: String,
    /// Username again (huggingface.co sends both).
    pub name: String,
    /// Display name.
    pub fullname: String,
    /// Picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Always false: Paperboy has no paid plans.
    pub is_pro: bool,
    /// Always `user`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiOrganization {
    /// A stable id (the handle).
    #[serde(rename = "_id")]
    pub id: String,
    /// Handle.
    pub name: String,
    /// Display name.
    pub fullname: String,
    /// Logo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// The `paper` object of an item.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiPaper {
    /// arXiv id without version.
    pub id: String,
    /// Authors in order.
    pub authors: Vec<ApiAuthor>,
    /// When the first version appeared (`2025-10-29T13:58:51.000Z`).
    pub published_at: String,
    /// When it was put on the daily list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_on_daily_at: Option<String>,
    /// Who put it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_on_daily_by: Option<ApiUser>,
    /// Title.
    pub title: String,
    /// Abstract.
    pub summary: String,
    /// Upvotes.
    pub upvotes: i64,
    /// Discussion id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discussion_id: Option<String>,
    /// Project page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_page: Option<String>,
    /// Code repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_repo: Option<String>,
    /// Its stars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_stars: Option<i64>,
    /// One-sentence summary.
    #[serde(rename = "ai_summary", skip_serializing_if = "Option::is_none")]
    pub ai_summary: Option<String>,
    /// Keywords.
    #[serde(rename = "ai_keywords", skip_serializing_if = "Option::is_none")]
    pub ai_keywords: Option<Vec<String>>,
    /// Organization it was submitted for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<ApiOrganization>,
}

/// An item of the daily list (`/api/daily_papers`, `/api/papers`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyItem {
    /// The paper.
    pub paper: ApiPaper,
    /// When it was put on the daily list (the paper's publication, if it never was).
    pub published_at: String,
    /// Title.
    pub title: String,
    /// Abstract.
    pub summary: String,
    /// A picture of the first page.
    pub thumbnail: String,
    /// Comments.
    pub num_comments: i64,
    /// Who put it on the daily list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<ApiUser>,
    /// For which organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<ApiOrganization>,
    /// Whether an author took part in the discussion.
    pub is_author_participating: bool,
    /// One-sentence summary (also under `paper`).
    #[serde(rename = "ai_summary", skip_serializing_if = "Option::is_none")]
    pub ai_summary: Option<String>,
    /// Keywords (also under `paper`).
    #[serde(rename = "ai_keywords", skip_serializing_if = "Option::is_none")]
    pub ai_keywords: Option<Vec<String>>,
    /// Project page (also under `paper`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_page: Option<String>,
    /// Code repository (also under `paper`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_repo: Option<String>,
    /// Its stars (also under `paper`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_stars: Option<i64>,
}

/// A piece of a highlighted text.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiSegment {
    /// `text` or `highlight`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(text|highlight)$")]
    pub kind: String,
    /// The text.
    pub text: String,
}

/// A search result: a daily item with highlighted title and abstract.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchItem {
    /// The item.
    #[serde(flatten)]
    pub item: DailyItem,
    /// The title, cut into plain and matching segments.
    pub highlighted_title: Vec<ApiSegment>,
    /// The abstract, likewise.
    pub highlighted_summary: Vec<ApiSegment>,
}

/// A repository linked to a paper (Paperboy links none yet).
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedRepo {
    /// `owner/name`.
    pub id: String,
}

/// `/api/papers/{id}`: the flat paper object with comments and linked repositories.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaperInfo {
    /// The paper's fields.
    #[serde(flatten)]
    pub paper: ApiPaper,
    /// Comments.
    pub num_comments: i64,
    /// Linked models.
    pub linked_models: Vec<LinkedRepo>,
    /// Their number.
    pub num_total_models: i64,
    /// Linked datasets.
    pub linked_datasets: Vec<LinkedRepo>,
    /// Their number.
    pub num_total_datasets: i64,
    /// Linked spaces.
    pub linked_spaces: Vec<LinkedRepo>,
    /// Their number.
    pub num_total_spaces: i64,
}

/// `/api/arxiv/{id}/repos`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Repos {
    /// Models.
    pub models: Vec<LinkedRepo>,
    /// Datasets.
    pub datasets: Vec<LinkedRepo>,
    /// Spaces.
    pub spaces: Vec<LinkedRepo>,
}

/// `POST /api/papers/index`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexRequest {
    /// The arXiv id to add, like `2310.06825` (a version, `2310.06825v2`, is allowed).
    #[schema(
        max_length = 64,
        pattern = "^((0[7-9]|1[0-4])(0[1-9]|1[0-2])\\.[0-9]{4}|(1[5-9]|[2-9][0-9])(0[1-9]|1[0-2])\\.[0-9]{5})(v[1-9][0-9]{0,3})?$"
    )]
    pub arxiv_id: String,
}

fn user_of(u: &paperboy_core::StoredUserRef) -> ApiUser {
    ApiUser {
        id: u.username.clone(),
        user: u.username.clone(),
        name: u.username.clone(),
        fullname: u.fullname.clone(),
        avatar_url: u.avatar_url.clone(),
        is_pro: false,
        kind: "user".to_owned(),
    }
}

fn org_of(o: &paperboy_core::Organization) -> ApiOrganization {
    ApiOrganization {
        id: o.name.clone(),
        name: o.name.clone(),
        fullname: o.fullname.clone(),
        avatar_url: o.avatar_url.clone(),
    }
}

fn keywords(p: &Paper) -> Option<Vec<String>> {
    (!p.keywords.is_empty()).then(|| p.keywords.clone())
}

impl ApiPaper {
    /// The `paper` object of a stored paper.
    pub fn from_paper(p: &Paper) -> Self {
        let feed = p.feed.as_ref();
        let id = p.id.base();
        Self {
            id: id.to_owned(),
            authors: p
                .authors
                .iter()
                .map(|a| ApiAuthor {
                    id: format!("{id}-{}", a.position),
                    name: a.name.clone(),
                    hidden: a.hidden,
                    user: a.user.as_ref().map(|u| AuthorUser {
                        user: u.clone(),
                        fullname: u.clone(),
                    }),
                })
                .collect(),
            published_at: format_hf_timestamp(p.published_at),
            submitted_on_daily_at: feed.map(|f| format_hf_timestamp(f.submitted_at)),
            submitted_on_daily_by: feed.and_then(|f| f.submitter.as_ref()).map(user_of),
            title: p.title.clone(),
            summary: p.summary.clone(),
            upvotes: p.upvotes,
            discussion_id: p.discussion_id.clone(),
            project_page: p.project_page.clone(),
            github_repo: p.github_repo.clone(),
            github_stars: p.github_stars,
            ai_summary: p.ai_summary.clone(),
            ai_keywords: keywords(p),
            organization: feed.and_then(|f| f.organization.as_ref()).map(org_of),
        }
    }
}

impl DailyItem {
    /// The daily-list item of a stored paper.
    pub fn from_paper(p: &Paper) -> Self {
        let feed = p.feed.as_ref();
        Self {
            paper: ApiPaper::from_paper(p),
            published_at: format_hf_timestamp(feed.map_or(p.published_at, |f| f.submitted_at)),
            title: p.title.clone(),
            summary: p.summary.clone(),
            thumbnail: format!(
                "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png",
                p.id.base()
            ),
            num_comments: p.num_comments,
            submitted_by: feed.and_then(|f| f.submitter.as_ref()).map(user_of),
            organization: feed.and_then(|f| f.organization.as_ref()).map(org_of),
            is_author_participating: false,
            ai_summary: p.ai_summary.clone(),
            ai_keywords: keywords(p),
            project_page: p.project_page.clone(),
            github_repo: p.github_repo.clone(),
            github_stars: p.github_stars,
        }
    }
}

impl PaperInfo {
    /// The flat paper object of a stored paper.
    pub fn from_paper(p: &Paper) -> Self {
        Self {
            paper: ApiPaper::from_paper(p),
            num_comments: p.num_comments,
            linked_models: Vec::new(),
            num_total_models: 0,
            linked_datasets: Vec::new(),
            num_total_datasets: 0,
            linked_spaces: Vec::new(),
            num_total_spaces: 0,
        }
    }
}

/// Segments as the API shows them.
pub fn segments(s: Vec<Segment>) -> Vec<ApiSegment> {
    s.into_iter()
        .map(|s| ApiSegment {
            kind: match s.kind {
                paperboy_core::SegmentKind::Text => "text",
                paperboy_core::SegmentKind::Highlight => "highlight",
            }
            .to_owned(),
            text: s.text,
        })
        .collect()
}
