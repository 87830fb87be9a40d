//! Personal-token authentication: [`ApiUser`] extracts the user an `Authorization: Bearer …`
//! header names (401 when missing or invalid, 403 for a suspended account).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use paperboy_store::User;

use super::ApiError;
use crate::AppState;

/// The user a request's bearer token belongs to.
#[derive(Debug, Clone)]
pub struct ApiUser(pub User);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "this endpoint needs a personal API token: `Authorization: Bearer …`".into(),
                )
            })?
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is malformed".into()))?;
        let (scheme, secret) = header.trim().split_once(' ').ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer TOKEN`".into())
        })?;
        let secret = secret.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() || secret.len() > 200 {
            return Err(ApiError::Unauthorized(
                "the Authorization header must be `Bearer TOKEN`".into(),
            ));
        }
        let user = state
            .store
            .authenticate_api_token(secret)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("this token is invalid or revoked".into()))?;
        if user.suspended {
            return Err(ApiError::Forbidden("this account is suspended".into()));
        }
        Ok(Self(user))
    }
}
