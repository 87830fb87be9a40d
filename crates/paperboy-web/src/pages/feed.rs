//! The daily list: `/` (the latest day with papers) and `/papers/date/{date}`.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use paperboy_core::DateWindow;
use paperboy_core::dates::parse_day;
use paperboy_store::{FeedQuery, FeedSort};

use super::Ctx;
use super::view::Card;
use crate::{AppError, AppState};

/// Papers shown on one day's page.
const DAY_LIMIT: u32 = 200;

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedTemplate {
    ctx: Ctx,
    date: Option<String>,
    date_long: String,
    prev: Option<String>,
    next: Option<String>,
    cards: Vec<Card>,
}

/// `GET /`: the latest day that has papers.
pub async fn show_latest_day(
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    match state.store.latest_feed_date().await? {
        Some(date) => render_day(&state, ctx, date).await,
        None => Ok(Html(
            FeedTemplate {
                ctx,
                date: None,
                date_long: "No papers yet".into(),
                prev: None,
                next: None,
                cards: Vec::new(),
            }
            .render()?,
        )
        .into_response()),
    }
}

/// `GET /papers/date/{date}`: one day's list.
pub async fn show_day(
    State(state): State<AppState>,
    Path(date): Path<String>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let date = parse_day(&date).map_err(|e| AppError::BadRequest(e.to_string()))?;
    render_day(&state, ctx, date).await
}

async fn render_day(state: &AppState, ctx: Ctx, date: NaiveDate) -> Result<Response, AppError> {
    let page = state
        .store
        .feed(&FeedQuery {
            window: DateWindow::Day(date),
            submitter: None,
            sort: FeedSort::Upvotes,
            offset: 0,
            limit: DAY_LIMIT,
        })
        .await?;
    let (prev, next) = state.store.neighbour_feed_dates(date).await?;
    if page.papers.is_empty()
        && let Some(nearest) = prev.or(next)
    {
        // An empty day (a weekend, say) shows the nearest day that has papers.
        return Ok(
            Redirect::to(&format!("/papers/date/{}", nearest.format("%Y-%m-%d"))).into_response(),
        );
    }
    let fmt = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    Ok(Html(
        FeedTemplate {
            ctx,
            date: Some(fmt(date)),
            date_long: date.format("%A, %B %-d, %Y").to_string(),
            prev: prev.map(fmt),
            next: next.map(fmt),
            cards: page.papers.iter().map(Card::from_paper).collect(),
        }
        .render()?,
    )
    .into_response())
}
