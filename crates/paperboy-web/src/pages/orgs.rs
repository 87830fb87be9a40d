//! Organizations: the list (`/orgs`), an organization's page (`/orgs/{name}`: its members and
//! the papers submitted for it, with RSS/Atom alternates), making one, and membership. Joining
//! takes an administrator's approval (a request) or the administrators' invitation; its
//! administrators approve or deny requests, invite by username, change roles, remove members
//! and take papers off the organization's list. The last administrator hands over before
//! leaving.

use crate::extract::{Form, Path};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_core::Username;
use paperboy_store::{MembershipStatus, OrgProfile, OrgRole, PendingMembership, StoreError};
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

/// A paper on the organization's list, as its administrators manage it.
struct PaperRow {
    id: String,
    title: String,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    ctx: Ctx,
    org: OrgProfile,
    path_name: String,
    members: Vec<MemberView>,
    cards: Vec<Card>,
    /// The visitor's membership: `none`, or where it stands ([`MembershipStatus::as_str`]).
    mine: &'static str,
    /// The visitor administers the organization.
    admin: bool,
    /// Requests and invitations waiting (shown to administrators).
    pending: Vec<PendingMembership>,
    /// Papers on the organization's list (shown to administrators, to detach).
    papers: Vec<PaperRow>,
    /// What the last administrator action did or why it failed.
    notice: Option<String>,
    alternates: Vec<(String, &'static str, String)>,
    here: String,
}

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    ctx: Ctx,
    orgs: Vec<OrgProfile>,
    /// The visitor's requests and invitations not yet answered.
    pending: Vec<PendingMembership>,
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
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: Ctx,
) -> Result<Html<String>, AppError> {
    let orgs = state.store.organizations(200).await?;
    let pending = match &user.0 {
        Some(u) => state.store.user_pending_memberships(u.id).await?,
        None => Vec::new(),
    };
    Ok(Html(OrgsPage { ctx, orgs, pending }.render()?))
}

/// `GET /orgs/{name}`
pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    user: CurrentUser,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let org = find(&state, &name).await?;
    render(&state, org, user.0.as_ref(), ctx, None, StatusCode::OK).await
}

