//! A client for the arXiv API (`{base}/api/query`, an Atom feed): papers by id, and a
//! category's submissions of one day.
//!
//! arXiv asks API users for at most one request every three seconds; every request of an
//! [`ArxivClient`] (and of its clones) waits its turn on a shared limiter.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use paperboy_core::{ArxivId, NewAuthor, NewPaper};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::records::{clean_text, parse_timestamp};
use crate::source::{self, Answer, SourceError};

/// The arXiv API's host.
pub const DEFAULT_BASE_URL: &str = "http://export.arxiv.org";

/// arXiv's rule: one request every three seconds.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(3);

/// Ids per `id_list` request.
const IDS_PER_REQUEST: usize = 100;

/// Results per page of a search.
const PAGE_SIZE: usize = 200;

/// The most results one category-day search collects.
const MAX_RESULTS: usize = 5_000;

/// Spaces requests: each waits until `min_interval` has passed since the previous one started.
#[derive(Debug)]
struct Limiter {
    min_interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Limiter {
    async fn wait_turn(&self) {
        // The lock is held while sleeping, so waiting callers go one at a time.
        let mut last = self.last.lock().await;
        if let Some(previous) = *last {
            tokio::time::sleep_until(previous + self.min_interval).await;
        }
        *last = Some(Instant::now());
    }
}

/// A client for the arXiv API. Clones share the connection pool and the rate limiter.
#[derive(Debug, Clone)]
pub struct ArxivClient {
    http: reqwest::Client,
    query_url: String,
    limiter: Arc<Limiter>,
}

impl ArxivClient {
    /// A client for the API at `base_url` ([`DEFAULT_BASE_URL`] for the real one) that sends
    /// a request at most every `min_interval` ([`DEFAULT_MIN_INTERVAL`] for the real one).
    pub fn new(base_url: &str, min_interval: Duration) -> Self {
        Self {
            http: source::http_client(),
            query_url: format!("{}/api/query", source::trim_base(base_url)),
            limiter: Arc::new(Limiter {
                min_interval,
                last: Mutex::new(None),
            }),
        }
    }

    /// The metadata of these papers, in arXiv's order. An id with a version asks for that
    /// version; without one, for the latest. Ids arXiv does not know are left out.
    pub async fn fetch_ids(&self, ids: &[ArxivId]) -> Result<Vec<NewPaper>, SourceError> {
        let mut papers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_REQUEST) {
            let id_list = chunk
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let feed = self
                .query(&[
                    ("id_list", id_list),
                    ("start", "0".to_owned()),
                    ("max_results", chunk.len().to_string()),
                ])
                .await?;
            papers.extend(feed.papers);
        }
        Ok(papers)
    }

    /// The papers submitted to `category` (`cs.CL`, say) on `date`, oldest first: pages of
    /// 200 until a page comes back short or arXiv's total is reached, at most 5,000 papers.
    pub async fn fetch_category_day(
        &self,
        category: &str,
        date: NaiveDate,
    ) -> Result<Vec<NewPaper>, SourceError> {
        let day = date.format("%Y%m%d");
        let search = format!("cat:{category} AND submittedDate:[{day}0000 TO {day}2359]");
        let mut papers = Vec::new();
        let mut start = 0usize;
        loop {
            let feed = self
                .query(&[
                    ("search_query", search.clone()),
                    ("sortBy", "submittedDate".to_owned()),
                    ("sortOrder", "ascending".to_owned()),
                    ("start", start.to_string()),
                    ("max_results", PAGE_SIZE.to_string()),
                ])
                .await?;
            start += feed.entries;
            papers.extend(feed.papers);
            let total_reached = feed
                .total_results
                .is_some_and(|total| start as u64 >= total);
            if feed.entries < PAGE_SIZE || total_reached {
                break;
            }
            if start >= MAX_RESULTS {
                tracing::warn!(
                    category,
                    %date,
                    total = feed.total_results,
                    "arXiv lists more than {MAX_RESULTS} papers for the day; kept the first {start}"
                );
                break;
            }
        }
        Ok(papers)
    }

    /// One API request, after waiting for the limiter.
    async fn query(&self, query: &[(&str, String)]) -> Result<Feed, SourceError> {
        self.limiter.wait_turn().await;
        let answer = source::get(&self.http, &self.query_url, query).await?;
        if !answer.status.is_success() {
            // arXiv answers some bad queries with HTTP 400 and its error feed: say why.
            if let Err(api @ SourceError::Api(_)) = parse_feed(&answer) {
                return Err(api);
            }
            return Err(answer.http_error());
        }
        parse_feed(&answer)
    }
}

