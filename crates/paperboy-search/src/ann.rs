//! The vector index: int8 vectors (one f32 scale per row) in slots, an HNSW graph
//! ([`crate::hnsw`]) for approximate nearest neighbours, and exact scoring of the graph's
//! candidates against the stored vectors with the full-precision query.
//!
//! Below [`ANN_MIN`] live vectors every search is an exact scan (and so identical on every
//! replica). From there on the slots are linked into the graph as they are flushed; slots added
//! since the graph was last extended are scanned exactly, so nothing flushed is ever missed.
//! A removed or replaced vector's slot stays in the graph as a tombstone until tombstones
//! outnumber live vectors; then the graph is built again from the live ones.
//!
//! A slot can also be reserved for a key whose vector is not computed yet
//! ([`VectorIndex::reserve`]: the text index comes up at once while a slow embedder catches up
//! in the background): it names its key but is never searched or linked; the vector, once
//! computed, goes to a new slot as any replaced vector does.
//!
//! On disk: `vectors.log`, an append-only log of upserts, reservations and removals, replayed at open, so
//! a crash loses at most the records after the last flush and slots are numbered the same on
//! every replay; `hnsw.bin`, the graph over the slots that existed when it was saved (saved
//! when enough slots were added since, see [`VectorIndex::save_graph`]).
//!
//! Both files are checked at open ([`VectorIndex::open_checked`]): the log starts with a
//! header (magic, format version, vector length) and frames each record with its length and
//! CRC-32, so a cut-off or damaged record is found and the log cut before it (never misread);
//! the graph file ends with its CRC-32 and is dropped, to be built again, when that or its
//! size does not match the vectors. No damaged file can make a search panic: every lookup of
//! a slot is checked.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::hnsw::{Codes, Hnsw, QuantizedQuery, quantize};
use crate::{AnnRecall, SearchError};

/// Live vectors from which the index switches from exact scans to the graph.
pub const ANN_MIN: usize = 20_000;

/// Candidates the graph search keeps (at least `k`) when the query is a stored paper's vector
/// (similar papers, recommendations). Two builds of the graph differ (insertion order across
/// threads), so this keeps a margin over recall@10 0.95 in both measured: by `examples/bench.rs`
/// on the built-in embedder's vectors of 1M papers (2026-11-29), recall@10 against exact search
/// was 0.960 and 0.948 at 256, 0.955 (400) and 0.950 (384), 0.961 and 0.959 at 512.
pub const DEFAULT_EF_SEARCH: usize = 512;

/// Candidates kept when the query is a searcher's text: short texts land between the clusters
/// and are harder to follow. On the same 1M papers and two builds, SciFact claims' recall@10
/// was 0.916 and 0.906 at 256, 0.952 and 0.948 at 512, 0.967 at 768 (semantic top 10 p50 1.2
/// ms at 512, 1.5 ms at 768).
pub const QUERY_EF_SEARCH: usize = 768;

/// Slots added since the graph was saved below which it is not saved again (they are
/// scanned exactly after a restart, until the next flush links them).
const SAVE_MIN: usize = 1_000;

/// A slot's number.
pub type Slot = u32;

/// int8 vectors by key, with an HNSW graph.
pub struct VectorIndex {
    dims: usize,
    keys: Vec<String>,
    slots: HashMap<String, Slot>,
    live: Vec<bool>,
    live_count: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    graph: Option<Hnsw>,
    /// Slots covered by the graph file on disk.
    saved: usize,
    /// Candidates kept by a graph search for a paper's vector (at least the `k` asked for).
    pub ef_search: usize,
    /// Candidates kept by a graph search for a text query's vector.
    pub ef_query: usize,
    log: Option<(PathBuf, usize)>,
    pending: Vec<u8>,
    /// Reserved slots of keys waiting for their vector.
    unembedded: HashMap<String, Slot>,
    /// No slot below this one is waiting for its vector.
    unembedded_from: usize,
}

fn io(path: &Path, e: std::io::Error) -> SearchError {
    SearchError::Io(format!("{}: {e}", path.display()))
}

/// The first bytes of a vector log of this format.
const LOG_MAGIC: &[u8; 8] = b"PBVECLOG";

/// The vector log's format: a header (magic, this version, the vectors' length, 16 bytes),
/// then records, each framed by its payload's length and CRC-32 (8 bytes).
const LOG_VERSION: u32 = 2;

const LOG_HEADER_LEN: usize = 16;

const FRAME_LEN: usize = 8;

