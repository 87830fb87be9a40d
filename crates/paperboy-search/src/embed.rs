//! Embedders: the [`Embedder`] trait and the built-in [`StaticEmbedder`], a static token table
//! distilled from all-MiniLM-L6-v2 that ships inside the binary (`model/minilm-static.bin`, made
//! by `scripts/build-static-embedder.py`), so semantic search works on a fresh machine with no
//! network and no setup.
//!
//! A text's embedding is the IDF-weighted sum of its WordPiece tokens' rows, L2-normalized,
//! with the corpus' top principal directions removed and normalized again.

use std::sync::Arc;

use crate::SearchError;
use crate::tokenize::WordPiece;

/// Turns text into unit vectors whose dot product measures how related two texts are.
pub trait Embedder: Send + Sync {
    /// A name that changes whenever the vectors would: kept with the index, so a different
    /// embedder makes the engine re-embed everything.
    fn id(&self) -> String;
    /// Length of the vectors.
    fn dims(&self) -> usize;
    /// Embeds documents (title and abstract).
    fn embed_documents(&self, texts: &[&str]) -> Vec<Vec<f32>>;
    /// Embeds a search query.
    fn embed_query(&self, text: &str) -> Vec<f32> {
        self.embed_documents(&[text]).pop().unwrap_or_default()
    }
    /// Weight of the semantic side in hybrid fusion with this embedder's vectors (tuned on
    /// SciFact train; a better embedder earns a larger share).
    fn semantic_weight(&self) -> f32 {
        crate::DEFAULT_SEMANTIC_WEIGHT
    }
    /// Pseudo-relevance feedback for hybrid search with this embedder's vectors (tuned on
    /// SciFact train): `None`, the query vector alone.
    fn feedback(&self) -> Option<crate::Feedback> {
        None
    }
    /// Whether embedding a whole catalogue takes long (a transformer: tens of documents a
    /// second), so the engine indexes text at once and embeds documents in the background
    /// (see [`crate::SearchEngine::backfill`]) instead of inline while it catches up.
    fn deferred(&self) -> bool {
        false
    }
}

/// The built-in model file.
static BUILTIN: &[u8] = include_bytes!("../model/minilm-static.bin");

