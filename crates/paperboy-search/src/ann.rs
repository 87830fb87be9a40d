//! The vector index: int8 vectors (one f32 scale per row) in slots, an inverted-file (IVF)
//! coarse quantizer for approximate nearest neighbours, and exact scoring of the candidates
//! against the stored vectors.
//!
//! Below [`ANN_MIN`] live vectors every search is an exact scan (and so identical on every
//! replica). Above it, k-means centroids (seeded, deterministic for a given set of vectors)
//! split the vectors into about `sqrt(n)` lists; a query scans the `nprobe` nearest lists.
//!
//! On disk (`vectors.log`): an append-only log of upserts and removals, replayed at open, so
//! a crash loses at most the records after the last flush and slots are numbered the same on
//! every replay; `ivf.bin` keeps the centroids and the list of every slot assigned so far.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::SearchError;
use crate::embed::dot;

/// Live vectors from which the index switches from exact scans to IVF.
pub const ANN_MIN: usize = 20_000;

/// A slot's number.
pub type Slot = u32;

/// int8 vectors by key, with an IVF quantizer.
pub struct VectorIndex {
    dims: usize,
    keys: Vec<String>,
    slots: HashMap<String, Slot>,
    live: Vec<bool>,
    live_count: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    ivf: Option<Ivf>,
    /// Lists scanned per query (IVF).
    pub nprobe: usize,
    log: Option<(PathBuf, usize)>,
    pending: Vec<u8>,
}

struct Ivf {
    centroids: Vec<f32>,
    lists: Vec<Vec<Slot>>,
    assigned: usize,
    trained_on: usize,
}

