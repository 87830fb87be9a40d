//! A short-lived cache of the list pages as anonymous visitors see them. The feed is the
//! page everyone opens; rendering it once a second instead of once a request is what lets it
//! keep up with static files. Pages are stored with a placeholder where each visitor's CSRF
//! token goes. Any change made through this server (a vote, a comment, a submission) empties
//! the cache at once; changes from elsewhere (an import, another replica) show within the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Stands in a cached page for the visitor's CSRF token.
pub const CSRF_MARK: &str = "\u{1}csrf\u{1}";

/// How long a page may be served from the cache.
const TTL: Duration = Duration::from_secs(2);
/// Most pages kept.
const CAPACITY: usize = 2048;

/// A rendered page: when, in which generation, and its HTML.
#[derive(Debug)]
struct Entry {
    at: Instant,
    generation: u64,
    html: std::sync::Arc<str>,
}

/// How long a paper's similar papers are kept (the vectors change only as papers arrive).
const SIMILAR_TTL: Duration = Duration::from_secs(60);

/// A similar paper as a paper page links it: base id, title as HTML, upvotes.
pub type SimilarLink = (String, String, i64);

/// A paper's similar papers: when found, in which generation, the links.
type SimilarEntry = (Instant, u64, std::sync::Arc<[SimilarLink]>);

/// The cache.
#[derive(Debug, Default)]
pub struct PageCache {
    generation: AtomicU64,
    pages: Mutex<HashMap<String, Entry>>,
    similar: Mutex<HashMap<String, SimilarEntry>>,
}

impl PageCache {
    /// A page rendered for anonymous visitors, with `csrf` filled in, if fresh.
    pub fn get(&self, key: &str, csrf: &str) -> Option<String> {
        let generation = self.generation.load(Ordering::Acquire);
        let pages = self
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = pages.get(key)?;
        let html = (entry.generation == generation && entry.at.elapsed() < TTL)
            .then(|| entry.html.clone())?;
        drop(pages);
        // Filled in outside the lock: the page is copied once per visitor anyway.
        Some(html.replace(CSRF_MARK, csrf))
    }

    /// Keeps a page rendered with [`CSRF_MARK`] as its token.
    pub fn put(&self, key: String, html: &str) {
        let generation = self.generation.load(Ordering::Acquire);
        let mut pages = self
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pages.len() >= CAPACITY {
            pages.clear();
        }
        pages.insert(
            key,
            Entry {
                at: Instant::now(),
                generation,
                html: html.into(),
            },
        );
    }

    /// A paper's similar papers, if found recently and nothing changed since.
    pub fn similar(&self, id: &str) -> Option<std::sync::Arc<[SimilarLink]>> {
        let generation = self.generation.load(Ordering::Acquire);
        let map = self
            .similar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (at, entry_generation, links) = map.get(id)?;
        (*entry_generation == generation && at.elapsed() < SIMILAR_TTL).then(|| links.clone())
    }

    /// Keeps a paper's similar papers.
    pub fn put_similar(&self, id: String, links: std::sync::Arc<[SimilarLink]>) {
        let generation = self.generation.load(Ordering::Acquire);
        let mut map = self
            .similar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= CAPACITY * 4 {
            map.clear();
        }
        map.insert(id, (Instant::now(), generation, links));
    }

    /// Forgets every page: something they show has changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
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
}
