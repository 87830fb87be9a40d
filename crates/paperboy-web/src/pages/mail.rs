//! Email digests on the web: subscribe from any page (the footer form, rate-limited per client
//! and per address), confirm (double opt-in), one-click unsubscribe (RFC 8058), preferences,
//! the signed-in account's own subscription (`/settings/digest`, and the partial
//! `digest_settings_form.html` the settings page includes), and the browser preview.
//!
//! Everything under `/unsubscribe/` is authenticated by the secret in its path (mailed to the
//! subscriber), not by a session, so it needs no CSRF token: a mail client's one-click
//! `POST /unsubscribe/{token}` (body `List-Unsubscribe=One-Click`) comes without one.

use crate::extract::{Form, Path};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use paperboy_core::Email;
use paperboy_store::{Cadence, Subscriber, SubscriberStatus, User, email_key};
use serde::Deserialize;

use super::Ctx;
use crate::auth::SignedIn;
use crate::ratelimit::{Action, Client, ClientAddr};
use crate::{AppError, AppState};

/// The preview's policy: the digest's inline styles are allowed, nothing else.
const PREVIEW_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The digest routes, merged into the application router.
pub fn mail_routes() -> Router<AppState> {
    Router::new()
        .route("/subscribe", post(subscribe_email))
        .route("/subscribe/confirm/{token}", get(confirm_subscription))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_link).post(unsubscribe_one_click),
        )
        .route(
            "/unsubscribe/{token}/preferences",
            get(show_preferences).post(save_preferences),
        )
        .route("/digest/preview", get(preview_digest))
        .route(
            "/settings/digest",
            get(show_digest_settings).post(save_digest_settings),
        )
}

struct Prefs {
    token: String,
    daily: bool,
    subscribed: bool,
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct SubscriptionPage {
    ctx: Ctx,
    heading: String,
    message: String,
    prefs: Option<Prefs>,
}

fn page(
    ctx: Ctx,
    status: StatusCode,
    heading: &str,
    message: &str,
    prefs: Option<Prefs>,
) -> Result<Response, AppError> {
    let html = SubscriptionPage {
        ctx,
        heading: heading.into(),
        message: message.into(),
        prefs,
    }
    .render()?;
    Ok((
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Html(html),
    )
        .into_response())
}

/// The page shown when this instance sends no mail.
fn mail_off(ctx: Ctx) -> Result<Response, AppError> {
    page(
        ctx,
        StatusCode::SERVICE_UNAVAILABLE,
        "Email digests are off",
        "This Paperboy instance does not send email.",
        None,
    )
}

fn mail_error(e: paperboy_mail::MailError) -> AppError {
    match e {
        paperboy_mail::MailError::Store(e) => AppError::Store(e),
        paperboy_mail::MailError::Render(e) => AppError::Render(e),
        other => AppError::BadRequest(other.to_string()),
    }
}

/// The footer form.
#[derive(Debug, Deserialize)]
pub struct SubscribeForm {
    email: String,
    #[serde(default)]
    cadence: Option<String>,
}

/// `POST /subscribe`: subscribes an address. The answer is the same whether or not the address
/// was subscribed before, so it reveals nothing about who is. Rate-limited per client and per
/// address (429 with `Retry-After`), whatever the address's state.
pub async fn subscribe_email(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ctx: Ctx,
    Form(form): Form<SubscribeForm>,
) -> Result<Response, AppError> {
    let Some(mail) = state.mail.as_ref() else {
        return mail_off(ctx);
    };
    state.limiter.check(Action::Subscribe, Client::Ip(ip))?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return page(
                ctx,
                StatusCode::BAD_REQUEST,
                "That address does not look right",
                &format!("{e}. Nothing was subscribed; please try again."),
                None,
            );
        }
    };
    let cadence = match form.cadence.as_deref().filter(|c| !c.is_empty()) {
        None => Cadence::Daily,
        Some(c) => match Cadence::parse(c) {
            Some(c) => c,
            None => {
                return page(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    "Unknown cadence",
                    "Choose daily or weekly.",
                    None,
                );
            }
        },
    };
    state
        .limiter
        .check(Action::SubscribeAddress, Client::Email(email_key(&email)))?;
    mail.subscribe(email, cadence, None)
        .await
        .map_err(mail_error)?;
    page(
        ctx,
        StatusCode::OK,
        "Check your inbox",
        "If this address is not subscribed yet, a confirmation link is on its way. Nothing else will be sent until you follow it.",
        None,
    )
}

