//! A panic in a handler (or a middleware inside this one) becomes the site's 500 page, or the
//! JSON error under `/api/`, and is logged: the connection gets an answer and the worker
//! thread goes on serving, instead of the request's connection being dropped.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The middleware (`axum::middleware::from_fn(catch_panic)`, applied in [`crate::router`]).
pub async fn catch_panic(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut running = Box::pin(next.run(req));
    let outcome = std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| running.as_mut().poll(cx))) {
            Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    })
    .await;
    match outcome {
        Ok(response) => response,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(%method, %path, panic = %message, "a request handler panicked");
            if path == "/api" || path.starts_with("/api/") {
                crate::api::error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Please try again in a moment.",
                )
            } else {
                crate::AppError::Internal(format!("{method} {path} panicked: {message}"))
                    .into_response()
            }
        }
    }
}

/// The text a panic was raised with (`panic!("…")`), if it carries one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}
