//! What signed-in users do: upvote (a second click removes it), comment (Markdown, one level
//! of replies, edit and delete their own), submit a paper by its arXiv id (for one of their
//! organizations, if they like).

use crate::extract::{Form, Path};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_core::ArxivId;
use paperboy_store::NewComment;
use serde::Deserialize;

use super::{Ctx, paper_id};
use crate::auth::SignedIn;
use crate::ratelimit::{Action, Client};
use crate::submit::SubmitError;
use crate::{AppError, AppState};

/// Longest comment accepted, in characters.
pub const MAX_COMMENT: usize = 10_000;

/// Where to go back to after a form: a local path only.
fn back_to(next: Option<&str>, fallback: String) -> Redirect {
    match next {
        // Browsers drop tabs and newlines from URLs, so "/\t/evil.example" would become
        // "//evil.example": refuse any control character or white space, and backslashes.
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
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

/// A comment's text, trimmed, if it is not empty nor too long.
fn check_body(body: &str) -> Result<&str, AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::BadRequest("A comment cannot be empty.".into()));
    }
    if body.chars().count() > MAX_COMMENT {
        return Err(AppError::BadRequest(format!(
            "A comment has at most {MAX_COMMENT} characters."
        )));
    }
    Ok(body)
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
    let body = check_body(&form.body)?;
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
    // Rendered once, here; pages serve the stored HTML.
    let html = crate::comments::render(body).await?;
    let comment = state
        .store
        .add_comment_with_html(
            &NewComment {
                paper: id.clone(),
                user_id: user.id,
                parent_id,
                body: body.to_owned(),
            },
            &html,
            crate::comments::RENDERER_VERSION,
        )
        .await?;
    state.pages.invalidate();
    Ok(Redirect::to(&super::paper::comment_url(id.base(), comment.id)).into_response())
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

/// An organization a user may submit for.
struct OrgChoice {
    id: i64,
    name: String,
    fullname: String,
}

/// The edit form.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    body: String,
}

/// `POST /comments/{id}/edit`: the author replaces their comment's text.
pub async fn edit_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(comment_id): Path<i64>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let body = check_body(&form.body)?;
    state
        .limiter
        .check(Action::Comment, Client::User(user.id))?;
    let html = crate::comments::render(body).await?;
    let comment = state
        .store
        .edit_comment_with_html(
            comment_id,
            user.id,
            body,
            &html,
            crate::comments::RENDERER_VERSION,
        )
        .await
        .map_err(|e| match e {
            paperboy_store::StoreError::NotFound(_) => {
                AppError::NotFound("You have no such comment to edit.".into())
            }
            e => e.into(),
        })?;
    state.pages.invalidate();
    Ok(Redirect::to(&super::paper::comment_url(&comment.paper_id, comment.id)).into_response())
}

#[derive(Template)]
#[template(path = "submit.html")]
struct SubmitPage {
    ctx: Ctx,
    error: Option<String>,
    arxiv_id: String,
    orgs: Vec<OrgChoice>,
}

async fn org_choices(state: &AppState, user_id: i64) -> Result<Vec<OrgChoice>, AppError> {
    Ok(state
        .store
        .user_organizations(user_id)
        .await?
        .into_iter()
        .map(|o| OrgChoice {
            id: o.id,
            name: o.name,
            fullname: o.fullname,
        })
        .collect())
}

/// `GET /submit`
pub async fn show_submit(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
) -> Result<Html<String>, AppError> {
    Ok(Html(
        SubmitPage {
            ctx,
            error: None,
            arxiv_id: String::new(),
            orgs: org_choices(&state, user.id).await?,
        }
        .render()?,
    ))
}

/// The submit form.
#[derive(Debug, Deserialize)]
pub struct SubmitForm {
    arxiv_id: String,
    /// An organization the submitter belongs to (its handle), or empty.
    #[serde(default)]
    organization: Option<String>,
}

/// `POST /submit`: puts a paper on today's list, for one of the submitter's organizations if
/// they choose one. Its metadata come from arXiv's own host (never a URL the user gives); a
/// paper already on the list stays where it is.
pub async fn submit_paper(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
    Form(form): Form<SubmitForm>,
) -> Result<Response, AppError> {
    let orgs = org_choices(&state, user.id).await?;
    let again = |ctx: Ctx, status: StatusCode, error: String, form: SubmitForm, orgs| {
        Ok::<_, AppError>(
            (
                status,
                Html(
                    SubmitPage {
                        ctx,
                        error: Some(error),
                        arxiv_id: form.arxiv_id,
                        orgs,
                    }
                    .render()?,
                ),
            )
                .into_response(),
        )
    };
    let Some(id) = ArxivId::from_id_or_url(&form.arxiv_id) else {
        let message = ArxivId::parse(form.arxiv_id.trim())
            .err()
            .map_or_else(|| "That is not an arXiv id.".to_owned(), |e| e.to_string());
        return again(ctx, StatusCode::BAD_REQUEST, message, form, orgs);
    };
    let organization = match form.organization.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => match orgs.iter().find(|o| o.name == name) {
            Some(org) => Some(org.id),
            None => {
                return again(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    "You can submit only for an organization you are a member of.".into(),
                    form,
                    orgs,
                );
            }
        },
    };
    state.limiter.check(Action::Submit, Client::User(user.id))?;
    match crate::submit::submit_paper(&state, &id, &user, organization).await {
        Ok(done) => Ok(Redirect::to(&format!("/papers/{}", done.paper.id.base())).into_response()),
        Err(SubmitError::Store(e)) => Err(e.into()),
        Err(e @ (SubmitError::NotOnArxiv(_) | SubmitError::Removed(_))) => {
            again(ctx, StatusCode::NOT_FOUND, e.to_string(), form, orgs)
        }
        Err(e @ SubmitError::Unreachable(_)) => {
            again(ctx, StatusCode::BAD_GATEWAY, e.to_string(), form, orgs)
        }
    }
}
