//! What signed-in users do: upvote (a second click removes it), comment (Markdown, one level
//! of replies, delete their own), submit a paper by its arXiv id.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use paperboy_core::ArxivId;
use paperboy_store::{FeedSubmission, NewComment};
use serde::Deserialize;

use super::Ctx;
use crate::auth::SignedIn;
use crate::ratelimit::{Action, Client};
use crate::{AppError, AppState};

/// Longest comment accepted, in characters.
pub const MAX_COMMENT: usize = 10_000;

fn paper_id(raw: &str) -> Result<ArxivId, AppError> {
    ArxivId::parse(raw)
        .map(|id| id.without_version())
        .map_err(|e| AppError::NotFound(e.to_string()))
}

/// Where to go back to after a form: a local path only.
fn back_to(next: Option<&str>, fallback: String) -> Redirect {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => {
            Redirect::to(n)
        }
        _ => Redirect::to(&fallback),
    }
}

/// The upvote form.
#[derive(Debug, Deserialize)]
pub struct VoteForm {
    /// Where to return.
    next: Option<String>,
}

/// `POST /papers/{id}/upvote`: toggles the user's upvote.
pub async fn toggle_upvote(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(raw): Path<String>,
    Form(form): Form<VoteForm>,
) -> Result<Response, AppError> {
    let id = paper_id(&raw)?;
    state.limiter.check(Action::Vote, Client::User(user.id))?;
    let voted = state.store.has_voted(user.id, &id).await?;
    state.store.set_vote(user.id, &id, !voted).await?;
    state.pages.invalidate();
    Ok(back_to(form.next.as_deref(), format!("/papers/{}", id.base())).into_response())
}

/// The comment form.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    body: String,
    parent_id: Option<String>,
}

/// `POST /papers/{id}/comments`
pub async fn add_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(raw): Path<String>,
    Form(form): Form<CommentForm>,
) -> Result<Response, AppError> {
    let id = paper_id(&raw)?;
    let body = form.body.trim();
    if body.is_empty() {
        return Err(AppError::BadRequest("A comment cannot be empty.".into()));
    }
    if body.chars().count() > MAX_COMMENT {
        return Err(AppError::BadRequest(format!(
            "A comment has at most {MAX_COMMENT} characters."
        )));
    }
    let parent_id = match form
        .parent_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => Some(
            p.parse::<i64>()
                .map_err(|_| AppError::BadRequest("That is not a comment to reply to.".into()))?,
        ),
        None => None,
    };
    state
        .limiter
        .check(Action::Comment, Client::User(user.id))?;
    let comment = state
        .store
        .add_comment(&NewComment {
            paper: id.clone(),
            user_id: user.id,
            parent_id,
            body: body.to_owned(),
        })
        .await?;
    state.pages.invalidate();
    Ok(Redirect::to(&format!("/papers/{}#comment-{}", id.base(), comment.id)).into_response())
}

/// `POST /comments/{id}/delete`
pub async fn delete_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(comment_id): Path<i64>,
    Form(form): Form<VoteForm>,
) -> Result<Response, AppError> {
    state.store.delete_comment(comment_id, user.id).await?;
    state.pages.invalidate();
    Ok(back_to(form.next.as_deref(), "/".into()).into_response())
}

#[derive(Template)]
#[template(path = "submit.html")]
struct SubmitPage {
    ctx: Ctx,
    error: Option<String>,
    arxiv_id: String,
}

/// `GET /submit`
pub async fn show_submit(_user: SignedIn, ctx: Ctx) -> Result<Html<String>, AppError> {
    Ok(Html(
        SubmitPage {
            ctx,
            error: None,
            arxiv_id: String::new(),
        }
        .render()?,
    ))
}

/// The submit form.
#[derive(Debug, Deserialize)]
pub struct SubmitForm {
    arxiv_id: String,
}

/// `POST /submit`: puts a paper on today's list. Its metadata come from arXiv's own host
/// (never a URL the user gives); a paper already on the list stays where it is.
pub async fn submit_paper(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
    Form(form): Form<SubmitForm>,
) -> Result<Response, AppError> {
    let id = match ArxivId::from_id_or_url(&form.arxiv_id) {
        Some(id) => id.without_version(),
        None => {
            let message = ArxivId::parse(form.arxiv_id.trim())
                .err()
                .map_or_else(|| "That is not an arXiv id.".to_owned(), |e| e.to_string());
            return Ok((
                axum::http::StatusCode::BAD_REQUEST,
                Html(
                    SubmitPage {
                        ctx,
                        error: Some(message),
                        arxiv_id: form.arxiv_id,
                    }
                    .render()?,
                ),
            )
                .into_response());
        }
    };
    state.limiter.check(Action::Submit, Client::User(user.id))?;
    if state.store.paper(&id).await?.is_none() {
        let fetched = state
            .arxiv
            .fetch_ids(std::slice::from_ref(&id))
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "fetching a submitted paper from arXiv");
                AppError::BadRequest(format!(
                    "arXiv could not be asked about {id} right now. Please try again later."
                ))
            })?;
        let Some(paper) = fetched.into_iter().find(|p| p.id.base() == id.base()) else {
            return Err(AppError::NotFound(format!("arXiv has no paper {id}.")));
        };
        state.store.upsert_papers(&[paper]).await?;
    }
    let now = Utc::now();
    state
        .store
        .submit_to_feed(
            &id,
            &FeedSubmission {
                feed_date: now.date_naive(),
                submitted_at: now,
                submitter_id: user.id,
            },
        )
        .await?;
    state.pages.invalidate();
    Ok(Redirect::to(&format!("/papers/{}", id.base())).into_response())
}
