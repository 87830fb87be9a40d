//! Cross-site request forgery protection: every state-changing request (a POST: the forms
//! serve no other unsafe method, so PUT, PATCH and DELETE get the router's 405) outside the token-authenticated `/api/` and the one-click `/unsubscribe/`
//! endpoints must carry the value of the visitor's CSRF cookie, as a `csrf_token` form field
//! or an `X-CSRF-Token` header; otherwise it is refused with 403. The cookie is set on the
//! visitor's first request (`__Host-` prefixed, so no other origin can plant it).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::auth::{cookie, new_token};
use crate::{AppError, AppState, MAX_BODY_BYTES};

/// The visitor's CSRF token, for forms to embed.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// Length of a token [`new_token`] makes: 32 random bytes in unpadded URL-safe base64.
const TOKEN_CHARS: usize = 43;

impl CsrfToken {
    /// A token from a cookie value, if it has exactly the shape the server issues (43
    /// URL-safe base64 characters). Anything else (a planted `"><img …>`, say) is not a token:
    /// the visitor gets a new one.
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == TOKEN_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(value.to_owned()))
    }
}

/// `token` HTML-escaped, for splicing into markup that no template escapes (the page cache
/// fills its [`crate::cache::CSRF_MARK`] with it).
pub fn escape_html(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    crate::math::escape(token, &mut out);
    out
}

fn exempt(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/unsubscribe/")
}

/// Gives every visitor a CSRF cookie (on the first response) and every handler the token,
/// as the [`CsrfToken`] extension. Runs on every request.
pub async fn issue(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let name = state.cookies.csrf_name();
    let existing = cookie(request.headers(), name)
        .and_then(CsrfToken::parse)
        .map(|t| t.0);
    let token = existing.clone().unwrap_or_else(new_token);
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if existing.is_none()
        && let Ok(v) = HeaderValue::from_str(&state.cookies.set(name, &token, 365 * 24 * 3600))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Refuses a state-changing request whose token does not match the visitor's cookie. Layered
/// on the routers of the HTML forms only, so that a method a route does not serve still gets
/// the router's 405.
pub async fn verify(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The forms take GET and POST only: any other method is the router's 405, not a 403.
    if *request.method() != Method::POST || exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let cookies_refused = crate::origin::cookies_refused(&state, request.headers());
    let refused = || {
        let message = if cookies_refused {
            format!(
                "This form has expired, and reloading will not help. {}",
                crate::origin::PLAIN_HTTP_ADVICE
            )
        } else {
            "This form has expired. Reload the page and try again.".to_owned()
        };
        AppError::Forbidden(message).into_response()
    };
    let Some(expected) = cookie(request.headers(), state.cookies.csrf_name())
        .and_then(CsrfToken::parse)
        .map(|t| t.0)
    else {
        return refused();
    };
    let (parts, body) = request.into_parts();
    let from_header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return AppError::PayloadTooLarge.into_response(),
    };
    let given = from_header
        .or_else(|| form_field(&bytes, "csrf_token"))
        .unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded_pairs(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn form_urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    body.split(|b| *b == b'&').filter_map(|pair| {
        let mut it = pair.splitn(2, |b| *b == b'=');
        let k = decode(it.next()?)?;
        let v = decode(it.next().unwrap_or(b""))?;
        Some((k, v))
    })
}

fn decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
