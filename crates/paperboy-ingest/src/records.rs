//! Source records and how each becomes a [`NewPaper`]: Hugging Face daily-papers items (the
//! shape `huggingface.co/api/daily_papers` returns), flat Hugging Face paper objects
//! (`/api/papers/{id}`), and arXiv metadata in the Kaggle snapshot format.
//!
//! The shapes changed over time, so every field but the id is optional: an importer takes what
//! is there and fails only on what it cannot do without.

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef};
use serde::Deserialize;

/// Why one record could not become a paper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// JSON, but not a shape Paperboy imports.
    #[error(
        "not a paper record: expected a Hugging Face daily item (with `paper`), a Hugging Face paper (with `id` and `summary`) or an arXiv snapshot record (with `id` and `abstract`)"
    )]
    Unrecognized,
    /// A field Paperboy needs is missing or invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Any record an import file may hold; which kind it is shows in the keys present.
#[derive(Debug, Deserialize)]
pub struct AnyRecord {
    paper: Option<HfPaper>,
    id: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    #[serde(rename = "abstract")]
    abstract_: Option<String>,
    #[serde(rename = "publishedAt")]
    published_at: Option<String>,
    #[serde(rename = "numComments")]
    num_comments: Option<i64>,
    #[serde(rename = "submittedBy")]
    submitted_by: Option<HfUser>,
    organization: Option<HfOrg>,
    // Kaggle arXiv snapshot fields.
    authors: Option<AuthorsField>,
    authors_parsed: Option<Vec<Vec<String>>>,
    categories: Option<String>,
    comments: Option<String>,
    #[serde(rename = "journal-ref")]
    journal_ref: Option<String>,
    doi: Option<String>,
    versions: Option<Vec<KaggleVersion>>,
    update_date: Option<String>,
    // Flat Hugging Face paper fields (everything `paper` holds may also be top level).
    #[serde(flatten)]
    flat: HfPaperExtras,
}

/// `authors` is one string in the Kaggle format and a list in Hugging Face's.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AuthorsField {
    Text(String),
    List(Vec<HfAuthor>),
}

#[derive(Debug, Deserialize)]
struct KaggleVersion {
    version: Option<String>,
    created: Option<String>,
}

/// The `paper` object of a daily item.
#[derive(Debug, Deserialize)]
struct HfPaper {
    id: Option<String>,
    #[serde(default)]
    authors: Vec<HfAuthor>,
    #[serde(rename = "publishedAt")]
    published_at: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    #[serde(flatten)]
    extras: HfPaperExtras,
}

#[derive(Debug, Default, Deserialize)]
struct HfPaperExtras {
    #[serde(rename = "submittedOnDailyAt")]
    submitted_on_daily_at: Option<String>,
    #[serde(rename = "submittedOnDailyBy")]
    submitted_on_daily_by: Option<HfUser>,
    upvotes: Option<i64>,
    #[serde(rename = "discussionId")]
    discussion_id: Option<String>,
    #[serde(rename = "githubRepo")]
    github_repo: Option<String>,
    #[serde(rename = "githubStars")]
    github_stars: Option<i64>,
    #[serde(rename = "projectPage")]
    project_page: Option<String>,
    ai_summary: Option<String>,
    ai_keywords: Option<Vec<String>>,
    #[serde(rename = "organization")]
    paper_organization: Option<HfOrg>,
}

#[derive(Debug, Deserialize)]
struct HfAuthor {
    name: Option<String>,
    #[serde(default)]
    hidden: bool,
    user: Option<HfUser>,
}