/// A static (model2vec-style) embedder: one int8 row per vocabulary token.
#[derive(Debug, Clone)]
pub struct StaticEmbedder {
    name: String,
    tokenizer: WordPiece,
    dims: usize,
    idf: Vec<f32>,
    pcs: Vec<Vec<f32>>,
    scale: Vec<f32>,
    table: Vec<i8>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SearchError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| SearchError::Model("the model file is truncated".into()))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, SearchError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn vocab(&mut self, n: usize) -> Result<Vec<String>, SearchError> {
        let mut vocab = Vec::with_capacity(n);
        for _ in 0..n {
            let b = self.take(2)?;
            let len = u16::from_le_bytes([b[0], b[1]]) as usize;
            let s = std::str::from_utf8(self.take(len)?)
                .map_err(|_| SearchError::Model("a vocabulary entry is not UTF-8".into()))?;
            vocab.push(s.to_owned());
        }
        Ok(vocab)
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, SearchError> {
        Ok(self
            .take(n * 4)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

impl StaticEmbedder {
    /// The model that ships with Paperboy.
    pub fn builtin() -> Result<Self, SearchError> {
        Self::from_bytes("minilm-static-v1", BUILTIN)
    }

    /// The built-in model, shared.
    pub fn builtin_shared() -> Result<Arc<dyn Embedder>, SearchError> {
        Ok(Arc::new(Self::builtin()?))
    }

    /// The built-in model's WordPiece vocabulary: `bert-base-uncased`'s, which
    /// all-MiniLM-L6-v2 shares (the transformer embedder falls back to it).
    pub fn builtin_vocab() -> Result<Vec<String>, SearchError> {
        let mut r = Reader {
            buf: BUILTIN,
            pos: 12,
        };
        let vocab_len = r.u32()? as usize;
        r.take(8)?;
        r.vocab(vocab_len)
    }

    /// Reads a model file (layout in `scripts/build-static-embedder.py`).
    pub fn from_bytes(name: &str, buf: &[u8]) -> Result<Self, SearchError> {
        let mut r = Reader { buf, pos: 0 };
        if r.take(8)? != b"PBSTATIC" {
            return Err(SearchError::Model(
                "not a Paperboy static model file".into(),
            ));
        }
        let version = r.u32()?;
        if version != 1 {
            return Err(SearchError::Model(format!(
                "model file version {version} is not supported"
            )));
        }
        let vocab_len = r.u32()? as usize;
        let dims = r.u32()? as usize;
        let n_pcs = r.u32()? as usize;
        if dims == 0 || dims > 4096 || vocab_len > 1_000_000 || n_pcs > dims {
            return Err(SearchError::Model("implausible model dimensions".into()));
        }
        let vocab = r.vocab(vocab_len)?;
        let idf = r.f32s(vocab_len)?;
        let flat = r.f32s(n_pcs * dims)?;
        let pcs = flat.chunks_exact(dims).map(<[f32]>::to_vec).collect();
        let scale = r.f32s(vocab_len)?;
        let table = r.take(vocab_len * dims)?.iter().map(|&b| b as i8).collect();
        Ok(Self {
            name: name.to_owned(),
            tokenizer: WordPiece::new(&vocab),
            dims,
            idf,
            pcs,
            scale,
            table,
        })
    }

    /// Refits the IDF weights and the principal directions to a corpus (the one being
    /// indexed), as the distillation recipe prescribes; the embedder's id changes with it.
    pub fn fit_to_corpus(&mut self, texts: &[&str]) {
        let n = texts.len();
        if n == 0 {
            return;
        }
        let mut df = vec![0u32; self.idf.len()];
        let mut seen = Vec::new();
        for text in texts {
            seen.clear();
            seen.extend(self.tokenizer.encode(text));
            seen.sort_unstable();
            seen.dedup();
            for &t in &seen {
                if let Some(d) = df.get_mut(t as usize) {
                    *d += 1;
                }
            }
        }
        self.idf = df
            .iter()
            .map(|&d| ((n as f32 + 1.0) / (d as f32 + 1.0)).ln() + 1.0)
            .collect();
        let k = self.pcs.len();
        self.pcs.clear();
        let docs: Vec<Vec<f32>> = texts.iter().map(|t| self.raw(t)).collect();
        self.pcs = top_directions(&docs, self.dims, k);
        self.name = format!("{}-fit{n}", self.name);
    }

    /// IDF-weighted sum of token rows, normalized (before removing principal directions).
    fn raw(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dims];
        for t in self.tokenizer.encode(text) {
            let t = t as usize;
            let (Some(&w), Some(&s)) = (self.idf.get(t), self.scale.get(t)) else {
                continue;
            };
            let row = &self.table[t * self.dims..(t + 1) * self.dims];
            let f = w * s;
            for (a, &b) in v.iter_mut().zip(row) {
                *a += f * f32::from(b);
            }
        }
        normalize(&mut v);
        v
    }
}

impl Embedder for StaticEmbedder {
    fn id(&self) -> String {
        self.name.clone()
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn embed_documents(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        texts
            .iter()
            .map(|t| {
                let mut v = self.raw(t);
                for pc in &self.pcs {
                    let d = dot(&v, pc);
                    for (a, &p) in v.iter_mut().zip(pc) {
                        *a -= d * p;
                    }
                }
                normalize(&mut v);
                v
            })
            .collect()
    }
}

/// Whole words of the built-in model's vocabulary (for tests that need real-looking text).
#[cfg(test)]
pub(crate) fn builtin_vocab_words() -> Vec<String> {
    let mut pos = 24;
    let vocab_len = u32::from_le_bytes([BUILTIN[12], BUILTIN[13], BUILTIN[14], BUILTIN[15]]);
    let mut out = Vec::new();
    for _ in 0..vocab_len {
        let n = u16::from_le_bytes([BUILTIN[pos], BUILTIN[pos + 1]]) as usize;
        let w = String::from_utf8_lossy(&BUILTIN[pos + 2..pos + 2 + n]).into_owned();
        pos += 2 + n;
        if w.len() >= 4 && w.chars().all(|c| c.is_ascii_lowercase()) {
            out.push(w);
        }
    }
    out
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 1e-12 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Dot product.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The top `k` eigenvectors of `Σ d dᵀ` by power iteration with deflation.
fn top_directions(docs: &[Vec<f32>], dims: usize, k: usize) -> Vec<Vec<f32>> {
    let mut cov = vec![0f64; dims * dims];
    for d in docs {
        for i in 0..dims {
            let di = f64::from(d[i]);
            if di == 0.0 {
                continue;
            }
            let row = &mut cov[i * dims..(i + 1) * dims];
            for (c, &dj) in row.iter_mut().zip(d) {
                *c += di * f64::from(dj);
            }
        }
    }
    let mut out: Vec<Vec<f32>> = Vec::new();
    for _ in 0..k {
        let mut v: Vec<f64> = (0..dims).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect();
        for _ in 0..100 {
            let mut w: Vec<f64> = (0..dims)
                .map(|i| {
                    cov[i * dims..(i + 1) * dims]
                        .iter()
                        .zip(&v)
                        .map(|(c, x)| c * x)
                        .sum()
                })
                .collect();
            for pc in &out {
                let d: f64 = w.iter().zip(pc).map(|(a, &b)| a * f64::from(b)).sum();
                w.iter_mut()
                    .zip(pc)
                    .for_each(|(a, &b)| *a -= d * f64::from(b));
            }
            let n = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n < 1e-12 {
                break;
            }
            v = w.into_iter().map(|x| x / n).collect();
        }
        out.push(v.into_iter().map(|x| x as f32).collect());
    }
    out
}

/// Which embedder to use, as configured (`--embedder`, `PAPERBOY_EMBEDDER`): `builtin` (the
/// default, [`StaticEmbedder`]) or `onnx:DIR` (a transformer, [`crate::OnnxEmbedder`], from the
/// model folder `DIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedderChoice {
    /// The built-in static embedder.
    Builtin,
    /// A transformer model exported to ONNX, in this folder.
    Onnx(std::path::PathBuf),
}

impl std::str::FromStr for EmbedderChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("builtin") {
            return Ok(Self::Builtin);
        }
        match s.split_once(':') {
            Some((kind, dir)) if kind.eq_ignore_ascii_case("onnx") && !dir.trim().is_empty() => {
                Ok(Self::Onnx(dir.trim().into()))
            }
            _ => Err(format!(
                "`{s}` is not an embedder: use `builtin` or `onnx:DIR` (a folder made by \
                 scripts/fetch-transformer-model.sh)"
            )),
        }
    }
}

impl std::fmt::Display for EmbedderChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Builtin => f.write_str("builtin"),
            Self::Onnx(dir) => write!(f, "onnx:{}", dir.display()),
        }
    }
}

impl EmbedderChoice {
    /// Loads the embedder; `runtime` is the ONNX Runtime library for `onnx:` (see
    /// [`crate::onnx::runtime_library`] for where it is looked for without one).
    pub fn load(
        &self,
        runtime: Option<&std::path::Path>,
    ) -> Result<Arc<dyn Embedder>, SearchError> {
        match self {
            Self::Builtin => StaticEmbedder::builtin_shared(),
            Self::Onnx(dir) => Ok(Arc::new(crate::OnnxEmbedder::load(dir, runtime)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_embedder_choice_is_builtin_or_an_onnx_folder() {
        assert_eq!("builtin".parse(), Ok(EmbedderChoice::Builtin));
        assert_eq!(
            " onnx:/models/minilm ".parse(),
            Ok(EmbedderChoice::Onnx("/models/minilm".into()))
        );
        assert_eq!(
            EmbedderChoice::Onnx("m".into()).to_string().parse(),
            Ok(EmbedderChoice::Onnx("m".into()))
        );
        for bad in ["", "onnx:", "onnx", "candle:/x", "/models/minilm"] {
            assert!(bad.parse::<EmbedderChoice>().is_err(), "{bad}");
        }
    }
}
