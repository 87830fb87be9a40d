//! Accounts: sign up, sign in, sign out, settings. Sign-in answers the same whether or not
//! the account exists (and takes as long); sessions are rotated at sign-in and destroyed at
//! sign-out.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use paperboy_core::{Email, Username};
use paperboy_store::{NewUser, StoreError};
use serde::Deserialize;

use super::Ctx;
use crate::auth::{
    SESSION_DAYS, SignedIn, check_password_rules, cookie, hash_password, new_token, token_hash,
    verify_password,
};
use crate::ratelimit::{Action, Client};
use crate::{AppError, AppState};

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    ctx: Ctx,
    error: Option<String>,
    username: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    ctx: Ctx,
    error: Option<String>,
    username: String,
    fullname: String,
    email: String,
}

/// A personal API token as the settings page lists it.
struct TokenRow {
    id: i64,
    name: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: Ctx,
    username: String,
    fullname: String,
    email: String,
    tokens: Vec<TokenRow>,
    /// A token just created: its secret, shown this once.
    new_secret: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
}

/// The sign-up form's fields.
#[derive(Debug, Deserialize)]
pub struct SignUpForm {
    username: String,
    fullname: String,
    email: String,
    password: String,
}

/// `GET /signin`
pub async fn show_signin(ctx: Ctx) -> Result<Html<String>, AppError> {
    Ok(Html(
        SignInPage {
            ctx,
            error: None,
            username: String::new(),
        }
        .render()?,
    ))
}

/// `GET /signup`
pub async fn show_signup(ctx: Ctx) -> Result<Html<String>, AppError> {
    Ok(Html(
        SignUpPage {
            ctx,
            error: None,
            username: String::new(),
            fullname: String::new(),
            email: String::new(),
        }
        .render()?,
    ))
}

/// Starts a session for `user_id`, ending the one the browser had (rotation), and sends the
/// browser home.
async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user_id: i64,
) -> Result<Response, AppError> {
    if let Some(old) = cookie(headers, state.cookies.session_name()) {
        state.store.delete_session(&token_hash(old)).await?;
    }
    let token = new_token();
    state
        .store
        .create_session(
            &token_hash(&token),
            user_id,
            Utc::now() + Duration::days(SESSION_DAYS),
        )
        .await?;
    let mut response = Redirect::to("/").into_response();
    let value = state.cookies.set(
        state.cookies.session_name(),
        &token,
        SESSION_DAYS * 24 * 3600,
    );
    let value = HeaderValue::from_str(&value).map_err(|e| AppError::Internal(e.to_string()))?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(response)
}

/// `POST /signin`
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    state.limiter.check(Action::SignIn, Client::Ip(addr.ip()))?;
    let user = match Username::parse(form.username.trim()) {
        Ok(name) => state.store.user_by_name(name.as_str()).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = verify_password(form.password, hash).await;
    match user {
        Some(user) if ok && !user.suspended => start_session(&state, &headers, user.id).await,
        _ => Ok((
            axum::http::StatusCode::UNAUTHORIZED,
            Html(
                SignInPage {
                    ctx,
                    error: Some("Wrong username or password.".into()),
                    username: form.username,
                }
                .render()?,
            ),
        )
            .into_response()),
    }
}

/// `POST /signup`
pub async fn sign_up(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<SignUpForm>,
) -> Result<Response, AppError> {
    let again = |ctx: Ctx, error: String, form: &SignUpForm| -> Result<Response, AppError> {
        Ok((
            axum::http::StatusCode::BAD_REQUEST,
            Html(
                SignUpPage {
                    ctx,
                    error: Some(error),
                    username: form.username.clone(),
                    fullname: form.fullname.clone(),
                    email: form.email.clone(),
                }
                .render()?,
            ),
        )
            .into_response())
    };
    state.limiter.check(Action::SignUp, Client::Ip(addr.ip()))?;
    let username = match Username::parse(form.username.trim()) {
        Ok(u) => u,
        Err(e) => return again(ctx, e.to_string(), &form),
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return again(ctx, e.to_string(), &form),
    };
    if let Err(e) = check_password_rules(&form.password) {
        return again(ctx, e, &form);
    }
    let fullname = form.fullname.trim();
    let fullname: String = if fullname.is_empty() {
        username.as_str()
    } else {
        fullname
    }
    .chars()
    .take(100)
    .collect();
    let hash = hash_password(form.password.clone()).await?;
    let created = state
        .store
        .create_user(&NewUser {
            username,
            fullname,
            email: Some(email),
            password_hash: Some(hash),
            is_admin: false,
        })
        .await;
    match created {
        Ok(user) => start_session(&state, &headers, user.id).await,
        // One answer for a taken username and a taken email: no telling which exists.
        Err(StoreError::Conflict(_)) => again(
            ctx,
            "An account cannot be made with this username and email. If you have an account, sign in.".into(),
            &form,
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /signout`
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(token) = cookie(&headers, state.cookies.session_name()) {
        state.store.delete_session(&token_hash(token)).await?;
    }
    let mut response = Redirect::to("/").into_response();
    let value = HeaderValue::from_str(&state.cookies.clear(state.cookies.session_name()))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(response)
}

/// `GET /settings`
pub async fn show_settings(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
) -> Result<Response, AppError> {
    render_settings(&state, user, ctx, None).await
}

async fn render_settings(
    state: &AppState,
    user: paperboy_store::User,
    ctx: Ctx,
    new_secret: Option<String>,
) -> Result<Response, AppError> {
    let tokens = state
        .store
        .api_tokens(user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created: t.created_at.format("%Y-%m-%d").to_string(),
            last_used: t.last_used_at.map_or_else(
                || "never".to_owned(),
                |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
        })
        .collect();
    let page = SettingsPage {
        ctx,
        username: user.username,
        fullname: user.fullname,
        email: user.email.unwrap_or_default(),
        tokens,
        new_secret,
    };
    // The page may hold a secret shown once: never cache it.
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Html(page.render()?),
    )
        .into_response())
}

/// The new-token form.
#[derive(Debug, Deserialize)]
pub struct NewTokenForm {
    name: String,
}

/// `POST /settings/tokens`: creates a personal API token and shows its secret once.
pub async fn create_token(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
    Form(form): Form<NewTokenForm>,
) -> Result<Response, AppError> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest(
            "Give the token a name of 1 to 100 characters.".into(),
        ));
    }
    let created = state.store.create_api_token(user.id, name).await?;
    render_settings(&state, user, ctx, Some(created.secret)).await
}

/// `POST /settings/tokens/{id}/revoke`
pub async fn revoke_token(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Response, AppError> {
    if !state.store.revoke_api_token(user.id, id).await? {
        return Err(AppError::NotFound("You have no such token.".into()));
    }
    Ok(Redirect::to("/settings").into_response())
}