/// A huggingface.co user: its handle is `user` in some places and `name` in others.
#[derive(Debug, Clone, Deserialize)]
struct HfUser {
    user: Option<String>,
    name: Option<String>,
    fullname: Option<String>,
    #[serde(rename = "avatarUrl")]
    avatar_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct HfOrg {
    name: Option<String>,
    fullname: Option<String>,
    avatar: Option<String>,
    #[serde(rename = "avatarUrl")]
    avatar_url: Option<String>,
}

/// Collapses runs of white space (arXiv wraps titles and abstracts) and drops control
/// characters, which no paper text needs and PostgreSQL refuses (NUL).
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

fn clean_opt(s: Option<String>) -> Option<String> {
    s.map(|s| clean_text(&s)).filter(|s| !s.is_empty())
}

/// Parses the timestamps the sources use: RFC 3339 (`2025-10-29T13:58:51.000Z`), RFC 2822
/// (`Mon, 2 Apr 2007 19:18:42 GMT`, the Kaggle snapshot) or a bare date (`2025-03-18`).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
}

fn required_time(field: &str, value: Option<&str>) -> Result<DateTime<Utc>, RecordError> {
    let v = value.ok_or_else(|| RecordError::Invalid(format!("`{field}` is missing")))?;
    parse_timestamp(v).ok_or_else(|| {
        RecordError::Invalid(format!(
            "`{field}` is `{}`, not a date",
            v.chars().take(40).collect::<String>()
        ))
    })
}

fn parse_id(field: &str, id: Option<&str>) -> Result<ArxivId, RecordError> {
    let id = id.ok_or_else(|| RecordError::Invalid(format!("`{field}` is missing")))?;
    ArxivId::parse(id).map_err(|e| RecordError::Invalid(format!("`{field}`: {e}")))
}

fn user_ref(u: &HfUser) -> Option<UserRef> {
    let username = u.user.clone().or_else(|| u.name.clone())?;
    if username.is_empty() {
        return None;
    }
    Some(UserRef {
        fullname: u.fullname.clone().unwrap_or_else(|| username.clone()),
        username,
        avatar_url: u.avatar_url.clone(),
    })
}

fn org_ref(o: &HfOrg) -> Option<OrgRef> {
    let name = o.name.clone().filter(|n| !n.is_empty())?;
    Some(OrgRef {
        fullname: o.fullname.clone().unwrap_or_else(|| name.clone()),
        name,
        avatar_url: o.avatar.clone().or_else(|| o.avatar_url.clone()),
    })
}

fn hf_authors(authors: Vec<HfAuthor>) -> Vec<NewAuthor> {
    authors
        .into_iter()
        .filter_map(|a| {
            let name = clean_text(a.name.as_deref().unwrap_or(""));
            (!name.is_empty()).then(|| NewAuthor {
                name,
                hidden: a.hidden,
                hf_user: a
                    .user
                    .as_ref()
                    .and_then(|u| u.user.clone().or(u.name.clone())),
            })
        })
        .collect()
}

impl AnyRecord {
    /// Parses one JSON record.
    pub fn from_json(line: &str) -> Result<Self, RecordError> {
        serde_json::from_str(line).map_err(|e| RecordError::Json(e.to_string()))
    }

    /// Turns the record into a paper, with its daily-feed entry when it is a daily item.
    pub fn into_paper(self) -> Result<NewPaper, RecordError> {
        if self.paper.is_some() {
            self.hf_daily_item()
        } else if self.abstract_.is_some() && self.id.is_some() {
            self.kaggle()
        } else if self.summary.is_some() && self.id.is_some() {
            self.hf_flat_paper()
        } else {
            Err(RecordError::Unrecognized)
        }
    }

