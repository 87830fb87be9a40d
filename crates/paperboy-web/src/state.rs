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
    /// Email digests (subscribe, confirm, unsubscribe, preview); `None` when this instance
    /// sends no mail.
    pub mail: Option<paperboy_mail::MailService>,
}

impl AppState {
    /// State over a store, with default settings.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            site_name: Arc::from("Paperboy"),
            mail: None,
        }
    }

    /// The same state with email digests enabled.
    pub fn with_mail(mut self, mail: paperboy_mail::MailService) -> Self {
        self.mail = Some(mail);
        self
    }
}
