//! A short-lived cache of the list pages as anonymous visitors see them. The feed is the
//! page everyone opens; rendering it once a second instead of once a request is what lets it
//! keep up with static files. Pages are stored with a placeholder where each visitor's CSRF
//! token goes. Any change made through this server (a vote, a comment, a submission) empties
//! the cache at once; changes from elsewhere (an import, another replica) show within the TTL.

use std::sync::Arc;
use std::time::Duration;

use paperboy_core::cache::ByteCache;

/// Stands in a cached page for the visitor's CSRF token.
pub const CSRF_MARK: &str = "\u{1}csrf\u{1}";

/// How long a page may be served from the cache.
const TTL: Duration = Duration::from_secs(2);

/// How long a paper's similar papers are kept (the vectors change only as papers arrive).
const SIMILAR_TTL: Duration = Duration::from_secs(60);

/// Bytes of pages kept when no budget is given (`paperboy serve` gives one from `--cache-mb`).
pub const DEFAULT_PAGE_BYTES: usize = 15 << 20;

/// Bytes of similar-paper lists kept when no budget is given.
pub const DEFAULT_SIMILAR_BYTES: usize = 5 << 20;

/// A similar paper as a paper page links it: base id, title as HTML, upvotes.
pub type SimilarLink = (String, String, i64);

/// The cache: rendered pages by path and query, and papers' similar papers by id, each
/// bounded by bytes.
#[derive(Debug)]
pub struct PageCache {
    pages: ByteCache<String, Arc<str>>,
    similar: ByteCache<String, Arc<[SimilarLink]>>,
}

impl Default for PageCache {
    fn default() -> Self {
        Self::new(DEFAULT_PAGE_BYTES, DEFAULT_SIMILAR_BYTES)
    }
}

impl PageCache {
    /// A cache keeping at most `page_bytes` of pages and `similar_bytes` of similar papers.
    pub fn new(page_bytes: usize, similar_bytes: usize) -> Self {
        Self {
            pages: ByteCache::new(page_bytes, TTL),
            similar: ByteCache::new(similar_bytes, SIMILAR_TTL),
        }
    }

    /// A page rendered for anonymous visitors, with `csrf` filled in, if fresh.
    pub fn get(&self, key: &str, csrf: &str) -> Option<String> {
        let html = self.pages.get(key)?;
        Some(html.replace(CSRF_MARK, csrf))
    }

    /// Keeps a page rendered with [`CSRF_MARK`] as its token (unless it is larger than the
    /// cache's share for one page).
    pub fn put(&self, key: String, html: &str) {
        self.pages.insert(key, html.into());
    }

    /// A paper's similar papers, if found recently and nothing changed since.
    pub fn similar(&self, id: &str) -> Option<Arc<[SimilarLink]>> {
        self.similar.get(id)
    }

    /// Keeps a paper's similar papers.
    pub fn put_similar(&self, id: String, links: Arc<[SimilarLink]>) {
        self.similar.insert(id, links);
    }

    /// Forgets every page: something they show has changed.
    pub fn invalidate(&self) {
        self.pages.invalidate();
        self.similar.invalidate();
    }

    /// Bytes held by pages and similar papers.
    pub fn bytes(&self) -> u64 {
        self.pages.bytes() + self.similar.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_page_gets_each_visitors_token_and_dies_on_invalidation() {
        let cache = PageCache::default();
        cache.put("/".into(), &format!("<input value=\"{CSRF_MARK}\">"));
        assert_eq!(
            cache.get("/", "abc").as_deref(),
            Some("<input value=\"abc\">")
        );
        assert_eq!(
            cache.get("/", "xyz").as_deref(),
            Some("<input value=\"xyz\">")
        );
        assert!(cache.get("/other", "abc").is_none());
        cache.invalidate();
        assert!(cache.get("/", "abc").is_none());
    }

    #[test]
    fn pages_are_bounded_by_bytes_not_by_count() {
        let cache = PageCache::new(1 << 20, 1 << 16);
        let page = "p".repeat(50_000);
        for i in 0..500 {
            cache.put(format!("/papers/date/{i}"), &page);
            assert!(cache.bytes() <= (1 << 20) + (1 << 16), "{}", cache.bytes());
        }
        // A page larger than the cache's share is not kept at all.
        cache.put("/huge".into(), &"h".repeat(1 << 20));
        assert!(cache.get("/huge", "t").is_none());
    }
}