    fn hf_daily_item(mut self) -> Result<NewPaper, RecordError> {
        let paper = self.paper.take().ok_or(RecordError::Unrecognized)?;
        let id = parse_id("paper.id", paper.id.as_deref())?;
        let title = clean_text(
            paper
                .title
                .as_deref()
                .or(self.title.as_deref())
                .unwrap_or(""),
        );
        if title.is_empty() {
            return Err(RecordError::Invalid("the paper has no title".into()));
        }
        let summary = clean_text(
            paper
                .summary
                .as_deref()
                .or(self.summary.as_deref())
                .unwrap_or(""),
        );
        let outer_published = self.published_at.as_deref();
        let published_at = required_time(
            "paper.publishedAt",
            paper.published_at.as_deref().or(outer_published),
        )?;
        // The feed date: the UTC day it was submitted to the daily list, else the outer
        // `publishedAt` (when the item was put on the list).
        let submitted_at = match paper.extras.submitted_on_daily_at.as_deref() {
            Some(s) => required_time("paper.submittedOnDailyAt", Some(s))?,
            None => required_time("publishedAt", outer_published)?,
        };
        let submitter = self
            .submitted_by
            .as_ref()
            .or(paper.extras.submitted_on_daily_by.as_ref())
            .and_then(user_ref);
        let organization = self
            .organization
            .as_ref()
            .or(paper.extras.paper_organization.as_ref())
            .and_then(org_ref);
        let mut p = NewPaper::new(id, title, summary, published_at);
        p.authors = hf_authors(paper.authors);
        apply_extras(&mut p, paper.extras);
        p.source_comments = self.num_comments;
        p.feed = Some(NewFeedEntry {
            feed_date: submitted_at.date_naive(),
            submitted_at,
            submitter,
            organization,
        });
        Ok(p)
    }

    fn hf_flat_paper(self) -> Result<NewPaper, RecordError> {
        let id = parse_id("id", self.id.as_deref())?;
        let title = clean_text(self.title.as_deref().unwrap_or(""));
        if title.is_empty() {
            return Err(RecordError::Invalid("the paper has no title".into()));
        }
        let published_at = required_time("publishedAt", self.published_at.as_deref())?;
        let mut p = NewPaper::new(
            id,
            title,
            clean_text(self.summary.as_deref().unwrap_or("")),
            published_at,
        );
        if let Some(AuthorsField::List(authors)) = self.authors {
            p.authors = hf_authors(authors);
        }
        let submitter = self
            .submitted_by
            .as_ref()
            .or(self.flat.submitted_on_daily_by.as_ref())
            .and_then(user_ref);
        let organization = self
            .organization
            .as_ref()
            .or(self.flat.paper_organization.as_ref())
            .and_then(org_ref);
        let submitted = self
            .flat
            .submitted_on_daily_at
            .as_deref()
            .and_then(parse_timestamp);
        p.source_comments = self.num_comments;
        apply_extras(&mut p, self.flat);
        if let Some(submitted_at) = submitted {
            p.feed = Some(NewFeedEntry {
                feed_date: submitted_at.date_naive(),
                submitted_at,
                submitter,
                organization,
            });
        }
        Ok(p)
    }

    fn kaggle(self) -> Result<NewPaper, RecordError> {
        let id = parse_id("id", self.id.as_deref())?;
        let versions = self.versions.unwrap_or_default();
        // The id carries the latest version, so newer records win on re-import.
        let latest = versions
            .iter()
            .filter_map(|v| v.version.as_deref()?.strip_prefix('v')?.parse::<u32>().ok())
            .max();
        let id = match (id.version(), latest) {
            (None, Some(v)) => ArxivId::parse(&format!("{}v{v}", id.base())).unwrap_or(id),
            _ => id,
        };
        let created: Vec<DateTime<Utc>> = versions
            .iter()
            .filter_map(|v| v.created.as_deref().and_then(parse_timestamp))
            .collect();
        let published_at = match created.iter().min() {
            Some(t) => *t,
            None => required_time(
                "versions[0].created or update_date",
                self.update_date.as_deref(),
            )?,
        };
        let updated_at = created.iter().max().copied().filter(|t| *t > published_at);
        let title = clean_text(self.title.as_deref().unwrap_or(""));
        if title.is_empty() {
            return Err(RecordError::Invalid("the paper has no title".into()));
        }
        let mut p = NewPaper::new(
            id,
            title,
            clean_text(self.abstract_.as_deref().unwrap_or("")),
            published_at,
        );
        p.updated_at = updated_at;
        p.authors = match (self.authors_parsed, self.authors) {
            (Some(parsed), _) if !parsed.is_empty() => parsed
                .iter()
                .filter_map(|parts| {
                    // [last, first, suffix] → "first last suffix"
                    let last = parts.first().map(String::as_str).unwrap_or("");
                    let first = parts.get(1).map(String::as_str).unwrap_or("");
                    let suffix = parts.get(2).map(String::as_str).unwrap_or("");
                    let name = clean_text(&format!("{first} {last} {suffix}"));
                    (!name.is_empty()).then(|| NewAuthor::named(name))
                })
                .collect(),
            (_, Some(AuthorsField::Text(text))) => split_author_list(&text),
            (_, Some(AuthorsField::List(list))) => hf_authors(list),
            _ => Vec::new(),
        };
        p.categories = self
            .categories
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        p.comment = clean_opt(self.comments);
        p.journal_ref = clean_opt(self.journal_ref);
        p.doi = clean_opt(self.doi);
        Ok(p)
    }
}

