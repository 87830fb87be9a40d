//! Moderation, for administrators only (`paperboy user create --admin`): the dashboard
//! (`/admin`: authorship claims to decide, hidden papers, suspended accounts), hiding and
//! showing papers and comments, suspending accounts. Every action is a CSRF-checked POST.

use crate::extract::{Form, Path};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_store::{AuthorClaim, HiddenPaper, StoreError, User};
use serde::Deserialize;

use super::{Ctx, paper_id};
use crate::auth::Admin;
use crate::{AppError, AppState};

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    ctx: Ctx,
    claims: Vec<AuthorClaim>,
    hidden: Vec<HiddenPaper>,
    suspended: Vec<User>,
}

/// `GET /admin`
pub async fn dashboard(
    State(state): State<AppState>,
    _admin: Admin,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let page = AdminPage {
        ctx,
        claims: state.store.pending_author_claims(200).await?,
        hidden: state.store.hidden_papers(200).await?,
        suspended: state.store.suspended_users(200).await?,
    };
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Html(page.render()?),
    )
        .into_response())
}

/// The claim decision form.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    decision: String,
}

/// `POST /admin/claims/{id}`: `decision=confirm` or `decision=reject`.
pub async fn decide_claim(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let confirm = match form.decision.as_str() {
        "confirm" => true,
        "reject" => false,
        _ => {
            return Err(AppError::BadRequest("Decide `confirm` or `reject`.".into()));
        }
    };
    match state.store.decide_author_claim(id, admin.id, confirm).await {
        Ok(_) => Ok(Redirect::to("/admin").into_response()),
        Err(StoreError::Conflict(_)) => Err(AppError::BadRequest(
            "Another account already holds this author name; reject this claim or lift the other first."
                .into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/papers/{id}/hide`: the paper leaves every list, page, feed and search.
pub async fn hide_paper(
    State(state): State<AppState>,
    _admin: Admin,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = paper_id(&raw)?;
    state.store.set_paper_hidden(&id, true).await?;
    // Search results are read back from the store, which no longer returns it; the index
    // itself drops it at its next catch-up. The page and API caches forget it at once.
    state.pages.invalidate();
    state.api.cache.invalidate();
    Ok(Redirect::to("/admin").into_response())
}

/// `POST /admin/papers/{id}/show`
pub async fn show_paper(
    State(state): State<AppState>,
    _admin: Admin,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = paper_id(&raw)?;
    state.store.set_paper_hidden(&id, false).await?;
    state.pages.invalidate();
    state.api.cache.invalidate();
    Ok(Redirect::to(&format!("/papers/{}", id.base())).into_response())
}

/// `POST /admin/comments/{id}/hide` and `…/show`.
async fn set_comment(state: &AppState, id: i64, hidden: bool) -> Result<Response, AppError> {
    let paper = state.store.set_comment_hidden(id, hidden).await?;
    state.pages.invalidate();
    Ok(match paper {
        Some(p) => Redirect::to(&format!("/papers/{p}#comment-{id}")),
        None => Redirect::to("/admin"),
    }
    .into_response())
}

/// `POST /admin/comments/{id}/hide`
pub async fn hide_comment(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    set_comment(&state, id, true).await
}

/// `POST /admin/comments/{id}/show`
pub async fn show_comment(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    set_comment(&state, id, false).await
}

async fn set_suspended(
    state: &AppState,
    admin: &User,
    username: &str,
    suspended: bool,
) -> Result<Response, AppError> {
    let Some(user) = state.store.user_by_name(username).await? else {
        return Err(AppError::NotFound(format!("There is no user {username}.")));
    };
    if user.id == admin.id {
        return Err(AppError::BadRequest(
            "You cannot suspend your own account.".into(),
        ));
    }
    state.store.set_user_suspended(user.id, suspended).await?;
    Ok(Redirect::to(&format!("/users/{}", user.username)).into_response())
}

/// `POST /admin/users/{username}/suspend`: ends the account's sessions; it can no longer sign
/// in, and its API tokens stop working.
pub async fn suspend_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(username): Path<String>,
) -> Result<Response, AppError> {
    set_suspended(&state, &admin, &username, true).await
}

/// `POST /admin/users/{username}/unsuspend`
pub async fn unsuspend_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(username): Path<String>,
) -> Result<Response, AppError> {
    set_suspended(&state, &admin, &username, false).await
}
