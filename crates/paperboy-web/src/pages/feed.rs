//! The daily list and its other views: `/` (the latest day with papers), `/papers/date/{day}`,
//! `/papers/week/{2025-W44}`, `/papers/month/{2025-10}` and `/papers/trending` (the last seven
//! days by trending score). Papers are ordered like huggingface.co's: most upvoted first,
//! then in the order they were submitted.

use crate::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Days, NaiveDate};
use paperboy_core::dates::parse_day;
use paperboy_core::{DateWindow, IsoWeek, YearMonth};
use paperboy_store::{FeedQuery, FeedSort};
use serde::Deserialize;

use super::Ctx;
use super::view::Card;
use crate::{AppError, AppState};

/// Papers on one page of a view.
const PAGE_SIZE: u32 = 100;
/// Papers on one page of a day (a day is read whole, as on huggingface.co).
const DAY_PAGE_SIZE: u32 = 500;
/// The last page number a list offers (`?p=`): beyond it a window holds more papers than
/// anyone pages through, and every number would be another cache entry.
const MAX_PAGE: u32 = 100;

/// Which view a page shows (for the tabs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Day,
    Week,
    Month,
    Trending,
}

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedTemplate {
    ctx: Ctx,
    view: View,
    heading: String,
    /// The day the tabs and the date picker point at.
    anchor: String,
    /// The week and month tabs (absent where the anchor's week or month has no valid page).
    week: Option<String>,
    month: Option<String>,
    prev: Option<(String, &'static str)>,
    next: Option<(String, &'static str)>,
    here: String,
    more: Option<String>,
    cards: Vec<Card>,
}

/// Query parameters of the list pages.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    /// The date picker's day.
    date: Option<String>,
    /// Page number, from 0.
    p: Option<u32>,
}

impl ListParams {
    /// The page asked for; past [`MAX_PAGE`] is a 400.
    fn page(&self) -> Result<u32, AppError> {
        match self.p.unwrap_or(0) {
            p if p <= MAX_PAGE => Ok(p),
            _ => Err(AppError::BadRequest(format!(
                "Page numbers go up to {MAX_PAGE}."
            ))),
        }
    }
}

fn fmt(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `GET /` and `GET /papers[?date=YYYY-MM-DD]`: the latest day with papers, or the picked day.
pub async fn show_latest_day(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    if let Some(date) = params.date.as_deref().filter(|d| !d.is_empty()) {
        let date = parse_day(date).map_err(|e| AppError::BadRequest(e.to_string()))?;
        return Ok(Redirect::to(&format!("/papers/date/{}", fmt(date))).into_response());
    }
    // The whole answer is cached, the lookup of the latest day included: the home page
    // is the most visited and reads nothing from the store while its copy is fresh.
    let page_no = params.page()?;
    let key = if page_no == 0 {
        "/".to_owned()
    } else {
        format!("/?p={page_no}")
    };
    cached(&state, ctx, key, move |state, ctx| {
        Box::pin(render_latest_day(state, ctx, page_no))
    })
    .await
}

async fn render_latest_day(state: &AppState, ctx: Ctx, page_no: u32) -> Result<Response, AppError> {
    match state.store.latest_feed_date().await? {
        Some(date) => render_day(state, ctx, date, page_no).await,
        None => {
            let today = chrono::Utc::now().date_naive();
            render(
                ctx,
                View::Day,
                today,
                "No papers yet".into(),
                None,
                None,
                String::new(),
                None,
                Vec::new(),
            )
        }
    }
}

/// `GET /papers/date/{date}`
pub async fn show_day(
    State(state): State<AppState>,
    Path(date): Path<String>,
    Query(params): Query<ListParams>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let date = parse_day(&date).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let page_no = params.page()?;
    let key = format!("/papers/date/{}?p={page_no}", fmt(date));
    cached(&state, ctx, key, move |state, ctx| {
        Box::pin(render_day(state, ctx, date, page_no))
    })
    .await
}

type Rendering<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, AppError>> + Send + 'a>>;

/// Serves anonymous visitors from the page cache, rendering (and keeping) the page on a miss.
async fn cached<F>(
    state: &AppState,
    mut ctx: Ctx,
    key: String,
    render: F,
) -> Result<Response, AppError>
where
    F: for<'a> FnOnce(&'a AppState, Ctx) -> Rendering<'a>,
{
    if ctx.username.is_some() {
        return render(state, ctx).await;
    }
    // The plain-http warning is part of the page: such pages are kept apart.
    let key = if ctx.cookies_refused {
        key + "\u{1}plain-http"
    } else {
        key
    };
    // The token goes into markup no template escapes: escaped here (it is well-formed unless
    // something upstream changes, see `CsrfToken::parse`).
    let csrf = crate::csrf::escape_html(&ctx.csrf);
    if let Some(html) = state.pages.get(&key, &csrf) {
        return Ok(Html(html).into_response());
    }
    ctx.csrf = crate::cache::CSRF_MARK.to_owned();
    let response = render(state, ctx).await?;
    if response.status() != axum::http::StatusCode::OK {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let html = String::from_utf8_lossy(&bytes);
    state.pages.put(key, &html);
    Ok(Response::from_parts(
        parts,
        axum::body::Body::from(html.replace(crate::cache::CSRF_MARK, &csrf)),
    ))
}

async fn render_day(
    state: &AppState,
    ctx: Ctx,
    date: NaiveDate,
    page_no: u32,
) -> Result<Response, AppError> {
    let page = state
        .store
        .feed(&FeedQuery {
            window: DateWindow::Day(date),
            submitter: None,
            sort: FeedSort::Upvotes,
            offset: page_no.saturating_mul(DAY_PAGE_SIZE),
            limit: DAY_PAGE_SIZE,
        })
        .await?;
    let (prev, next) = state.store.neighbour_feed_dates(date).await?;
    let here = format!("/papers/date/{}", fmt(date));
    let more = page.has_more.then(|| format!("{here}?p={}", page_no + 1));
    if page.papers.is_empty()
        && page_no == 0
        && let Some(nearest) = prev.or(next)
    {
        // An empty day (a weekend, say) shows the nearest day that has papers.
        return Ok(Redirect::to(&format!("/papers/date/{}", fmt(nearest))).into_response());
    }
    render(
        ctx,
        View::Day,
        date,
        date.format("%A, %B %-d, %Y").to_string(),
        prev.map(|d| (format!("/papers/date/{}", fmt(d)), "Previous day")),
        next.map(|d| (format!("/papers/date/{}", fmt(d)), "Next day")),
        here,
        more.filter(|_| page_no < MAX_PAGE),
        page.papers.iter().map(Card::from_paper).collect(),
    )
}

/// `GET /papers/week/{week}`
pub async fn show_week(
    State(state): State<AppState>,
    Path(week): Path<String>,
    Query(params): Query<ListParams>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let week = IsoWeek::parse(&week).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let window = DateWindow::Week(week);
    let heading = format!(
        "Week {week}: {} – {}",
        window.start().format("%B %-d"),
        (window.end_exclusive() - Days::new(1)).format("%B %-d, %Y")
    );
    let page_no = params.page()?;
    let key = format!("/papers/week/{window}?p={page_no}");
    cached(&state, ctx, key, move |state, ctx| {
        Box::pin(render_window(
            state,
            ctx,
            View::Week,
            window,
            heading,
            "week",
            page_no,
        ))
    })
    .await
}

/// `GET /papers/month/{month}`
pub async fn show_month(
    State(state): State<AppState>,
    Path(month): Path<String>,
    Query(params): Query<ListParams>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let month = YearMonth::parse(&month).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let window = DateWindow::Month(month);
    let heading = window.start().format("%B %Y").to_string();
    let page_no = params.page()?;
    let key = format!("/papers/month/{window}?p={page_no}");
    cached(&state, ctx, key, move |state, ctx| {
        Box::pin(render_window(
            state,
            ctx,
            View::Month,
            window,
            heading,
            "month",
            page_no,
        ))
    })
    .await
}

/// `GET /papers/trending`: the last seven days of the list, by trending score.
pub async fn show_trending(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let page_no = params.page()?;
    let key = format!("/papers/trending?p={page_no}");
    cached(&state, ctx, key, move |state, ctx| {
        Box::pin(trending(state, ctx, page_no))
    })
    .await
}

async fn trending(state: &AppState, ctx: Ctx, page_no: u32) -> Result<Response, AppError> {
    let latest = state
        .store
        .latest_feed_date()
        .await?
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let window = paperboy_core::trending::trending_window(latest);
    render_window(
        state,
        ctx,
        View::Trending,
        window,
        "Trending".into(),
        "trending",
        page_no,
    )
    .await
}

async fn render_window(
    state: &AppState,
    ctx: Ctx,
    view: View,
    window: DateWindow,
    heading: String,
    kind: &'static str,
    page_no: u32,
) -> Result<Response, AppError> {
    let page = state
        .store
        .feed(&FeedQuery {
            window,
            submitter: None,
            sort: if view == View::Trending {
                FeedSort::Trending
            } else {
                FeedSort::Upvotes
            },
            offset: page_no.saturating_mul(PAGE_SIZE),
            limit: PAGE_SIZE,
        })
        .await?;
    let path = |w: DateWindow| match kind {
        "trending" => "/papers/trending".to_owned(),
        _ => format!("/papers/{kind}/{w}"),
    };
    // A neighbour is linked only if its page exists: no link past 9999-W52 or before year 0.
    let link = |w: DateWindow, label: &'static str| has_page(w).then(|| (path(w), label));
    let (prev, next) = match view {
        View::Week => (
            link(window.previous(), "Previous week"),
            link(window.next(), "Next week"),
        ),
        View::Month => (
            link(window.previous(), "Previous month"),
            link(window.next(), "Next month"),
        ),
        _ => (None, None),
    };
    let here = path(window);
    let more = (page.has_more && page_no < MAX_PAGE).then(|| format!("{here}?p={}", page_no + 1));
    // The window's last day that is a valid day page (the week 9999-W52 ends in year 10000).
    let anchor = (window.end_exclusive() - Days::new(1)).min(last_day());
    render(
        ctx,
        view,
        anchor,
        heading,
        prev,
        next,
        here,
        more,
        page.papers.iter().map(Card::from_paper).collect(),
    )
}

/// The last day a day page can show (`YYYY-MM-DD` has four digits of year).
fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// Whether a week or month window has a page: its name parses back to it.
fn has_page(window: DateWindow) -> bool {
    match window {
        DateWindow::Week(w) => IsoWeek::parse(&w.to_string()).is_ok_and(|p| p == w),
        DateWindow::Month(m) => YearMonth::parse(&m.to_string()).is_ok_and(|p| p == m),
        DateWindow::Day(d) => parse_day(&fmt(d)).is_ok(),
        DateWindow::Range { .. } => false,
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one template's fields, named at the call sites"
)]
fn render(
    ctx: Ctx,
    view: View,
    anchor: NaiveDate,
    heading: String,
    prev: Option<(String, &'static str)>,
    next: Option<(String, &'static str)>,
    here: String,
    more: Option<String>,
    cards: Vec<Card>,
) -> Result<Response, AppError> {
    Ok(Html(
        FeedTemplate {
            ctx,
            view,
            heading,
            anchor: fmt(anchor),
            week: Some(DateWindow::Week(IsoWeek::of(anchor)))
                .filter(|w| has_page(*w))
                .map(|w| w.to_string()),
            month: Some(DateWindow::Month(YearMonth::of(anchor)))
                .filter(|m| has_page(*m))
                .map(|m| m.to_string()),
            prev,
            next,
            here,
            more,
            cards,
        }
        .render()?,
    )
    .into_response())
}
