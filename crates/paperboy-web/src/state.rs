//! What every handler can reach: the store and the site's settings.

use std::sync::Arc;

use paperboy_ingest::ArxivClient;
use paperboy_store::Store;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// Where papers and users live.
    pub store: Arc<dyn Store>,
    /// The site's name, shown in the header and titles.
    pub site_name: Arc<str>,
    /// The arXiv API client `POST /api/papers/index` fetches metadata with: always the
    /// configured base URL, never one a request names.
    pub arxiv: ArxivClient,
    /// The JSON API's caches and rate limits.
    pub(crate) api: Arc<crate::api::ApiShared>,
}

impl AppState {
    /// State over a store, with default settings (the real arXiv API).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            site_name: Arc::from("Paperboy"),
            arxiv: ArxivClient::new(
                paperboy_ingest::arxiv::DEFAULT_BASE_URL,
                paperboy_ingest::arxiv::DEFAULT_MIN_INTERVAL,
            ),
            api: Arc::new(crate::api::ApiShared::default()),
        }
    }

    /// The same state with another arXiv client (a configured base URL, or a local fake in
    /// tests).
    pub fn with_arxiv(mut self, arxiv: ArxivClient) -> Self {
        self.arxiv = arxiv;
        self
    }
}
