//! The outermost layer of the site: every error answer is the site's own — the HTML error page,
//! or `{"error": …}` under `/api/` — whatever produced it (axum's 405 for a method a route
//! does not serve, a 413 from a body limit, a rejection with a plain-text body). A request
//! whose address is longer than [`MAX_URI_BYTES`] is answered 414 before anything reads it.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// The longest request address (path and query) served: 8 KiB.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Whether a path is the JSON API's (its errors are JSON).
fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// What to tell a visitor for an error status that came without the site's own message.
fn message(status: StatusCode, method: &str) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("This address does not take a {method} request.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => "The request is too large.".into(),
        StatusCode::URI_TOO_LONG => {
            format!("This address is too long: at most {MAX_URI_BYTES} bytes of path and query.")
        }
        StatusCode::NOT_FOUND => "There is no page at this address.".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "This request's body is not in a form we read.".into()
        }
        s if s.is_server_error() => {
            "Something went wrong on our side. Please try again in a moment.".into()
        }
        _ => "This request could not be read.".into(),
    }
}

/// The site's answer for `status` with `message`: the JSON error under `/api/`, else the page.
fn answer(api: bool, status: StatusCode, message: &str) -> Response {
    if api {
        return crate::api::error_response(status, message);
    }
    crate::error::page(status, message)
}

/// The layer (`axum::middleware::from_fn`).
pub async fn site_errors(request: Request, next: Next) -> Response {
    let api = is_api(request.uri().path());
    let method = request.method().to_string();
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return answer(
            api,
            StatusCode::URI_TOO_LONG,
            &message(StatusCode::URI_TOO_LONG, &method),
        );
    }
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Already the API's JSON, or under the site a document of its own (its page, a feed, a
    // paper's Markdown): only axum's bare or plain-text answers are replaced.
    let ours = if api {
        content_type.starts_with("application/json")
    } else {
        !(content_type.is_empty() || content_type.starts_with("text/plain"))
    };
    if ours {
        return response;
    }
    let mut answered = answer(api, status, &message(status, &method));
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            answered.headers_mut().insert(name, v.clone());
        }
    }
    answered
}
