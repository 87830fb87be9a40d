//! Paperboy's search engine: hybrid keyword + semantic search over the catalogue, similar
//! papers and personalized recommendations.
//!
//! The index is derived from the store and lives under `DATA_DIR/search/`:
//! - `text/`: a tantivy index (BM25, English stemming; title boosted) — [`text`];
//! - `vectors.log`, `hnsw.bin`: the document embeddings and their HNSW graph — [`ann`], [`hnsw`];
//! - `state.json`: the store change cursor reached and the embedder the vectors came from.
//!
//! [`SearchEngine::catch_up`] reads the store's change stream
//! ([`paperboy_store::Store::papers_changed_since`]) from that cursor, so a replica that starts
//! late (or several replicas on one PostgreSQL) reaches the same index. The default embedder is
//! the built-in [`embed::StaticEmbedder`]: semantic search needs no setup and no network. A
//! slow embedder (the optional transformer, [`onnx::OnnxEmbedder`]) is not waited for: a
//! catch-up indexes the text at once and reserves the papers' vector slots, and
//! [`SearchEngine::backfill`] ([`backfill`] runs it as a job) embeds them afterwards.

pub mod ann;
pub mod backfill;
pub mod embed;
pub mod eval;
pub mod hnsw;
pub mod onnx;
pub mod text;
pub mod tokenize;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, DateWindow, Paper};
use paperboy_store::{ChangeCursor, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::ann::{Slot, TopK, VectorIndex};
pub use crate::embed::{Embedder, EmbedderChoice, StaticEmbedder};
pub use crate::onnx::OnnxEmbedder;
use crate::text::TextIndex;

/// What can go wrong in search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The full-text index failed.
    #[error("search index error: {0}")]
    Index(String),
    /// A file could not be read or written.
    #[error("search index file error: {0}")]
    Io(String),
    /// The embedding model is unusable.
    #[error("embedding model error: {0}")]
    Model(String),
    /// The store failed while the index caught up.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another process (a running `paperboy serve`, say) has the index open for writing.
    #[error("the search index in {0} is in use by another process")]
    InUse(String),
}

/// Weight of the semantic side in hybrid fusion (z-scores per query; tuned on SciFact train).
pub const DEFAULT_SEMANTIC_WEIGHT: f32 = 0.30;

/// Pseudo-relevance feedback (Rocchio's, on query vectors): a hybrid search takes its best
/// `papers` hits, moves the query vector towards their mean by `weight`, and asks the semantic
/// side again with it. A transformer's relevant papers that the query alone ranks too low are
/// often close to the ones it ranks first (SciFact train, Recall@100 0.953 → 0.963 with
/// all-MiniLM-L6-v2); it costs a second vector search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// Best hits taken as relevant.
    pub papers: usize,
    /// Weight of their mean against the query vector's.
    pub weight: f32,
}

impl Feedback {
    /// `query` moved towards the mean of `relevant`, normalized.
    pub fn query(&self, query: &[f32], relevant: &[Vec<f32>]) -> Vec<f32> {
        let mut q = query.to_vec();
        if !relevant.is_empty() {
            let share = self.weight / relevant.len() as f32;
            for v in relevant {
                for (a, b) in q.iter_mut().zip(v) {
                    *a += share * b;
                }
            }
        }
        crate::embed::normalize(&mut q);
        q
    }
}

/// Candidates taken from each side before fusion. On SciFact test, 100 ranks as well as 200
/// (hybrid nDCG@10 0.702 against 0.703, Recall@100 0.944 against 0.937) and the keyword side's
/// top 100 costs about 3/4 of its top 200.
const POOL: usize = 100;

/// A filtered semantic search scans the filter's matches exactly when there are at most this
/// many; otherwise it over-fetches from the vector index and filters after.
const EXACT_FILTER_MAX: usize = 200_000;

/// Papers read from the store per catch-up batch.
const CATCH_UP_BATCH: u32 = 2_000;

/// Papers indexed between two commits of a long catch-up (a commit makes progress durable).
const COMMIT_EVERY: usize = 50_000;

/// How far behind the clock the saved catch-up cursor stays, so a write that committed late
/// with an earlier timestamp is not missed (recent changes are read twice, harmlessly).
pub const DEFAULT_CATCH_UP_OVERLAP: std::time::Duration = std::time::Duration::from_secs(30);

/// What is indexed of a paper (or of any document, for evaluation).
#[derive(Debug, Clone, Default)]
pub struct SearchDoc {
    /// Unique key: the arXiv id without version for papers.
    pub key: String,
    /// Title.
    pub title: String,
    /// Abstract.
    pub summary: String,
    /// Author names.
    pub authors: Vec<String>,
    /// Organization that submitted it to the daily feed.
    pub organization: Option<OrgDoc>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// arXiv categories.
    pub categories: Vec<String>,
    /// Day it was on the daily feed.
    pub feed_date: Option<NaiveDate>,
    /// Publication time.
    pub published_at: DateTime<Utc>,
    /// Upvotes.
    pub upvotes: i64,
    /// Whether it has a code repository.
    pub has_code: bool,
}

/// An organization as indexed.
#[derive(Debug, Clone, Default)]
pub struct OrgDoc {
    /// Handle (`google`), used by the filter.
    pub name: String,
    /// Display name (`Google`), searchable.
    pub fullname: String,
}

impl SearchDoc {
    /// What is indexed of a stored paper.
    pub fn from_paper(p: &Paper) -> Self {
        Self {
            key: p.id.base().to_owned(),
            title: p.title.clone(),
            summary: p.summary.clone(),
            authors: p.visible_authors().map(|a| a.name.clone()).collect(),
            organization: p
                .feed
                .as_ref()
                .and_then(|f| f.organization.as_ref())
                .map(|o| OrgDoc {
                    name: o.name.clone(),
                    fullname: o.fullname.clone(),
                }),
            keywords: p.keywords.clone(),
            categories: p.categories.clone(),
            feed_date: p.feed.as_ref().map(|f| f.feed_date),
            published_at: p.published_at,
            upvotes: p.upvotes,
            has_code: p.github_repo.is_some(),
        }
    }

