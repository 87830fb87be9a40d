//! Accounts: sign up, sign in, sign out, settings. Sign-in answers the same whether or not
//! the account exists (and takes as long); sessions are rotated at sign-in and destroyed at
//! sign-out.
//!
//! When this instance sends mail, sign-up answers "check your inbox" whether or not the
//! address has an account: a new address gets a link whose confirmation creates the account,
//! an address with an account gets a note instead. Without mail, sign-up creates the account
//! at once and a taken username or email is refused (one message for either), which tells a
//! visitor that one of the two is in use: configure mail on a public instance. Reset and
//! sign-up mail to one address is capped (three an hour), with the same answer past the cap.

use crate::extract::{Form, Path};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use paperboy_core::{Email, Username};
use paperboy_store::{NewUser, PendingSignup, StoreError, email_key};
use serde::Deserialize;

use super::Ctx;
use crate::auth::{SESSION_DAYS, SignedIn, check_password_rules, cookie, new_token, token_hash};
use crate::ratelimit::{Action, Client, ClientAddr};
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
    /// What the last change did, or what was wrong with it.
    notice: Option<Notice>,
    /// The account's email digest, when this instance sends mail.
    digest: Option<crate::pages::mail::DigestSettings>,
}

/// A message at the top of the settings page.
pub struct Notice {
    /// An error (shown as an alert) rather than a confirmation.
    pub error: bool,
    /// The text.
    pub text: String,
}

impl Notice {
    fn ok(text: &str) -> Option<Self> {
        Some(Self {
            error: false,
            text: text.into(),
        })
    }

