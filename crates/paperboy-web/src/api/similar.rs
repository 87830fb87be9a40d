//! Paperboy's own additions to the papers API, from the search engine's vectors:
//! `GET /api/papers/{id}/similar` (papers like this one) and `GET /api/recommendations` (papers
//! for the token's owner, from what they upvoted).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use paperboy_core::ArxivId;
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{self, PaperInfo};
use super::papers::Params;
use super::{ApiError, ApiUser, json_bytes};
use crate::AppState;

/// Default and largest `limit`.
const LIMIT: (u32, u32) = (10, 50);

/// A paper with how close it is to the one asked about.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarItem {
    /// The paper.
    pub paper: PaperInfo,
    /// Cosine similarity of the two papers' embeddings (−1 to 1).
    pub similarity: f32,
}

/// `GET /api/papers/{id}/similar?limit=`: the papers closest to this one, closest first.
#[utoipa::path(
    get,
    path = "/api/papers/{id}/similar",
    params(
        ("id" = String, Path, description = "arXiv id, like 2310.06825"),
        ("limit" = Option<u32>, Query, description = "How many, 1 to 50 (default 10)", minimum = 1, maximum = 50),
    ),
    responses(
        (status = 200, description = "Similar papers, closest first", body = Vec<SimilarItem>),
        (status = 400, description = "A malformed limit", body = dto::ErrorBody),
        (status = 404, description = "Unknown or malformed id", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn similar_papers(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = ArxivId::parse(&raw).map_err(|e| ApiError::NotFound(e.to_string()))?;
    let limit = Params::parse(query.as_deref()).int("limit", LIMIT.0, 1, LIMIT.1)?;
    if state.store.paper(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "Paperboy does not know the paper {id}"
        )));
    }
    let mut items = Vec::new();
    if let Some(engine) = state.search.clone() {
        let key = id.clone();
        let scored = tokio::task::spawn_blocking(move || engine.similar(&key, limit as usize))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        items = crate::engine::scored_papers(&state, scored)
            .await?
            .into_iter()
            .map(|(p, score)| SimilarItem {
                paper: PaperInfo::from_paper(&p),
                similarity: score,
            })
            .collect();
    }
    let body = serde_json::to_vec(&items).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_bytes(StatusCode::OK, body))
}

/// `GET /api/recommendations?limit=`: papers for the token's owner from the papers they
/// upvoted, best first (empty without upvotes). Needs a personal token.
#[utoipa::path(
    get,
    path = "/api/recommendations",
    params(
        ("limit" = Option<u32>, Query, description = "How many, 1 to 50 (default 10)", minimum = 1, maximum = 50),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recommended papers, best first; `similarity` is to the closest of the user's interests", body = Vec<SimilarItem>),
        (status = 400, description = "A malformed limit", body = dto::ErrorBody),
        (status = 401, description = "No valid token", body = dto::ErrorBody),
        (status = 403, description = "The account is suspended", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn recommendations(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let limit = Params::parse(query.as_deref()).int("limit", LIMIT.0, 1, LIMIT.1)?;
    let mut items = Vec::new();
    if let Some(engine) = state.search.clone() {
        for (paper, score) in
            crate::engine::recommend_papers(&state, engine, user.id, limit as usize).await?
        {
            items.push(SimilarItem {
                paper: PaperInfo::from_paper(&paper),
                similarity: score,
            });
        }
    }
    let body = serde_json::to_vec(&items).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_bytes(StatusCode::OK, body))
}
