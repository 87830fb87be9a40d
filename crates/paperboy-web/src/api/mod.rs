//! The huggingface.co-compatible JSON API (`/api/…`, plus `/papers/{id}.md`): the daily list,
//! papers, search, the catalogue, personal-token writes, and the OpenAPI document that
//! describes it all (`/api/openapi.json`, generated from this code with `utoipa`).
//!
//! Error policy: every failure under `/api/` is JSON `{"error": "…"}` with its status
//! (400 bad input, 401 no or bad token, 403 suspended, 404 unknown, 413 body too large,
//! 429 too many writes, 502 arXiv unreachable); bad input is never a 500. Handlers parse the
//! query string themselves, so no extractor rejection can answer in another format, and
//! `json_errors` turns anything axum answers on its own (405, 413…) into the same shape.

mod auth;
mod cache;
pub mod dto;
mod index;
mod markdown;
mod papers;
mod similar;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use paperboy_store::StoreError;
use utoipa::OpenApi;

pub use auth::ApiUser;
pub use markdown::paper_markdown;
pub(crate) use papers::{Params, search};

use crate::AppState;

/// The largest JSON body a write endpoint accepts, in bytes.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024;

/// Writes (`POST /api/papers/index`) one user may make per minute (counted by the site's
/// [`crate::ratelimit::RateLimiter`], as [`crate::ratelimit::Action::ApiWrite`]).
pub const WRITES_PER_MINUTE: u32 = 30;

/// What the API keeps between requests: serialized pages for a short time.
#[derive(Default)]
pub struct ApiShared {
    pub(crate) cache: cache::ResponseCache,
}

impl ApiShared {
    /// Shared API state whose page cache holds at most `cache_bytes`.
    pub fn new(cache_bytes: usize) -> Self {
        Self {
            cache: cache::ResponseCache::new(cache_bytes),
        }
    }

    /// Forgets every cached API page (what they show has changed: a paper hidden, say).
    pub fn invalidate(&self) {
        self.cache.invalidate();
    }

    /// Bytes the API's page cache holds now.
    pub fn cache_bytes(&self) -> u64 {
        self.cache.bytes()
    }
}

/// An API failure, answered as JSON.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// No valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing here.
    #[error("{0}")]
    NotFound(String),
    /// The body is too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many requests: what to tell, and the seconds until one is allowed again.
    #[error("{message}")]
    TooManyRequests {
        /// What to tell the client.
        message: String,
        /// Seconds to wait (the `Retry-After` header).
        retry_after: u64,
    },
    /// A source Paperboy relies on failed.
    #[error("{0}")]
    BadGateway(String),
    /// The store failed.
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    /// Something else on our side failed (the search engine, say).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Store(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A JSON error response.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::to_vec(&dto::ErrorBody {
        error: message.to_owned(),
    })
    .unwrap_or_else(|_| b"{\"error\":\"error\"}".to_vec());
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "API request failed");
        }
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "Something went wrong on our side. Please try again in a moment.".to_owned()
        } else if let Self::Store(_) = self {
            // The store's wording ("not found: comment 107") is for the log, not the client.
            "Not found".to_owned()
        } else {
            self.to_string()
        };
        let mut r = error_response(status, &message);
        if let Self::TooManyRequests { retry_after, .. } = self {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        r
    }
}

/// A JSON response from bytes already serialized.
pub(crate) fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Turns any error answer that is not JSON yet (axum's own 405, 413, …) into
/// `{"error": "…"}` with the same status.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut r = error_response(status, status.canonical_reason().unwrap_or("error"));
        if let Some(allow) = response.headers().get(header::ALLOW) {
            r.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return r;
    }
    response
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("There is no API endpoint at this address.".into())
}

/// The API's routes, merged into the application router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/daily_papers", get(papers::list_daily_papers))
        .route("/api/papers", get(papers::list_papers))
        .route("/api/papers/search", get(papers::search_papers))
        .route(
            "/api/papers/index",
            post(index::index_paper).layer(DefaultBodyLimit::max(MAX_API_BODY_BYTES)),
        )
        .route("/api/papers/{id}", get(papers::get_paper))
        .route("/api/papers/{id}/similar", get(similar::similar_papers))
        .route("/api/recommendations", get(similar::recommendations))
        .route("/api/arxiv/{id}/repos", get(papers::get_repos))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .layer(axum::middleware::map_response(json_errors))
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Paperboy API",
        description = "A huggingface.co-compatible papers API: the daily list, papers, search, and the catalogue. Read endpoints are public; writes take a personal token (`Authorization: Bearer …`).",
        version = "1"
    ),
    paths(
        papers::list_daily_papers,
        papers::list_papers,
        papers::search_papers,
        papers::get_paper,
        papers::get_repos,
        similar::similar_papers,
        similar::recommendations,
        index::index_paper,
        markdown::paper_markdown_doc,
    ),
    components(schemas(dto::ErrorBody, dto::DailyItem, dto::SearchItem, dto::PaperInfo, dto::Repos, dto::IndexRequest, similar::SimilarItem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/openapi.json`
async fn openapi_json() -> Response {
    static DOC: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    match DOC.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string())) {
        Ok(json) => json_bytes(StatusCode::OK, json.clone()),
        Err(e) => {
            ApiError::BadGateway(format!("cannot render the OpenAPI document: {e}")).into_response()
        }
    }
}