fn io(path: &Path, e: std::io::Error) -> SearchError {
    SearchError::Io(format!("{}: {e}", path.display()))
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
            ivf: None,
            nprobe: 0,
            log: None,
            pending: Vec::new(),
        }
    }

    /// Opens (or creates) the index kept in `dir`.
    pub fn open(dir: &Path, dims: usize) -> Result<Self, SearchError> {
        let mut index = Self::new(dims);
        let path = dir.join("vectors.log");
        let mut valid = 0usize;
        if path.exists() {
            let mut buf = Vec::new();
            File::open(&path)
                .and_then(|f| BufReader::new(f).read_to_end(&mut buf))
                .map_err(|e| io(&path, e))?;
            valid = index.replay(&buf);
            if valid < buf.len() {
                tracing::warn!(
                    path = %path.display(),
                    dropped = buf.len() - valid,
                    "the vector log ends with an incomplete record: it is cut off"
                );
            }
        }
        let f = OpenOptions::new()
            .create(true)
            .append(false)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        f.set_len(valid as u64).map_err(|e| io(&path, e))?;
        index.log = Some((path, valid));
        let ivf_path = dir.join("ivf.bin");
        if let Ok(buf) = std::fs::read(&ivf_path) {
            index.ivf = Ivf::decode(&buf, dims, index.keys.len());
        }
        index.assign_new();
        Ok(index)
    }

    fn replay(&mut self, buf: &[u8]) -> usize {
        let mut pos = 0;
        let d = self.dims;
        loop {
            let start = pos;
            let Some(&op) = buf.get(pos) else {
                return start;
            };
            let Some(kl) = buf.get(pos + 1..pos + 3) else {
                return start;
            };
            let kl = u16::from_le_bytes([kl[0], kl[1]]) as usize;
            pos += 3;
            let Some(key) = buf.get(pos..pos + kl) else {
                return start;
            };
            let Ok(key) = std::str::from_utf8(key) else {
                return start;
            };
            let key = key.to_owned();
            pos += kl;
            match op {
                1 => {
                    let Some(body) = buf.get(pos..pos + 4 + d) else {
                        return start;
                    };
                    let scale = f32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                    let codes: Vec<i8> = body[4..].iter().map(|&b| b as i8).collect();
                    pos += 4 + d;
                    self.push(key, scale, &codes);
                }
                2 => {
                    self.remove_inner(&key);
                }
                _ => return start,
            }
        }
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

    /// The stored vector of `slot`.
    pub fn vector(&self, slot: Slot) -> Vec<f32> {
        let d = self.dims;
        let s = slot as usize;
        let scale = self.scales[s];
        self.codes[s * d..(s + 1) * d]
            .iter()
            .map(|&c| f32::from(c) * scale)
            .collect()
    }

    fn push(&mut self, key: String, scale: f32, codes: &[i8]) -> Slot {
        self.remove_inner(&key);
        let slot = self.keys.len() as Slot;
        self.slots.insert(key.clone(), slot);
        self.keys.push(key);
        self.live.push(true);
        self.live_count += 1;
        self.codes.extend_from_slice(codes);
        self.scales.push(scale);
        slot
    }

    fn remove_inner(&mut self, key: &str) -> bool {
        if let Some(old) = self.slots.remove(key) {
            self.live[old as usize] = false;
            self.live_count -= 1;
            true
        } else {
            false
        }
    }

    /// Stores `vector` under `key` (replacing what it had); returns its slot.
    pub fn upsert(&mut self, key: &str, vector: &[f32]) -> Slot {
        let max = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        let codes: Vec<i8> = vector
            .iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        self.pending.push(1);
        self.pending
            .extend_from_slice(&(key.len().min(u16::MAX as usize) as u16).to_le_bytes());
        self.pending
            .extend_from_slice(&key.as_bytes()[..key.len().min(u16::MAX as usize)]);
        self.pending.extend_from_slice(&scale.to_le_bytes());
        self.pending.extend(codes.iter().map(|&c| c as u8));
        self.push(key.to_owned(), scale, &codes)
    }

    /// Removes `key`'s vector; whether it had one.
    pub fn remove(&mut self, key: &str) -> bool {
        let had = self.remove_inner(key);
        if had {
            self.pending.push(2);
            self.pending
                .extend_from_slice(&(key.len().min(u16::MAX as usize) as u16).to_le_bytes());
            self.pending
                .extend_from_slice(&key.as_bytes()[..key.len().min(u16::MAX as usize)]);
        }
        had
    }

    /// Writes pending records to disk, trains or extends the quantizer as needed and saves it.
    pub fn flush(&mut self) -> Result<(), SearchError> {
        self.maybe_train();
        self.assign_new();
        let Some((path, len)) = &mut self.log else {
            self.pending.clear();
            return Ok(());
        };
        if !self.pending.is_empty() {
            let mut f = OpenOptions::new()
                .append(true)
                .open(&*path)
                .map_err(|e| io(path, e))?;
            f.write_all(&self.pending).map_err(|e| io(path, e))?;
            f.sync_data().map_err(|e| io(path, e))?;
            *len += self.pending.len();
            self.pending.clear();
        }
        if let Some(ivf) = &self.ivf {
            let ivf_path = path.with_file_name("ivf.bin");
            let tmp = ivf_path.with_extension("tmp");
            let mut w = BufWriter::new(File::create(&tmp).map_err(|e| io(&tmp, e))?);
            w.write_all(&ivf.encode(self.keys.len()))
                .and_then(|()| w.flush())
                .map_err(|e| io(&tmp, e))?;
            drop(w);
            std::fs::rename(&tmp, &ivf_path).map_err(|e| io(&ivf_path, e))?;
        }
        Ok(())
    }

    fn maybe_train(&mut self) {
        let n = self.live_count;
        let due = match &self.ivf {
            None => n >= ANN_MIN,
            Some(ivf) => n > ivf.trained_on.saturating_mul(2),
        };
        if due {
            self.train();
        }
    }

    /// (Re)trains the quantizer on the live vectors now.
    pub fn train(&mut self) {
        let live: Vec<Slot> = (0..self.keys.len() as Slot)
            .filter(|&s| self.is_live(s))
            .collect();
        let n = live.len();
        if n == 0 {
            return;
        }
        let nlist = ((n as f64).sqrt() as usize).clamp(1, 4096);
        let d = self.dims;
        // A deterministic sample: every step-th live vector.
        let sample_n = (nlist * 48).min(n);
        let step = n / sample_n;
        let sample: Vec<Vec<f32>> = (0..sample_n).map(|i| self.vector(live[i * step])).collect();
        let mut centroids: Vec<f32> = (0..nlist)
            .flat_map(|i| sample[i * sample_n / nlist].clone())
            .collect();
        for _ in 0..8 {
            let assign = assign_all(&centroids, d, &sample);
            let mut sums = vec![0f32; nlist * d];
            let mut counts = vec![0usize; nlist];
            for (v, &c) in sample.iter().zip(&assign) {
                counts[c as usize] += 1;
                for (s, x) in sums[c as usize * d..(c as usize + 1) * d].iter_mut().zip(v) {
                    *s += x;
                }
            }
            for c in 0..nlist {
                if counts[c] == 0 {
                    continue;
                }
                let row = &mut sums[c * d..(c + 1) * d];
                crate::embed::normalize(row);
                centroids[c * d..(c + 1) * d].copy_from_slice(row);
            }
        }
        self.ivf = Some(Ivf {
            centroids,
            lists: vec![Vec::new(); nlist],
            assigned: 0,
            trained_on: n,
        });
        self.assign_new();
    }

    fn assign_new(&mut self) {
        let Some(from) = self.ivf.as_ref().map(|i| i.assigned) else {
            return;
        };
        let d = self.dims;
        let to = self.keys.len();
        if from >= to {
            return;
        }
        let vectors: Vec<Vec<f32>> = (from..to).map(|s| self.vector(s as Slot)).collect();
        let Some(ivf) = &mut self.ivf else { return };
        let assign = assign_all(&ivf.centroids, d, &vectors);
        for (i, c) in assign.into_iter().enumerate() {
            ivf.lists[c as usize].push((from + i) as Slot);
        }
        ivf.assigned = to;
    }

    fn score(&self, query: &[f32], slot: Slot) -> f32 {
        let d = self.dims;
        let s = slot as usize;
        let codes = &self.codes[s * d..(s + 1) * d];
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
        sum * self.scales[s]
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

    /// The `k` live slots most similar to `query`, best first: IVF when trained, else exact.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(Slot, f32)> {
        let Some(ivf) = &self.ivf else {
            return self.exact(query, k);
        };
        let d = self.dims;
        let nlist = ivf.lists.len();
        let nprobe = if self.nprobe > 0 {
            self.nprobe
        } else {
            (nlist / 5).max(8)
        }
        .min(nlist);
        let mut order: Vec<(f32, usize)> = (0..nlist)
            .map(|c| (dot(query, &ivf.centroids[c * d..(c + 1) * d]), c))
            .collect();
        order.select_nth_unstable_by(nprobe - 1, |a, b| b.0.total_cmp(&a.0));
        let mut top = TopK::new(k);
        for &(_, c) in &order[..nprobe] {
            for &s in &ivf.lists[c] {
                if self.is_live(s) {
                    top.push(s, self.score(query, s));
                }
            }
        }
        // Slots added since the last assignment are scanned too.
        for s in ivf.assigned..self.keys.len() {
            if self.is_live(s as Slot) {
                top.push(s as Slot, self.score(query, s as Slot));
            }
        }
        top.into_sorted()
    }
}

