//! A hierarchical navigable small world (HNSW) graph over the int8 vectors of a
//! [`crate::ann::VectorIndex`], for approximate nearest-neighbour search in about
//! `log n` hops instead of a scan.
//!
//! Nodes are the index's slots. The graph is built on the int8 codes themselves (an
//! `i8·i8` dot product is cheap), in parallel: level-0 neighbour lists are arrays of atomics that
//! searches read without locking, and each node has a mutex that serializes writers of its
//! lists. A removed slot stays in the graph as a tombstone: searches walk through it but never
//! return it. Insertion order across threads is not fixed, so two builds of the same vectors
//! may differ slightly; the index answers exactly below [`crate::ann::ANN_MIN`] vectors.
//!
//! On disk (`hnsw.bin`): a header, then each node's level and neighbour lists. It covers the
//! slots that existed when it was written; later slots are inserted again after a restart.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering as AtomicOrdering};

use crate::ann::Slot;

/// Neighbours kept per node above level 0.
pub const M: usize = 16;
/// Neighbours kept per node at level 0.
pub const M0: usize = 2 * M;
/// Candidates considered while inserting a node. Measured with `examples/graph.rs` on the
/// built-in embedder's vectors of 196k papers (the shared sets and topic-coherent generated
/// ones): recall@10 at ef 128 is 0.908 with 64, 0.940 with 128, 0.960 with 200; the build
/// took 62 s of CPU time with 128 and 90 s with 200.
pub const EF_CONSTRUCTION: usize = 200;
/// The highest level a node can be given.
const MAX_LEVEL: u8 = 12;
const MAGIC: &[u8; 8] = b"PBHNSW02";

/// The int8 vectors the graph links, as the vector index stores them: `dims` codes per slot and
/// one scale per slot (a vector is `code · scale`).
#[derive(Clone, Copy)]
pub struct Codes<'a> {
    /// Length of a vector.
    pub dims: usize,
    /// All codes, slot after slot.
    pub codes: &'a [i8],
    /// One scale per slot.
    pub scales: &'a [f32],
}

impl Codes<'_> {
    fn row(&self, s: u32) -> &[i8] {
        let s = s as usize;
        &self.codes[s * self.dims..(s + 1) * self.dims]
    }

    /// Similarity of two stored vectors.
    fn sim(&self, a: u32, b: u32) -> f32 {
        dot_i8(self.row(a), self.row(b)) as f32 * self.scales[a as usize] * self.scales[b as usize]
    }
}

/// A vector quantized like the stored ones, to walk the graph with.
pub struct QuantizedQuery {
    codes: Vec<i8>,
    scale: f32,
}

impl QuantizedQuery {
    /// Quantizes `v` (one scale for the vector, codes in -127..=127).
    pub fn new(v: &[f32]) -> Self {
        let (codes, scale) = quantize(v);
        Self { codes, scale }
    }

    fn sim(&self, v: &Codes<'_>, s: u32) -> f32 {
        dot_i8(&self.codes, v.row(s)) as f32 * self.scale * v.scales[s as usize]
    }
}

/// `v` as int8 codes and the scale that maps them back.
pub fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let codes = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, scale)
}

/// Dot product of two int8 vectors: with AVX2 where the processor has it (detected at run
/// time, so one binary runs everywhere), else portable code.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2 (checked just above).
        #[allow(unsafe_code, reason = "calling the AVX2 kernel after detecting AVX2")]
        return unsafe { dot_i8_avx2(a, b) };
    }
    dot_i8_portable(a, b)
}

