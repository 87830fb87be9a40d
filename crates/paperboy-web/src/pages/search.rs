//! The search page, `/search?q=…`: hybrid keyword + semantic results from the search engine
//! (the store's plain word match when the server runs without one), with the matched words
//! highlighted. The query box is in the header of every page. While a transformer embedder is
//! still embedding the catalogue in the background, the page says results by meaning are
//! partial.

use crate::extract::Query;
use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::Ctx;
use super::view::Card;
use crate::{AppError, AppState};

/// Results on one page.
const LIMIT: usize = 30;
/// The last page number offered (`?p=`, from 0): ten pages of thirty, the 300 best results.
const MAX_PAGE: usize = 9;
/// Longest query accepted, like the API's.
const MAX_QUERY: usize = 250;

/// A result: the card, and the highlighted abstract snippet as HTML.
struct Result_ {
    card: Card,
    snippet_html: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    ctx: Ctx,
    q: String,
    results: Vec<Result_>,
    /// The next page's address, while more results follow.
    more: Option<String>,
    /// Papers embedded so far and in all, while some still wait for their vector.
    embedding: Option<(usize, usize)>,
}

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    /// Page number, from 0.
    p: Option<usize>,
}

/// Highlight segments as HTML: text escaped, matches in `<mark>`.
fn segments_html(segments: &[paperboy_search::Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s.kind {
            paperboy_search::SegmentKind::Highlight => {
                out.push_str("<mark>");
                crate::math::escape(&s.text, &mut out);
                out.push_str("</mark>");
            }
            paperboy_search::SegmentKind::Text => crate::math::escape(&s.text, &mut out),
        }
    }
    out
}

/// `GET /search?q=…`
pub async fn show_search(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let q = params.q.unwrap_or_default().trim().to_owned();
    if q.chars().count() > MAX_QUERY {
        return Err(AppError::BadRequest(format!(
            "A search has at most {MAX_QUERY} characters."
        )));
    }
    let page_no = params.p.unwrap_or(0);
    if page_no > MAX_PAGE {
        return Err(AppError::BadRequest(format!(
            "Search results go up to page {MAX_PAGE}."
        )));
    }
    // One more than the pages so far, to know whether another follows.
    let wanted = LIMIT * (page_no + 1) + 1;
    let mut results = Vec::new();
    let embedding = state.search.as_ref().and_then(|engine| {
        let e = engine.embedded();
        (e.waiting > 0).then_some((e.done, e.done + e.waiting))
    });
    if !q.is_empty() {
        match state.search.clone() {
            Some(engine) => {
                let found = crate::engine::search_papers(&state, engine, &q, wanted, true).await?;
                for (paper, hit) in found {
                    let mut card = Card::from_paper(&paper);
                    if !hit.highlighted_title.is_empty() {
                        card.title_html = segments_html(&hit.highlighted_title);
                    }
                    results.push(Result_ {
                        card,
                        snippet_html: segments_html(&hit.highlighted_summary),
                    });
                }
            }
            None => {
                for paper in state.store.search_papers_simple(&q, wanted as u32).await? {
                    let mut snippet_html = String::new();
                    crate::math::escape(
                        &paper.summary.chars().take(300).collect::<String>(),
                        &mut snippet_html,
                    );
                    results.push(Result_ {
                        card: Card::from_paper(&paper),
                        snippet_html,
                    });
                }
            }
        }
    }
    let has_more = results.len() >= wanted && page_no < MAX_PAGE;
    let results: Vec<Result_> = results
        .into_iter()
        .skip(LIMIT * page_no)
        .take(LIMIT)
        .collect();
    let more = has_more.then(|| {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .append_pair("p", &(page_no + 1).to_string())
            .finish();
        format!("/search?{query}")
    });
    Ok(Html(
        SearchPage {
            ctx,
            q,
            results,
            more,
            embedding,
        }
        .render()?,
    )
    .into_response())
}