    fn embed_text(&self) -> String {
        format!("{}. {}", self.title, self.summary)
    }
}

/// Which sides of the engine answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Keyword and semantic, fused (the default).
    #[default]
    Hybrid,
    /// BM25 only.
    Keyword,
    /// Embeddings only.
    Semantic,
}

/// Result order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchSort {
    /// Best match first.
    #[default]
    Relevance,
    /// Newest first (among keyword matches when there is a query text).
    Date,
    /// Most upvoted first (among keyword matches when there is a query text).
    Upvotes,
}

/// Filters; all must hold.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Feed-date window (day, week or month).
    pub window: Option<DateWindow>,
    /// arXiv category (`cs.CL`).
    pub category: Option<String>,
    /// Organization handle (case-insensitive).
    pub organization: Option<String>,
    /// With (or without) a code repository.
    pub has_code: Option<bool>,
}

impl Filters {
    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self.window.is_none()
            && self.category.is_none()
            && self.organization.is_none()
            && self.has_code.is_none()
    }
}

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// What the user typed: words, "quoted phrases", author names, an arXiv id or URL.
    pub text: String,
    /// Which sides answer.
    pub mode: SearchMode,
    /// Filters.
    pub filters: Filters,
    /// Order.
    pub sort: SearchSort,
    /// Hits skipped.
    pub offset: usize,
    /// Hits returned.
    pub limit: usize,
    /// Overrides the semantic weight of hybrid fusion (for tuning).
    pub semantic_weight: Option<f32>,
    /// Whether hits carry highlighted title and abstract.
    pub highlight: bool,
}

impl SearchQuery {
    /// A hybrid, relevance-ordered query for `text`: first 20 hits, highlighted.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            mode: SearchMode::Hybrid,
            filters: Filters::default(),
            sort: SearchSort::Relevance,
            offset: 0,
            limit: 20,
            semantic_weight: None,
            highlight: true,
        }
    }
}

/// Kind of a highlighted segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// Plain text.
    Text,
    /// Text that matched the query.
    Highlight,
}

/// A piece of a highlighted text, serialized as huggingface.co does:
/// `{"type": "text"|"highlight", "text": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Plain or highlighted.
    #[serde(rename = "type")]
    pub kind: SegmentKind,
    /// The text.
    pub text: String,
}

impl Segment {
    /// A plain segment.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: SegmentKind::Text,
            text: text.into(),
        }
    }
    /// A highlighted segment.
    pub fn highlight(text: impl Into<String>) -> Self {
        Self {
            kind: SegmentKind::Highlight,
            text: text.into(),
        }
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    /// The document's key (the arXiv id without version, for papers).
    pub key: String,
    /// Score (fused relevance; the sort field's value for date and upvote order).
    pub score: f32,
    /// Title with the matched words highlighted (empty without highlighting).
    pub highlighted_title: Vec<Segment>,
    /// Abstract snippet with the matched words highlighted (empty without highlighting).
    pub highlighted_summary: Vec<Segment>,
}

impl Hit {
    /// The hit's arXiv id (`None` for a non-paper document).
    pub fn arxiv_id(&self) -> Option<ArxivId> {
        ArxivId::parse(&self.key).ok()
    }
}

/// A page of results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchResults {
    /// The hits of the page asked for.
    pub hits: Vec<Hit>,
    /// How many results there are: with a date or upvote order (or no query text), every
    /// match; by relevance, the candidates ranked (keyword: at most `offset + limit`; hybrid:
    /// the union of both sides' candidates, a few hundred). Counting every match of a
    /// relevance query would cost more than finding the best ones.
    pub total: usize,
    /// Whether the query was an arXiv id or URL answered by that paper alone.
    pub direct: bool,
}

/// A paper and how close it is (similar papers, recommendations).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// The paper's key.
    pub key: String,
    /// Cosine similarity.
    pub score: f32,
}

/// Recall of the approximate vector search against an exact scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnnRecall {
    /// Share of the exact top `k` papers among those returned.
    pub exact_ids: f64,
    /// Share of returned papers at least as similar as the exact `k`-th, less
    /// [`AnnRecall::EPSILON`] (ann-benchmarks' definition: papers tied with the `k`-th
    /// count, whichever of them is returned).
    pub within_epsilon: f64,
}

impl AnnRecall {
    /// Tolerance on cosine similarity for [`AnnRecall::within_epsilon`].
    pub const EPSILON: f32 = 1e-3;
}

/// What a catch-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Papers (re)indexed.
    pub indexed: usize,
    /// Papers removed (hidden).
    pub removed: usize,
    /// Whether this catch-up finished repairing a damaged index (see
    /// [`SearchEngine::open_report`]): everything was read again from the store.
    pub repaired: bool,
}

/// What opening the index found damaged and how it was repaired (see
/// [`SearchEngine::open_report`]). Whatever was lost is indexed again by the next catch-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The vector log and graph (see [`ann::VectorIndex::open_checked`]).
    pub vectors: ann::VectorRepair,
    /// Full-text index files whose checksum did not match (the text index was emptied and is
    /// rebuilt; keyword search is not ready meanwhile, see [`SearchEngine::is_ready`]).
    pub damaged_text_files: Vec<String>,
    /// Why the whole index was emptied, when it was (unreadable text index, other embedder).
    pub wiped: Option<String>,
    /// Text index entries dropped because the vectors they pointed to were lost.
    pub stale_text_docs: usize,
    /// Documents in the text index and papers in the vector index (with a vector or waiting
    /// for one) at open, after the repairs above; they differ when one is behind the other.
    pub text_docs: u64,
    /// See [`Self::text_docs`].
    pub vector_docs: u64,
}

impl OpenReport {
    /// Whether every file was whole and the two indexes agreed.
    pub fn is_clean(&self) -> bool {
        self.vectors.is_clean()
            && self.damaged_text_files.is_empty()
            && self.wiped.is_none()
            && self.stale_text_docs == 0
            && self.text_docs == self.vector_docs
    }

