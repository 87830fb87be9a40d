//! Organizations: the list (`/orgs`), an organization's page (`/orgs/{name}`: its members and
//! the papers submitted for it, with RSS/Atom alternates), making one, joining and leaving.

use crate::extract::{Form, Path};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_core::Username;
use paperboy_store::{OrgProfile, OrgRole, StoreError};
use serde::Deserialize;

use super::Ctx;
use super::view::Card;
use crate::auth::{CurrentUser, SignedIn};
use crate::feeds::{alternates, encode_segment};
use crate::ratelimit::{Action, Client};
use crate::{AppError, AppState};

/// Papers listed on an organization's page.
const PAPERS: u32 = 50;

/// A member as the page lists them.
struct MemberView {
    username: String,
    fullname: String,
    admin: bool,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    ctx: Ctx,
    org: OrgProfile,
    path_name: String,
    members: Vec<MemberView>,
    cards: Vec<Card>,
    member: bool,
    alternates: Vec<(String, &'static str, String)>,
    here: String,
}

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    ctx: Ctx,
    orgs: Vec<OrgProfile>,
}

#[derive(Template)]
#[template(path = "org_new.html")]
struct NewOrgPage {
    ctx: Ctx,
    error: Option<String>,
    name: String,
    fullname: String,
}

async fn find(state: &AppState, name: &str) -> Result<OrgProfile, AppError> {
    state
        .store
        .organization(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no organization named {name}.")))
}

/// `GET /orgs`
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<Html<String>, AppError> {
    let orgs = state.store.organizations(200).await?;
    Ok(Html(OrgsPage { ctx, orgs }.render()?))
}

/// `GET /orgs/{name}`
pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    user: CurrentUser,
    ctx: Ctx,
) -> Result<Html<String>, AppError> {
    let org = find(&state, &name).await?;
    let members = state.store.org_members(org.id).await?;
    let member = user
        .0
        .as_ref()
        .is_some_and(|u| members.iter().any(|m| m.user_id == u.id));
    let papers = state.store.feed_by_organization(&org.name, PAPERS).await?;
    let path_name = encode_segment(&org.name);
    Ok(Html(
        OrgPage {
            ctx,
            alternates: alternates(
                &format!("Papers from {}", org.fullname),
                &format!("orgs/{path_name}"),
            ),
            here: format!("/orgs/{path_name}"),
            path_name,
            members: members
                .into_iter()
                .map(|m| MemberView {
                    username: m.username,
                    fullname: m.fullname,
                    admin: m.role == OrgRole::Admin,
                })
                .collect(),
            cards: papers.iter().map(Card::from_paper).collect(),
            member,
            org,
        }
        .render()?,
    ))
}

/// `GET /orgs/new`
pub async fn show_new(_user: SignedIn, ctx: Ctx) -> Result<Html<String>, AppError> {
    Ok(Html(
        NewOrgPage {
            ctx,
            error: None,
            name: String::new(),
            fullname: String::new(),
        }
        .render()?,
    ))
}

/// The new-organization form.
#[derive(Debug, Deserialize)]
pub struct NewOrgForm {
    name: String,
    fullname: String,
}

/// `POST /orgs/new`: makes an organization with its maker as administrator.
pub async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
    Form(form): Form<NewOrgForm>,
) -> Result<Response, AppError> {
    let again = |ctx: Ctx, error: String, form: NewOrgForm| -> Result<Response, AppError> {
        Ok((
            StatusCode::BAD_REQUEST,
            Html(
                NewOrgPage {
                    ctx,
                    error: Some(error),
                    name: form.name,
                    fullname: form.fullname,
                }
                .render()?,
            ),
        )
            .into_response())
    };
    // Organization handles follow the rules of usernames.
    let name = match Username::parse(form.name.trim()) {
        Ok(n) => n,
        Err(e) => return again(ctx, e.to_string().replace("username", "name"), form),
    };
    let fullname: String = form.fullname.trim().chars().take(100).collect();
    let fullname = if fullname.is_empty() {
        name.as_str().to_owned()
    } else {
        fullname
    };
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    match state
        .store
        .create_organization(name.as_str(), &fullname, user.id)
        .await
    {
        Ok(org) => {
            Ok(Redirect::to(&format!("/orgs/{}", encode_segment(&org.name))).into_response())
        }
        Err(StoreError::Conflict(_)) => {
            again(ctx, "That name is taken; choose another.".into(), form)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /orgs/{name}/join`
pub async fn join(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    membership(&state, &user, &name, true).await
}

/// `POST /orgs/{name}/leave`
pub async fn leave(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    membership(&state, &user, &name, false).await
}

/// Joins or leaves an organization, then shows its page.
async fn membership(
    state: &AppState,
    user: &paperboy_store::User,
    name: &str,
    join: bool,
) -> Result<Response, AppError> {
    let org = find(state, name).await?;
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    if join {
        state.store.join_organization(org.id, user.id).await?;
    } else {
        state.store.leave_organization(org.id, user.id).await?;
    }
    Ok(Redirect::to(&format!("/orgs/{}", encode_segment(&org.name))).into_response())
}
