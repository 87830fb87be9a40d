//! What every handler can reach: the store, the arXiv client, the site's settings.

use std::sync::Arc;

use paperboy_ingest::ArxivClient;
use paperboy_store::Store;

use crate::auth::CookiePolicy;
use crate::ratelimit::RateLimiter;

/// How a total cache budget (`paperboy serve --cache-mb`) is split between the caches of one
/// process, in bytes. Each cache keeps no entry larger than (most of) a quarter of its share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBudget {
    /// Rendered list pages.
    pub pages: usize,
    /// Papers' similar papers.
    pub similar: usize,
    /// Serialized API pages.
    pub api: usize,
    /// The mail worker's rendered editions.
    pub mail: usize,
}

impl CacheBudget {
    /// Splits `total` bytes: 3/8 to pages, 3/8 to the API, 1/8 to similar papers, 1/8 to mail.
    pub fn split(total: usize) -> Self {
        let eighth = total / 8;
        Self {
            pages: eighth * 3,
            similar: eighth,
            api: eighth * 3,
            mail: eighth,
        }
    }
}

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// Where papers and users live.
    pub store: Arc<dyn Store>,
    /// The site's name, shown in the header and titles.
    pub site_name: Arc<str>,
    /// Cookie attributes.
    pub cookies: CookiePolicy,
    /// Rate limits.
    pub limiter: Arc<RateLimiter>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see
    /// [`crate::ratelimit::ClientAddr`]).
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Fetches submitted papers' metadata (the submit page, `POST /api/papers/index`): always
    /// the configured base URL, never one a request names.
    pub arxiv: ArxivClient,
    /// Rendered list pages for anonymous visitors.
    pub pages: Arc<crate::cache::PageCache>,
    /// A folder served as-is under `/public/` (logos, a robots.txt, benchmark baselines).
    pub public_dir: Option<std::path::PathBuf>,
    /// The JSON API's caches and rate limits.
    pub(crate) api: Arc<crate::api::ApiShared>,
    /// The search engine (hybrid keyword + semantic); without it, search falls back to the
    /// store's plain word match.
    pub search: Option<Arc<paperboy_search::SearchEngine>>,
    /// Email digests (subscribe, confirm, unsubscribe, preview); `None` when this instance
    /// sends no mail.
    pub mail: Option<paperboy_mail::MailService>,
    /// Where the site lives, for absolute links (`--base-url`, `--allowed-host`).
    pub origin: Arc<crate::origin::SiteOrigin>,
    /// Password hashing, at most a fixed number at once.
    pub hashers: Arc<crate::auth::Hashers>,
}

impl AppState {
    /// State over a store, with default settings: secure cookies, the real arXiv API.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            site_name: Arc::from("Paperboy"),
            cookies: CookiePolicy { secure: true },
            limiter: Arc::new(RateLimiter::default()),
            trusted_proxies: Arc::from(Vec::new()),
            arxiv: ArxivClient::new(
                paperboy_ingest::arxiv::DEFAULT_BASE_URL,
                paperboy_ingest::arxiv::DEFAULT_MIN_INTERVAL,
            ),
            public_dir: None,
            pages: Arc::new(crate::cache::PageCache::default()),
            api: Arc::new(crate::api::ApiShared::default()),
            search: None,
            mail: None,
            origin: Arc::new(crate::origin::SiteOrigin::default()),
            hashers: Arc::new(crate::auth::Hashers::default()),
        }
    }

    /// The same state with another arXiv client (a configured base URL, or a local fake in
    /// tests).
    pub fn with_arxiv(mut self, arxiv: ArxivClient) -> Self {
        self.arxiv = arxiv;
        self
    }

    /// The same state with its caches (pages, similar papers, API pages) sized to hold at most
    /// the budget's shares (see [`CacheBudget::split`]).
    pub fn with_cache_budget(mut self, budget: CacheBudget) -> Self {
        self.pages = Arc::new(crate::cache::PageCache::new(budget.pages, budget.similar));
        self.api = Arc::new(crate::api::ApiShared::new(budget.api));
        self
    }

    /// The same state with email digests enabled.
    pub fn with_mail(mut self, mail: paperboy_mail::MailService) -> Self {
        self.mail = Some(mail);
        self
    }
}