fn apply_extras(p: &mut NewPaper, e: HfPaperExtras) {
    p.source_upvotes = e.upvotes;
    p.discussion_id = e.discussion_id;
    p.github_repo = e.github_repo.filter(|s| !s.is_empty());
    p.github_stars = e.github_stars;
    p.project_page = e.project_page.filter(|s| !s.is_empty());
    p.ai_summary = clean_opt(e.ai_summary);
    p.keywords = e.ai_keywords.unwrap_or_default();
}

/// Splits arXiv's one-string author list ("A, B and C").
pub fn split_author_list(text: &str) -> Vec<NewAuthor> {
    clean_text(text)
        .split(", ")
        .flat_map(|part| part.split(" and "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(NewAuthor::named)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(json: &str) -> NewPaper {
        AnyRecord::from_json(json)
            .expect("json")
            .into_paper()
            .expect("paper")
    }

    #[test]
    fn a_daily_item_gives_its_feed_date_from_submitted_on_daily_at() {
        let p = paper(
            r#"{"paper":{"id":"2510.03230","authors":[{"_id":"x","name":"Suyuchen Wang","hidden":false,
            "user":{"user":"swang","fullname":"S W"}},{"name":"Hidden One","hidden":true}],
            "publishedAt":"2025-10-03T17:59:34.000Z","submittedOnDailyAt":"2025-10-06T00:12:29.606Z",
            "title":"Improving GUI\n  Grounding","summary":"GUI grounding,\nthe task.","upvotes":2,
            "discussionId":"d1","githubRepo":"https://github.com/a/b","githubStars":12,
            "ai_keywords":["RULER tokens"],"submittedOnDailyBy":{"user":"taesiri","fullname":"taesiri"}},
            "publishedAt":"2025-10-03T13:59:34.000Z","title":"Improving GUI Grounding","numComments":1,
            "submittedBy":{"name":"taesiri","fullname":"Tae Siri","avatarUrl":"https://x/a.png"},
            "organization":{"name":"ByteDance-Seed","fullname":"ByteDance Seed","avatar":"https://x/o.png"}}"#,
        );
        assert_eq!(p.id.to_string(), "2510.03230");
        assert_eq!(p.title, "Improving GUI Grounding");
        assert_eq!(p.summary, "GUI grounding, the task.");
        let feed = p.feed.expect("feed");
        assert_eq!(feed.feed_date.to_string(), "2025-10-06");
        assert_eq!(feed.submitter.expect("submitter").fullname, "Tae Siri");
        assert_eq!(feed.organization.expect("org").fullname, "ByteDance Seed");
        assert_eq!(p.authors.len(), 2);
        assert!(p.authors[1].hidden);
        assert_eq!(p.authors[0].hf_user.as_deref(), Some("swang"));
        assert_eq!(
            (p.source_upvotes, p.source_comments, p.github_stars),
            (Some(2), Some(1), Some(12))
        );
        assert_eq!(p.keywords, ["RULER tokens"]);
    }

    #[test]
    fn an_old_daily_item_falls_back_to_the_outer_published_at() {
        let p = paper(
            r#"{"paper":{"id":"2405.15738","authors":[],"publishedAt":"2024-05-24T17:34:15.000Z",
            "title":"ConvLLaVA","summary":"High-resolution.","upvotes":30},
            "publishedAt":"2024-05-27T23:30:00.000Z","title":"ConvLLaVA","numComments":2}"#,
        );
        let feed = p.feed.expect("feed");
        assert_eq!(feed.feed_date.to_string(), "2024-05-27");
        assert!(feed.submitter.is_none());
    }

    #[test]
    fn a_kaggle_record_takes_its_dates_from_versions_and_authors_from_authors_parsed() {
        let p = paper(
            r#"{"id":"0704.0001","submitter":"Pavel Nadolsky","authors":"C. Bal\\'azs, E. L. Berger",
            "title":"Calculation of prompt diphoton production\n  cross sections","comments":"37 pages",
            "journal-ref":"Phys.Rev.D76:013009,2007","doi":"10.1103/PhysRevD.76.013009",
            "categories":"hep-ph","abstract":"  A fully differential calculation.\n",
            "versions":[{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"},
                        {"version":"v2","created":"Tue, 24 Jul 2007 20:10:27 GMT"}],
            "update_date":"2008-11-13","authors_parsed":[["Balázs","C.",""],["Berger","E. L.",""],["Smith","J.","Jr"]]}"#,
        );
        assert_eq!(p.id.to_string(), "0704.0001v2");
        assert_eq!(
            p.title,
            "Calculation of prompt diphoton production cross sections"
        );
        assert_eq!(p.summary, "A fully differential calculation.");
        assert_eq!(p.published_at.to_rfc3339(), "2007-04-02T19:18:42+00:00");
        assert_eq!(
            p.updated_at.expect("updated").to_rfc3339(),
            "2007-07-24T20:10:27+00:00"
        );
        let names: Vec<_> = p.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["C. Balázs", "E. L. Berger", "J. Smith Jr"]);
        assert_eq!(p.categories, ["hep-ph"]);
        assert_eq!(p.doi.as_deref(), Some("10.1103/PhysRevD.76.013009"));
        assert!(p.feed.is_none(), "the catalogue, not the daily feed");
    }

    #[test]
    fn a_kaggle_record_without_authors_parsed_splits_the_author_string() {
        let p = paper(
            r#"{"id":"2503.11731","authors":"Xianming Zeng, Sicong Du and Qifeng Chen","title":"T",
            "abstract":"A","categories":"cs.CV cs.RO","versions":[{"version":"v1","created":"2025-03-18"}]}"#,
        );
        let names: Vec<_> = p.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Xianming Zeng", "Sicong Du", "Qifeng Chen"]);
        assert_eq!(p.published_at.to_rfc3339(), "2025-03-18T00:00:00+00:00");
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        let err = |json: &str| {
            AnyRecord::from_json(json)
                .and_then(AnyRecord::into_paper)
                .expect_err(json)
        };
        assert!(matches!(err("{not json"), RecordError::Json(_)));
        assert!(matches!(
            err(r#"{"hello":"world"}"#),
            RecordError::Unrecognized
        ));
        assert!(matches!(err("[1,2]"), RecordError::Json(_)));
        let bad_id = err(r#"{"id":"../../etc","title":"T","abstract":"A","versions":[]}"#);
        assert!(bad_id.to_string().contains("not an arXiv id"), "{bad_id}");
        let bad_date =
            err(r#"{"paper":{"id":"2510.00001","title":"T","publishedAt":"yesterday"}}"#);
        assert!(bad_date.to_string().contains("not a date"), "{bad_date}");
        let no_title = err(
            r#"{"id":"2510.00001","title":"  ","abstract":"A","versions":[{"version":"v1","created":"2025-01-01"}]}"#,
        );
        assert!(no_title.to_string().contains("no title"));
    }

    #[test]
    fn control_characters_and_nul_bytes_are_removed() {
        assert_eq!(clean_text("a\u{0}b\n\n  c\u{7}"), "a b c");
    }
}