fn log_header(dims: usize) -> [u8; LOG_HEADER_LEN] {
    let mut h = [0u8; LOG_HEADER_LEN];
    h[..8].copy_from_slice(LOG_MAGIC);
    h[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
    h[12..].copy_from_slice(&(dims as u32).to_le_bytes());
    h
}

/// Why a vector log's header is not this version's for `dims`, if it is not.
fn header_problem(buf: &[u8], dims: usize) -> Option<&'static str> {
    let Some(h) = buf.get(..LOG_HEADER_LEN) else {
        return Some("has no complete header (an older format, or cut off)");
    };
    if &h[..8] != LOG_MAGIC {
        return Some("has no header (an older format)");
    }
    if h[8..12] != LOG_VERSION.to_le_bytes() {
        return Some("is of another format version");
    }
    if h[12..16] != (dims as u32).to_le_bytes() {
        return Some("holds vectors of another length");
    }
    None
}

/// The largest record payload: operation, key length, key, scale, codes.
fn max_payload(dims: usize) -> usize {
    1 + 2 + usize::from(u16::MAX) + 4 + dims
}

/// Reads a graph file: the encoded graph, then its CRC-32; why it is unusable otherwise.
fn decode_graph(buf: &[u8], slots: usize) -> Result<Hnsw, &'static str> {
    let Some(body_len) = buf.len().checked_sub(4) else {
        return Err("is cut off");
    };
    let (body, crc) = buf.split_at(body_len);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err("does not match its checksum (damaged, cut off or of an older format)");
    }
    Hnsw::decode(body, slots).ok_or("does not match the vectors it should cover")
}

/// What opening a vector index found wrong and repaired (see [`VectorIndex::open_checked`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorRepair {
    /// Bytes of the vector log dropped (its damaged or cut-off end, or all of it).
    pub dropped_bytes: u64,
    /// What was wrong in the log's records, when its end was cut.
    pub damage: Option<String>,
    /// Why the whole log was emptied (an older format, vectors of another length).
    pub rebuilt: Option<String>,
    /// Why the graph file was dropped (to be built again).
    pub graph: Option<String>,
}

impl VectorRepair {
    /// Whether the files were whole.
    pub fn is_clean(&self) -> bool {
        self.dropped_bytes == 0 && self.graph.is_none()
    }
}

