//! Read endpoints: the daily list, one paper, search, the catalogue and linked repositories.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use paperboy_core::dates::parse_day;
use paperboy_core::{ArxivId, DateWindow, IsoWeek, Paper, YearMonth, highlight};
use paperboy_store::api::search_words;
use paperboy_store::{FeedQuery, FeedSort, PaperCursor};
use serde::Serialize;
use utoipa::IntoParams;

use super::cache::Cached;
use super::dto::{self, DailyItem, PaperInfo, Repos, SearchItem};
use super::{ApiError, json_bytes};
use crate::AppState;

/// Default and largest page of the daily list.
const DAILY_LIMIT: (u32, u32) = (50, 100);
/// Default and largest page of search results.
const SEARCH_LIMIT: (u32, u32) = (50, 120);
/// Longest search query, in characters.
const MAX_QUERY_CHARS: usize = 250;
/// Longest `submitter`, in characters.
const MAX_SUBMITTER_CHARS: usize = 100;
/// The deepest offset into the daily list the store is asked for: a page that starts past it
/// is answered `[]` at once, as a page past the end is (huggingface.co answers `[]` too), so
/// no page number costs more than a bounded scan.
pub const MAX_DAILY_OFFSET: u64 = 10_000;

/// The query string, decoded; the first of repeated keys counts.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    pub(crate) fn int(&self, key: &str, default: u32, min: u32, max: u32) -> Result<u32, ApiError> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`{key}` must be an integer from {min} to {max}, not `{}`",
                    raw.chars().take(40).collect::<String>()
                ))
            })
    }
}

/// Query parameters of `GET /api/daily_papers`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "documents the parameters; the handler parses them itself"
)]
pub struct DailyParams {
    /// A day of the daily list, `YYYY-MM-DD`. Without `date`, `week` or `month`: the latest day.
    #[param(format = Date)]
    date: Option<String>,
    /// An ISO week, like `2025-W44`.
    #[param(pattern = "^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-2])$")]
    week: Option<String>,
    /// A month, like `2025-10`.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: Option<String>,
    /// Only papers submitted by this username.
    #[param(max_length = 100)]
    submitter: Option<String>,
    /// `publishedAt` (newest submission first, the default) or `trending`.
    #[param(pattern = "^(publishedAt|trending)$")]
    sort: Option<String>,
    /// Page, from 0. A page past the end (or starting past the 10,000th item) is `[]`.
    #[param(minimum = 0)]
    p: Option<u64>,
    /// Items per page, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// Query parameters of `GET /api/papers/search`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "documents the parameters; the handler parses them itself"
)]
pub struct SearchParams {
    /// Words to find in titles, abstracts and author names (at most 250 characters). Empty:
    /// the newest papers.
    #[param(max_length = 250)]
    q: Option<String>,
    /// Results, 1–120 (default 50).
    #[param(minimum = 1, maximum = 120)]
    limit: Option<u32>,
}

/// Query parameters of `GET /api/papers`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "documents the parameters; the handler parses them itself"
)]
pub struct CatalogueParams {
    /// Where the previous page ended (from its `Link` header).
    #[param(
        pattern = "^[0-9]{1,15}_((0[7-9]|1[0-4])(0[1-9]|1[0-2])\\.[0-9]{4}|(1[5-9]|[2-9][0-9])(0[1-9]|1[0-2])\\.[0-9]{5})$"
    )]
    cursor: Option<String>,
    /// Items per page, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

fn page_response(cached: Cached) -> Response {
    let mut r = json_bytes(StatusCode::OK, cached.body);
    if let Some(link) = cached.link
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        r.headers_mut().insert(header::LINK, v);
    }
    r
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::BadGateway(format!("cannot serialize: {e}")))
}

fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `GET /api/daily_papers`: a page of the daily list.
#[utoipa::path(
    get,
    path = "/api/daily_papers",
    params(DailyParams),
    responses(
        (status = 200, description = "Items of the daily list; `Link: <…>; rel=\"next\"` while more follow", body = [DailyItem],
            headers(("Link" = String, description = "The next page"))),
        (status = 400, description = "An invalid parameter", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn list_daily_papers(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    // The same query string within the cache's lifetime gets the same page: look it up
    // before parsing or asking the store anything.
    let raw_key = format!("daily-raw|{}", raw.as_deref().unwrap_or(""));
    if let Some(hit) = state.api.cache.get(&raw_key) {
        return Ok(page_response(hit));
    }
    let params = Params::parse(raw.as_deref());
    // Every window parameter given must be valid; the narrowest one is used.
    let day = params.get("date").map(parse_day).transpose().map_err(bad)?;
    let week = params
        .get("week")
        .map(IsoWeek::parse)
        .transpose()
        .map_err(bad)?;
    let month = params
        .get("month")
        .map(YearMonth::parse)
        .transpose()
        .map_err(bad)?;
    let window = day
        .map(DateWindow::Day)
        .or(week.map(DateWindow::Week))
        .or(month.map(DateWindow::Month));
    let sort = match params.get("sort") {
        None | Some("publishedAt") => FeedSort::PublishedAt,
        Some("trending") => FeedSort::Trending,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`sort` must be `publishedAt` or `trending`, not `{}`",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let p = page_number(&params)?;
    let limit = params.int("limit", DAILY_LIMIT.0, 1, DAILY_LIMIT.1)?;
    let offset = p.saturating_mul(u64::from(limit));
    if offset > MAX_DAILY_OFFSET {
        return Ok(json_bytes(StatusCode::OK, "[]"));
    }
    let (p, offset) = (p as u32, offset as u32);
    let submitter = params.get("submitter").map(str::to_owned);
    if submitter
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBMITTER_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "`submitter` is longer than {MAX_SUBMITTER_CHARS} characters"
        )));
    }
    let window = match window {
        Some(w) => w,
        // A submitter's papers without a window: all of them, newest first by default.
        None if submitter.is_some() => all_days(),
        None => match state.store.latest_feed_date().await? {
            Some(d) => DateWindow::Day(d),
            None => return Ok(json_bytes(StatusCode::OK, "[]")),
        },
    };
    let key = format!(
        "daily|{window}|{}|{sort:?}|{p}|{limit}",
        submitter.as_deref().unwrap_or("\u{0}")
    );
    if let Some(hit) = state.api.cache.get(&key) {
        state.api.cache.put(raw_key, hit.clone());
        return Ok(page_response(hit));
    }
    let page = state
        .store
        .feed(&FeedQuery {
            window,
            submitter: submitter.clone(),
            sort,
            offset,
            limit,
        })
        .await?;
    let items: Vec<DailyItem> = page.papers.iter().map(DailyItem::from_paper).collect();
    let next_offset = u64::from(offset) + u64::from(limit);
    let link = (page.has_more && next_offset <= MAX_DAILY_OFFSET).then(|| {
        let kind = match window {
            DateWindow::Day(_) => "date",
            DateWindow::Week(_) => "week",
            DateWindow::Month(_) => "month",
            // The API's parameters never name a free range of days.
            DateWindow::Range { .. } => "range",
        };
        let mut pairs = Vec::new();
        if kind != "range" {
            pairs.push((kind, window.to_string()));
        }
        if let Some(s) = &submitter {
            pairs.push(("submitter", s.clone()));
        }
        if sort == FeedSort::Trending {
            pairs.push(("sort", "trending".to_owned()));
        }
        pairs.push(("p", (p + 1).to_string()));
        pairs.push(("limit", limit.to_string()));
        format!("</api/daily_papers?{}>; rel=\"next\"", query_string(&pairs))
    });
    let cached = Cached {
        body: to_json(&items)?.into(),
        link,
    };
    state.api.cache.put(key, cached.clone());
    state.api.cache.put(raw_key, cached.clone());
    Ok(page_response(cached))
}

/// `p`, a page number from 0 to `i64::MAX` (the document's `int64`; a page past the end is
/// empty); anything else is a 400.
fn page_number(params: &Params) -> Result<u64, ApiError> {
    let Some(raw) = params.get("p") else {
        return Ok(0);
    };
    let digits = raw.trim();
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(p) = digits.parse::<i64>()
    {
        return Ok(p.unsigned_abs());
    }
    Err(ApiError::BadRequest(format!(
        "`p` must be a page number from 0 to {}, not `{}`",
        i64::MAX,
        raw.chars().take(40).collect::<String>()
    )))
}

/// Every day of the list (bounded: both backends compare these as ISO dates).
fn all_days() -> DateWindow {
    DateWindow::Range {
        start: chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(),
        end: chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default(),
    }
}