/// A parsed Atom page.
#[derive(Debug, Default)]
struct Feed {
    /// `opensearch:totalResults`.
    total_results: Option<u64>,
    /// Entries on the page, the unusable ones included (for paging).
    entries: usize,
    /// The usable entries.
    papers: Vec<NewPaper>,
}

/// An `<entry>` being read.
#[derive(Debug, Default)]
struct EntryFields {
    id: String,
    title: String,
    summary: String,
    published: String,
    updated: String,
    authors: Vec<String>,
    comment: Option<String>,
    journal_ref: Option<String>,
    doi: Option<String>,
    doi_link: Option<String>,
    primary_category: Option<String>,
    categories: Vec<String>,
}

/// What an entry turned out to be.
enum EntryKind {
    Paper(Box<NewPaper>),
    /// arXiv's way of reporting a bad query.
    ApiError(String),
    /// Not usable (no id, no date…): why.
    Unusable(String),
}

impl EntryFields {
    fn finish(self) -> EntryKind {
        let raw_id = clean_text(&self.id);
        if raw_id.contains("api/errors") {
            let message = Some(clean_text(&self.summary))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| raw_id.clone());
            return EntryKind::ApiError(message);
        }
        let Some(id) = raw_id
            .split_once("/abs/")
            .and_then(|(_, rest)| ArxivId::parse(rest).ok())
        else {
            return EntryKind::Unusable(format!("entry id `{raw_id}` names no arXiv paper"));
        };
        let title = clean_text(&self.title);
        if title.is_empty() {
            return EntryKind::Unusable(format!("{id} has no title"));
        }
        let Some(published_at) = parse_timestamp(&self.published) else {
            return EntryKind::Unusable(format!(
                "{id}: `published` is `{}`, not a date",
                clean_text(&self.published)
            ));
        };
        let mut paper = NewPaper::new(id, title, clean_text(&self.summary), published_at);
        paper.updated_at = parse_timestamp(&self.updated).filter(|t| *t > published_at);
        paper.authors = self
            .authors
            .iter()
            .map(|name| clean_text(name))
            .filter(|name| !name.is_empty())
            .map(NewAuthor::named)
            .collect();
        for category in self.primary_category.into_iter().chain(self.categories) {
            if !category.is_empty() && !paper.categories.contains(&category) {
                paper.categories.push(category);
            }
        }
        paper.comment = non_empty(self.comment);
        paper.journal_ref = non_empty(self.journal_ref);
        paper.doi = non_empty(self.doi).or_else(|| {
            non_empty(self.doi_link).map(|link| {
                [
                    "https://dx.doi.org/",
                    "http://dx.doi.org/",
                    "https://doi.org/",
                    "http://doi.org/",
                ]
                .iter()
                .find_map(|prefix| link.strip_prefix(prefix))
                .map_or_else(|| link.clone(), str::to_owned)
            })
        });
        EntryKind::Paper(Box::new(paper))
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| clean_text(&s)).filter(|s| !s.is_empty())
}

/// The value of the attribute with this local name, entities resolved.
fn attribute(element: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| a.unescape_value().ok())
        .map(|v| v.trim().to_owned())
}

/// Reads the attributes of an opening (or empty) element that carry data.
fn on_open(element: &BytesStart<'_>, entry: Option<&mut EntryFields>) {
    let Some(entry) = entry else { return };
    match element.local_name().as_ref() {
        b"primary_category" => {
            if let Some(term) = attribute(element, b"term") {
                entry.primary_category = Some(term);
            }
        }
        b"category" => entry.categories.extend(attribute(element, b"term")),
        b"link" if attribute(element, b"title").as_deref() == Some("doi") => {
            entry.doi_link = attribute(element, b"href");
        }
        _ => {}
    }
}

