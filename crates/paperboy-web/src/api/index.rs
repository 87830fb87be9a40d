//! `POST /api/papers/index`: a token holder adds an arXiv paper to today's daily list. The
//! metadata come from the configured arXiv API (never a URL the request names); a paper
//! already on the list is returned as it is.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::Response;
use paperboy_core::ArxivId;

use super::dto::{self, IndexRequest, PaperInfo};
use super::{ApiError, ApiUser, json_bytes};
use crate::ratelimit::{Action, Client};
use crate::submit::SubmitError;
use crate::{AppError, AppState};

fn json_rejection(e: JsonRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!(
            "the body is larger than {} bytes",
            super::MAX_API_BODY_BYTES
        ))
    } else {
        ApiError::BadRequest(format!(
            "the body must be JSON like {{\"arxivId\": \"2310.06825\"}}: {}",
            e.body_text().chars().take(200).collect::<String>()
        ))
    }
}

fn paper_json(status: StatusCode, paper: &paperboy_core::Paper) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&PaperInfo::from_paper(paper))
        .map_err(|e| ApiError::BadGateway(format!("cannot serialize: {e}")))?;
    Ok(json_bytes(status, body))
}

/// `POST /api/papers/index`
#[utoipa::path(
    post,
    path = "/api/papers/index",
    request_body = IndexRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The paper was already on the daily list", body = PaperInfo),
        (status = 201, description = "The paper was added to today's list", body = PaperInfo),
        (status = 400, description = "Not JSON, or not an arXiv id", body = dto::ErrorBody),
        (status = 401, description = "No valid token", body = dto::ErrorBody),
        (status = 403, description = "The account is suspended", body = dto::ErrorBody),
        (status = 404, description = "arXiv does not know the paper", body = dto::ErrorBody),
        (status = 413, description = "The body is too large", body = dto::ErrorBody),
        (status = 429, description = "Too many writes; try again in a minute", body = dto::ErrorBody),
        (status = 502, description = "arXiv could not be reached", body = dto::ErrorBody),
    ),
    tag = "papers"
)]
pub async fn index_paper(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    body: Result<Json<IndexRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(json_rejection)?;
    // Exactly a new-style id, as huggingface.co takes it: no prefix, no white space.
    let id = ArxivId::parse(&request.arxiv_id)
        .ok()
        .filter(|id| id.to_string() == request.arxiv_id && !id.base().contains('/'))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`arxivId` must be an arXiv id like 2310.06825, not `{}`",
                request.arxiv_id.chars().take(64).collect::<String>()
            ))
        })?;
    if let Err(e) = state.limiter.check(Action::ApiWrite, Client::User(user.id)) {
        let retry_after = match e {
            AppError::TooManyRequests { retry_after } => retry_after,
            _ => 60,
        };
        return Err(ApiError::TooManyRequests {
            message: format!(
                "at most {} papers a minute; try again in {retry_after} s",
                super::WRITES_PER_MINUTE
            ),
            retry_after,
        });
    }
    match crate::submit::submit_paper(&state, &id, &user, None).await {
        Ok(done) if done.added => paper_json(StatusCode::CREATED, &done.paper),
        Ok(done) => paper_json(StatusCode::OK, &done.paper),
        Err(SubmitError::NotOnArxiv(id)) => Err(ApiError::NotFound(format!(
            "arXiv does not know the paper {id}"
        ))),
        Err(SubmitError::Removed(id)) => Err(ApiError::NotFound(format!(
            "the paper {id} was removed by this site's moderators"
        ))),
        Err(SubmitError::Unreachable(_)) => Err(ApiError::BadGateway(
            "arXiv could not be reached; try again later".into(),
        )),
        Err(SubmitError::Store(e)) => Err(e.into()),
    }
}