/// AVX2: 32 products per step, each half of the codes widened to i16 and multiplied and
/// pair-summed into i32 lanes by `vpmaddwd` (|a·b| ≤ 127², no overflow).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(
    unsafe_code,
    reason = "SIMD loads from slices, bounds checked by the loop"
)]
fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_shuffle_epi32,
        _mm256_add_epi32, _mm256_castsi256_si128, _mm256_cvtepi8_epi16, _mm256_extracti128_si256,
        _mm256_madd_epi16, _mm256_setzero_si256,
    };
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    // SAFETY (every load): `i + 32 <= n` (or `i + 16 <= n`) bytes are in both slices, and
    // unaligned loads are allowed.
    while i + 32 <= n {
        unsafe {
            let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i).cast::<__m128i>()));
            let y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i).cast::<__m128i>()));
            let x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i + 16).cast::<__m128i>()));
            let y1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i + 16).cast::<__m128i>()));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, y1));
        }
        i += 32;
    }
    if i + 16 <= n {
        unsafe {
            let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i).cast::<__m128i>()));
            let y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i).cast::<__m128i>()));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
        }
        i += 16;
    }
    let acc = _mm256_add_epi32(acc0, acc1);
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256::<1>(acc),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    let tail: i32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    _mm_cvtsi128_si32(s).wrapping_add(tail)
}

/// Asks the processor to bring `row` into its caches (a hint: it neither faults nor writes).
#[inline]
fn prefetch(row: &[i8]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(64) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: the pointer is into a live slice; a prefetch reads nothing architecturally.
        #[allow(unsafe_code, reason = "a cache hint for a pointer into a live slice")]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Portable dot product, written so that it vectorizes on baseline x86-64: two products of
/// int8 fit an i16 lane, so 32 products are formed as i16 before widening.
fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let mut ca = a.chunks_exact(32);
    let mut cb = b.chunks_exact(32);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let mut lo = [0i16; 16];
        // Wrapping arithmetic that cannot wrap (|product| <= 127², sums far below i32::MAX):
        // it keeps overflow checks of test builds from turning the loop scalar.
        for i in 0..16 {
            lo[i] = i16::from(x[i]).wrapping_mul(i16::from(y[i]));
        }
        for i in 0..16 {
            let hi = i16::from(x[16 + i]).wrapping_mul(i16::from(y[16 + i]));
            acc[i] = acc[i]
                .wrapping_add(i32::from(lo[i]))
                .wrapping_add(i32::from(hi));
        }
    }
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    acc.iter().fold(tail, |a, &b| a.wrapping_add(b))
}

/// A candidate: similarity and node, ordered by similarity (then by node, for determinism).
#[derive(Clone, Copy, PartialEq)]
struct Cand(f32, u32);

impl Eq for Cand {}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

/// Nodes already seen by one search: a stamp per node, so clearing is O(1).
struct Visited {
    stamps: Vec<u32>,
    now: u32,
}

impl Visited {
    fn prepare(&mut self, n: usize) {
        if self.stamps.len() < n {
            self.stamps.resize(n, 0);
        }
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamps.iter_mut().for_each(|s| *s = 0);
            self.now = 1;
        }
    }

    /// Marks `s`; whether it was not marked yet.
    fn insert(&mut self, s: u32) -> bool {
        let e = &mut self.stamps[s as usize];
        let new = *e != self.now;
        *e = self.now;
        new
    }
}

/// The graph.
pub struct Hnsw {
    /// Level-0 lists: per node, a count then up to [`M0`] neighbours.
    links0: Vec<AtomicU32>,
    /// The similarity of each level-0 neighbour to the node (`f32` bits), so that a full list
    /// takes a new neighbour by replacing its least similar one without computing anything.
    sims0: Vec<AtomicU32>,
    /// Lists of levels 1..=level per node; the mutex also guards the node's level-0 list.
    upper: Vec<Mutex<Vec<Vec<u32>>>>,
    levels: Vec<u8>,
    /// Whether a node was inserted (removed slots that never were are not).
    linked: Vec<bool>,
    /// Entry node and its level.
    entry: Mutex<Option<(u32, u8)>>,
    visited: Mutex<Vec<Visited>>,
}

const STRIDE: usize = M0 + 1;

/// A deterministic level for `slot`: geometric with ratio 1/M.
fn level_of(slot: u32) -> u8 {
    let mut x = u64::from(slot) ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let u = ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let ml = 1.0 / (M as f64).ln();
    ((-u.ln() * ml) as u64).min(u64::from(MAX_LEVEL)) as u8
}

impl Default for Hnsw {
    fn default() -> Self {
        Self::new()
    }
}

impl Hnsw {
    /// An empty graph.
    pub fn new() -> Self {
        Self {
            links0: Vec::new(),
            sims0: Vec::new(),
            upper: Vec::new(),
            levels: Vec::new(),
            linked: Vec::new(),
            entry: Mutex::new(None),
            visited: Mutex::new(Vec::new()),
        }
    }