impl VectorIndex {
    /// An empty in-memory index.
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            keys: Vec::new(),
            slots: HashMap::new(),
            live: Vec::new(),
            live_count: 0,
            codes: Vec::new(),
            scales: Vec::new(),
            graph: None,
            saved: 0,
            ef_search: DEFAULT_EF_SEARCH,
            ef_query: QUERY_EF_SEARCH,
            log: None,
            pending: Vec::new(),
            unembedded: HashMap::new(),
            unembedded_from: 0,
        }
    }

    /// Opens (or creates) the index kept in `dir` (see [`Self::open_checked`]).
    pub fn open(dir: &Path, dims: usize) -> Result<Self, SearchError> {
        Self::open_checked(dir, dims).map(|(index, _)| index)
    }

    /// Opens (or creates) the index kept in `dir`, checking its files: the vector log is read
    /// up to its first cut-off or damaged record and cut there (what follows is lost and
    /// indexed again by the next catch-up); a log without this version's header (an older
    /// format, another length of vector) is emptied; a graph file whose checksum or size does
    /// not match is dropped (searches scan exactly until it is built again). The report says
    /// what was repaired.
    pub fn open_checked(dir: &Path, dims: usize) -> Result<(Self, VectorRepair), SearchError> {
        let mut index = Self::new(dims);
        let mut repair = VectorRepair::default();
        let path = dir.join("vectors.log");
        let mut buf = Vec::new();
        if path.exists() {
            File::open(&path)
                .and_then(|f| BufReader::new(f).read_to_end(&mut buf))
                .map_err(|e| io(&path, e))?;
        }
        let valid = if buf.is_empty() {
            None
        } else if let Some(why) = header_problem(&buf, dims) {
            tracing::warn!(
                path = %path.display(),
                bytes = buf.len(),
                "the vector log {why}: it is emptied and the vectors are computed again"
            );
            repair.dropped_bytes = buf.len() as u64;
            repair.rebuilt = Some(why.to_owned());
            None
        } else {
            let (valid, why) = index.replay(&buf);
            if let Some(why) = why {
                let dropped = buf.len() - valid;
                tracing::warn!(
                    path = %path.display(),
                    dropped_bytes = dropped,
                    kept_slots = index.keys.len(),
                    "the vector log has {why}: it is cut there, the rest is indexed again"
                );
                repair.dropped_bytes = dropped as u64;
                repair.damage = Some(why.to_owned());
            }
            Some(valid)
        };
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let len = match valid {
            Some(valid) => {
                f.set_len(valid as u64).map_err(|e| io(&path, e))?;
                valid
            }
            None => {
                f.set_len(0).map_err(|e| io(&path, e))?;
                f.write_all(&log_header(dims))
                    .and_then(|()| f.sync_data())
                    .map_err(|e| io(&path, e))?;
                LOG_HEADER_LEN
            }
        };
        index.log = Some((path, len));
        // The IVF quantizer of earlier versions is not used any more.
        let _ = std::fs::remove_file(dir.join("ivf.bin"));
        let graph_path = dir.join("hnsw.bin");
        if repair.dropped_bytes > 0 {
            // Slots past the cut will be numbered again: a graph over them would be wrong.
            if graph_path.exists() {
                repair.graph = Some("the vectors it covers were repaired".into());
            }
            let _ = std::fs::remove_file(&graph_path);
        } else {
            match std::fs::read(&graph_path) {
                Ok(buf) => match decode_graph(&buf, index.keys.len()) {
                    Ok(g) => {
                        index.saved = g.len();
                        index.graph = Some(g);
                    }
                    Err(why) => {
                        tracing::warn!(
                            path = %graph_path.display(),
                            "the vector graph {why}: it is built again"
                        );
                        let _ = std::fs::remove_file(&graph_path);
                        repair.graph = Some(why.to_owned());
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if index.live_count >= ANN_MIN {
                        repair.graph = Some("is missing".into());
                    }
                }
                Err(e) => return Err(io(&graph_path, e)),
            }
        }
        Ok((index, repair))
    }

    /// Replays the records after the header; returns how many bytes are whole, valid records
    /// and, when that is not all of `buf`, what is wrong with the next one.
    fn replay(&mut self, buf: &[u8]) -> (usize, Option<&'static str>) {
        let max = max_payload(self.dims);
        let mut pos = LOG_HEADER_LEN;
        loop {
            if pos == buf.len() {
                return (pos, None);
            }
            let Some(frame) = buf.get(pos..pos + FRAME_LEN) else {
                return (pos, Some("a cut-off record at its end"));
            };
            let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
            let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
            if len > max {
                return (pos, Some("a record of impossible length"));
            }
            let Some(payload) = buf.get(pos + FRAME_LEN..pos + FRAME_LEN + len) else {
                return (pos, Some("a cut-off record at its end"));
            };
            if crc32fast::hash(payload) != crc {
                return (pos, Some("a record whose checksum does not match"));
            }
            if !self.apply(payload) {
                return (pos, Some("a malformed record"));
            }
            pos += FRAME_LEN + len;
        }
    }

    /// Applies one record's payload; `false` (and nothing changed) when it is malformed.
    fn apply(&mut self, payload: &[u8]) -> bool {
        let Some((&op, rest)) = payload.split_first() else {
            return false;
        };
        let Some(kl) = rest.get(..2) else {
            return false;
        };
        let kl = usize::from(u16::from_le_bytes([kl[0], kl[1]]));
        let Some(key) = rest.get(2..2 + kl) else {
            return false;
        };
        let Ok(key) = std::str::from_utf8(key) else {
            return false;
        };
        let body = &rest[2 + kl..];
        match op {
            1 if body.len() == 4 + self.dims => {
                let scale = f32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                self.push_bytes(key.to_owned(), scale, &body[4..]);
            }
            2 if body.is_empty() => {
                self.remove_inner(key);
            }
            3 if body.is_empty() => {
                self.reserve_inner(key.to_owned());
            }
            _ => return false,
        }
        true
    }

    /// Whether the graph is missing although there are enough live vectors for one (it was
    /// dropped at open as damaged or missing): [`Self::build_graph`] builds it without the
    /// write lock, [`Self::set_graph`] puts it in place.
    pub fn needs_graph(&self) -> bool {
        self.graph.is_none() && self.live_count >= ANN_MIN
    }

    /// A graph over the live slots (the index itself is only read, so searches go on).
    pub fn build_graph(&self) -> Hnsw {
        let mut graph = Hnsw::new();
        let codes = Codes {
            dims: self.dims,
            codes: &self.codes,
            scales: &self.scales,
        };
        let live = &self.live;
        graph.extend(&codes, &|s| live.get(s as usize).copied().unwrap_or(false));
        graph
    }

    /// Puts a graph from [`Self::build_graph`] in place (slots added since are linked at the
    /// next flush) and saves it.
    pub fn set_graph(&mut self, graph: Hnsw) -> Result<(), SearchError> {
        if graph.len() > self.keys.len() {
            return Err(SearchError::Index(
                "the vector graph covers slots the index does not have".into(),
            ));
        }
        self.graph = Some(graph);
        self.write_graph()
    }

    /// Number of live vectors.
    pub fn len(&self) -> usize {
        self.live_count
    }

    /// Whether there is no live vector.
    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    /// Number of slots, live or not.
    pub fn slots_len(&self) -> Slot {
        self.keys.len() as Slot
    }

    /// Length of the vectors.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The live slot of `key`.
    pub fn slot(&self, key: &str) -> Option<Slot> {
        self.slots.get(key).copied()
    }

    /// The key stored in `slot`.
    pub fn key(&self, slot: Slot) -> Option<&str> {
        self.keys.get(slot as usize).map(String::as_str)
    }

    /// Whether `slot` holds a live vector.
    pub fn is_live(&self, slot: Slot) -> bool {
        self.live.get(slot as usize).copied().unwrap_or(false)
    }

    /// Slots covered by the graph (`0` while searches are exact scans).
    pub fn graph_len(&self) -> usize {
        self.graph.as_ref().map_or(0, Hnsw::len)
    }

    /// The stored vector of `slot` (`None` for a slot the index does not have).
    pub fn vector(&self, slot: Slot) -> Option<Vec<f32>> {
        let (codes, scale) = self.row(slot)?;
        Some(codes.iter().map(|&c| f32::from(c) * scale).collect())
    }

    /// The codes and scale of `slot`, if the index has it.
    fn row(&self, slot: Slot) -> Option<(&[i8], f32)> {
        let d = self.dims;
        let s = slot as usize;
        let scale = *self.scales.get(s)?;
        let codes = self
            .codes
            .get(s.checked_mul(d)?..s.checked_add(1)?.checked_mul(d)?)?;
        Some((codes, scale))
    }

    fn push_bytes(&mut self, key: String, scale: f32, codes: &[u8]) -> Slot {
        self.remove_inner(&key);
        let slot = self.keys.len() as Slot;
        self.slots.insert(key.clone(), slot);
        self.keys.push(key);
        self.live.push(true);
        self.live_count += 1;
        self.codes.extend(codes.iter().map(|&b| b as i8));
        self.scales.push(scale);
        slot
    }

    fn remove_inner(&mut self, key: &str) -> bool {
        if let Some(old) = self.slots.remove(key) {
            self.live[old as usize] = false;
            self.live_count -= 1;
            true
        } else {
            self.unembedded.remove(key).is_some()
        }
    }

    fn reserve_inner(&mut self, key: String) -> Slot {
        self.remove_inner(&key);
        let slot = self.keys.len() as Slot;
        self.unembedded.insert(key.clone(), slot);
        self.keys.push(key);
        self.live.push(false);
        self.codes.extend(std::iter::repeat_n(0, self.dims));
        self.scales.push(0.0);
        slot
    }

    /// Starts a record in `pending`: room for its frame, the operation and the key (cut at
    /// 65,535 bytes); [`Self::end_record`] fills the frame in. Returns where it starts.
    fn begin_record(&mut self, op: u8, key: &str) -> usize {
        let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; FRAME_LEN]);
        self.pending.push(op);
        self.pending
            .extend_from_slice(&(key.len() as u16).to_le_bytes());
        self.pending.extend_from_slice(key);
        start
    }

    /// Writes the length and checksum of the record that starts at `start` in `pending`.
    fn end_record(&mut self, start: usize) {
        let payload = &self.pending[start + FRAME_LEN..];
        let len = payload.len() as u32;
        let crc = crc32fast::hash(payload);
        self.pending[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.pending[start + 4..start + FRAME_LEN].copy_from_slice(&crc.to_le_bytes());
    }

    fn log_key(&mut self, op: u8, key: &str) {
        let start = self.begin_record(op, key);
        self.end_record(start);
    }

    /// Reserves a slot for `key` whose vector is not computed yet (dropping the vector it
    /// had): the slot names the key (see [`Self::key`]) but is never searched; [`Self::upsert`]
    /// later stores the vector in a new slot. A key already waiting keeps its slot.
    pub fn reserve(&mut self, key: &str) -> Slot {
        if let Some(&slot) = self.unembedded.get(key) {
            return slot;
        }
        self.log_key(3, key);
        self.reserve_inner(key.to_owned())
    }

    /// The reserved slot of `key`, if it waits for its vector.
    pub fn unembedded_slot(&self, key: &str) -> Option<Slot> {
        self.unembedded.get(key).copied()
    }

    /// Number of keys waiting for their vector.
    pub fn unembedded_len(&self) -> usize {
        self.unembedded.len()
    }

    /// Up to `n` keys waiting for their vector, oldest reservation first.
    pub fn unembedded_keys(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = self.unembedded_from;
        while s < self.keys.len() && out.len() < n {
            let key = &self.keys[s];
            if self.unembedded.get(key) == Some(&(s as Slot)) {
                if out.is_empty() {
                    self.unembedded_from = s;
                }
                out.push(key.clone());
            }
            s += 1;
        }
        if out.is_empty() {
            self.unembedded_from = s;
        }
        out
    }

    /// Stores `vector` under `key` (replacing what it had); returns its slot. The same vector
    /// again (a paper whose text did not change: a vote, a comment) keeps its slot and writes
    /// nothing, so such changes leave no tombstones behind.
    pub fn upsert(&mut self, key: &str, vector: &[f32]) -> Slot {
        let (codes, scale) = quantize(vector);
        if let Some(&slot) = self.slots.get(key)
            && self
                .row(slot)
                .is_some_and(|(c, s)| s == scale && c == &codes[..])
        {
            return slot;
        }
        let start = self.begin_record(1, key);
        self.pending.extend_from_slice(&scale.to_le_bytes());
        let body = self.pending.len();
        self.pending.extend(codes.iter().map(|&c| c as u8));
        self.end_record(start);
        let bytes = self.pending[body..].to_vec();
        self.push_bytes(key.to_owned(), scale, &bytes)
    }

    /// Removes `key`'s vector (or reservation); whether it had one.
    pub fn remove(&mut self, key: &str) -> bool {
        let had = self.remove_inner(key);
        if had {
            self.log_key(2, key);
        }
        had
    }

    /// Writes pending records to disk and links new slots into the graph (building it once
    /// there are [`ANN_MIN`] live vectors, or again when tombstones outnumber live vectors).
    /// The graph is saved when the slots added since it was saved reach half of it.
    pub fn flush(&mut self) -> Result<(), SearchError> {
        if let Some((path, len)) = &mut self.log
            && !self.pending.is_empty()
        {
            let mut f = OpenOptions::new()
                .append(true)
                .open(&*path)
                .map_err(|e| io(path, e))?;
            f.write_all(&self.pending).map_err(|e| io(path, e))?;
            f.sync_data().map_err(|e| io(path, e))?;
            *len += self.pending.len();
        }
        self.pending.clear();
        self.link();
        let unsaved = self.graph_len().saturating_sub(self.saved);
        if unsaved >= SAVE_MIN.max(self.saved / 2) {
            self.write_graph()?;
        }
        Ok(())
    }

    /// Saves the graph when at least `SAVE_MIN` (1,000) slots were linked since it was last
    /// saved (the end of a catch-up calls this; fewer are scanned exactly after a restart).
    pub fn save_graph(&mut self) -> Result<(), SearchError> {
        if self.graph_len().saturating_sub(self.saved) >= SAVE_MIN {
            self.write_graph()?;
        }
        Ok(())
    }

    fn write_graph(&mut self) -> Result<(), SearchError> {
        let (Some((log, _)), Some(graph)) = (&self.log, &self.graph) else {
            return Ok(());
        };
        let path = log.with_file_name("hnsw.bin");
        let tmp = path.with_extension("tmp");
        let mut w = BufWriter::new(File::create(&tmp).map_err(|e| io(&tmp, e))?);
        let bytes = graph.encode();
        w.write_all(&bytes)
            .and_then(|()| w.write_all(&crc32fast::hash(&bytes).to_le_bytes()))
            .and_then(|()| w.flush())
            .map_err(|e| io(&tmp, e))?;
        drop(w);
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        self.saved = graph.len();
        Ok(())
    }

    /// Links every slot not in the graph yet (see [`Self::flush`]).
    pub fn link(&mut self) {
        let mut graph = match self.graph.take() {
            None if self.live_count < ANN_MIN => return,
            None => Hnsw::new(),
            Some(g) => {
                let covered = g.len();
                let live_covered = self.live[..covered].iter().filter(|&&l| l).count();
                let dead = (0..covered as Slot)
                    .filter(|&s| g.is_linked(s))
                    .count()
                    .saturating_sub(live_covered);
                if dead > live_covered {
                    tracing::info!(dead, live = live_covered, "the vector graph is rebuilt");
                    self.saved = 0;
                    Hnsw::new()
                } else {
                    g
                }
            }
        };
        let codes = Codes {
            dims: self.dims,
            codes: &self.codes,
            scales: &self.scales,
        };
        let live = &self.live;
        graph.extend(&codes, &|s| live[s as usize]);
        self.graph = Some(graph);
    }

    /// `query`'s similarity with `slot`'s vector; 0 for a slot the index does not have (a
    /// text index entry the repaired vector log lost, until it is indexed again).
    fn score(&self, query: &[f32], slot: Slot) -> f32 {
        let d = self.dims;
        let Some((codes, scale)) = self.row(slot) else {
            return 0.0;
        };
        if query.len() != d {
            return 0.0;
        }
        let mut acc = [0f32; 8];
        for (q, c) in query.chunks_exact(8).zip(codes.chunks_exact(8)) {
            for i in 0..8 {
                acc[i] += q[i] * f32::from(c[i]);
            }
        }
        let tail = d - d % 8;
        let mut sum: f32 = acc.iter().sum();
        for i in tail..d {
            sum += query[i] * f32::from(codes[i]);
        }
        sum * scale
    }

    /// Cosine similarity of `query` with `key`'s vector.
    pub fn similarity(&self, query: &[f32], slot: Slot) -> f32 {
        self.score(query, slot)
    }

    /// The `k` live slots most similar to `query`, best first, among `candidates` (exact).
    pub fn exact_among(&self, query: &[f32], k: usize, candidates: &[Slot]) -> Vec<(Slot, f32)> {
        let mut top = TopK::new(k);
        for &s in candidates {
            if self.is_live(s) {
                top.push(s, self.score(query, s));
            }
        }
        top.into_sorted()
    }

    /// The `k` live slots most similar to `query`, exactly, by a full scan.
    pub fn exact(&self, query: &[f32], k: usize) -> Vec<(Slot, f32)> {
        let mut top = TopK::new(k);
        for s in 0..self.keys.len() as Slot {
            if self.is_live(s) {
                top.push(s, self.score(query, s));
            }
        }
        top.into_sorted()
    }

    /// The `k` live slots most similar to `query`, best first: the graph's candidates (and
    /// the slots not linked yet) scored exactly; an exact scan without a graph.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(Slot, f32)> {
        self.search_ef(query, k, self.ef_search)
    }

    /// Like [`Self::search`], keeping `ef` candidates in the graph (at least `k`).
    pub fn search_ef(&self, query: &[f32], k: usize, ef: usize) -> Vec<(Slot, f32)> {
        let Some(graph) = &self.graph else {
            return self.exact(query, k);
        };
        let codes = Codes {
            dims: self.dims,
            codes: &self.codes,
            scales: &self.scales,
        };
        let ef = ef.max(k);
        let mut top = TopK::new(k);
        for (s, _) in graph.search(&codes, &QuantizedQuery::new(query), ef) {
            if self.is_live(s) {
                top.push(s, self.score(query, s));
            }
        }
        for s in graph.len()..self.keys.len() {
            if self.is_live(s as Slot) {
                top.push(s as Slot, self.score(query, s as Slot));
            }
        }
        top.into_sorted()
    }

    /// How much of the exact top `k` a graph search keeping `ef` candidates returns for
    /// `queries` (a diagnostic of the approximate search on real vectors).
    pub fn recall(&self, queries: &[Vec<f32>], k: usize, ef: usize) -> AnnRecall {
        let (mut found, mut close, mut wanted) = (0usize, 0usize, 0usize);
        for v in queries {
            let exact = self.exact(v, k);
            let Some(&(_, kth)) = exact.last() else {
                continue;
            };
            let exact: HashSet<Slot> = exact.into_iter().map(|x| x.0).collect();
            wanted += exact.len();
            for (s, score) in self.search_ef(v, k, ef) {
                found += usize::from(exact.contains(&s));
                close += usize::from(score >= kth - AnnRecall::EPSILON);
            }
        }
        let share = |n: usize| {
            if wanted == 0 {
                1.0
            } else {
                n as f64 / wanted as f64
            }
        };
        AnnRecall {
            exact_ids: share(found),
            within_epsilon: share(close),
        }
    }
}