/// `GET /subscribe/confirm/{token}`: the link of the confirmation email (works once, for
/// 48 hours).
pub async fn confirm_subscription(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(mail) = state.mail.as_ref() else {
        return mail_off(ctx);
    };
    match mail.confirm(&token).await.map_err(mail_error)? {
        Some(s) => page(
            ctx,
            StatusCode::OK,
            "You are subscribed",
            &format!(
                "Trending papers will arrive {}. Every message has a one-click unsubscribe link.",
                when(s.cadence)
            ),
            Some(prefs(&s)),
        ),
        None => page(
            ctx,
            StatusCode::NOT_FOUND,
            "This link does not work any more",
            "Confirmation links work once and expire after 48 hours. Subscribe again to get a new one.",
            None,
        ),
    }
}

fn when(c: Cadence) -> &'static str {
    match c {
        Cadence::Daily => "every weekday",
        Cadence::Weekly => "once a week",
    }
}

fn prefs(s: &Subscriber) -> Prefs {
    Prefs {
        token: s.unsubscribe_token.clone(),
        daily: s.cadence == Cadence::Daily,
        subscribed: s.status != SubscriberStatus::Unsubscribed,
    }
}

async fn unsubscribe(state: &AppState, ctx: Ctx, token: &str) -> Result<Response, AppError> {
    let Some(mail) = state.mail.as_ref() else {
        return mail_off(ctx);
    };
    match mail.unsubscribe(token).await.map_err(mail_error)? {
        Some(s) => page(
            ctx,
            StatusCode::OK,
            "You are unsubscribed",
            &format!("{} will get no more digests.", s.email),
            None,
        ),
        None => page(
            ctx,
            StatusCode::NOT_FOUND,
            "Unknown unsubscribe link",
            "This link belongs to no subscription. If you still get digests, use the link in the latest one.",
            None,
        ),
    }
}

/// `GET /unsubscribe/{token}`: the link in every digest. One click unsubscribes; no sign-in,
/// no confirmation step; following it again changes nothing.
pub async fn unsubscribe_link(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    unsubscribe(&state, ctx, &token).await
}

/// `POST /unsubscribe/{token}`: RFC 8058 one-click unsubscribe, as mail clients send it (body
/// `List-Unsubscribe=One-Click`), and the button of the preferences page. Idempotent.
pub async fn unsubscribe_one_click(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    unsubscribe(&state, ctx, &token).await
}

/// `GET /unsubscribe/{token}/preferences`: shows and changes the cadence.
pub async fn show_preferences(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(mail) = state.mail.as_ref() else {
        return mail_off(ctx);
    };
    match mail.subscriber(&token).await.map_err(mail_error)? {
        Some(s) => {
            let message = match s.status {
                SubscriberStatus::Unsubscribed => format!(
                    "{} is unsubscribed. Subscribe again from the form below any page.",
                    s.email
                ),
                _ => format!("{} gets trending papers {}.", s.email, when(s.cadence)),
            };
            page(
                ctx,
                StatusCode::OK,
                "Your digest",
                &message,
                Some(prefs(&s)),
            )
        }
        None => page(
            ctx,
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This link belongs to no subscription.",
            None,
        ),
    }
}

/// The preferences form.
#[derive(Debug, Deserialize)]
pub struct PreferencesForm {
    cadence: String,
}

