//! Server-rendered HTML pages. The site works without JavaScript.

pub mod account;
pub mod admin;
pub mod assets;
pub mod community;
pub mod feed;
pub mod foryou;
pub mod mail;
pub mod orgs;
pub mod paper;
pub mod people;
pub mod search;
mod view;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::CurrentUser;
use crate::csrf::CsrfToken;
use crate::{AppError, AppState};

/// What every page's layout needs: the site's name, the visitor, the CSRF token for forms.
pub struct Ctx {
    /// Site name.
    pub site_name: String,
    /// The signed-in user's handle.
    pub username: Option<String>,
    /// The token forms embed.
    pub csrf: String,
    /// The visitor is an administrator (the header links the moderation page).
    pub is_admin: bool,
    /// The browser will refuse the site's cookies (plain http to a LAN name): the page says
    /// so, see [`crate::origin::cookies_refused`].
    pub cookies_refused: bool,
}

impl Ctx {
    /// What the page says when [`Ctx::cookies_refused`].
    pub fn plain_http_advice(&self) -> &'static str {
        crate::origin::PLAIN_HTTP_ADVICE
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        Ok(Self {
            cookies_refused: crate::origin::cookies_refused(state, &parts.headers),
            site_name: state.site_name.to_string(),
            is_admin: user.0.as_ref().is_some_and(|u| u.is_admin),
            username: user.0.map(|u| u.username),
            csrf,
        })
    }
}

/// A paper's base id from a path segment; a malformed one is a 404 (no such page).
pub(crate) fn paper_id(raw: &str) -> Result<paperboy_core::ArxivId, AppError> {
    paperboy_core::ArxivId::parse(raw)
        .map(|id| id.without_version())
        .map_err(|e| AppError::NotFound(e.to_string()))
}

/// The page for any path nothing else serves.
pub async fn not_found() -> AppError {
    AppError::NotFound("There is no page at this address.".into())
}