    /// Slots covered (inserted or skipped): `0..len`.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the graph covers no slot.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Whether `slot` was inserted into the graph.
    pub fn is_linked(&self, slot: Slot) -> bool {
        self.linked.get(slot as usize).copied().unwrap_or(false)
    }

    fn lock(&self, s: u32) -> std::sync::MutexGuard<'_, Vec<Vec<u32>>> {
        self.upper[s as usize]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry_point(&self) -> Option<(u32, u8)> {
        *self
            .entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Copies the neighbours of `s` at `level` into `buf`.
    fn neighbours(&self, s: u32, level: u8, buf: &mut Vec<u32>) {
        buf.clear();
        if level == 0 {
            let base = s as usize * STRIDE;
            let n = (self.links0[base].load(AtomicOrdering::Acquire) as usize).min(M0);
            buf.extend(
                self.links0[base + 1..base + 1 + n]
                    .iter()
                    .map(|a| a.load(AtomicOrdering::Relaxed)),
            );
        } else if let Some(list) = self.lock(s).get(level as usize - 1) {
            buf.extend_from_slice(list);
        }
    }

    /// Replaces the neighbours of `s` at `level` (the caller holds `s`'s lock).
    fn set_neighbours(&self, guard: &mut [Vec<u32>], s: u32, level: u8, list: &[Cand]) {
        if level == 0 {
            let n = list.len().min(M0);
            for (i, c) in list[..n].iter().enumerate() {
                self.set_link0(s, i, *c);
            }
            self.links0[s as usize * STRIDE].store(n as u32, AtomicOrdering::Release);
        } else if let Some(l) = guard.get_mut(level as usize - 1) {
            l.clear();
            l.extend(list.iter().map(|c| c.1));
        }
    }

    fn set_link0(&self, s: u32, i: usize, c: Cand) {
        self.links0[s as usize * STRIDE + 1 + i].store(c.1, AtomicOrdering::Relaxed);
        self.sims0[s as usize * M0 + i].store(c.0.to_bits(), AtomicOrdering::Relaxed);
    }

    fn sim0(&self, s: u32, i: usize) -> f32 {
        f32::from_bits(self.sims0[s as usize * M0 + i].load(AtomicOrdering::Relaxed))
    }

    /// Links `q` (similarity `sim`) into the level-0 list of `e` (the caller holds `e`'s
    /// lock): appended while there is room. A full list is pruned by the diversity heuristic
    /// ([`Self::select`]) over its neighbours and `q`, which usually frees several places, so
    /// the pairwise distances are paid once per several links (DiskANN's slack, in effect)
    /// rather than at every link.
    fn backlink0(&self, v: &Codes<'_>, e: u32, q: u32, sim: f32) {
        let base = e as usize * STRIDE;
        let n = (self.links0[base].load(AtomicOrdering::Acquire) as usize).min(M0);
        let mut cands = Vec::with_capacity(n + 1);
        for i in 0..n {
            let x = self.links0[base + 1 + i].load(AtomicOrdering::Relaxed);
            if x == q {
                return;
            }
            cands.push(Cand(self.sim0(e, i), x));
        }
        if n < M0 {
            self.set_link0(e, n, Cand(sim, q));
            self.links0[base].store(n as u32 + 1, AtomicOrdering::Release);
            return;
        }
        cands.push(Cand(sim, q));
        cands.sort_by(|a, b| b.cmp(a));
        let mut kept = Self::select(v, &cands, M0);
        if kept.len() > M0 {
            kept.truncate(M0);
        }
        for (i, c) in kept.iter().enumerate() {
            self.set_link0(e, i, *c);
        }
        self.links0[base].store(kept.len() as u32, AtomicOrdering::Release);
    }

    fn take_visited(&self) -> Visited {
        self.visited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or(Visited {
                stamps: Vec::new(),
                now: 0,
            })
    }

    fn give_visited(&self, v: Visited) {
        let mut pool = self
            .visited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < 16 {
            pool.push(v);
        }
    }

    /// The `ef` nodes nearest to the query (by `sim`) reachable from `entry` at `level`,
    /// best first.
    fn search_layer(
        &self,
        v: &Codes<'_>,
        sim: &impl Fn(u32) -> f32,
        entry: &[Cand],
        ef: usize,
        level: u8,
        visited: &mut Visited,
    ) -> Vec<Cand> {
        visited.prepare(self.len());
        let mut candidates: BinaryHeap<Cand> = BinaryHeap::new();
        let mut results: BinaryHeap<std::cmp::Reverse<Cand>> = BinaryHeap::new();
        for &c in entry {
            if visited.insert(c.1) {
                candidates.push(c);
                results.push(std::cmp::Reverse(c));
            }
        }
        while results.len() > ef {
            results.pop();
        }
        let mut buf = Vec::with_capacity(M0);
        let mut fresh = Vec::with_capacity(M0);
        while let Some(c) = candidates.pop() {
            let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
            if c.0 < worst && results.len() >= ef {
                break;
            }
            self.neighbours(c.1, level, &mut buf);
            // The graph is walked in random order over hundreds of megabytes: the vectors to
            // compare are fetched from memory all at once, before the first comparison
            // waits for its own.
            fresh.clear();
            fresh.extend(
                buf.iter()
                    .copied()
                    .filter(|&n| (n as usize) < self.len() && visited.insert(n)),
            );
            for &n in &fresh {
                prefetch(v.row(n));
            }
            for &n in &fresh {
                let s = sim(n);
                let worst = results.peek().map_or(f32::NEG_INFINITY, |r| r.0.0);
                if results.len() < ef || s > worst {
                    candidates.push(Cand(s, n));
                    results.push(std::cmp::Reverse(Cand(s, n)));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        let mut out: Vec<Cand> = results.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }

    /// Greedy descent from the entry point down to `level + 1`; the node reached.
    fn descend(&self, sim: &impl Fn(u32) -> f32, to_level: u8) -> Option<(Cand, u8)> {
        let (ep, top) = self.entry_point()?;
        let mut cur = Cand(sim(ep), ep);
        let mut buf = Vec::with_capacity(M);
        let mut level = top;
        while level > to_level {
            loop {
                let mut moved = false;
                self.neighbours(cur.1, level, &mut buf);
                for &n in &buf {
                    if (n as usize) >= self.len() {
                        continue;
                    }
                    let s = sim(n);
                    if s > cur.0 {
                        cur = Cand(s, n);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
            level -= 1;
        }
        Some((cur, top))
    }

    /// Picks up to `m` neighbours among `cands` (best first): a candidate is kept when it is
    /// closer to the node than to any neighbour kept so far, which keeps links in all
    /// directions (the HNSW paper's heuristic).
    fn select(v: &Codes<'_>, cands: &[Cand], m: usize) -> Vec<Cand> {
        let mut out: Vec<Cand> = Vec::with_capacity(m);
        for c in cands {
            if out.len() >= m {
                break;
            }
            if out.iter().all(|r| v.sim(c.1, r.1) < c.0) {
                out.push(*c);
            }
        }
        out
    }

    /// Inserts slot `q` (its lists must be allocated).
    fn insert(&self, v: &Codes<'_>, q: u32, visited: &mut Visited) {
        let level = self.levels[q as usize];
        let sim = |s: u32| v.sim(q, s);
        let Some((start, top)) = self.descend(&sim, level) else {
            let mut entry = self
                .entry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if entry.is_none() {
                *entry = Some((q, level));
                return;
            }
            drop(entry);
            return self.insert(v, q, visited);
        };
        let mut eps = vec![start];
        for lc in (0..=level.min(top)).rev() {
            let found = self.search_layer(v, &sim, &eps, EF_CONSTRUCTION, lc, visited);
            let found: Vec<Cand> = found.into_iter().filter(|c| c.1 != q).collect();
            let mmax = if lc == 0 { M0 } else { M };
            let chosen = Self::select(v, &found, M);
            {
                let mut g = self.lock(q);
                self.set_neighbours(&mut g, q, lc, &chosen);
            }
            let mut buf = Vec::with_capacity(M0 + 1);
            for c in &chosen {
                let e = c.1;
                let mut g = self.lock(e);
                if lc == 0 {
                    // Level 0 is where nearly all the work is (see `backlink0`).
                    self.backlink0(v, e, q, c.0);
                    continue;
                }
                // Read under the lock: another writer of `e` cannot interleave.
                self.neighbours_locked(&g, e, lc, &mut buf);
                if buf.contains(&q) {
                    continue;
                }
                let mut cands: Vec<Cand> = buf.iter().map(|&x| Cand(v.sim(e, x), x)).collect();
                cands.push(*c);
                cands.sort_by(|a, b| b.cmp(a));
                let list = if cands.len() <= mmax {
                    cands
                } else {
                    Self::select(v, &cands, mmax)
                };
                self.set_neighbours(&mut g, e, lc, &list);
            }
            if !found.is_empty() {
                eps = found;
            }
        }
        if level > top {
            let mut entry = self
                .entry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if entry.is_none_or(|(_, l)| level > l) {
                *entry = Some((q, level));
            }
        }
    }

    fn neighbours_locked(&self, guard: &[Vec<u32>], s: u32, level: u8, buf: &mut Vec<u32>) {
        buf.clear();
        if level == 0 {
            let base = s as usize * STRIDE;
            let n = (self.links0[base].load(AtomicOrdering::Acquire) as usize).min(M0);
            buf.extend(
                self.links0[base + 1..base + 1 + n]
                    .iter()
                    .map(|a| a.load(AtomicOrdering::Relaxed)),
            );
        } else if let Some(list) = guard.get(level as usize - 1) {
            buf.extend_from_slice(list);
        }
    }

    /// Inserts the slots `len()..v.scales.len()` for which `live` holds, in parallel.
    pub fn extend(&mut self, v: &Codes<'_>, live: &dyn Fn(Slot) -> bool) {
        let from = self.len();
        let to = v.scales.len();
        if to <= from {
            return;
        }
        self.links0
            .extend((0..(to - from) * STRIDE).map(|_| AtomicU32::new(0)));
        self.sims0
            .extend((0..(to - from) * M0).map(|_| AtomicU32::new(0)));
        for s in from..to {
            let level = level_of(s as u32);
            self.levels.push(level);
            self.upper
                .push(Mutex::new(vec![Vec::new(); usize::from(level)]));
            self.linked.push(live(s as Slot));
        }
        let todo: Vec<u32> = (from..to)
            .filter(|&s| self.linked[s])
            .map(|s| s as u32)
            .collect();
        // A small graph first grows one node at a time, so the first links are good ones.
        let serial = todo.len().min(1_000usize.saturating_sub(from));
        let mut visited = self.take_visited();
        for &q in &todo[..serial] {
            self.insert(v, q, &mut visited);
        }
        self.give_visited(visited);
        let rest = &todo[serial..];
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16);
        let next = AtomicUsize::new(0);
        let this = &*self;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    let mut visited = this.take_visited();
                    loop {
                        let i = next.fetch_add(64, AtomicOrdering::Relaxed);
                        if i >= rest.len() {
                            break;
                        }
                        for &q in &rest[i..(i + 64).min(rest.len())] {
                            this.insert(v, q, &mut visited);
                        }
                    }
                    this.give_visited(visited);
                });
            }
        });
    }

    /// Up to `ef` nodes nearest to `query` (approximate similarities on the int8 query),
    /// best first; tombstones included (the caller filters and re-scores).
    pub fn search(&self, v: &Codes<'_>, query: &QuantizedQuery, ef: usize) -> Vec<(Slot, f32)> {
        let sim = |s: u32| query.sim(v, s);
        let Some((start, _)) = self.descend(&sim, 0) else {
            return Vec::new();
        };
        let mut visited = self.take_visited();
        let found = self.search_layer(v, &sim, &[start], ef.max(1), 0, &mut visited);
        self.give_visited(visited);
        found.into_iter().map(|c| (c.1, c.0)).collect()
    }

    /// The graph as bytes (`hnsw.bin`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * 64 + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        let (ep, top) = self.entry_point().unwrap_or((u32::MAX, 0));
        out.extend_from_slice(&ep.to_le_bytes());
        out.push(top);
        let mut buf = Vec::new();
        for s in 0..self.len() as u32 {
            let level = self.levels[s as usize];
            out.push(u8::from(self.linked[s as usize]));
            out.push(level);
            for l in 0..=level {
                self.neighbours(s, l, &mut buf);
                out.push(buf.len() as u8);
                for x in &buf {
                    out.extend_from_slice(&x.to_le_bytes());
                }
                if l == 0 {
                    for i in 0..buf.len() {
                        out.extend_from_slice(&self.sim0(s, i).to_le_bytes());
                    }
                }
            }
        }
        out
    }

