//! People: an author's page (`/authors/{name}`: the papers with an author of that name, who
//! claimed it, RSS/Atom alternates), claiming authorship (an administrator confirms), and a
//! user's page (`/users/{username}`: organizations, confirmed authorships, submissions; an
//! administrator can suspend the account from it).

use crate::extract::Path;
use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use paperboy_core::DateWindow;
use paperboy_store::{ClaimStatus, FeedQuery, FeedSort, OrgProfile};

use super::Ctx;
use super::view::Card;
use crate::auth::{CurrentUser, SignedIn};
use crate::feeds::{alternates, encode_segment};
use crate::ratelimit::{Action, Client};
use crate::{AppError, AppState};

/// Papers listed on an author's or user's page.
const PAPERS: u32 = 50;
/// Longest author name accepted.
const MAX_AUTHOR: usize = 200;

#[derive(Template)]
#[template(path = "author.html")]
struct AuthorPage {
    ctx: Ctx,
    name: String,
    path_name: String,
    cards: Vec<Card>,
    /// The confirmed claimant: (username, fullname).
    holder: Option<(String, String)>,
    /// The visitor's own claim on this name.
    my_claim: Option<&'static str>,
    alternates: Vec<(String, &'static str, String)>,
    here: String,
}

fn author_name(raw: &str) -> Result<String, AppError> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(AppError::NotFound("No author has an empty name.".into()));
    }
    if name.chars().count() > MAX_AUTHOR {
        return Err(AppError::BadRequest("That author name is too long.".into()));
    }
    Ok(name)
}

/// `GET /authors/{name}`
pub async fn show_author(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    user: CurrentUser,
    ctx: Ctx,
) -> Result<Html<String>, AppError> {
    let name = author_name(&raw)?;
    let papers = state.store.papers_by_author(&name, PAPERS).await?;
    if papers.is_empty() {
        return Err(AppError::NotFound(format!(
            "Paperboy knows no papers by {name}."
        )));
    }
    // Show the name as the papers spell it: the visitor's spelling if a paper has it, else
    // the most recent paper's.
    let key = paperboy_store::author_key(&name);
    let spellings: Vec<String> = papers
        .iter()
        .flat_map(|p| p.authors.iter())
        .filter(|a| paperboy_store::author_key(&a.name) == key)
        .map(|a| a.name.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let shown = if spellings.contains(&name) {
        name.clone()
    } else {
        spellings.into_iter().next().unwrap_or_else(|| name.clone())
    };
    let claims = state.store.author_claims(&name).await?;
    let holder = claims
        .iter()
        .find(|c| c.status == ClaimStatus::Confirmed)
        .map(|c| (c.username.clone(), c.fullname.clone()));
    let my_claim = user.0.as_ref().and_then(|u| {
        claims
            .iter()
            .find(|c| c.user_id == u.id)
            .map(|c| c.status.as_str())
    });
    let path_name = encode_segment(&shown);
    Ok(Html(
        AuthorPage {
            ctx,
            alternates: alternates(
                &format!("Papers by {shown}"),
                &format!("authors/{path_name}"),
            ),
            here: format!("/authors/{path_name}"),
            name: shown,
            path_name,
            cards: papers.iter().map(Card::from_paper).collect(),
            holder,
            my_claim,
        }
        .render()?,
    ))
}

/// `POST /authors/{name}/claim`: the signed-in user says they are this author; an
/// administrator confirms or rejects on `/admin`.
pub async fn claim_author(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let name = author_name(&raw)?;
    if state.store.papers_by_author(&name, 1).await?.is_empty() {
        return Err(AppError::NotFound(format!(
            "Paperboy knows no papers by {name}."
        )));
    }
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    state.store.claim_author(user.id, &name).await?;
    Ok(Redirect::to(&format!("/authors/{}", encode_segment(&name))).into_response())
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    ctx: Ctx,
    username: String,
    fullname: String,
    suspended: bool,
    orgs: Vec<OrgProfile>,
    /// Author names the user holds (confirmed claims).
    authorships: Vec<String>,
    cards: Vec<Card>,
    viewer_is_admin: bool,
    here: String,
}

/// `GET /users/{username}`
pub async fn show_user(
    State(state): State<AppState>,
    Path(username): Path<String>,
    viewer: CurrentUser,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let Some(user) = state.store.user_by_name(&username).await? else {
        return Err(AppError::NotFound(format!("There is no user {username}.")));
    };
    let viewer_is_admin = viewer.0.as_ref().is_some_and(|v| v.is_admin);
    let orgs = state.store.user_organizations(user.id).await?;
    let authorships = state
        .store
        .user_author_claims(user.id)
        .await?
        .into_iter()
        .filter(|c| c.status == ClaimStatus::Confirmed)
        .map(|c| c.name)
        .collect();
    // Every day of the list (bounded: both backends compare these as ISO dates).
    let all_time = DateWindow::Range {
        start: NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(),
        end: NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default(),
    };
    let submitted = state
        .store
        .feed(&FeedQuery {
            window: all_time,
            submitter: Some(user.username.clone()),
            sort: FeedSort::PublishedAt,
            offset: 0,
            limit: PAPERS,
        })
        .await?;
    Ok(Html(
        UserPage {
            ctx,
            here: format!("/users/{}", user.username),
            username: user.username,
            fullname: user.fullname,
            suspended: user.suspended,
            orgs,
            authorships,
            cards: submitted.papers.iter().map(Card::from_paper).collect(),
            viewer_is_admin,
        }
        .render()?,
    )
    .into_response())
}