    /// Whether the next catch-up must read the whole store again: something indexed was
    /// lost (a damaged graph alone is built again from the vectors).
    fn needs_full_catch_up(&self) -> bool {
        self.vectors.dropped_bytes > 0
            || !self.damaged_text_files.is_empty()
            || self.wiped.is_some()
            || self.stale_text_docs > 0
            || self.text_docs != self.vector_docs
    }
}

/// How far the embedding of the indexed papers has got (see [`SearchEngine::backfill`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Embedded {
    /// Papers with a vector from the current embedder.
    pub done: usize,
    /// Indexed papers still waiting for theirs (searched by keyword only meanwhile).
    pub waiting: usize,
}

/// Where a catch-up's time went (logged at its end).
#[derive(Debug, Clone, Copy, Default)]
struct Phases {
    fetch: std::time::Duration,
    embed: std::time::Duration,
    text: std::time::Duration,
    vectors: std::time::Duration,
    commit: std::time::Duration,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct EngineState {
    cursor: Option<String>,
    embedder: String,
}

/// The search engine: a full-text index, a vector index and an embedder.
pub struct SearchEngine {
    dir: Option<PathBuf>,
    embedder: Arc<dyn Embedder>,
    text: TextIndex,
    vectors: RwLock<VectorIndex>,
    state: Mutex<EngineState>,
    phases: Mutex<Phases>,
    /// Whether catch-ups leave the embedding to [`Self::backfill`] ([`Embedder::deferred`]).
    deferred: bool,
    /// Weight of the semantic side in hybrid fusion.
    pub semantic_weight: f32,
    /// Pseudo-relevance feedback in hybrid search (the embedder's [`Embedder::feedback`]
    /// unless set otherwise).
    pub feedback: Option<Feedback>,
    /// How far behind the clock the saved catch-up cursor stays.
    pub catch_up_overlap: std::time::Duration,
    /// The index folder's lock (`search/LOCK`), held while the engine lives; `None` in memory.
    _lock: Option<std::fs::File>,
    /// What opening found and repaired.
    report: OpenReport,
    /// Whether a repair waits for a complete catch-up (see [`CatchUp::repaired`]).
    repairing: std::sync::atomic::AtomicBool,
    /// Whether the text index is being rebuilt (keyword search is incomplete meanwhile).
    text_rebuilding: std::sync::atomic::AtomicBool,
}

fn io(path: &Path, e: impl std::fmt::Display) -> SearchError {
    SearchError::Io(format!("{}: {e}", path.display()))
}

impl SearchEngine {
    /// Opens (or creates) the index under `data_dir/search/`. When the index was built with a
    /// different embedder, or is unreadable, it is emptied and the next catch-up rebuilds it.
    /// One process at a time has an index open: while another holds it, this fails with
    /// [`SearchError::InUse`] and changes nothing.
    pub fn open(data_dir: &Path, embedder: Arc<dyn Embedder>) -> Result<Self, SearchError> {
        let dir = data_dir.join("search");
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        // The folder's lock comes first and is held as long as the engine lives: an index
        // another process has open is an error, and is neither read nor emptied under it.
        // It is a file of its own, which `wipe` leaves alone (tantivy's writer lock is inside
        // the text index, and goes with it).
        let lock_path = dir.join("LOCK");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SearchError::InUse(dir.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path, e)),
        }
        let state_path = dir.join("state.json");
        let state: EngineState = match std::fs::read(&state_path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
            Err(_) => EngineState::default(),
        };
        let text_dir = dir.join("text");
        let mut report = OpenReport::default();
        let text = match TextIndex::open(Some(&text_dir)) {
            Ok(t) => Some(t),
            // A process that does not take the folder's lock (an older version) has it open.
            Err(e @ SearchError::InUse(_)) => return Err(e),
            Err(e) => {
                // Also what an index written with an older schema gives.
                tracing::warn!(error = %e, "the search index is unreadable: it is rebuilt");
                report.wiped = Some(format!("the text index is unreadable: {e}"));
                None
            }
        };
        let changed = state.embedder != embedder.id() && state_path.exists();
        if changed {
            tracing::info!(
                was = %state.embedder,
                now = %embedder.id(),
                "the embedder changed: the search index is rebuilt"
            );
        }
        let (text, wiped) = match text {
            Some(t) if !changed => (t, false),
            held => {
                // The folder's lock keeps other processes out while the files go.
                drop(held);
                Self::wipe(&dir)?;
                (TextIndex::open(Some(&text_dir))?, true)
            }
        };
        // tantivy's own checksums: a damaged segment is never served; the text index is
        // emptied and rebuilt from the store (the vectors do not depend on it).
        let damaged = text.damaged_files()?;
        let text = if damaged.is_empty() {
            text
        } else {
            tracing::error!(
                files = ?damaged,
                "search index files are damaged (checksum mismatch): the text index is rebuilt"
            );
            report.damaged_text_files = damaged;
            drop(text);
            std::fs::remove_dir_all(&text_dir).map_err(|e| io(&text_dir, e))?;
            TextIndex::open(Some(&text_dir))?
        };
        let (vectors, repair) = VectorIndex::open_checked(&dir, embedder.dims())?;
        report.vectors = repair;
        // Text entries pointing past the vectors kept would name the papers that later take
        // those slots: they go, and the catch-up indexes their papers again.
        let stale = text.keys_from_slot(&text.searcher(), vectors.slots_len())?;
        if !stale.is_empty() {
            tracing::warn!(
                entries = stale.len(),
                "search index entries point to lost vectors: they are indexed again"
            );
            for key in &stale {
                text.remove(key);
            }
            text.commit()?;
        }
        report.stale_text_docs = stale.len();
        report.text_docs = text.searcher().num_docs();
        report.vector_docs = (vectors.len() + vectors.unembedded_len()) as u64;
        if !wiped && report.needs_full_catch_up() {
            tracing::warn!(
                text_docs = report.text_docs,
                vector_docs = report.vector_docs,
                "the search index was repaired: the next catch-up reads every paper again"
            );
        }
        let full = wiped || report.needs_full_catch_up();
        // Keyword search misses papers until the text index has them all again.
        let text_rebuilding = wiped
            || !report.damaged_text_files.is_empty()
            || report.stale_text_docs > 0
            || report.text_docs < report.vector_docs;
        let repairing = full || report.vectors.graph.is_some();
        let state = EngineState {
            // After a wipe or a repair the next catch-up starts from the beginning.
            cursor: if !full { state.cursor } else { None },
            embedder: embedder.id(),
        };
        Ok(Self {
            dir: Some(dir),
            deferred: embedder.deferred(),
            semantic_weight: embedder.semantic_weight(),
            feedback: embedder.feedback(),
            embedder,
            text,
            vectors: RwLock::new(vectors),
            state: Mutex::new(state),
            phases: Mutex::default(),
            catch_up_overlap: DEFAULT_CATCH_UP_OVERLAP,
            _lock: Some(lock),
            report,
            repairing: repairing.into(),
            text_rebuilding: text_rebuilding.into(),
        })
    }

    /// What opening the index found damaged and repaired (clean for a new or whole index).
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// Whether keyword search has every indexed paper: false while the text index is rebuilt
    /// after damage (until a catch-up completes); the web layer then asks the store instead.
    pub fn is_ready(&self) -> bool {
        !self
            .text_rebuilding
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// An engine that keeps everything in memory (evaluation, tests).
    pub fn in_memory(embedder: Arc<dyn Embedder>) -> Result<Self, SearchError> {
        Ok(Self {
            dir: None,
            text: TextIndex::open(None)?,
            vectors: RwLock::new(VectorIndex::new(embedder.dims())),
            state: Mutex::new(EngineState {
                cursor: None,
                embedder: embedder.id(),
            }),
            deferred: embedder.deferred(),
            semantic_weight: embedder.semantic_weight(),
            feedback: embedder.feedback(),
            embedder,
            phases: Mutex::default(),
            catch_up_overlap: DEFAULT_CATCH_UP_OVERLAP,
            _lock: None,
            report: OpenReport::default(),
            repairing: false.into(),
            text_rebuilding: false.into(),
        })
    }

    fn wipe(dir: &Path) -> Result<(), SearchError> {
        for name in [
            "text",
            "vectors.log",
            "ivf.bin",
            "hnsw.bin",
            "state.json",
            "backfill.json",
        ] {
            let p = dir.join(name);
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if let Err(e) = r
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(io(&p, e));
            }
        }
        Ok(())
    }

    /// Sets the title boost of keyword queries (relative to title + abstract).
    pub fn set_title_boost(&mut self, boost: f32) {
        self.text.title_boost = boost;
    }

    /// Sets the share of documents above which a query word counts as common (1.0: none
    /// does, every query is scored in full; see [`text::KeywordQuery`]).
    pub fn set_common_share(&mut self, share: f64) {
        self.text.common_share = share;
    }

    /// Whether catch-ups index text only and leave the vectors to [`Self::backfill`] (the
    /// embedder's [`Embedder::deferred`] unless set otherwise).
    pub fn set_deferred_embedding(&mut self, deferred: bool) {
        self.deferred = deferred;
    }

    /// The folder of an index on disk (`DATA_DIR/search`).
    pub fn index_dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Number of documents with a vector.
    pub fn len(&self) -> usize {
        self.read_vectors().len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read_vectors(&self) -> std::sync::RwLockReadGuard<'_, VectorIndex> {
        self.vectors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_vectors(&self) -> std::sync::RwLockWriteGuard<'_, VectorIndex> {
        self.vectors
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, EngineState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Indexes documents (replacing those with the same key). Visible after [`Self::commit`].
    pub fn index_docs(&self, docs: &[SearchDoc]) -> Result<(), SearchError> {
        let t = std::time::Instant::now();
        let texts: Vec<String> = docs.iter().map(SearchDoc::embed_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embed_in_parallel(self.embedder.as_ref(), &refs);
        let embedded = t.elapsed();
        let slots: Vec<Slot> = {
            let mut index = self.write_vectors();
            docs.iter()
                .zip(&vectors)
                .map(|(doc, v)| index.upsert(&doc.key, v))
                .collect()
        };
        for (doc, slot) in docs.iter().zip(slots) {
            self.text.upsert(doc, slot)?;
        }
        let mut phases = self.lock_phases();
        phases.embed += embedded;
        phases.text += t.elapsed() - embedded;
        Ok(())
    }

    /// Indexes documents' text now and leaves their vectors to [`Self::backfill`]: a paper
    /// whose title and abstract did not change keeps its vector (a vote, a comment), others
    /// get a reserved slot (see [`VectorIndex::reserve`]). Visible after [`Self::commit`].
    pub fn index_docs_deferred(&self, docs: &[SearchDoc]) -> Result<(), SearchError> {
        let t = std::time::Instant::now();
        let searcher = self.text.searcher();
        for doc in docs {
            let live = self.read_vectors().slot(&doc.key);
            let keep = match live {
                Some(slot) => self
                    .text
                    .stored_text(&searcher, &doc.key)?
                    .is_some_and(|(title, summary)| title == doc.title && summary == doc.summary)
                    .then_some(slot),
                None => None,
            };
            let slot = match keep {
                Some(slot) => slot,
                None => self.write_vectors().reserve(&doc.key),
            };
            self.text.upsert(doc, slot)?;
        }
        self.lock_phases().text += t.elapsed();
        Ok(())
    }

    /// How many indexed papers have their vector, and how many wait for it.
    pub fn embedded(&self) -> Embedded {
        let vectors = self.read_vectors();
        Embedded {
            done: vectors.len(),
            waiting: vectors.unembedded_len(),
        }
    }

    /// Embeds up to `max` indexed papers still waiting for their vector (read again from
    /// `store`, so they are current; a paper gone from it is removed) and commits: the
    /// reserved slots are the job's to-do list, so an interrupted backfill resumes where its
    /// last commit left it, and papers that catch-ups add meanwhile are in the list too.
    /// Returns how many were embedded (or removed).
    pub async fn backfill(&self, store: &dyn Store, max: usize) -> Result<usize, SearchError> {
        let keys = self.write_vectors().unembedded_keys(max);
        if keys.is_empty() {
            return Ok(0);
        }
        let mut docs = Vec::with_capacity(keys.len());
        let mut gone = Vec::new();
        for key in keys {
            let paper = match ArxivId::parse(&key) {
                Ok(id) => store.paper(&id).await?,
                Err(_) => None,
            };
            match paper {
                Some(p) => docs.push(SearchDoc::from_paper(&p)),
                None => gone.push(key),
            }
        }
        off_the_runtime(|| {
            self.index_docs(&docs)?;
            self.remove_docs(&gone);
            self.commit()
        })?;
        Ok(docs.len() + gone.len())
    }

    /// Removes documents by key. Visible after [`Self::commit`].
    pub fn remove_docs(&self, keys: &[String]) {
        let mut index = self.write_vectors();
        for k in keys {
            index.remove(k);
            self.text.remove(k);
        }
    }

    /// Makes indexed documents durable and searchable.
    pub fn commit(&self) -> Result<(), SearchError> {
        let t = std::time::Instant::now();
        self.write_vectors().flush()?;
        let linked = t.elapsed();
        self.text.commit()?;
        let mut phases = self.lock_phases();
        phases.vectors += linked;
        phases.commit += t.elapsed() - linked;
        Ok(())
    }

    fn lock_phases(&self) -> std::sync::MutexGuard<'_, Phases> {
        self.phases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save_state(&self) -> Result<(), SearchError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let state = self.lock_state().clone();
        let path = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let body = serde_json::to_vec(&state).map_err(|e| io(&path, e))?;
        std::fs::write(&tmp, body).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    /// Brings the index up to date with the store: reads every paper changed since the last
    /// catch-up, in batches, committing after each (an interrupted catch-up resumes).
    ///
    /// After a repair at open (see [`Self::open_report`]) the first catch-up reads the whole
    /// store again and builds a dropped vector graph (under the read lock: searches go on,
    /// scanning exactly meanwhile); it reports [`CatchUp::repaired`].
    pub async fn catch_up(&self, store: &dyn Store) -> Result<CatchUp, SearchError> {
        let repairing = self.repairing.load(std::sync::atomic::Ordering::Acquire);
        if repairing {
            off_the_runtime(|| self.rebuild_graph())?;
        }
        let mut cursor = self
            .lock_state()
            .cursor
            .as_deref()
            .and_then(ChangeCursor::decode);
        let overlap = chrono::Duration::from_std(self.catch_up_overlap)
            .unwrap_or_else(|_| chrono::Duration::seconds(30));
        let cap = ChangeCursor {
            modified_at: Utc::now() - overlap,
            id: String::new(),
        };
        let mut done = CatchUp::default();
        let mut uncommitted = 0usize;
        let mut reached: Option<ChangeCursor> = None;
        loop {
            let fetching = std::time::Instant::now();
            let page = store
                .papers_changed_since(cursor.as_ref(), CATCH_UP_BATCH)
                .await?;
            self.lock_phases().fetch += fetching.elapsed();
            let Some(next) = page.next else { break };
            let docs: Vec<SearchDoc> = page.papers.iter().map(SearchDoc::from_paper).collect();
            done.indexed += docs.len();
            done.removed += page.removed.len();
            uncommitted += docs.len() + page.removed.len();
            let commit = uncommitted >= COMMIT_EVERY;
            off_the_runtime(|| {
                if self.deferred {
                    self.index_docs_deferred(&docs)?;
                } else {
                    self.index_docs(&docs)?;
                }
                self.remove_docs(&page.removed);
                if commit {
                    self.commit_at(&next, &cap)?;
                }
                Ok::<_, SearchError>(())
            })?;
            if commit {
                uncommitted = 0;
                reached = None;
            } else {
                reached = Some(next.clone());
            }
            cursor = Some(next);
        }
        off_the_runtime(|| {
            if let Some(next) = reached {
                self.commit_at(&next, &cap)?;
            }
            self.write_vectors().save_graph()
        })?;
        if repairing {
            done.repaired = true;
            self.repairing
                .store(false, std::sync::atomic::Ordering::Release);
            self.text_rebuilding
                .store(false, std::sync::atomic::Ordering::Release);
            tracing::info!(
                indexed = done.indexed,
                "the search index is repaired: every paper was read again"
            );
        }
        if done.indexed > 0 || done.removed > 0 {
            let p = std::mem::take(&mut *self.lock_phases());
            tracing::info!(
                indexed = done.indexed,
                removed = done.removed,
                fetch_s = p.fetch.as_secs_f32(),
                embed_s = p.embed.as_secs_f32(),
                text_s = p.text.as_secs_f32(),
                vectors_s = p.vectors.as_secs_f32(),
                commit_s = p.commit.as_secs_f32(),
                "search index caught up"
            );
        }
        Ok(done)
    }

    /// Builds the vector graph when it was dropped at open, without holding the write lock
    /// while it is built (searches scan exactly meanwhile).
    fn rebuild_graph(&self) -> Result<(), SearchError> {
        if !self.read_vectors().needs_graph() {
            return Ok(());
        }
        let t = std::time::Instant::now();
        let graph = self.read_vectors().build_graph();
        let slots = graph.len();
        let mut vectors = self.write_vectors();
        if vectors.graph_len() == 0 {
            vectors.set_graph(graph)?;
            tracing::info!(
                slots,
                seconds = t.elapsed().as_secs_f32(),
                "the vector graph is built again"
            );
        }
        Ok(())
    }

    /// Commits, then saves `next` (at most `cap`) as the cursor reached.
    fn commit_at(&self, next: &ChangeCursor, cap: &ChangeCursor) -> Result<(), SearchError> {
        self.commit()?;
        self.lock_state().cursor = Some(next.clone().min(cap.clone()).encode());
        self.save_state()
    }

    /// Empties the index and indexes the whole store again.
    pub async fn rebuild(&self, store: &dyn Store) -> Result<CatchUp, SearchError> {
        self.text.clear()?;
        {
            let mut v = self.write_vectors();
            *v = VectorIndex::new(self.embedder.dims());
        }
        if let Some(dir) = &self.dir {
            for name in ["vectors.log", "ivf.bin", "hnsw.bin"] {
                let p = dir.join(name);
                if p.exists() {
                    std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
                }
            }
            *self.write_vectors() = VectorIndex::open(dir, self.embedder.dims())?;
        }
        self.text.commit()?;
        self.lock_state().cursor = None;
        self.save_state()?;
        self.text.set_bulk(true);
        let done = self.catch_up(store).await;
        let compacted = done.is_ok().then(|| off_the_runtime(|| self.compact()));
        self.text.set_bulk(false);
        let done = done?;
        compacted.transpose()?;
        Ok(done)
    }

    /// Merges the full-text index into as many segments as a query searches in parallel (see
    /// [`text::TextIndex::compact`]); `paperboy reindex` does it after the bulk build.
    pub fn compact(&self) -> Result<(), SearchError> {
        let t = std::time::Instant::now();
        let before = self.segment_count();
        self.text.compact()?;
        tracing::info!(
            seconds = t.elapsed().as_secs_f32(),
            before,
            after = self.segment_count(),
            "search index compacted"
        );
        Ok(())
    }

    /// Segments of the full-text index (a diagnostic: fewer is faster to search).
    pub fn segment_count(&self) -> usize {
        self.text.searcher().segment_readers().len()
    }

    /// Answers a search. A panic inside tantivy (0.27 has a few for odd queries, such as an
    /// excluded phrase that no document of a segment holds: `NOT "…"`) is an error here, never
    /// a panic in the caller: the web layer then answers from the store.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.search_unguarded(q)))
            .unwrap_or_else(|_| {
                tracing::error!(query = %q.text, "the search engine panicked on a query");
                Err(SearchError::Index("this query could not be run".into()))
            })
    }

    fn search_unguarded(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        let searcher = self.text.searcher();
        // What a query may cost is bounded here once (see [`text::bound_query`]).
        let bounded = text::bound_query(q.text.trim());
        let text = bounded.trim();
        if let Some(id) = ArxivId::from_id_or_url(text) {
            let key = id.base().to_owned();
            let Some(doc) = self.text.stored(&searcher, &key)? else {
                return Ok(SearchResults {
                    direct: true,
                    ..SearchResults::default()
                });
            };
            let (t, s) = if q.highlight {
                self.text.highlight(&doc, None)
            } else {
                (Vec::new(), Vec::new())
            };
            return Ok(SearchResults {
                hits: vec![Hit {
                    key,
                    score: 1.0,
                    highlighted_title: t,
                    highlighted_summary: s,
                }],
                total: 1,
                direct: true,
            });
        }
        let filter = self.text.filter_query(&q.filters);
        let limit = q.limit;
        if text.is_empty() || q.sort != SearchSort::Relevance {
            // Filters only, or an explicit order: keyword matches by the sort field.
            let query = (!text.is_empty()).then(|| {
                TextIndex::and(
                    self.text.parse(&searcher, text).into_full(),
                    filter.as_deref(),
                )
            });
            let query = query.or(filter);
            let (top, total) = self.text.top_by_field(
                &searcher,
                query.as_deref(),
                q.sort == SearchSort::Upvotes,
                q.offset,
                limit,
            )?;
            return self.page(&searcher, text, top, total, 0, limit, q.highlight);
        }
        // Keyword results alone need only the page asked for (a small top lets block-max
        // WAND skip more); fusion ranks a pool of candidates from each side.
        let pool = if q.mode == SearchMode::Keyword {
            q.offset + limit
        } else {
            POOL.max(q.offset + limit)
        };
        // Parsed here, not before: a semantic search needs none of its word counts.
        let keyword = || {
            let kw_query = self.text.parse(&searcher, text);
            self.text
                .top_keyword(&searcher, &kw_query, filter.as_deref(), pool)
        };
        let semantic = || -> Result<_, SearchError> {
            let qv = self.embedder.embed_query(text);
            let sem = self.semantic_candidates(&searcher, &qv, filter.as_deref(), pool)?;
            Ok((qv, sem))
        };
        let (kw, qv, sem) = match q.mode {
            SearchMode::Keyword => {
                let kw = keyword()?;
                let total = kw.len();
                return self.page(&searcher, text, kw, total, q.offset, limit, q.highlight);
            }
            SearchMode::Semantic => {
                let (_, sem) = semantic()?;
                let total = sem.len();
                return self.page(&searcher, text, sem, total, q.offset, limit, q.highlight);
            }
            // The two sides at once: the vector search takes a thread of its own while the
            // keyword search runs on the index's (1M papers, 2 cores: hybrid p50 4.2-4.6 ->
            // 3.1-3.2 ms).
            SearchMode::Hybrid => std::thread::scope(|scope| {
                let sem = scope.spawn(semantic);
                let kw = keyword();
                let sem = sem.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                let (qv, sem) = sem?;
                Ok::<_, SearchError>((kw?, qv, sem))
            })?,
        };
        // Fewer than asked for: every match is in the list.
        let kw_complete = kw.len() < pool;
        let w = q.semantic_weight.unwrap_or(self.semantic_weight);
        let mut fused = {
            let vectors = self.read_vectors();
            fuse(&kw, kw_complete, &sem, w, |s| vectors.similarity(&qv, s))
        };
        if let Some(feedback) = self.feedback.filter(|f| f.papers > 0 && f.weight > 0.0) {
            // The query vector moved towards the best hybrid hits, and the semantic side asked
            // again with it (keyword candidates stay).
            let qv = {
                let vectors = self.read_vectors();
                // Papers still waiting for their vector (a transformer's backfill) are skipped.
                let top: Vec<Vec<f32>> = fused
                    .iter()
                    .filter(|(slot, _)| vectors.is_live(*slot))
                    .take(feedback.papers)
                    .filter_map(|(slot, _)| vectors.vector(*slot))
                    .collect();
                feedback.query(&qv, &top)
            };
            let sem = self.semantic_candidates(&searcher, &qv, filter.as_deref(), pool)?;
            let vectors = self.read_vectors();
            fused = fuse(&kw, kw_complete, &sem, w, |s| vectors.similarity(&qv, s));
        }
        let total = fused.len();
        self.page(&searcher, text, fused, total, q.offset, limit, q.highlight)
    }

    /// The `pool` papers most similar to the query vector `qv`, within `filter`.
    fn semantic_candidates(
        &self,
        searcher: &tantivy::Searcher,
        qv: &[f32],
        filter: Option<&dyn tantivy::query::Query>,
        pool: usize,
    ) -> Result<Vec<(Slot, f32)>, SearchError> {
        let Some(f) = filter else {
            let vectors = self.read_vectors();
            return Ok(vectors.search_ef(qv, pool, vectors.ef_query));
        };
        if let Some(slots) = self.text.all_slots(searcher, f, EXACT_FILTER_MAX)? {
            return Ok(self.read_vectors().exact_among(qv, pool, &slots));
        }
        let allowed = self.text.all_slots(searcher, f, usize::MAX)?;
        let allowed: HashSet<Slot> = allowed.unwrap_or_default().into_iter().collect();
        let vectors = self.read_vectors();
        Ok(vectors
            .search_ef(qv, pool * 8, vectors.ef_query)
            .into_iter()
            .filter(|(s, _)| allowed.contains(s))
            .take(pool)
            .collect())
    }

    #[expect(clippy::too_many_arguments, reason = "a private helper of search")]
    fn page(
        &self,
        searcher: &tantivy::Searcher,
        text: &str,
        ranked: Vec<(Slot, f32)>,
        total: usize,
        offset: usize,
        limit: usize,
        highlight: bool,
    ) -> Result<SearchResults, SearchError> {
        let gens = if highlight && !text.is_empty() {
            let q = self.text.parse_for_highlight(text);
            Some(self.text.highlighters(searcher, q.as_ref())?)
        } else {
            None
        };
        let page: Vec<(String, f32)> = {
            let vectors = self.read_vectors();
            ranked
                .into_iter()
                .skip(offset)
                .take(limit)
                .filter_map(|(slot, score)| vectors.key(slot).map(|k| (k.to_owned(), score)))
                .collect()
        };
        // Highlighting reads and tokenizes each hit's title and abstract: the hits are
        // shared among the search threads, which are idle by now.
        let highlighted = if highlight {
            searcher
                .index()
                .search_executor()
                .map(
                    |key: &String| {
                        Ok(self
                            .text
                            .stored(searcher, key)
                            .map(|doc| doc.map(|d| self.text.highlight(&d, gens.as_ref()))))
                    },
                    page.iter().map(|p| &p.0),
                )
                .map_err(|e| SearchError::Index(e.to_string()))?
        } else {
            Vec::new()
        };
        let mut highlighted = highlighted.into_iter();
        let mut hits = Vec::with_capacity(page.len());
        for (key, score) in page {
            let (t, s) = match highlighted.next() {
                Some(h) => h?.unwrap_or_default(),
                None => (Vec::new(), Vec::new()),
            };
            hits.push(Hit {
                key,
                score,
                highlighted_title: t,
                highlighted_summary: s,
            });
        }
        Ok(SearchResults {
            hits,
            total,
            direct: false,
        })
    }

    /// Up to `n` indexed keys, spread over the index (for benchmarks and diagnostics).
    pub fn sample_keys(&self, n: usize) -> Vec<String> {
        let vectors = self.read_vectors();
        let live: Vec<Slot> = (0..vectors.slots_len())
            .filter(|&s| vectors.is_live(s))
            .collect();
        let step = (live.len() / n.max(1)).max(1);
        live.iter()
            .step_by(step)
            .take(n)
            .filter_map(|&s| vectors.key(s).map(str::to_owned))
            .collect()
    }

    /// How much of the exact top `k` the vector index returns for the queries' embeddings
    /// (a diagnostic of the approximate search on the real vectors).
    pub fn ann_recall(&self, queries: &[&str], k: usize) -> AnnRecall {
        let vectors: Vec<Vec<f32>> = queries
            .iter()
            .map(|q| self.embedder.embed_query(q))
            .collect();
        let index = self.read_vectors();
        index.recall(&vectors, k, index.ef_query)
    }

    /// Sets how many candidates a vector-graph search keeps (at least the `k` asked for) for
    /// a paper's vector and for a text query's (defaults [`ann::DEFAULT_EF_SEARCH`] and
    /// [`ann::QUERY_EF_SEARCH`]): more is slower and finds more of the exact top.
    pub fn set_ef_search(&self, papers: usize, queries: usize) {
        let mut v = self.write_vectors();
        v.ef_search = papers;
        v.ef_query = queries;
    }

    /// Like [`Self::ann_recall`], with the stored vectors of `keys` as queries (the
    /// neighbourhoods that similar papers and recommendations ask for).
    pub fn ann_recall_of_papers(&self, keys: &[String], k: usize) -> AnnRecall {
        let vectors = self.read_vectors();
        let queries: Vec<Vec<f32>> = keys
            .iter()
            .filter_map(|key| vectors.slot(key).and_then(|s| vectors.vector(s)))
            .collect();
        vectors.recall(&queries, k, vectors.ef_search)
    }

    /// The `k` papers most similar to `id` (not itself), by embedding.
    pub fn similar(&self, id: &ArxivId, k: usize) -> Vec<Scored> {
        let vectors = self.read_vectors();
        let Some(slot) = vectors.slot(id.base()) else {
            return Vec::new();
        };
        let Some(v) = vectors.vector(slot) else {
            return Vec::new();
        };
        vectors
            .search(&v, k + 1)
            .into_iter()
            .filter(|(s, _)| *s != slot)
            .take(k)
            .filter_map(|(s, score)| {
                Some(Scored {
                    key: vectors.key(s)?.to_owned(),
                    score,
                })
            })
            .collect()
    }

    /// `k` recommendations for someone who upvoted `upvoted` (which are never recommended).
    pub fn recommend(&self, upvoted: &[ArxivId], k: usize) -> Vec<Scored> {
        self.recommend_excluding(upvoted, &[], k)
    }

    /// Recommendations from upvoted papers: their embeddings are grouped into up to four
    /// interests (k-means), each interest's centroid queries the vector index, and a paper
    /// scores its best similarity to any interest. Upvoted and `exclude`d papers are skipped.
    pub fn recommend_excluding(
        &self,
        upvoted: &[ArxivId],
        exclude: &[ArxivId],
        k: usize,
    ) -> Vec<Scored> {
        let vectors = self.read_vectors();
        let liked: Vec<Vec<f32>> = upvoted
            .iter()
            .filter_map(|id| vectors.slot(id.base()))
            .filter_map(|s| vectors.vector(s))
            .collect();
        if liked.is_empty() || k == 0 {
            return Vec::new();
        }
        let skip: HashSet<&str> = upvoted.iter().chain(exclude).map(ArxivId::base).collect();
        let interests = interests(&liked);
        let mut best: HashMap<Slot, f32> = HashMap::new();
        for c in &interests {
            for (s, score) in vectors.search(c, k + skip.len()) {
                let e = best.entry(s).or_insert(f32::NEG_INFINITY);
                *e = e.max(score);
            }
        }
        let mut top = TopK::new(k);
        for (s, score) in best {
            if vectors.key(s).is_some_and(|key| !skip.contains(key)) {
                top.push(s, score);
            }
        }
        top.into_sorted()
            .into_iter()
            .filter_map(|(s, score)| {
                Some(Scored {
                    key: vectors.key(s)?.to_owned(),
                    score,
                })
            })
            .collect()
    }
}