    fn error(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            error: true,
            text: text.into(),
        })
    }
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
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    state.limiter.check(Action::SignIn, Client::Ip(ip))?;
    let user = match Username::parse(form.username.trim()) {
        Ok(name) => state.store.user_by_name(name.as_str()).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = state.hashers.verify(form.password, hash).await?;
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
    ClientAddr(ip): ClientAddr,
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
    state.limiter.check(Action::SignUp, Client::Ip(ip))?;
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
    if let Some(mail) = state.mail.clone() {
        return sign_up_by_mail(&state, mail, ctx, username, fullname, email, form).await;
    }
    let hash = state.hashers.hash(form.password.clone()).await?;
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

/// How long a sign-up link works.
pub const SIGNUP_TTL_HOURS: i64 = 24;

#[derive(Template)]
#[template(path = "signup_mail.html")]
struct SignUpMailPage {
    ctx: Ctx,
    /// The address the link went to (after a sign-up).
    sent_to: Option<String>,
    /// The link's token (when confirming).
    token: Option<String>,
    error: Option<String>,
}

fn signup_mail_page(
    status: axum::http::StatusCode,
    page: SignUpMailPage,
) -> Result<Response, AppError> {
    Ok((
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // The token is in the URL: keep it out of Referer headers.
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        Html(page.render()?),
    )
        .into_response())
}

/// Sign-up when this instance sends mail: the same answer whether or not the address has an
/// account. A new address gets a confirmation link (the account is made when it is
/// followed); an address with an account gets a note saying someone tried. Past the
/// address's budget nothing is sent.
async fn sign_up_by_mail(
    state: &AppState,
    mail: paperboy_mail::MailService,
    ctx: Ctx,
    username: Username,
    fullname: String,
    email: Email,
    form: SignUpForm,
) -> Result<Response, AppError> {
    // Usernames are public (every profile shows one), so a taken one may be said.
    if state.store.user_by_name(username.as_str()).await?.is_some() {
        return Ok((
            axum::http::StatusCode::BAD_REQUEST,
            Html(
                SignUpPage {
                    ctx,
                    error: Some("That username is taken; choose another.".into()),
                    username: form.username,
                    fullname: form.fullname,
                    email: form.email,
                }
                .render()?,
            ),
        )
            .into_response());
    }
    // Hashed either way, so both answers take as long.
    let hash = state.hashers.hash(form.password).await?;
    let within_budget = state
        .limiter
        .check(Action::SignUpAddress, Client::Email(email_key(&email)))
        .is_ok();
    if within_budget {
        let site_name = state.site_name.to_string();
        let base_url = mail.site().base_url.clone();
        let owner = state.store.user_by_email(email.as_str()).await?;
        let mut to = email.as_str().to_owned();
        let (subject, text) = match owner {
            Some(owner) => (
                {
                    // The note goes to the address the account has, as it was stored.
                    if let Some(stored) = &owner.email {
                        to.clone_from(stored);
                    }
                    format!("Someone tried to sign up to {site_name} with your address")
                },
                format!(
                    "Hello {name},\n\nSomeone (maybe you) tried to make a new {site_name} \
                     account with this address, which already belongs to your account \
                     @{username}. No account was made.\n\nIf you forgot your password, \
                     choose a new one here:\n\n{base_url}/reset\n\nOtherwise ignore this \
                     message.\n",
                    name = owner.fullname,
                    username = owner.username,
                ),
            ),
            None => {
                let token = new_token();
                state
                    .store
                    .create_pending_signup(
                        &token_hash(&token),
                        &PendingSignup {
                            username: username.as_str().to_owned(),
                            fullname: fullname.clone(),
                            email: email.as_str().to_owned(),
                            password_hash: hash,
                        },
                        Utc::now() + Duration::hours(SIGNUP_TTL_HOURS),
                    )
                    .await?;
                (
                    format!("Confirm your {site_name} account"),
                    format!(
                        "Hello {fullname},\n\nTo make your {site_name} account @{username}, \
                         follow this link:\n\n{base_url}/signup/confirm/{token}\n\n\
                         It works once, for {SIGNUP_TTL_HOURS} hours. If you did not sign up, \
                         ignore this message: no account is made.\n",
                        username = username.as_str(),
                    ),
                )
            }
        };
        // In the background: the answer takes as long whichever mail goes.
        tokio::spawn(async move {
            if let Err(e) = mail.send_account_message(&to, &subject, text).await {
                tracing::warn!(error = %e, "sign-up email not sent");
            }
        });
    }
    signup_mail_page(
        axum::http::StatusCode::OK,
        SignUpMailPage {
            ctx,
            sent_to: Some(email.as_str().to_owned()),
            token: None,
            error: None,
        },
    )
}

/// `GET /signup/confirm/{token}`: the button that makes the account (a form, so that mail
/// scanners following links make nothing).
pub async fn show_signup_confirm(
    Path(token): Path<String>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    signup_mail_page(
        axum::http::StatusCode::OK,
        SignUpMailPage {
            ctx,
            sent_to: None,
            token: Some(token),
            error: None,
        },
    )
}

/// `POST /signup/confirm/{token}`: makes the account the link was mailed for and signs this
/// browser in. The link works once.
pub async fn confirm_signup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let failed = |ctx: Ctx, status, error: &str| {
        signup_mail_page(
            status,
            SignUpMailPage {
                ctx,
                sent_to: None,
                token: None,
                error: Some(error.to_owned()),
            },
        )
    };
    let Some(pending) = state
        .store
        .take_pending_signup(&token_hash(&token), Utc::now())
        .await?
    else {
        return failed(
            ctx,
            axum::http::StatusCode::NOT_FOUND,
            "This link was used already or has expired. Sign up again.",
        );
    };
    let (Ok(username), Ok(email)) = (
        Username::parse(&pending.username),
        Email::parse(&pending.email),
    ) else {
        return Err(AppError::Internal("a stored sign-up is invalid".into()));
    };
    match state
        .store
        .create_user(&NewUser {
            username,
            fullname: pending.fullname,
            email: Some(email),
            password_hash: Some(pending.password_hash),
            is_admin: false,
        })
        .await
    {
        Ok(user) => start_session(&state, &headers, user.id).await,
        // The link proves the address is this visitor's, so saying so tells nobody else.
        Err(StoreError::Conflict(_)) => failed(
            ctx,
            axum::http::StatusCode::BAD_REQUEST,
            "Meanwhile this username was taken or this address got an account. Sign up again with another username, or sign in.",
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
    render_settings(&state, user, ctx, None, None).await
}

async fn render_settings(
    state: &AppState,
    user: paperboy_store::User,
    ctx: Ctx,
    new_secret: Option<String>,
    notice: Option<Notice>,
) -> Result<Response, AppError> {
    let status = if notice.as_ref().is_some_and(|n| n.error) {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
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
    let digest = match state.mail {
        Some(_) => Some(crate::pages::mail::digest_settings(state, &user).await?),
        None => None,
    };
    let page = SettingsPage {
        ctx,
        digest,
        username: user.username,
        fullname: user.fullname,
        email: user.email.unwrap_or_default(),
        tokens,
        new_secret,
        notice,
    };
    // The page may hold a secret shown once: never cache it.
    Ok((
        status,
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
    render_settings(&state, user, ctx, Some(created.secret), None).await
}

/// `POST /settings/tokens/{id}/revoke`
pub async fn revoke_token(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if !state.store.revoke_api_token(user.id, id).await? {
        return Err(AppError::NotFound("You have no such token.".into()));
    }
    Ok(Redirect::to("/settings").into_response())
}

/// The profile form.
#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    fullname: String,
}

/// `POST /settings/profile`: changes the display name.
pub async fn save_profile(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    let fullname = form.fullname.trim();
    if fullname.is_empty() || fullname.chars().count() > 100 {
        return render_settings(
            &state,
            user,
            ctx,
            None,
            Notice::error("A name has 1 to 100 characters."),
        )
        .await;
    }
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    state.store.set_fullname(user.id, fullname).await?;
    state.pages.invalidate();
    let user = reload(&state, user.id).await?;
    render_settings(&state, user, ctx, None, Notice::ok("Your name was saved.")).await
}

async fn reload(state: &AppState, id: i64) -> Result<paperboy_store::User, AppError> {
    state
        .store
        .user_by_id(id)
        .await?
        .ok_or(AppError::SignInRequired)
}

/// The email form: the new address and the current password.
#[derive(Debug, Deserialize)]
pub struct EmailForm {
    email: String,
    password: String,
}

/// `POST /settings/email`: changes the email, given the current password.
pub async fn save_email(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return render_settings(&state, user, ctx, None, Notice::error(e.to_string())).await;
        }
    };
    if !state
        .hashers
        .verify(form.password, user.password_hash.clone())
        .await?
    {
        return render_settings(
            &state,
            user,
            ctx,
            None,
            Notice::error("Your current password is not right."),
        )
        .await;
    }
    match state.store.set_email(user.id, &email).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return render_settings(
                &state,
                user,
                ctx,
                None,
                Notice::error("That address cannot be used for this account."),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    let user = reload(&state, user.id).await?;
    render_settings(
        &state,
        user,
        ctx,
        None,
        Notice::ok("Your email was changed."),
    )
    .await
}

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

/// `POST /settings/password`: changes the password, given the current one, and signs out
/// every other session.
pub async fn save_password(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    state
        .limiter
        .check(Action::Account, Client::User(user.id))?;
    if let Err(e) = check_password_rules(&form.new) {
        return render_settings(&state, user, ctx, None, Notice::error(e)).await;
    }
    if !state
        .hashers
        .verify(form.current, user.password_hash.clone())
        .await?
    {
        return render_settings(
            &state,
            user,
            ctx,
            None,
            Notice::error("Your current password is not right."),
        )
        .await;
    }
    let hash = state.hashers.hash(form.new).await?;
    let keep = cookie(&headers, state.cookies.session_name()).map(token_hash);
    state
        .store
        .set_password(user.id, &hash, keep.as_deref())
        .await?;
    let user = reload(&state, user.id).await?;
    render_settings(
        &state,
        user,
        ctx,
        None,
        Notice::ok("Your password was changed; your other sessions were signed out."),
    )
    .await
}

// ---- password reset ----

/// How long a reset link works.
pub const RESET_TTL_MINUTES: i64 = 60;

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    ctx: Ctx,
    /// The link's token when choosing the new password; `None` when asking for a link.
    token: Option<String>,
    error: Option<String>,
    done: bool,
}

fn reset_page(
    ctx: Ctx,
    status: axum::http::StatusCode,
    token: Option<String>,
    error: Option<String>,
    done: bool,
) -> Result<Response, AppError> {
    let html = ResetPage {
        ctx,
        token,
        error,
        done,
    }
    .render()?;
    Ok((
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // The token is in the URL: keep it out of Referer headers.
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        Html(html),
    )
        .into_response())
}

/// `GET /reset`: asks for the account's email.
pub async fn show_reset_request(ctx: Ctx) -> Result<Response, AppError> {
    reset_page(ctx, axum::http::StatusCode::OK, None, None, false)
}

/// The reset request form.
#[derive(Debug, Deserialize)]
pub struct ResetRequestForm {
    email: String,
}

/// `POST /reset`: mails a single-use link (an hour) if an account has this address. The
/// answer is the same whether or not one does, and the mail goes out in the background so
/// the answer takes as long either way.
pub async fn request_reset(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ctx: Ctx,
    Form(form): Form<ResetRequestForm>,
) -> Result<Response, AppError> {
    state.limiter.check(Action::PasswordReset, Client::Ip(ip))?;
    let Ok(email) = Email::parse(&form.email) else {
        return reset_page(
            ctx,
            axum::http::StatusCode::BAD_REQUEST,
            None,
            Some("That is not an email address.".into()),
            false,
        );
    };
    let Some(mail) = state.mail.clone() else {
        return reset_page(
            ctx,
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            None,
            Some("This site sends no email; ask its administrator to reset your password.".into()),
            false,
        );
    };
    // Three reset mails an hour per address, whoever asks from wherever: past that the
    // answer is the same and nothing is sent.
    let within_budget = state
        .limiter
        .check(
            Action::PasswordResetAddress,
            Client::Email(email_key(&email)),
        )
        .is_ok();
    let user = if within_budget {
        state
            .store
            .user_by_email(email.as_str())
            .await?
            .filter(|u| u.password_hash.is_some() && !u.suspended)
    } else {
        None
    };
    if let Some(user) = user {
        let token = new_token();
        state
            .store
            .create_password_reset(
                user.id,
                &token_hash(&token),
                Utc::now() + Duration::minutes(RESET_TTL_MINUTES),
            )
            .await?;
        let site_name = state.site_name.to_string();
        tokio::spawn(async move {
            let url = format!("{}/reset/{token}", mail.site().base_url);
            let text = format!(
                "Hello {name},\n\nSomeone (we hope you) asked to reset the password of your \
                 {site_name} account @{username}. Choose a new one here:\n\n{url}\n\n\
                 The link works once, for {RESET_TTL_MINUTES} minutes. If you did not ask, \
                 ignore this message: your password stays as it is.\n",
                name = user.fullname,
                username = user.username,
            );
            let subject = format!("Reset your {site_name} password");
            if let Err(e) = mail
                .send_account_message(user.email.as_deref().unwrap_or_default(), &subject, text)
                .await
            {
                tracing::warn!(error = %e, user = user.id, "password reset email not sent");
            }
        });
    }
    reset_page(ctx, axum::http::StatusCode::OK, None, None, true)
}

/// `GET /reset/{token}`: the new-password form, if the link is still good.
pub async fn show_reset(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ctx: Ctx,
) -> Result<Response, AppError> {
    if state
        .store
        .password_reset_user(&token_hash(&token), Utc::now())
        .await?
        .is_none()
    {
        return reset_page(
            ctx,
            axum::http::StatusCode::NOT_FOUND,
            None,
            Some("This reset link was used already or has expired. Ask for a new one.".into()),
            false,
        );
    }
    reset_page(ctx, axum::http::StatusCode::OK, Some(token), None, false)
}

/// The new-password form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    password: String,
}

/// `POST /reset/{token}`: sets the new password, spends the link, ends every session of the
/// account, and signs this browser in.
pub async fn reset_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    if let Err(e) = check_password_rules(&form.password) {
        return reset_page(
            ctx,
            axum::http::StatusCode::BAD_REQUEST,
            Some(token),
            Some(e),
            false,
        );
    }
    let hash = state.hashers.hash(form.password).await?;
    match state
        .store
        .reset_password(&token_hash(&token), &hash, Utc::now())
        .await?
    {
        Some(user) => start_session(&state, &headers, user.id).await,
        None => reset_page(
            ctx,
            axum::http::StatusCode::NOT_FOUND,
            None,
            Some("This reset link was used already or has expired. Ask for a new one.".into()),
            false,
        ),
    }
}