/// `POST /unsubscribe/{token}/preferences`: saves the cadence.
pub async fn save_preferences(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    Form(form): Form<PreferencesForm>,
) -> Result<Response, AppError> {
    let Some(mail) = state.mail.as_ref() else {
        return mail_off(ctx);
    };
    let Some(cadence) = Cadence::parse(&form.cadence) else {
        return page(
            ctx,
            StatusCode::BAD_REQUEST,
            "Unknown cadence",
            "Choose daily or weekly.",
            None,
        );
    };
    match mail
        .set_cadence(&token, cadence)
        .await
        .map_err(mail_error)?
    {
        Some(s) => page(
            ctx,
            StatusCode::OK,
            "Saved",
            &format!("{} will get trending papers {}.", s.email, when(s.cadence)),
            Some(prefs(&s)),
        ),
        None => page(
            ctx,
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This link belongs to no subscription.",
            None,
        ),
    }
}

/// `GET /digest/preview`: the latest edition as subscribers see it.
pub async fn preview_digest(State(state): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let Some(mail) = state.mail.as_ref() else {
        return mail_off(ctx);
    };
    match mail.preview_html().await.map_err(mail_error)? {
        Some(html) => Ok((
            [(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PREVIEW_CSP),
            )],
            Html(html),
        )
            .into_response()),
        None => Err(AppError::NotFound(
            "There are no papers yet, so there is no digest to preview.".into(),
        )),
    }
}

/// What the account-settings partial (`digest_settings_form.html`) shows: the account's address
/// and where its subscription stands. A page including the partial has it in scope as
/// `digest`, with `ctx` for the CSRF token; the account settings page does so with:
///
/// ```text
/// // SettingsPage gets a field `digest: Option<crate::pages::mail::DigestSettings>`, filled by
/// let digest = match state.mail {
///     Some(_) => Some(crate::pages::mail::digest_settings(state, &user).await?),
///     None => None,
/// };
/// // and settings.html, where the section should go:
/// {% if let Some(digest) = digest %}{% include "digest_settings_form.html" %}{% endif %}
/// ```
#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// The account's address; empty when it has none (then there is nothing to subscribe).
    pub email: String,
    /// `daily`, `weekly` or `off`: what the form has selected.
    pub choice: &'static str,
    /// The address is waiting for its confirmation link to be followed.
    pub pending: bool,
    /// A line saying what just happened, after a save.
    pub notice: Option<String>,
}

impl DigestSettings {
    /// Whether the form offers `choice` as the selected option.
    pub fn is(&self, choice: &str) -> bool {
        self.choice == choice
    }
}

/// The digest subscription of a signed-in account's address, for its settings page.
pub async fn digest_settings(state: &AppState, user: &User) -> Result<DigestSettings, AppError> {
    let Some(email) = account_email(user) else {
        return Ok(DigestSettings {
            email: String::new(),
            choice: "off",
            pending: false,
            notice: None,
        });
    };
    let linked = linked_subscription(state, &email, user).await?;
    Ok(settings_for(&email, linked.as_ref(), None))
}

/// The subscription of the account's address if it is linked to this account. Account
/// addresses are not verified, so an unlinked subscription of the same address is somebody
/// else's business: not shown, not changed.
async fn linked_subscription(
    state: &AppState,
    email: &Email,
    user: &User,
) -> Result<Option<Subscriber>, AppError> {
    Ok(state
        .store
        .subscriber_by_email(email)
        .await?
        .filter(|s| s.user_id == Some(user.id)))
}

fn account_email(user: &User) -> Option<Email> {
    user.email.as_deref().and_then(|e| Email::parse(e).ok())
}

fn settings_for(email: &Email, s: Option<&Subscriber>, notice: Option<String>) -> DigestSettings {
    let (choice, pending) = match s {
        Some(s) if s.status == SubscriberStatus::Confirmed => (s.cadence.as_str(), false),
        Some(s) if s.status == SubscriberStatus::Pending => (s.cadence.as_str(), true),
        _ => ("off", false),
    };
    DigestSettings {
        email: email.as_str().to_owned(),
        choice,
        pending,
        notice,
    }
}