    /// Reads a graph written by [`Self::encode`] over at most `slots` slots (`None`: damaged).
    pub fn decode(buf: &[u8], slots: usize) -> Option<Self> {
        let mut pos = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let b = buf.get(pos..pos.checked_add(n)?)?;
            pos += n;
            Some(b)
        };
        if take(8)? != MAGIC {
            return None;
        }
        let n = usize::try_from(u64::from_le_bytes(take(8)?.try_into().ok()?)).ok()?;
        if n > slots {
            return None;
        }
        let ep = u32::from_le_bytes(take(4)?.try_into().ok()?);
        let top = take(1)?[0];
        let mut g = Self::new();
        g.links0.reserve(n * STRIDE);
        g.sims0.reserve(n * M0);
        g.levels.reserve(n);
        g.upper.reserve(n);
        g.linked.reserve(n);
        for _ in 0..n {
            let head = take(2)?;
            let (linked, level) = (head[0] == 1, head[1]);
            if level > MAX_LEVEL {
                return None;
            }
            let mut upper = Vec::with_capacity(usize::from(level));
            for l in 0..=level {
                let count = usize::from(take(1)?[0]);
                let ids = take(count * 4)?;
                let list: Vec<u32> = ids
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                if list.iter().any(|&x| x as usize >= n) || (l == 0 && count > M0) {
                    return None;
                }
                if l == 0 {
                    let sims = take(count * 4)?;
                    g.links0.push(AtomicU32::new(count as u32));
                    g.links0.extend(list.into_iter().map(AtomicU32::new));
                    g.links0.extend((count..M0).map(|_| AtomicU32::new(0)));
                    g.sims0.extend(
                        sims.chunks_exact(4)
                            .map(|b| AtomicU32::new(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
                    );
                    g.sims0.extend((count..M0).map(|_| AtomicU32::new(0)));
                } else {
                    upper.push(list);
                }
            }
            g.levels.push(level);
            g.upper.push(Mutex::new(upper));
            g.linked.push(linked);
        }
        if ep != u32::MAX {
            if ep as usize >= n {
                return None;
            }
            g.entry = Mutex::new(Some((ep, top)));
        }
        Some(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_dot_matches_the_plain_sum() {
        let a: Vec<i8> = (0..37).map(|i| (i * 7 % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0..37).map(|i| (i * 13 % 255 - 127) as i8).collect();
        let plain: i32 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        assert_eq!(dot_i8(&a, &b), plain);
    }

    #[test]
    fn both_int8_dot_products_match_the_plain_sum_at_every_length() {
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 352, 384, 385] {
            let a: Vec<i8> = (0..n).map(|i| ((i * 37 + 11) % 255) as i8).collect();
            let b: Vec<i8> = (0..n)
                .map(|i| (127 - (i * 53 % 255) as i32) as i8)
                .collect();
            let plain: i32 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| i32::from(x) * i32::from(y))
                .sum();
            assert_eq!(dot_i8_portable(&a, &b), plain, "portable, {n} dims");
            assert_eq!(dot_i8(&a, &b), plain, "dispatched, {n} dims");
            // The extremes: the largest products the codes allow.
            let hi = vec![127i8; n];
            let lo = vec![-127i8; n];
            assert_eq!(dot_i8(&hi, &lo), -(127 * 127) * n as i32, "{n} dims");
        }
    }

    #[test]
    fn levels_are_geometric() {
        let above: usize = (0..100_000u32).filter(|&s| level_of(s) > 0).count();
        // 1/16 of the nodes on level 1 or more.
        assert!((5_000..7_500).contains(&above), "{above}");
    }
}
