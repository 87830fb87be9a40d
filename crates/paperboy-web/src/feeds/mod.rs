//! RSS 2.0 and Atom feeds: the daily list (latest day or a given day), trending, a search
//! query, an organization and an author. Every feed lives under `/feeds/{rss|atom}/…`; pages
//! point at theirs with `<link rel="alternate">` (see [`alternates`]).

use atom_syndication as atom;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset, Utc};
use paperboy_core::dates::parse_day;
use paperboy_core::{DateWindow, Paper};
use paperboy_store::{FeedQuery, FeedSort};

use crate::api::Params;
use crate::origin::RequestOrigin;
use crate::{AppError, AppState};

/// Most entries in a feed.
const FEED_LIMIT: u32 = 50;
/// Longest search query of a search feed, in characters.
const MAX_QUERY_CHARS: usize = 250;

/// The feeds' routes, merged into the application router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feeds/{format}/daily", get(daily_latest))
        .route("/feeds/{format}/daily/{date}", get(daily_on))
        .route("/feeds/{format}/trending", get(trending))
        .route("/feeds/{format}/search", get(search))
        .route("/feeds/{format}/orgs/{name}", get(organization))
        .route("/feeds/{format}/authors/{name}", get(author))
}

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RSS 2.0.
    Rss,
    /// Atom 1.0.
    Atom,
}

impl Format {
    fn parse(s: &str) -> Result<Self, AppError> {
        match s {
            "rss" => Ok(Self::Rss),
            "atom" => Ok(Self::Atom),
            _ => Err(AppError::NotFound(
                "Feeds come as `rss` or `atom`: /feeds/rss/… or /feeds/atom/…".into(),
            )),
        }
    }
}

/// The `<link rel="alternate">` targets of a page: (title, MIME type, path) for RSS and Atom.
pub fn alternates(title: &str, path: &str) -> Vec<(String, &'static str, String)> {
    vec![
        (
            format!("{title} (RSS)"),
            "application/rss+xml",
            format!("/feeds/rss/{path}"),
        ),
        (
            format!("{title} (Atom)"),
            "application/atom+xml",
            format!("/feeds/atom/{path}"),
        ),
    ]
}

/// What a feed is about.
struct FeedInfo {
    title: String,
    /// The HTML page the feed mirrors (a path).
    page: String,
}

fn when(p: &Paper) -> DateTime<Utc> {
    p.feed.as_ref().map_or(p.published_at, |f| f.submitted_at)
}

