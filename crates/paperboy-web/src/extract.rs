//! The site's own `Query`, `Form` and `Path` extractors: axum's, whose rejections become the
//! site's [`AppError`] (its HTML error page with a sentence a person understands) instead of
//! axum's plain-text "Failed to deserialize…" and its 422 for a missing form field. A path
//! that does not parse names no page: 404. A body over the limit stays a 413.

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::AppError;

/// Query parameters, parsed into `T`; a malformed query string is a 400 page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// A URL-encoded form body, parsed into `T`; a missing or malformed field is a 400 page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

/// Path parameters, parsed into `T`; a segment that does not parse is a 404 page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

/// The underlying reason, without axum's "Failed to deserialize …:" prefix, clipped.
fn reason(body: &str) -> String {
    let text = body.rsplit_once(": ").map_or(body, |(_, r)| r);
    text.chars().take(200).collect()
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e: QueryRejection| {
                AppError::BadRequest(format!(
                    "This address has a parameter we cannot read ({}).",
                    reason(&e.body_text())
                ))
            })
    }
}

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        axum::extract::Form::<T>::from_request(request, state)
            .await
            .map(|f| Self(f.0))
            .map_err(|e: FormRejection| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
                _ => AppError::BadRequest(format!(
                    "This form is missing a field or has one we cannot read ({}). Reload the \
                     page and try again.",
                    reason(&e.body_text())
                )),
            })
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e: PathRejection| match e.status() {
                StatusCode::INTERNAL_SERVER_ERROR => AppError::Internal(e.body_text()),
                _ => AppError::NotFound("There is no page at this address.".into()),
            })
    }
}
