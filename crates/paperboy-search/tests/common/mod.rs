//! Helpers shared by the search crate's integration tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use paperboy_search::Embedder;

/// An embedder that counts the documents it embeds (queries are not counted) and leaves
/// embedding to the backfill job, as a slow transformer does.
pub struct Counting {
    inner: Arc<dyn Embedder>,
    /// Documents embedded so far.
    pub documents: AtomicUsize,
}

impl Counting {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Embedder>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            documents: AtomicUsize::new(0),
        })
    }
}

impl Embedder for Counting {
    fn id(&self) -> String {
        self.inner.id()
    }
    fn dims(&self) -> usize {
        self.inner.dims()
    }
    fn embed_documents(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        self.documents.fetch_add(texts.len(), Ordering::SeqCst);
        self.inner.embed_documents(texts)
    }
    fn embed_query(&self, text: &str) -> Vec<f32> {
        self.inner.embed_query(text)
    }
    fn deferred(&self) -> bool {
        true
    }
}