/// Parses one page of the arXiv API's Atom feed. Elements are matched by local name, so the
/// `arxiv:` and `opensearch:` prefixes may be bound however the feed likes.
fn parse_feed(answer: &Answer) -> Result<Feed, SourceError> {
    let mut reader = Reader::from_str(&answer.body);
    let mut feed = Feed::default();
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let mut entry: Option<EntryFields> = None;
    let mut saw_feed = false;
    let xml_error = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| {
        answer.parse_error(format!(
            "invalid XML at byte {}: {e}",
            reader.buffer_position()
        ))
    };
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(xml_error(&reader, &e)),
        };
        match event {
            Event::Start(element) => {
                let name = element.local_name().as_ref().to_vec();
                match name.as_slice() {
                    b"feed" => saw_feed = true,
                    b"entry" => entry = Some(EntryFields::default()),
                    _ => {}
                }
                on_open(&element, entry.as_mut());
                stack.push(name);
                text.clear();
            }
            Event::Empty(element) => on_open(&element, entry.as_mut()),
            Event::Text(t) => match t.xml10_content() {
                Ok(s) => text.push_str(&s),
                Err(e) => return Err(xml_error(&reader, &e)),
            },
            Event::CData(c) => match c.decode() {
                Ok(s) => text.push_str(&s),
                Err(e) => return Err(xml_error(&reader, &e)),
            },
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                Ok(None) => {
                    let name = r.decode().map_err(|e| xml_error(&reader, &e))?;
                    match quick_xml::escape::resolve_xml_entity(&name) {
                        Some(s) => text.push_str(s),
                        // An entity XML does not define: keep it as written.
                        None => {
                            text.push('&');
                            text.push_str(&name);
                            text.push(';');
                        }
                    }
                }
                Err(e) => return Err(xml_error(&reader, &e)),
            },
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                let parent = stack.last().map(Vec::as_slice);
                let value = std::mem::take(&mut text);
                if name == b"entry" {
                    feed.entries += 1;
                    match entry.take().map(EntryFields::finish) {
                        Some(EntryKind::Paper(paper)) => feed.papers.push(*paper),
                        Some(EntryKind::ApiError(message)) => {
                            return Err(SourceError::Api(message));
                        }
                        Some(EntryKind::Unusable(why)) => {
                            tracing::warn!(url = %answer.url, "skipping an arXiv entry: {why}");
                        }
                        None => {}
                    }
                } else if let Some(fields) = entry.as_mut() {
                    match (name.as_slice(), parent) {
                        (b"id", Some(b"entry")) => fields.id = value,
                        (b"title", Some(b"entry")) => fields.title = value,
                        (b"summary", Some(b"entry")) => fields.summary = value,
                        (b"published", Some(b"entry")) => fields.published = value,
                        (b"updated", Some(b"entry")) => fields.updated = value,
                        (b"name", Some(b"author")) => fields.authors.push(value),
                        (b"comment", Some(b"entry")) => fields.comment = Some(value),
                        (b"journal_ref", Some(b"entry")) => fields.journal_ref = Some(value),
                        (b"doi", Some(b"entry")) => fields.doi = Some(value),
                        _ => {}
                    }
                } else if name == b"totalResults" {
                    feed.total_results = value.trim().parse().ok();
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_feed {
        return Err(answer.parse_error("not an Atom feed"));
    }
    Ok(feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Feed, SourceError> {
        parse_feed(&Answer {
            url: "http://test/api/query".into(),
            status: reqwest::StatusCode::OK,
            body: body.into(),
        })
    }

    #[test]
    fn character_references_cdata_and_prefix_free_namespaces_are_read() {
        let feed = parse(
            r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"
              xmlns:a="http://arxiv.org/schemas/atom"><entry>
              <id>https://arxiv.org/abs/hep-th/9901001v3</id>
              <published>1999-01-04T10:00:00Z</published><updated>1999-01-04T10:00:00Z</updated>
              <title><![CDATA[Strings & <branes>]]></title><summary>Caf&#233; &#x2014; ok</summary>
              <author><name>A. N&#246;ther</name><a:affiliation>IAS</a:affiliation></author>
              <link title="doi" href="http://dx.doi.org/10.1000/xyz" rel="related"/>
              <category term="hep-th"/><a:primary_category term="hep-th"/>
            </entry></feed>"#,
        )
        .expect("parses");
        let p = &feed.papers[0];
        assert_eq!(p.id.to_string(), "hep-th/9901001v3");
        assert_eq!(p.title, "Strings & <branes>");
        assert_eq!(p.summary, "Café — ok");
        assert_eq!(p.authors, [NewAuthor::named("A. Nöther")]);
        assert_eq!(p.categories, ["hep-th"]);
        assert_eq!(p.doi.as_deref(), Some("10.1000/xyz"));
        assert_eq!(p.updated_at, None, "not later than published");
    }

    #[test]
    fn an_entry_without_a_usable_id_is_skipped_but_counted() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/</id>
              <title>T</title><published>2025-01-01T00:00:00Z</published></entry></feed>"#,
        )
        .expect("parses");
        assert_eq!(feed.entries, 1);
        assert!(feed.papers.is_empty());
    }

    #[test]
    fn html_and_broken_xml_are_parse_errors() {
        assert!(matches!(
            parse("<html><body>Oops</body></html>"),
            Err(SourceError::Parse { .. })
        ));
        assert!(matches!(
            parse("<feed><entry></feed>"),
            Err(SourceError::Parse { .. })
        ));
    }
}
