//! One cache for every part of Paperboy that keeps computed answers in memory (the site's
//! pages, the API's serialized pages, the mail worker's editions): bounded by **bytes**, not
//! by a count of entries, so no mix of requests can make it grow past its budget. Built on
//! `quick_cache` (S3-FIFO eviction, sharded locks); entries also expire after a time to live,
//! and [`ByteCache::invalidate`] forgets everything at once when what they show changes.
//!
//! An entry weighs its key's and value's [`ByteSize`] plus a fixed overhead; an entry larger
//! than [`ByteCache::max_entry_bytes`] (a fraction of the budget) is simply not kept.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bytes counted for each entry on top of its key and value: the map slot, the time stamp,
/// the allocation headers.
pub const ENTRY_OVERHEAD: usize = 96;

/// Shards of every cache (independent locks); an entry must fit in one shard's share.
const SHARDS: usize = 4;

/// How many bytes a value holds, itself and what it owns on the heap (an estimate that must
/// never undercount by much: it is what keeps a cache within its budget).
pub trait ByteSize {
    /// Bytes held.
    fn byte_size(&self) -> usize;
}

impl ByteSize for str {
    fn byte_size(&self) -> usize {
        self.len()
    }
}

impl ByteSize for String {
    fn byte_size(&self) -> usize {
        std::mem::size_of::<Self>() + self.capacity()
    }
}

impl<T: ByteSize> ByteSize for Vec<T> {
    fn byte_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + (self.capacity() - self.len()) * std::mem::size_of::<T>()
            + self.iter().map(ByteSize::byte_size).sum::<usize>()
    }
}

impl<T: ByteSize> ByteSize for [T] {
    fn byte_size(&self) -> usize {
        self.iter().map(ByteSize::byte_size).sum()
    }
}

impl<T: ByteSize + ?Sized> ByteSize for Arc<T> {
    fn byte_size(&self) -> usize {
        // The counts and the pointer; the value is shared but counted in full here.
        2 * std::mem::size_of::<usize>() + std::mem::size_of::<Self>() + (**self).byte_size()
    }
}

impl<T: ByteSize> ByteSize for Option<T> {
    fn byte_size(&self) -> usize {
        std::mem::size_of::<Self>() + self.as_ref().map_or(0, ByteSize::byte_size)
    }
}

macro_rules! plain_size {
    ($($t:ty),*) => {$(
        impl ByteSize for $t {
            fn byte_size(&self) -> usize {
                std::mem::size_of::<Self>()
            }
        }
    )*};
}
plain_size!(u8, u16, u32, u64, i32, i64, usize, bool, f32, f64);

impl<A: ByteSize, B: ByteSize> ByteSize for (A, B) {
    fn byte_size(&self) -> usize {
        self.0.byte_size() + self.1.byte_size()
    }
}

impl<A: ByteSize, B: ByteSize, C: ByteSize> ByteSize for (A, B, C) {
    fn byte_size(&self) -> usize {
        self.0.byte_size() + self.1.byte_size() + self.2.byte_size()
    }
}

/// An entry: when it was kept, in which generation, its weight, the value.
#[derive(Clone)]
struct Entry<V> {
    at: Instant,
    generation: u64,
    bytes: u64,
    value: V,
}

/// Weighs an entry by the bytes computed when it was kept.
#[derive(Clone, Copy, Default)]
struct ByBytes;

impl<K, V> quick_cache::Weighter<K, Entry<V>> for ByBytes {
    fn weight(&self, _key: &K, entry: &Entry<V>) -> u64 {
        entry.bytes.max(1)
    }
}

/// A concurrent cache bounded by bytes, with a time to live and whole-cache invalidation.
pub struct ByteCache<K, V> {
    inner: quick_cache::sync::Cache<K, Entry<V>, ByBytes>,
    budget: u64,
    max_entry: u64,
    ttl: Duration,
    generation: AtomicU64,
}

