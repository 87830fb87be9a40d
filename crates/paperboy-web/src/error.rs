//! The web layer's error: logs the cause and shows the visitor a clean page with the right
//! status. Bad input is a 4xx with a message a person understands, never a 500.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_store::StoreError;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request was malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing is here.
    #[error("{0}")]
    NotFound(String),
    /// Not allowed (a missing CSRF token, another user's comment).
    #[error("{0}")]
    Forbidden(String),
    /// The page needs a signed-in user: redirect to sign-in.
    #[error("sign in first")]
    SignInRequired,
    /// The request body is larger than the server accepts.
    #[error("the request is too large")]
    PayloadTooLarge,
    /// A rate limit was hit.
    #[error("too many requests: try again in {retry_after} seconds")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The server is busy (every password hasher taken): try again after `retry_after`.
    #[error("{message}")]
    Unavailable {
        /// Seconds to wait.
        retry_after: u64,
        /// What to tell the visitor.
        message: String,
    },
    /// The store failed.
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    /// A template failed to render.
    #[error("template error: {0}")]
    Render(#[from] askama::Error),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl AppError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Store(StoreError::Conflict(_)) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) | Self::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::SignInRequired => StatusCode::SEE_OTHER,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) | Self::Render(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The message shown to the visitor (server errors stay vague; their cause is logged).
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(StoreError::Conflict(m)) => m.clone(),
            // The store's wording ("not found: comment 107") is for the log, not the visitor.
            Self::Store(StoreError::NotFound(_)) => {
                "There is nothing here: it may have been deleted, or the address is wrong.".into()
            }
            Self::Unavailable { message, .. } => message.clone(),
            _ if self.status().is_server_error() => {
                "Something went wrong on our side. Please try again in a moment.".to_owned()
            }
            _ => self.to_string(),
        }
    }
}

/// The site's error page for `status` saying `message`: for errors that did not come from a
/// handler (axum's own 405 or 413, see [`crate::site_errors`]).
pub(crate) fn page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_owned()).into_response(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::SignInRequired = self {
            return Redirect::to("/signin").into_response();
        }
        let status = self.status();
        if status.is_server_error() && !matches!(self, Self::Unavailable { .. }) {
            tracing::error!(error = %self, "request failed");
        }
        let message = self.public_message();
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message: &message,
        };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        };
        if let Self::TooManyRequests { retry_after } | Self::Unavailable { retry_after, .. } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
