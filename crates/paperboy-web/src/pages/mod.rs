//! Server-rendered HTML pages. The site works without JavaScript.

pub mod assets;
pub mod feed;
pub mod mail;
pub mod paper;
mod view;

use crate::AppError;

/// The page for any path nothing else serves.
pub async fn not_found() -> AppError {
    AppError::NotFound("There is no page at this address.".into())
}
