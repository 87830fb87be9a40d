//! Paperboy's HTTP server (axum): server-rendered HTML pages, and later the JSON API and feeds.
//!
//! [`router`] builds the whole application from an [`AppState`]; [`serve`] runs it on a
//! listener until the shutdown future resolves.

pub mod api;
pub mod auth;
pub mod cache;
pub mod comments;
pub mod csrf;
pub mod engine;
mod error;
pub mod extract;
pub mod feeds;
pub mod markdown;
pub mod math;
pub mod origin;
pub mod pages;
pub mod panic;
pub mod ratelimit;
pub mod site_errors;
mod state;
pub mod submit;

use std::future::Future;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::AppError;
pub use state::{AppState, CacheBudget};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The Content-Security-Policy of every response: no inline or third-party script, and no
/// image from another host (comment images are links, see [`markdown`]).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Builds the application.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// Builds the application with `extra` routes behind the same layers (tests add routes).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let mut app = extra;
    if let Some(dir) = &state.public_dir {
        app = app.nest_service("/public", tower_http::services::ServeDir::new(dir));
    }
    // The HTML forms: every state-changing request here must carry the CSRF token.
    let forms = Router::new()
        .route("/papers/{id}/upvote", post(pages::community::toggle_upvote))
        .route("/papers/{id}/comments", post(pages::community::add_comment))
        .route(
            "/comments/{id}/delete",
            post(pages::community::delete_comment),
        )
        .route(
            "/submit",
            get(pages::community::show_submit).post(pages::community::submit_paper),
        )
        .route(
            "/signin",
            get(pages::account::show_signin).post(pages::account::sign_in),
        )
        .route(
            "/signup",
            get(pages::account::show_signup).post(pages::account::sign_up),
        )
        .route(
            "/signup/confirm/{token}",
            get(pages::account::show_signup_confirm).post(pages::account::confirm_signup),
        )
        .route("/signout", post(pages::account::sign_out))
        .route(
            "/reset",
            get(pages::account::show_reset_request).post(pages::account::request_reset),
        )
        .route(
            "/reset/{token}",
            get(pages::account::show_reset).post(pages::account::reset_password),
        )
        .route("/settings/profile", post(pages::account::save_profile))
        .route("/settings/email", post(pages::account::save_email))
        .route("/settings/password", post(pages::account::save_password))
        .route("/comments/{id}/edit", post(pages::community::edit_comment))
        .route(
            "/orgs/new",
            get(pages::orgs::show_new).post(pages::orgs::create),
        )
        .route("/orgs/{name}/join", post(pages::orgs::join))
        .route("/orgs/{name}/leave", post(pages::orgs::leave))
        .route(
            "/orgs/{name}/invitation",
            post(pages::orgs::answer_invitation),
        )
        .route("/orgs/{name}/invite", post(pages::orgs::invite))
        .route(
            "/orgs/{name}/requests/{username}",
            post(pages::orgs::decide_request),
        )
        .route(
            "/orgs/{name}/members/{username}/role",
            post(pages::orgs::set_role),
        )
        .route(
            "/orgs/{name}/members/{username}/remove",
            post(pages::orgs::remove_member),
        )
        .route(
            "/orgs/{name}/papers/{id}/detach",
            post(pages::orgs::detach_paper),
        )
        .route("/authors/{name}/claim", post(pages::people::claim_author))
        .route("/admin/claims/{id}", post(pages::admin::decide_claim))
        .route("/admin/papers/{id}/hide", post(pages::admin::hide_paper))
        .route("/admin/papers/{id}/show", post(pages::admin::show_paper))
        .route(
            "/admin/comments/{id}/hide",
            post(pages::admin::hide_comment),
        )
        .route(
            "/admin/comments/{id}/show",
            post(pages::admin::show_comment),
        )
        .route(
            "/admin/users/{username}/suspend",
            post(pages::admin::suspend_user),
        )
        .route(
            "/admin/users/{username}/unsuspend",
            post(pages::admin::unsuspend_user),
        )
        .route("/settings/tokens", post(pages::account::create_token))
        .route(
            "/settings/tokens/{id}/revoke",
            post(pages::account::revoke_token),
        )
        .merge(pages::mail::mail_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::verify,
        ));
    app.route("/", get(pages::feed::show_latest_day))
        .route("/papers", get(pages::feed::show_latest_day))
        .route("/papers/date/{date}", get(pages::feed::show_day))
        .route("/papers/week/{week}", get(pages::feed::show_week))
        .route("/papers/month/{month}", get(pages::feed::show_month))
        .route("/papers/trending", get(pages::feed::show_trending))
        .route("/papers/for-you", get(pages::foryou::show))
        .route("/papers/{id}", get(pages::paper::show_paper))
        .route("/settings", get(pages::account::show_settings))
        .route("/search", get(pages::search::show_search))
        .route("/orgs", get(pages::orgs::list))
        .route("/orgs/{name}", get(pages::orgs::show))
        .route("/authors/{name}", get(pages::people::show_author))
        .route("/users/{username}", get(pages::people::show_user))
        .route("/admin", get(pages::admin::dashboard))
        .route("/static/style.css", get(pages::assets::stylesheet))
        .route("/healthz", get(pages::assets::health))
        .merge(forms)
        .merge(api::routes())
        .merge(feeds::routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::issue,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(site_errors::site_errors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(axum::middleware::from_fn(panic::catch_panic))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    mut state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    if state.origin.listening().is_none()
        && let Ok(addr) = listener.local_addr()
    {
        state.origin = std::sync::Arc::new(state.origin.as_ref().clone().listening_on(addr));
    }
    // No Nagle delay: a response's last segment goes out at once instead of waiting for the
    // client's (delayed) ACK, which otherwise adds tens of milliseconds to tail latency.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