impl<K, V> std::fmt::Debug for ByteCache<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteCache")
            .field("budget", &self.budget)
            .field("bytes", &self.inner.weight())
            .field("entries", &self.inner.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<K, V> ByteCache<K, V>
where
    K: Eq + Hash + Clone + ByteSize,
    V: Clone + ByteSize,
{
    /// A cache holding at most `budget_bytes` of entries, each for at most `ttl`.
    pub fn new(budget_bytes: usize, ttl: Duration) -> Self {
        let budget = budget_bytes as u64;
        // quick_cache refuses an entry heavier than (most of) one shard's share.
        let max_entry = budget / SHARDS as u64 * 9 / 10;
        // A guess for the table's initial size; it grows as needed.
        let estimated_items = (budget_bytes / 8192).clamp(SHARDS * 32, 1 << 16);
        let options = quick_cache::OptionsBuilder::new()
            .shards(SHARDS)
            .estimated_items_capacity(estimated_items)
            .weight_capacity(budget.max(1))
            .build()
            .unwrap_or_else(|_| unreachable!("every option is set"));
        Self {
            inner: quick_cache::sync::Cache::with_options(
                options,
                ByBytes,
                quick_cache::DefaultHashBuilder::default(),
                quick_cache::sync::DefaultLifecycle::default(),
            ),
            budget,
            max_entry,
            ttl,
            generation: AtomicU64::new(0),
        }
    }

    /// The value kept under `key`, if it is younger than the time to live and nothing was
    /// invalidated since it was kept.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized,
    {
        let entry = self.inner.get(key)?;
        (entry.generation == self.generation.load(Ordering::Acquire)
            && entry.at.elapsed() < self.ttl)
            .then_some(entry.value)
    }

    /// Keeps `value` under `key` (replacing any older value); returns whether it was kept: an
    /// entry larger than [`Self::max_entry_bytes`] is not.
    pub fn insert(&self, key: K, value: V) -> bool {
        self.insert_in(self.generation(), key, value)
    }

    /// Keeps `value` computed in `generation` (read with [`Self::generation`] before the value
    /// was computed): if the cache was invalidated meanwhile, the value is stale and is not kept.
    pub fn insert_in(&self, generation: u64, key: K, value: V) -> bool {
        let bytes = (key.byte_size() + value.byte_size() + ENTRY_OVERHEAD) as u64;
        if bytes > self.max_entry || generation != self.generation() {
            self.inner.remove(&key);
            return false;
        }
        self.inner.insert(
            key,
            Entry {
                at: Instant::now(),
                generation,
                bytes,
                value,
            },
        );
        true
    }

    /// The current generation (see [`Self::insert_in`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets every entry: what they show has changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.clear();
    }

    /// Bytes held now (by the weights of the entries).
    pub fn bytes(&self) -> u64 {
        self.inner.weight()
    }

    /// Entries held now (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The budget, in bytes.
    pub fn budget_bytes(&self) -> u64 {
        self.budget
    }

    /// The largest entry kept, in bytes (key, value and overhead).
    pub fn max_entry_bytes(&self) -> u64 {
        self.max_entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn the_bytes_held_never_exceed_the_budget_whatever_is_inserted() {
        let cache: ByteCache<String, String> = ByteCache::new(200_000, LONG);
        for i in 0..5_000 {
            let value = "x".repeat(100 + (i * 37) % 9_000);
            cache.insert(format!("/api/daily_papers?p={i}"), value);
            assert!(cache.bytes() <= 200_000, "{} after {i}", cache.bytes());
        }
        assert!(
            cache.len() > 10,
            "it still keeps what fits: {}",
            cache.len()
        );
        let last = format!("/api/daily_papers?p={}", 4_999);
        assert!(cache.get(&last).is_some(), "the newest entry is there");
    }

    #[test]
    fn an_entry_larger_than_its_share_is_not_kept() {
        let cache: ByteCache<String, String> = ByteCache::new(100_000, LONG);
        assert!(!cache.insert("big".into(), "x".repeat(100_000)));
        assert!(cache.get("big").is_none());
        assert!(cache.insert("small".into(), "x".repeat(1_000)));
        assert_eq!(cache.get("small").map(|v| v.len()), Some(1_000));
        // A value that grows past the limit replaces nothing stale.
        assert!(!cache.insert("small".into(), "y".repeat(99_000)));
        assert!(cache.get("small").is_none());
    }

    #[test]
    fn invalidation_forgets_everything_and_refuses_what_was_computed_before_it() {
        let cache: ByteCache<i64, Arc<str>> = ByteCache::new(100_000, LONG);
        cache.insert(1, Arc::from("one"));
        let before = cache.generation();
        cache.invalidate();
        assert!(cache.get(&1).is_none());
        assert!(cache.is_empty());
        assert!(!cache.insert_in(before, 2, Arc::from("computed before")));
        assert!(cache.get(&2).is_none());
        assert!(cache.insert(2, Arc::from("two")));
        assert_eq!(cache.get(&2).as_deref(), Some("two"));
    }

    #[test]
    fn entries_expire_after_the_time_to_live() {
        let cache: ByteCache<String, String> = ByteCache::new(100_000, Duration::ZERO);
        cache.insert("k".into(), "v".into());
        assert!(cache.get("k").is_none());
    }

    #[test]
    fn sizes_count_the_heap() {
        assert!("abc".to_owned().byte_size() >= 3);
        let v = vec!["x".repeat(1_000), "y".repeat(500)];
        assert!(v.byte_size() >= 1_500);
        let a: Arc<[String]> = v.into();
        assert!(a.byte_size() >= 1_500);
    }
}