#[derive(Template)]
#[template(path = "digest_settings.html")]
struct DigestSettingsPage {
    ctx: Ctx,
    digest: DigestSettings,
}

fn settings_page(
    ctx: Ctx,
    status: StatusCode,
    digest: DigestSettings,
) -> Result<Response, AppError> {
    let html = DigestSettingsPage { ctx, digest }.render()?;
    Ok((
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Html(html),
    )
        .into_response())
}

/// `GET /settings/digest`: the signed-in account's digest subscription, with the form that
/// changes it.
pub async fn show_digest_settings(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
) -> Result<Response, AppError> {
    if state.mail.is_none() {
        return mail_off(ctx);
    }
    let digest = digest_settings(&state, &user).await?;
    settings_page(ctx, StatusCode::OK, digest)
}

/// The account's digest form: `cadence` is `daily`, `weekly` or `off`.
#[derive(Debug, Deserialize)]
pub struct DigestSettingsForm {
    cadence: String,
}

/// `POST /settings/digest` (CSRF-protected): subscribes the account's own address and links it
/// to the account (which gives its digests a "for you" section) once the address's owner
/// follows the confirmation link; changes the cadence of a linked subscription at once, or
/// unsubscribes it. A subscription of the address that is not linked to the account is neither
/// shown nor changed: account addresses are not verified.
pub async fn save_digest_settings(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
    Form(form): Form<DigestSettingsForm>,
) -> Result<Response, AppError> {
    let Some(mail) = state.mail.as_ref() else {
        return mail_off(ctx);
    };
    let Some(email) = account_email(&user) else {
        return Err(AppError::BadRequest(
            "Your account has no email address, so there is nowhere to send a digest.".into(),
        ));
    };
    let choice = form.cadence.trim().to_ascii_lowercase();
    let linked = linked_subscription(&state, &email, &user).await?;
    let digest = if choice == "off" {
        let left = match &linked {
            Some(s) if s.status != SubscriberStatus::Unsubscribed => mail
                .unsubscribe(&s.unsubscribe_token)
                .await
                .map_err(mail_error)?,
            other => other.clone(),
        };
        settings_for(
            &email,
            left.as_ref(),
            Some("Your account gets no digest.".into()),
        )
    } else if let Some(cadence) = Cadence::parse(&choice) {
        match linked {
            // Linked and confirmed: the cadence changes at once and nothing is mailed.
            Some(s) if s.status == SubscriberStatus::Confirmed => {
                let s = mail
                    .set_cadence(&s.unsubscribe_token, cadence)
                    .await
                    .map_err(mail_error)?
                    .unwrap_or(s);
                settings_for(
                    &email,
                    Some(&s),
                    Some(format!(
                        "{} gets trending papers {}.",
                        email.as_str(),
                        when(cadence)
                    )),
                )
            }
            // Otherwise the address's owner confirms by email, and that links the account.
            // The answer is the same whatever the address's state.
            _ => {
                state
                    .limiter
                    .check(Action::SubscribeAddress, Client::Email(email_key(&email)))?;
                mail.subscribe(email.clone(), cadence, Some(user.id))
                    .await
                    .map_err(mail_error)?;
                DigestSettings {
                    email: email.as_str().to_owned(),
                    choice: cadence.as_str(),
                    pending: true,
                    notice: Some(format!(
                        "A confirmation link is on its way to {}; digests start (or, if it gets them already, are linked to your account) once you follow it.",
                        email.as_str()
                    )),
                }
            }
        }
    } else {
        let mut digest = settings_for(&email, linked.as_ref(), None);
        digest.notice = Some(format!(
            "`{}` is not a choice: pick daily, weekly or off.",
            form.cadence
        ));
        return settings_page(ctx, StatusCode::BAD_REQUEST, digest);
    };
    settings_page(ctx, StatusCode::OK, digest)
}
