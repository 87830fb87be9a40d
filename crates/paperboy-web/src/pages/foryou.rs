//! `/papers/for-you`: a signed-in user's recommendations, from the papers they upvoted (the
//! search engine groups their upvotes into interests and finds the papers closest to them).

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use super::Ctx;
use super::view::Card;
use crate::auth::SignedIn;
use crate::{AppError, AppState};

/// Recommendations shown.
const LIMIT: usize = 30;

#[derive(Template)]
#[template(path = "foryou.html")]
struct ForYouPage {
    ctx: Ctx,
    cards: Vec<Card>,
    /// The search engine runs (without it there are no recommendations to give).
    engine: bool,
    here: String,
}

/// `GET /papers/for-you`
pub async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ctx: Ctx,
) -> Result<Response, AppError> {
    let (cards, engine) = match state.search.clone() {
        Some(engine) => {
            let found = crate::engine::recommend_papers(&state, engine, user.id, LIMIT).await?;
            (
                found.iter().map(|(p, _)| Card::from_paper(p)).collect(),
                true,
            )
        }
        None => (Vec::new(), false),
    };
    Ok(Html(
        ForYouPage {
            ctx,
            cards,
            engine,
            here: "/papers/for-you".into(),
        }
        .render()?,
    )
    .into_response())
}
