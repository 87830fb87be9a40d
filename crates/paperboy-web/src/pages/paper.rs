//! A paper's page: `/papers/{arxiv_id}`.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_core::{ArxivId, Author, Paper};

use crate::{AppError, AppState};

#[derive(Template)]
#[template(path = "paper.html")]
struct PaperTemplate {
    site_name: String,
    paper: Paper,
    authors: Vec<Author>,
    published: String,
    abs_url: String,
    pdf_url: String,
    feed_date: Option<String>,
    submitter: Option<String>,
    organization: Option<(String, String)>,
}

/// `GET /papers/{id}`
pub async fn show_paper(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    if let Some(markdown) = crate::api::paper_markdown(&state, &raw).await {
        return Ok(markdown);
    }
    let id = ArxivId::parse(&raw).map_err(|e| AppError::NotFound(e.to_string()))?;
    if id.version().is_some() {
        // One page per paper, whatever the version.
        return Ok(Redirect::permanent(&format!("/papers/{}", id.base())).into_response());
    }
    let paper =
        state.store.paper(&id).await?.ok_or_else(|| {
            AppError::NotFound(format!("Paperboy does not know the paper {id} yet."))
        })?;
    let feed = paper.feed.as_ref();
    Ok(Html(
        PaperTemplate {
            site_name: state.site_name.to_string(),
            authors: paper.visible_authors().cloned().collect(),
            published: paper.published_at.format("%B %-d, %Y").to_string(),
            abs_url: paper.id.abs_url(),
            pdf_url: paper.id.pdf_url(),
            feed_date: feed.map(|f| f.feed_date.format("%Y-%m-%d").to_string()),
            submitter: feed
                .and_then(|f| f.submitter.as_ref())
                .map(|s| s.fullname.clone()),
            organization: feed
                .and_then(|f| f.organization.as_ref())
                .map(|o| (o.name.clone(), o.fullname.clone())),
            paper,
        }
        .render()?,
    )
    .into_response())
}
