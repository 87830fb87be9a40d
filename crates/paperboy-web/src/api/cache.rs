//! A short-lived cache of serialized API pages, keyed by the normalized request: the daily
//! list is read far more often than it changes. Entries live [`TTL`]; the map is cleared
//! when it grows past [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// How long a page is served from the cache.
pub const TTL: Duration = Duration::from_secs(2);

/// Most pages kept.
const MAX_ENTRIES: usize = 4096;

/// A cached page: the JSON body and its `Link` header.
#[derive(Clone)]
pub struct Cached {
    /// Body.
    pub body: Bytes,
    /// `Link` header value, when more pages follow.
    pub link: Option<String>,
}

/// The cache.
#[derive(Default)]
pub struct ResponseCache {
    entries: Mutex<HashMap<String, (Instant, Cached)>>,
}

impl ResponseCache {
    /// A fresh entry for `key`.
    pub fn get(&self, key: &str) -> Option<Cached> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, c)| c.clone())
    }

    /// Keeps `value` for `key`.
    pub fn put(&self, key: String, value: Cached) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Drops every page: what a change that must show at once (a paper hidden or shown
    /// again) calls.
    pub fn invalidate(&self) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}
