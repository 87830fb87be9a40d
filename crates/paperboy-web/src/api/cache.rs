//! A short-lived cache of serialized API pages, keyed by the normalized request: the daily
//! list is read far more often than it changes. Entries live [`TTL`]; the cache holds at most
//! its budget in bytes (a [`ByteCache`]), so no number of distinct query strings can grow it.

use std::time::Duration;

use axum::body::Bytes;
use paperboy_core::cache::{ByteCache, ByteSize};

/// How long a page is served from the cache.
pub const TTL: Duration = Duration::from_secs(2);

/// Bytes kept when no budget is given (`paperboy serve` gives one from `--cache-mb`).
pub const DEFAULT_BYTES: usize = 15 << 20;

/// A cached page: the JSON body and its `Link` header.
#[derive(Clone)]
pub struct Cached {
    /// Body.
    pub body: Bytes,
    /// `Link` header value, when more pages follow.
    pub link: Option<String>,
}

impl ByteSize for Cached {
    fn byte_size(&self) -> usize {
        std::mem::size_of::<Self>() + self.body.len() + self.link.byte_size()
    }
}

/// The cache.
pub struct ResponseCache {
    entries: ByteCache<String, Cached>,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self::new(DEFAULT_BYTES)
    }
}

impl ResponseCache {
    /// A cache holding at most `bytes` of pages.
    pub fn new(bytes: usize) -> Self {
        Self {
            entries: ByteCache::new(bytes, TTL),
        }
    }

    /// A fresh entry for `key`.
    pub fn get(&self, key: &str) -> Option<Cached> {
        self.entries.get(key)
    }

    /// Keeps `value` for `key` (unless it is larger than the cache's share for one page).
    pub fn put(&self, key: String, value: Cached) {
        self.entries.insert(key, value);
    }

    /// Forgets every page: something they show has changed (a paper hidden, say).
    pub fn invalidate(&self) {
        self.entries.invalidate();
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.entries.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_queries_cannot_grow_the_cache_past_its_budget() {
        let cache = ResponseCache::new(4 << 20);
        let body = Bytes::from(vec![b'x'; 554_000]);
        for i in 0..200 {
            cache.put(
                format!("month=2024-01&limit={i}"),
                Cached {
                    body: body.clone(),
                    link: None,
                },
            );
            assert!(cache.bytes() <= 4 << 20, "{}", cache.bytes());
        }
        cache.put(
            "k".into(),
            Cached {
                body: Bytes::from_static(b"[]"),
                link: None,
            },
        );
        assert!(cache.get("k").is_some());
        cache.invalidate();
        assert!(cache.get("k").is_none());
    }
}
