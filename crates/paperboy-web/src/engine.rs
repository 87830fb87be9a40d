//! The one way the web layer asks the search engine: the query runs on a blocking thread (it
//! is CPU work) and each hit's paper is read from the store. Papers the store no longer shows
//! (hidden since the index last caught up) are left out.

use std::sync::Arc;

use paperboy_core::Paper;
use paperboy_search::{Hit, SearchEngine, SearchQuery, Segment};
use paperboy_store::StoreError;

use crate::AppState;

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchFailure {
    /// The engine failed.
    #[error("search engine: {0}")]
    Engine(String),
    /// Reading a hit's paper failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The papers `engine` finds for `text`, best first, with their hits (scores, highlights).
/// While the engine's text index is being rebuilt (see [`SearchEngine::is_ready`]), or when
/// the engine fails, the store's word search answers instead (hits without highlights but
/// the abstract's start): a damaged index never turns a search into an error page.
pub async fn search_papers(
    state: &AppState,
    engine: Arc<SearchEngine>,
    text: &str,
    limit: usize,
    highlight: bool,
) -> Result<Vec<(Paper, Hit)>, SearchFailure> {
    if !engine.is_ready() {
        tracing::debug!("the search index is being rebuilt: the store's word search answers");
        return store_search(state, text, limit).await;
    }
    let mut query = SearchQuery::new(text);
    query.limit = limit;
    query.highlight = highlight;
    let found = match tokio::task::spawn_blocking(move || engine.search(&query)).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "search failed: the store's word search answers");
            return store_search(state, text, limit).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "search panicked: the store's word search answers");
            return store_search(state, text, limit).await;
        }
    };
    let mut papers = Vec::with_capacity(found.hits.len());
    for hit in found.hits {
        let Some(id) = hit.arxiv_id() else { continue };
        if let Some(paper) = state.store.paper(&id).await? {
            papers.push((paper, hit));
        }
    }
    Ok(papers)
}

/// The store's word search as hits (the fallback of [`search_papers`]).
async fn store_search(
    state: &AppState,
    text: &str,
    limit: usize,
) -> Result<Vec<(Paper, Hit)>, SearchFailure> {
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let papers = state.store.search_papers_simple(text, limit).await?;
    Ok(papers
        .into_iter()
        .map(|paper| {
            let snippet: String = paper.summary.chars().take(300).collect();
            let hit = Hit {
                key: paper.id.base().to_owned(),
                score: 0.0,
                highlighted_title: Vec::new(),
                highlighted_summary: vec![Segment::text(snippet)],
            };
            (paper, hit)
        })
        .collect())
}

impl From<SearchFailure> for crate::AppError {
    fn from(e: SearchFailure) -> Self {
        match e {
            SearchFailure::Store(e) => Self::Store(e),
            SearchFailure::Engine(m) => Self::Internal(m),
        }
    }
}

impl From<SearchFailure> for crate::api::ApiError {
    fn from(e: SearchFailure) -> Self {
        match e {
            SearchFailure::Store(e) => Self::Store(e),
            SearchFailure::Engine(m) => Self::Internal(m),
        }
    }
}

/// How many of a user's most recent upvotes their recommendations are drawn from.
pub const UPVOTES_CONSIDERED: u32 = 200;

/// Papers for `user_id` from what they upvoted (their most recent [`UPVOTES_CONSIDERED`]),
/// best first, with the score (cosine similarity to the closest of their interests); empty
/// without upvotes. Upvoted papers are never recommended.
pub async fn recommend_papers(
    state: &AppState,
    engine: Arc<SearchEngine>,
    user_id: i64,
    limit: usize,
) -> Result<Vec<(Paper, f32)>, SearchFailure> {
    let upvoted: Vec<paperboy_core::ArxivId> = state
        .store
        .upvoted_paper_ids(user_id, UPVOTES_CONSIDERED)
        .await?
        .iter()
        .filter_map(|id| paperboy_core::ArxivId::parse(id).ok())
        .collect();
    if upvoted.is_empty() {
        return Ok(Vec::new());
    }
    let scored = tokio::task::spawn_blocking(move || engine.recommend(&upvoted, limit))
        .await
        .map_err(|e| SearchFailure::Engine(e.to_string()))?;
    Ok(scored_papers(state, scored).await?)
}

/// The papers the engine's scored keys name, in order, with their scores; keys the store no
/// longer shows (hidden since the index last caught up) are left out.
pub async fn scored_papers(
    state: &AppState,
    scored: Vec<paperboy_search::Scored>,
) -> Result<Vec<(Paper, f32)>, StoreError> {
    let mut papers = Vec::with_capacity(scored.len());
    for s in scored {
        let Ok(id) = paperboy_core::ArxivId::parse(&s.key) else {
            continue;
        };
        if let Some(paper) = state.store.paper(&id).await? {
            papers.push((paper, s.score));
        }
    }
    Ok(papers)
}
