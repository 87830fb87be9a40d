//! The one way the web layer asks the search engine: the query runs on a blocking thread (it
//! is CPU work) and each hit's paper is read from the store. Papers the store no longer shows
//! (hidden since the index last caught up) are left out.

use std::sync::Arc;

use paperboy_core::Paper;
use paperboy_search::{Hit, SearchEngine, SearchQuery};
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
pub async fn search_papers(
    state: &AppState,
    engine: Arc<SearchEngine>,
    text: &str,
    limit: usize,
    highlight: bool,
) -> Result<Vec<(Paper, Hit)>, SearchFailure> {
    let mut query = SearchQuery::new(text);
    query.limit = limit;
    query.highlight = highlight;
    let found = tokio::task::spawn_blocking(move || engine.search(&query))
        .await
        .map_err(|e| SearchFailure::Engine(e.to_string()))?
        .map_err(|e| SearchFailure::Engine(e.to_string()))?;
    let mut papers = Vec::with_capacity(found.hits.len());
    for hit in found.hits {
        let Some(id) = hit.arxiv_id() else { continue };
        if let Some(paper) = state.store.paper(&id).await? {
            papers.push((paper, hit));
        }
    }
    Ok(papers)
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