/// `GET /api/papers`: the catalogue, newest first, by cursor.
#[utoipa::path(
    get,
    path = "/api/papers",
    params(CatalogueParams),
    responses(
        (status = 200, description = "Papers, newest first; `Link: <…>; rel=\"next\"` while more follow", body = [DailyItem],
            headers(("Link" = String, description = "The next page"))),
        (status = 400, description = "An invalid parameter", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn list_papers(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref());
    let limit = params.int("limit", DAILY_LIMIT.0, 1, DAILY_LIMIT.1)?;
    let cursor = match params.get("cursor") {
        Some(c) => Some(PaperCursor::decode(c).ok_or_else(|| {
            ApiError::BadRequest("`cursor` is not one this server handed out".into())
        })?),
        None => None,
    };
    let mut papers = state.store.list_papers(cursor.as_ref(), limit + 1).await?;
    let has_more = papers.len() > limit as usize;
    papers.truncate(limit as usize);
    let link = match papers.last() {
        Some(last) if has_more => Some(format!(
            "</api/papers?{}>; rel=\"next\"",
            query_string(&[
                ("cursor", PaperCursor::after(last).encode()),
                ("limit", limit.to_string())
            ])
        )),
        _ => None,
    };
    let items: Vec<DailyItem> = papers.iter().map(DailyItem::from_paper).collect();
    Ok(page_response(Cached {
        body: to_json(&items)?.into(),
        link,
    }))
}

/// `GET /api/papers/search`: papers matching every word of `q`, with highlights.
#[utoipa::path(
    get,
    path = "/api/papers/search",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching papers, best first", body = [SearchItem]),
        (status = 400, description = "An invalid parameter", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn search_papers(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref());
    let q = params.get("q").unwrap_or("");
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::BadRequest(format!(
            "`q` is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = params.int("limit", SEARCH_LIMIT.0, 1, SEARCH_LIMIT.1)?;
    if let Some(engine) = state.search.clone().filter(|_| !q.trim().is_empty()) {
        let items = engine_search(&state, engine, q, limit).await?;
        return Ok(json_bytes(StatusCode::OK, to_json(&items)?));
    }
    let papers = search(&state, q, limit).await?;
    let words = search_words(q);
    let items: Vec<SearchItem> = papers
        .iter()
        .map(|p| SearchItem {
            item: DailyItem::from_paper(p),
            highlighted_title: dto::segments(highlight(&p.title, &words)),
            highlighted_summary: dto::segments(highlight(&p.summary, &words)),
        })
        .collect();
    Ok(json_bytes(StatusCode::OK, to_json(&items)?))
}

/// The engine's results as API items (see [`crate::engine::search_papers`]), keeping the
/// engine's highlights.
async fn engine_search(
    state: &AppState,
    engine: std::sync::Arc<paperboy_search::SearchEngine>,
    q: &str,
    limit: u32,
) -> Result<Vec<SearchItem>, ApiError> {
    let found = crate::engine::search_papers(state, engine, q, limit as usize, true).await?;
    let convert = |segments: Vec<paperboy_search::Segment>| {
        segments
            .into_iter()
            .map(|s| dto::ApiSegment {
                kind: match s.kind {
                    paperboy_search::SegmentKind::Text => "text",
                    paperboy_search::SegmentKind::Highlight => "highlight",
                }
                .to_owned(),
                text: s.text,
            })
            .collect::<Vec<_>>()
    };
    let words = search_words(q);
    Ok(found
        .into_iter()
        .map(|(paper, hit)| SearchItem {
            highlighted_title: if hit.highlighted_title.is_empty() {
                dto::segments(highlight(&paper.title, &words))
            } else {
                convert(hit.highlighted_title)
            },
            highlighted_summary: if hit.highlighted_summary.is_empty() {
                dto::segments(highlight(&paper.summary, &words))
            } else {
                convert(hit.highlighted_summary)
            },
            item: DailyItem::from_paper(&paper),
        })
        .collect())
}

/// The papers a search finds (the search feed's too): the engine's when the server has one,
/// else the store's word match; the newest papers for an empty query.
pub(crate) async fn search(state: &AppState, q: &str, limit: u32) -> Result<Vec<Paper>, ApiError> {
    if search_words(q).is_empty() {
        return Ok(state.store.list_papers(None, limit).await?);
    }
    let Some(engine) = state.search.clone() else {
        return Ok(state.store.search_papers_simple(q, limit).await?);
    };
    let found = crate::engine::search_papers(state, engine, q, limit as usize, false).await?;
    Ok(found.into_iter().map(|(paper, _)| paper).collect())
}

fn parse_id(raw: &str) -> Result<ArxivId, ApiError> {
    ArxivId::parse(raw).map_err(|e| ApiError::NotFound(e.to_string()))
}

/// `GET /api/papers/{id}`: one paper, flat, with comments and linked repositories.
#[utoipa::path(
    get,
    path = "/api/papers/{id}",
    params(("id" = String, Path, description = "arXiv id, like 2310.06825")),
    responses(
        (status = 200, description = "The paper", body = PaperInfo),
        (status = 404, description = "Unknown or malformed id", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn get_paper(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&raw)?;
    let key = format!("paper|{}", id.base());
    if let Some(hit) = state.api.cache.get(&key) {
        return Ok(page_response(hit));
    }
    let paper = state
        .store
        .paper(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Paperboy does not know the paper {id}")))?;
    let cached = Cached {
        body: to_json(&PaperInfo::from_paper(&paper))?.into(),
        link: None,
    };
    state.api.cache.put(key, cached.clone());
    Ok(page_response(cached))
}

/// `GET /api/arxiv/{id}/repos`: models, datasets and spaces citing a paper (none yet).
#[utoipa::path(
    get,
    path = "/api/arxiv/{id}/repos",
    params(("id" = String, Path, description = "arXiv id, like 2310.06825")),
    responses(
        (status = 200, description = "Linked repositories", body = Repos),
        (status = 404, description = "Malformed id", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn get_repos(Path(raw): Path<String>) -> Result<Response, ApiError> {
    parse_id(&raw)?;
    Ok(json_bytes(
        StatusCode::OK,
        to_json(&Repos {
            models: Vec::new(),
            datasets: Vec::new(),
            spaces: Vec::new(),
        })?,
    ))
}
