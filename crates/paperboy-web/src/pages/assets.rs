//! Static assets compiled into the binary, and the health check.

use axum::http::header;
use axum::response::IntoResponse;

const STYLE: &str = include_str!("../../static/style.css");

/// `GET /static/style.css`
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
}

/// `GET /healthz`: the process is up.
pub async fn health() -> &'static str {
    "ok"
}