fn assign_all(centroids: &[f32], d: usize, vectors: &[Vec<f32>]) -> Vec<u32> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = vectors.len().div_ceil(threads).max(1);
    let nlist = centroids.len() / d;
    let mut out = vec![0u32; vectors.len()];
    std::thread::scope(|scope| {
        for (vs, os) in vectors.chunks(chunk).zip(out.chunks_mut(chunk)) {
            scope.spawn(move || {
                for (v, o) in vs.iter().zip(os.iter_mut()) {
                    let mut best = (f32::NEG_INFINITY, 0u32);
                    for c in 0..nlist {
                        let s = dot(v, &centroids[c * d..(c + 1) * d]);
                        if s > best.0 {
                            best = (s, c as u32);
                        }
                    }
                    *o = best.1;
                }
            });
        }
    });
    out
}

impl Ivf {
    fn encode(&self, slots: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let nlist = self.lists.len();
        out.extend_from_slice(&(nlist as u64).to_le_bytes());
        out.extend_from_slice(&(self.trained_on as u64).to_le_bytes());
        out.extend_from_slice(&(self.assigned.min(slots) as u64).to_le_bytes());
        for x in &self.centroids {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let mut assign = vec![u32::MAX; self.assigned];
        for (c, list) in self.lists.iter().enumerate() {
            for &s in list {
                if let Some(a) = assign.get_mut(s as usize) {
                    *a = c as u32;
                }
            }
        }
        for a in assign {
            out.extend_from_slice(&a.to_le_bytes());
        }
        out
    }

    fn decode(buf: &[u8], d: usize, slots: usize) -> Option<Self> {
        let u64_at = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(
                buf.get(i * 8..i * 8 + 8)?.try_into().ok()?,
            ))
        };
        let nlist = usize::try_from(u64_at(0)?).ok()?;
        let trained_on = usize::try_from(u64_at(1)?).ok()?;
        let assigned = usize::try_from(u64_at(2)?).ok()?;
        if assigned > slots || nlist == 0 {
            return None;
        }
        let mut pos = 24;
        let floats = buf.get(pos..pos + nlist * d * 4)?;
        let centroids = floats
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        pos += nlist * d * 4;
        let mut lists = vec![Vec::new(); nlist];
        for s in 0..assigned {
            let b = buf.get(pos + s * 4..pos + s * 4 + 4)?;
            let c = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            lists.get_mut(c)?.push(s as Slot);
        }
        Some(Self {
            centroids,
            lists,
            assigned,
            trained_on,
        })
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
    fn approximate_search_finds_at_least_95_percent_of_the_exact_top_10() {
        let d = 32;
        let data = clustered(ANN_MIN + 5_000, d, 300, 7);
        let mut index = VectorIndex::new(d);
        for (i, v) in data.iter().enumerate() {
            index.upsert(&format!("p{i}"), v);
        }
        index.flush().expect("flush");
        assert!(index.ivf.is_some(), "trained past ANN_MIN");
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
