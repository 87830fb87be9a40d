//! What every handler can reach: the store and the site's settings.

use std::sync::Arc;

use paperboy_store::Store;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// Where papers and users live.
    pub store: Arc<dyn Store>,
    /// The site's name, shown in the header and titles.
    pub site_name: Arc<str>,
}

impl AppState {
    /// State over a store, with default settings.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            site_name: Arc::from("Paperboy"),
        }
    }
}