/// The organization's page as `user` sees it.
async fn render(
    state: &AppState,
    org: OrgProfile,
    user: Option<&paperboy_store::User>,
    ctx: Ctx,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let members = state.store.org_members(org.id).await?;
    let mut mine = None;
    let mut admin = false;
    if let Some(u) = user {
        if let Some(m) = members.iter().find(|m| m.user_id == u.id) {
            mine = Some(MembershipStatus::Active);
            admin = m.role == OrgRole::Admin;
        } else {
            mine = state
                .store
                .user_pending_memberships(u.id)
                .await?
                .into_iter()
                .find(|p| p.org_id == org.id)
                .map(|p| p.status);
        }
    }
    let pending = if admin {
        state.store.pending_memberships(org.id).await?
    } else {
        Vec::new()
    };
    let listed = state.store.feed_by_organization(&org.name, PAPERS).await?;
    let papers = if admin {
        listed
            .iter()
            .map(|p| PaperRow {
                id: p.id.base().to_owned(),
                title: p.title.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let path_name = encode_segment(&org.name);
    let html = OrgPage {
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
        cards: listed.iter().map(Card::from_paper).collect(),
        mine: mine.map_or("none", MembershipStatus::as_str),
        admin,
        pending,
        papers,
        notice,
        org,
    }
    .render()?;
    // Signed-in views carry forms and who asked to join: never cache them.
    Ok((
        status,
        [(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        )],
        Html(html),
    )
        .into_response())
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

/// Back to the organization's page.
fn back(org: &OrgProfile) -> Response {
    Redirect::to(&format!("/orgs/{}", encode_segment(&org.name))).into_response()
}

/// `POST /orgs/{name}/join`: asks to join (an administrator approves), or accepts an
/// invitation.
pub async fn join(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let org = find(&state, &name).await?;
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    state.store.request_membership(org.id, user.id).await?;
    Ok(back(&org))
}

/// `POST /orgs/{name}/leave`: leaves, withdraws a request or declines an invitation. The last
/// administrator is told to hand over first.
pub async fn leave(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let org = find(&state, &name).await?;
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    state
        .store
        .remove_org_member(org.id, user.id, user.id)
        .await?;
    Ok(back(&org))
}

/// A yes-or-no answer.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    /// `approve`/`accept`, or `deny`/`decline`.
    decision: String,
}

fn accepts(decision: &str) -> Result<bool, AppError> {
    match decision {
        "approve" | "accept" => Ok(true),
        "deny" | "decline" => Ok(false),
        other => Err(AppError::BadRequest(format!(
            "`{other}` is not an answer: approve or deny."
        ))),
    }
}

/// The account of a username named in a path or form; unknown is a 404.
async fn account(state: &AppState, username: &str) -> Result<paperboy_store::User, AppError> {
    let missing = || AppError::NotFound(format!("There is no user named {username}."));
    let name = Username::parse(username.trim()).map_err(|_| missing())?;
    state
        .store
        .user_by_name(name.as_str())
        .await?
        .ok_or_else(missing)
}

/// `POST /orgs/{name}/invitation`: the invitee accepts or declines.
pub async fn answer_invitation(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let org = find(&state, &name).await?;
    let accept = accepts(&form.decision)?;
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    state
        .store
        .decide_membership(org.id, user.id, user.id, accept)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => {
                AppError::NotFound("You have no invitation from this organization.".into())
            }
            e => e.into(),
        })?;
    Ok(back(&org))
}

/// The organization named in the path, if `user` administers it.
async fn administered(
    state: &AppState,
    name: &str,
    user: &paperboy_store::User,
) -> Result<OrgProfile, AppError> {
    let org = find(state, name).await?;
    let admin = state
        .store
        .org_members(org.id)
        .await?
        .iter()
        .any(|m| m.user_id == user.id && m.role == OrgRole::Admin);
    if !admin {
        return Err(AppError::Forbidden(
            "Only an administrator of this organization can do that.".into(),
        ));
    }
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    Ok(org)
}

/// What an administrator action did: back to the page, or the page with why it failed.
async fn outcome(
    state: &AppState,
    org: OrgProfile,
    user: &paperboy_store::User,
    ctx: Ctx,
    result: Result<(), StoreError>,
) -> Result<Response, AppError> {
    match result {
        Ok(()) => Ok(back(&org)),
        Err(StoreError::Conflict(m) | StoreError::NotFound(m)) => {
            let mut chars = m.chars();
            let text = chars
                .next()
                .map(|c| format!("{}{}.", c.to_uppercase(), chars.as_str()))
                .unwrap_or_default();
            render(
                state,
                org,
                Some(user),
                ctx,
                Some(text),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /orgs/{name}/requests/{username}`: an administrator approves or denies a request.
pub async fn decide_request(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((name, username)): Path<(String, String)>,
    ctx: Ctx,
    Form(form): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let accept = accepts(&form.decision)?;
    let org = administered(&state, &name, &user).await?;
    let asker = account(&state, &username).await?;
    let result = state
        .store
        .decide_membership(org.id, asker.id, user.id, accept)
        .await;
    outcome(&state, org, &user, ctx, result).await
}

/// The invitation form.
#[derive(Debug, Deserialize)]
pub struct InviteForm {
    username: String,
}

/// `POST /orgs/{name}/invite`: an administrator invites a user by username.
pub async fn invite(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(name): Path<String>,
    ctx: Ctx,
    Form(form): Form<InviteForm>,
) -> Result<Response, AppError> {
    let org = administered(&state, &name, &user).await?;
    let invitee = match account(&state, form.username.trim_start_matches('@')).await {
        Ok(u) => u,
        Err(AppError::NotFound(m)) => {
            return render(
                &state,
                org,
                Some(&user),
                ctx,
                Some(m),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    let result = state
        .store
        .invite_to_organization(org.id, user.id, invitee.id)
        .await
        .map(|_| ());
    outcome(&state, org, &user, ctx, result).await
}

/// The role form.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    role: String,
}

/// `POST /orgs/{name}/members/{username}/role`: an administrator makes a member an
/// administrator or a plain member (the last administrator stays one).
pub async fn set_role(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((name, username)): Path<(String, String)>,
    ctx: Ctx,
    Form(form): Form<RoleForm>,
) -> Result<Response, AppError> {
    let role = OrgRole::parse(form.role.trim()).ok_or_else(|| {
        AppError::BadRequest(format!("`{}` is not a role: admin or member.", form.role))
    })?;
    let org = administered(&state, &name, &user).await?;
    let member = account(&state, &username).await?;
    let result = state
        .store
        .set_org_role(org.id, user.id, member.id, role)
        .await;
    outcome(&state, org, &user, ctx, result).await
}

/// `POST /orgs/{name}/members/{username}/remove`: an administrator removes a member (or
/// cancels an invitation). Their papers stay on the organization's list until detached.
pub async fn remove_member(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((name, username)): Path<(String, String)>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let org = administered(&state, &name, &user).await?;
    let member = account(&state, &username).await?;
    let result = state
        .store
        .remove_org_member(org.id, user.id, member.id)
        .await
        .map(|_| ());
    outcome(&state, org, &user, ctx, result).await
}

/// `POST /orgs/{name}/papers/{id}/detach`: an administrator takes a paper off the
/// organization's list (it stays on the daily list).
pub async fn detach_paper(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((name, raw)): Path<(String, String)>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let id = super::paper_id(&raw)?;
    let org = administered(&state, &name, &user).await?;
    let result = state
        .store
        .detach_org_paper(org.id, user.id, &id)
        .await
        .map(|_| ());
    state.pages.invalidate();
    outcome(&state, org, &user, ctx, result).await
}