/// Embeds `texts` on all cores (in order).
fn embed_in_parallel(embedder: &dyn Embedder, texts: &[&str]) -> Vec<Vec<f32>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || texts.len() < 64 {
        return embedder.embed_documents(texts);
    }
    let chunk = texts.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = texts
            .chunks(chunk)
            .map(|part| scope.spawn(move || embedder.embed_documents(part)))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Runs CPU-heavy indexing without stalling the async runtime: on a multi-thread runtime the
/// worker hands its other tasks to the others meanwhile (`block_in_place`), so a server stays
/// responsive while it catches up; elsewhere (a single-thread runtime, no runtime) it runs inline.
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Groups liked vectors into up to four interests (spherical k-means, deterministic).
fn interests(liked: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let n = liked.len();
    let m = (n / 6).clamp(1, 4);
    let d = liked[0].len();
    let mut centroids: Vec<Vec<f32>> = (0..m).map(|i| liked[i * n / m].clone()).collect();
    for _ in 0..6 {
        let mut sums = vec![vec![0f32; d]; m];
        for v in liked {
            let c = (0..m)
                .max_by(|&a, &b| {
                    embed::dot(v, &centroids[a]).total_cmp(&embed::dot(v, &centroids[b]))
                })
                .unwrap_or(0);
            sums[c].iter_mut().zip(v).for_each(|(s, x)| *s += x);
        }
        for (c, mut s) in centroids.iter_mut().zip(sums) {
            if s.iter().any(|x| *x != 0.0) {
                embed::normalize(&mut s);
                *c = s;
            }
        }
    }
    centroids
}