fn authors_line(p: &Paper) -> String {
    p.visible_authors()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `s` without the characters XML 1.0 forbids (control characters other than tab, newline
/// and carriage return; U+FFFE and U+FFFF): a feed with one of them is not XML at all, and
/// readers drop the whole feed. Every text a feed carries goes through here.
pub fn xml_text(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

/// Plain text as HTML text: what RSS's `<description>` (HTML by convention, which readers
/// render) gets, so that a title or an abstract reading `<img onerror=…>` shows as those
/// characters, the way Atom's `type="text"` summary does.
pub fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    crate::math::escape(&xml_text(s), &mut out);
    out
}

fn render(
    format: Format,
    origin: &str,
    self_path: &str,
    info: &FeedInfo,
    papers: &[Paper],
) -> Response {
    let page = format!("{origin}{}", info.page);
    let self_url = format!("{origin}{self_path}");
    let updated = papers
        .iter()
        .map(when)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let (body, content_type) = match format {
        Format::Rss => {
            let items: Vec<rss::Item> = papers
                .iter()
                .map(|p| {
                    let url = format!("{origin}/papers/{}", p.id.base());
                    let mut item = rss::Item::default();
                    item.set_title(xml_text(&p.title));
                    item.set_link(url.clone());
                    item.set_description(html_text(&format!(
                        "{} — {}",
                        authors_line(p),
                        p.summary
                    )));
                    item.set_pub_date(when(p).to_rfc2822());
                    item.set_guid(rss::Guid {
                        value: url,
                        permalink: true,
                    });
                    item
                })
                .collect();
            let mut channel = rss::Channel::default();
            channel.set_title(xml_text(&info.title));
            channel.set_link(page);
            channel.set_description(html_text(&format!("{} — Paperboy", info.title)));
            channel.set_last_build_date(updated.to_rfc2822());
            channel.set_generator("Paperboy".to_owned());
            channel.set_items(items);
            (channel.to_string(), "application/rss+xml; charset=utf-8")
        }
        Format::Atom => {
            let fixed = |t: DateTime<Utc>| -> DateTime<FixedOffset> { t.fixed_offset() };
            let link = |href: String, rel: &str| {
                let mut l = atom::Link::default();
                l.set_href(href);
                l.set_rel(rel.to_owned());
                l
            };
            let entries: Vec<atom::Entry> = papers
                .iter()
                .map(|p| {
                    let url = format!("{origin}/papers/{}", p.id.base());
                    let mut e = atom::Entry::default();
                    e.set_title(atom::Text::plain(xml_text(&p.title)));
                    e.set_id(url.clone());
                    e.set_links(vec![link(url, "alternate")]);
                    e.set_updated(fixed(when(p)));
                    e.set_published(Some(fixed(p.published_at)));
                    e.set_summary(Some(atom::Text::plain(xml_text(&p.summary))));
                    e.set_authors(
                        p.visible_authors()
                            .map(|a| {
                                let mut person = atom::Person::default();
                                person.set_name(xml_text(&a.name));
                                person
                            })
                            .collect::<Vec<_>>(),
                    );
                    e
                })
                .collect();
            let mut feed = atom::Feed::default();
            feed.set_title(atom::Text::plain(xml_text(&info.title)));
            feed.set_id(self_url.clone());
            feed.set_updated(fixed(updated));
            feed.set_links(vec![link(page, "alternate"), link(self_url, "self")]);
            let mut author = atom::Person::default();
            author.set_name("Paperboy".to_owned());
            feed.set_authors(vec![author]);
            feed.set_entries(entries);
            (feed.to_string(), "application/atom+xml; charset=utf-8")
        }
    };
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

async fn day_feed(
    state: &AppState,
    format: Format,
    origin: &str,
    self_path: &str,
    window: DateWindow,
    sort: FeedSort,
    info: FeedInfo,
) -> Result<Response, AppError> {
    let page = state
        .store
        .feed(&FeedQuery {
            window,
            submitter: None,
            sort,
            offset: 0,
            limit: FEED_LIMIT,
        })
        .await?;
    Ok(render(format, origin, self_path, &info, &page.papers))
}

/// `GET /feeds/{format}/daily`: the latest day of the daily list.
async fn daily_latest(
    State(state): State<AppState>,
    Path(format): Path<String>,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Response, AppError> {
    let format = Format::parse(&format)?;
    let self_path = format!("/feeds/{}/daily", format_name(format));
    let Some(date) = state.store.latest_feed_date().await? else {
        let info = FeedInfo {
            title: "Daily Papers".into(),
            page: "/".into(),
        };
        return Ok(render(format, &origin, &self_path, &info, &[]));
    };
    let info = FeedInfo {
        title: "Daily Papers".into(),
        page: "/".into(),
    };
    day_feed(
        &state,
        format,
        &origin,
        &self_path,
        DateWindow::Day(date),
        FeedSort::Upvotes,
        info,
    )
    .await
}

/// `GET /feeds/{format}/daily/{date}`: one day of the daily list.
async fn daily_on(
    State(state): State<AppState>,
    Path((format, date)): Path<(String, String)>,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Response, AppError> {
    let format = Format::parse(&format)?;
    let date = parse_day(&date).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let d = date.format("%Y-%m-%d");
    let info = FeedInfo {
        title: format!("Daily Papers — {d}"),
        page: format!("/papers/date/{d}"),
    };
    let self_path = format!("/feeds/{}/daily/{d}", format_name(format));
    day_feed(
        &state,
        format,
        &origin,
        &self_path,
        DateWindow::Day(date),
        FeedSort::Upvotes,
        info,
    )
    .await
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Rss => "rss",
        Format::Atom => "atom",
    }
}

/// `GET /feeds/{format}/trending`: the trending page's list (the week ending with the latest
/// day), by trending score.
async fn trending(
    State(state): State<AppState>,
    Path(format): Path<String>,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Response, AppError> {
    let format = Format::parse(&format)?;
    let self_path = format!("/feeds/{}/trending", format_name(format));
    let info = FeedInfo {
        title: "Trending papers".into(),
        page: "/papers/trending".into(),
    };
    let Some(date) = state.store.latest_feed_date().await? else {
        return Ok(render(format, &origin, &self_path, &info, &[]));
    };
    day_feed(
        &state,
        format,
        &origin,
        &self_path,
        paperboy_core::trending::trending_window(date),
        FeedSort::Trending,
        info,
    )
    .await
}

/// `GET /feeds/{format}/search?q=…`: papers matching a query.
async fn search(
    State(state): State<AppState>,
    Path(format): Path<String>,
    RawQuery(raw): RawQuery,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Response, AppError> {
    let format = Format::parse(&format)?;
    let params = Params::parse(raw.as_deref());
    let q = params.get("q").unwrap_or("").trim().to_owned();
    if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "A search feed needs `q`: 1 to {MAX_QUERY_CHARS} characters."
        )));
    }
    let papers = crate::api::search(&state, &q, FEED_LIMIT)
        .await
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &q)
        .finish();
    let info = FeedInfo {
        title: format!("Papers matching “{q}”"),
        page: format!("/search?{query}"),
    };
    let self_path = format!("/feeds/{}/search?{query}", format_name(format));
    Ok(render(format, &origin, &self_path, &info, &papers))
}

/// `GET /feeds/{format}/orgs/{name}`: an organization's submissions, newest first.
async fn organization(
    State(state): State<AppState>,
    Path((format, name)): Path<(String, String)>,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Response, AppError> {
    let format = Format::parse(&format)?;
    let Some(org) = state.store.organization(&name).await? else {
        return Err(AppError::NotFound(format!(
            "There is no organization named {name}."
        )));
    };
    let papers = state
        .store
        .feed_by_organization(&org.name, FEED_LIMIT)
        .await?;
    let path_name = encode_segment(&org.name);
    let info = FeedInfo {
        title: format!("Papers from {}", org.fullname),
        page: format!("/orgs/{path_name}"),
    };
    let self_path = format!("/feeds/{}/orgs/{path_name}", format_name(format));
    Ok(render(format, &origin, &self_path, &info, &papers))
}

/// `GET /feeds/{format}/authors/{name}`: an author's papers, newest first.
async fn author(
    State(state): State<AppState>,
    Path((format, name)): Path<(String, String)>,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Response, AppError> {
    let format = Format::parse(&format)?;
    if name.chars().count() > 200 {
        return Err(AppError::BadRequest("That author name is too long.".into()));
    }
    let papers = state.store.papers_by_author(&name, FEED_LIMIT).await?;
    if papers.is_empty() {
        return Err(AppError::NotFound(format!(
            "Paperboy knows no papers by {name}."
        )));
    }
    let path_name = encode_segment(&name);
    let info = FeedInfo {
        title: format!("Papers by {name}"),
        page: format!("/authors/{path_name}"),
    };
    let self_path = format!("/feeds/{}/authors/{path_name}", format_name(format));
    Ok(render(format, &origin, &self_path, &info, &papers))
}

/// Percent-encodes a path segment.
pub fn encode_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