/// Keeps the `k` best (slot, score) pairs.
pub struct TopK {
    k: usize,
    items: Vec<(Slot, f32)>,
    floor: f32,
}

impl TopK {
    /// An empty selection of at most `k`.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            items: Vec::with_capacity(2 * k + 1),
            floor: f32::NEG_INFINITY,
        }
    }

    /// Offers a candidate.
    pub fn push(&mut self, slot: Slot, score: f32) {
        if self.k == 0 || score < self.floor {
            return;
        }
        self.items.push((slot, score));
        if self.items.len() >= 2 * self.k {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        self.items
            .sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        self.items.truncate(self.k);
        if self.items.len() == self.k {
            self.floor = self.items[self.k - 1].1;
        }
    }

    /// The selection, best first (ties by slot).
    pub fn into_sorted(mut self) -> Vec<(Slot, f32)> {
        self.shrink();
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::HashSet;

    /// Clustered unit vectors, like embeddings of papers on a few hundred topics.
    fn clustered(n: usize, d: usize, topics: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let centres: Vec<Vec<f32>> = (0..topics)
            .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        (0..n)
            .map(|_| {
                let c = &centres[rng.random_range(0..topics)];
                let mut v: Vec<f32> = c
                    .iter()
                    .map(|x| x + rng.random_range(-0.6..0.6f32))
                    .collect();
                crate::embed::normalize(&mut v);
                v
            })
            .collect()
    }

    #[test]
    fn the_same_vector_again_keeps_its_slot_and_a_new_one_replaces_it() {
        let data = clustered(3, 16, 2, 11);
        let mut index = VectorIndex::new(16);
        let first = index.upsert("p", &data[0]);
        let pending = index.pending.len();
        assert_eq!(index.upsert("p", &data[0]), first, "unchanged: same slot");
        assert_eq!(index.pending.len(), pending, "nothing written");
        assert_eq!(index.slots_len(), 1);
        let second = index.upsert("p", &data[1]);
        assert_ne!(second, first, "changed: a new slot");
        assert!(!index.is_live(first) && index.is_live(second));
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn approximate_search_finds_at_least_95_percent_of_the_exact_top_10() {
        let d = 32;
        let data = clustered(ANN_MIN + 5_000, d, 300, 7);
        let mut index = VectorIndex::new(d);
        for (i, v) in data.iter().enumerate() {
            index.upsert(&format!("p{i}"), v);
        }
        index.flush().expect("flush");
        assert!(index.graph.is_some(), "a graph past ANN_MIN");
        let queries = clustered(200, d, 300, 8);
        let mut found = 0;
        for q in &queries {
            let exact: HashSet<Slot> = index.exact(q, 10).into_iter().map(|x| x.0).collect();
            found += index
                .search(q, 10)
                .into_iter()
                .filter(|x| exact.contains(&x.0))
                .count();
        }
        let recall = found as f64 / (10 * queries.len()) as f64;
        eprintln!("recall@10 {recall}");
        assert!(recall >= 0.95, "recall@10 {recall}");
        // The diagnostic the benchmark reports counts the same way.
        let measured = index.recall(&queries, 10, index.ef_search);
        assert!((measured.exact_ids - recall).abs() < 1e-12, "{measured:?}");
        assert!(measured.within_epsilon >= measured.exact_ids);
    }

    /// Paper-like texts: each mixes words of a main topic with some of another topic and
    /// some general words, all real words of the built-in embedder's vocabulary.
    fn paper_like_texts(n: usize, words: usize, seed: u64) -> Vec<String> {
        let vocab = crate::embed::builtin_vocab_words();
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let topics: Vec<Vec<&str>> = (0..150)
            .map(|_| {
                (0..40)
                    .map(|_| vocab[rng.random_range(0..vocab.len())].as_str())
                    .collect()
            })
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let main = &topics[rng.random_range(0..topics.len())];
                let side = &topics[rng.random_range(0..topics.len())];
                (0..words)
                    .map(|_| {
                        let r: f32 = rng.random();
                        if r < 0.6 {
                            main[rng.random_range(0..main.len())]
                        } else if r < 0.8 {
                            side[rng.random_range(0..side.len())]
                        } else {
                            vocab[rng.random_range(0..vocab.len())].as_str()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn recall_at_10(index: &VectorIndex, queries: &[Vec<f32>]) -> f64 {
        let mut found = 0;
        for q in queries {
            let exact: HashSet<Slot> = index.exact(q, 10).into_iter().map(|x| x.0).collect();
            found += index
                .search(q, 10)
                .into_iter()
                .filter(|x| exact.contains(&x.0))
                .count();
        }
        found as f64 / (10 * queries.len()) as f64
    }

    #[test]
    fn the_graph_finds_at_least_95_percent_of_the_exact_top_10_of_real_embeddings() {
        let embedder = crate::embed::StaticEmbedder::builtin().expect("model");
        let docs = paper_like_texts(ANN_MIN + 2_000, 80, 1);
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let vectors = crate::Embedder::embed_documents(&embedder, &refs);
        let mut index = VectorIndex::new(crate::Embedder::dims(&embedder));
        for (i, v) in vectors.iter().enumerate() {
            index.upsert(&format!("p{i}"), v);
        }
        let t = std::time::Instant::now();
        index.flush().expect("flush");
        eprintln!("graph of {} built in {:?}", ANN_MIN + 2_000, t.elapsed());
        assert_eq!(index.graph_len(), ANN_MIN + 2_000, "every slot is linked");
        let queries: Vec<Vec<f32>> = paper_like_texts(300, 8, 2)
            .iter()
            .map(|q| crate::Embedder::embed_query(&embedder, q))
            .collect();
        let recall = recall_at_10(&index, &queries);
        eprintln!("recall@10 on embeddings {recall}");
        assert!(recall >= 0.95, "recall@10 {recall}");
    }

    #[test]
    fn the_graph_is_saved_reloaded_and_extended_and_skips_removed_vectors() {
        let dir = tempfile::tempdir().expect("dir");
        let d = 24;
        let data = clustered(ANN_MIN + 3_000, d, 200, 3);
        let mut index = VectorIndex::open(dir.path(), d).expect("open");
        for (i, v) in data[..ANN_MIN + 1_000].iter().enumerate() {
            index.upsert(&format!("p{i}"), v);
        }
        index.flush().expect("flush");
        assert!(dir.path().join("hnsw.bin").exists(), "saved when built");
        // Removals become tombstones: never returned.
        for i in 0..500 {
            index.remove(&format!("p{i}"));
        }
        index.flush().expect("flush");
        for q in &data[..50] {
            assert!(
                index
                    .search(q, 10)
                    .iter()
                    .all(|(s, _)| index.key(*s).is_some_and(|k| {
                        k.trim_start_matches('p').parse::<usize>().unwrap_or(0) >= 500
                    })),
                "a removed vector was returned"
            );
        }
        let queries = clustered(100, d, 200, 9);
        let before: Vec<_> = queries.iter().map(|q| index.search(q, 10)).collect();

        let mut reopened = VectorIndex::open(dir.path(), d).expect("reopen");
        assert_eq!(reopened.graph_len(), ANN_MIN + 1_000, "the graph is loaded");
        let after: Vec<_> = queries.iter().map(|q| reopened.search(q, 10)).collect();
        assert_eq!(before, after, "the reloaded graph answers the same");

        // New vectors are found before and after they are linked.
        for (i, v) in data.iter().enumerate().skip(ANN_MIN + 1_000) {
            reopened.upsert(&format!("p{i}"), v);
        }
        let new_slot = reopened
            .slot(&format!("p{}", ANN_MIN + 2_000))
            .expect("slot");
        let q = &data[ANN_MIN + 2_000];
        assert_eq!(
            reopened.search(q, 1)[0].0,
            new_slot,
            "found by the exact tail scan"
        );
        reopened.flush().expect("flush");
        assert_eq!(reopened.graph_len(), ANN_MIN + 3_000);
        assert_eq!(
            reopened.search(q, 1)[0].0,
            new_slot,
            "found through the graph"
        );
        assert!(recall_at_10(&reopened, &queries) >= 0.95);
    }

    #[test]
    fn replaced_and_removed_vectors_are_never_returned_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let d = 8;
        let data = clustered(50, d, 5, 1);
        let mut index = VectorIndex::open(dir.path(), d).expect("open");
        for (i, v) in data.iter().enumerate() {
            index.upsert(&format!("p{i}"), v);
        }
        index.upsert("p0", &data[1]);
        assert!(index.remove("p2"));
        assert!(!index.remove("nope"));
        index.flush().expect("flush");
        let top = index.exact(&data[2], 50);
        assert_eq!(top.len(), 49);
        assert!(top.iter().all(|(s, _)| index.key(*s) != Some("p2")));

        let reopened = VectorIndex::open(dir.path(), d).expect("reopen");
        assert_eq!(reopened.len(), 49);
        assert_eq!(reopened.slot("p0"), index.slot("p0"));
        assert_eq!(reopened.exact(&data[3], 5), index.exact(&data[3], 5));
    }

    #[test]
    fn a_reserved_slot_names_its_key_is_never_searched_and_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let d = 8;
        let data = clustered(4, d, 2, 5);
        let mut index = VectorIndex::open(dir.path(), d).expect("open");
        index.upsert("a", &data[0]);
        let b = index.reserve("b");
        assert_eq!(
            index.reserve("b"),
            b,
            "a key already waiting keeps its slot"
        );
        let c_vector = index.upsert("c", &data[2]);
        let c = index.reserve("c");
        assert_ne!(c, c_vector, "reserving drops the vector it had");
        assert_eq!(index.key(b), Some("b"));
        assert_eq!((index.len(), index.unembedded_len()), (1, 2));
        assert!(index.slot("b").is_none() && !index.is_live(b));
        assert!(
            index
                .exact(&data[1], 10)
                .iter()
                .all(|(s, _)| *s != b && *s != c),
            "a reserved slot is never returned"
        );
        assert_eq!(index.unembedded_keys(10), ["b", "c"]);
        index.flush().expect("flush");

        let mut reopened = VectorIndex::open(dir.path(), d).expect("reopen");
        assert_eq!(reopened.unembedded_slot("b"), Some(b));
        assert_eq!(reopened.unembedded_keys(1), ["b"]);
        let b_vector = reopened.upsert("b", &data[1]);
        assert!(b_vector > c && reopened.is_live(b_vector));
        assert!(reopened.remove("c"), "a reservation is removed");
        assert_eq!(reopened.unembedded_len(), 0);
        assert!(reopened.unembedded_keys(10).is_empty());
        reopened.flush().expect("flush");
        let again = VectorIndex::open(dir.path(), d).expect("reopen");
        assert_eq!((again.len(), again.unembedded_len()), (2, 0));
        assert_eq!(again.exact(&data[1], 1)[0].0, b_vector);
    }

    #[test]
    fn a_torn_final_record_is_cut_off_at_open() {
        let dir = tempfile::tempdir().expect("dir");
        let mut index = VectorIndex::open(dir.path(), 4).expect("open");
        index.upsert("a", &[1.0, 0.0, 0.0, 0.0]);
        index.upsert("b", &[0.0, 1.0, 0.0, 0.0]);
        index.flush().expect("flush");
        let path = dir.path().join("vectors.log");
        let len = std::fs::metadata(&path).expect("meta").len();
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        f.set_len(len - 3).expect("truncate");
        drop(f);
        let reopened = VectorIndex::open(dir.path(), 4).expect("reopen");
        assert_eq!(reopened.len(), 1);
        assert!(reopened.slot("a").is_some());
    }
}