/// Hybrid fusion: each side's scores become per-query z-scores and mix as
/// `w * semantic + (1 - w) * keyword`. A keyword candidate gets its exact similarity; a
/// semantic-only candidate the lowest keyword score seen (an upper bound of its own).
fn fuse(
    kw: &[(Slot, f32)],
    kw_complete: bool,
    sem: &[(Slot, f32)],
    w: f32,
    similarity: impl Fn(Slot) -> f32,
) -> Vec<(Slot, f32)> {
    // A candidate missing from the keyword list scores 0 when the list holds every match
    // (it does not match), else the lowest score seen (an upper bound of its own).
    let kw_floor = if kw_complete {
        0.0
    } else {
        kw.iter().map(|x| x.1).fold(f32::INFINITY, f32::min)
    };
    let kw_floor = if kw_floor.is_finite() { kw_floor } else { 0.0 };
    let mut scores: HashMap<Slot, (Option<f32>, Option<f32>)> = HashMap::new();
    for &(s, x) in kw {
        scores.entry(s).or_default().0 = Some(x);
    }
    for &(s, x) in sem {
        scores.entry(s).or_default().1 = Some(x);
    }
    let raw: Vec<(Slot, f32, f32)> = scores
        .into_iter()
        .map(|(s, (k, v))| (s, k.unwrap_or(kw_floor), v.unwrap_or_else(|| similarity(s))))
        .collect();
    let kw_stats = stats(raw.iter().map(|x| x.1));
    let sem_stats = stats(raw.iter().map(|x| x.2));
    let mut out: Vec<(Slot, f32)> = raw
        .into_iter()
        .map(|(s, k, v)| (s, w * sem_stats.z(v) + (1.0 - w) * kw_stats.z(k)))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[derive(Clone, Copy)]
struct Stats {
    mean: f32,
    sd: f32,
}

impl Stats {
    fn z(self, x: f32) -> f32 {
        (x - self.mean) / self.sd
    }
}

fn stats(xs: impl Iterator<Item = f32>) -> Stats {
    // Sorted, so the sums (and the answers) do not depend on the candidates' order.
    let mut xs: Vec<f32> = xs.collect();
    xs.sort_by(f32::total_cmp);
    if xs.is_empty() {
        return Stats { mean: 0.0, sd: 1.0 };
    }
    let n = xs.len() as f32;
    let mean = xs.iter().sum::<f32>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n;
    Stats {
        mean,
        sd: var.sqrt().max(1e-6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_moves_the_query_towards_the_mean_of_the_relevant_and_normalizes() {
        let f = Feedback {
            papers: 2,
            weight: 1.0,
        };
        let q = f.query(
            &[1.0, 0.0, 0.0],
            &[vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]],
        );
        // (1, 0.5, 0.5) normalized.
        let n = 1.5f32.sqrt();
        for (got, want) in q.iter().zip([1.0 / n, 0.5 / n, 0.5 / n]) {
            assert!((got - want).abs() < 1e-6, "{q:?}");
        }
        assert_eq!(f.query(&[3.0, 4.0], &[]), vec![0.6, 0.8]);
    }
}
