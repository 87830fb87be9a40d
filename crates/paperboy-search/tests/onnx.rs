//! The transformer embedder with the real int8 all-MiniLM-L6-v2 and ONNX Runtime: token ids
//! equal those of Hugging Face's BERT tokenizer (the `tokenizers` package) and vectors agree
//! with `onnxruntime` run from Python on the same model with sentence-transformers' pooling;
//! related texts rank above unrelated ones; and a backfill stopped midway resumes without
//! embedding anything twice.
//!
//! Needs `PAPERBOY_TEST_ONNX_MODEL_DIR` (a folder made by `scripts/fetch-transformer-model.sh`;
//! the runtime is `ORT_DYLIB_PATH` or the folder's `libonnxruntime.so`) and, for the reference
//! vectors, `PAPERBOY_TEST_PYTHON` with `onnxruntime`, `tokenizers` and `numpy`. Without them
//! the tests print why and skip (fail under `PAPERBOY_STRICT_TESTS=1`).

mod common;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use common::Counting;
use paperboy_core::{ArxivId, NewPaper};
use paperboy_search::backfill::Backfill;
use paperboy_search::embed::dot;
use paperboy_search::{
    Embedded, Embedder, OnnxEmbedder, SearchEngine, SearchMode, SearchQuery, StaticEmbedder,
};
use paperboy_testkit::skip;

fn model_dir() -> Option<PathBuf> {
    match std::env::var_os("PAPERBOY_TEST_ONNX_MODEL_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            skip(
                "PAPERBOY_TEST_ONNX_MODEL_DIR is not set, so the transformer embedder is not tested",
            );
            None
        }
    }
}

/// The embedder, loaded once for the whole test binary.
fn embedder() -> Option<Arc<OnnxEmbedder>> {
    static LOADED: OnceLock<Arc<OnnxEmbedder>> = OnceLock::new();
    let dir = model_dir()?;
    Some(
        LOADED
            .get_or_init(|| Arc::new(OnnxEmbedder::load(&dir, None).expect("load the model")))
            .clone(),
    )
}

/// Texts that exercise the tokenizer: accents, symbols, Greek, CJK, whitespace, nothing, a
/// text longer than the model's 256 tokens, special tokens written out and invisible characters
/// (the cases where it differed from Hugging Face's on SciFact and arXiv abstracts).
fn texts() -> Vec<String> {
    let long = "Protein structure prediction with deep learning has transformed structural \
                biology, because accurate models of folding now come from sequence alone. "
        .repeat(20);
    [
        "Diffusion models generate high-resolution images from noise.",
        "Schrödinger's café serves naïve crème brûlée — déjà vu! Ångström, Łódź, Øresund.",
        "IL-6 and TNF-α levels rose ≥2-fold (p<0.05) in 3/4 mice; see Fig. 2b [12].",
        "深度学习 and 機械学習: ニューラルネットワーク “quoted” ‘text’ … §4.",
        "  leading and trailing\twhitespace\nacross   lines  ",
        "",
        &long,
        "The [CLS] token and a {[MASK]} slot; zero\u{200b}width, soft\u{ad}hyphen, ctrl\u{96}4.",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

const REFERENCE: &str = r#"
import json, sys
import numpy as np
import onnxruntime as ort
from tokenizers import BertWordPieceTokenizer

model, vocab = sys.argv[1], sys.argv[2]
texts = json.load(sys.stdin)
# bert-base-uncased / all-MiniLM-L6-v2: BertNormalizer(clean_text, handle_chinese_chars,
# strip_accents follows lowercase, lowercase), sentence-transformers' max_seq_length 256.
tok = BertWordPieceTokenizer(vocab, lowercase=True, strip_accents=None, clean_text=True,
                             handle_chinese_chars=True)
tok.enable_truncation(256)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
takes_types = any(i.name == "token_type_ids" for i in session.get_inputs())
ids_out, vectors = [], []
for text in texts:
    ids = tok.encode(text).ids
    x = np.array([ids], dtype=np.int64)
    feeds = {"input_ids": x, "attention_mask": np.ones_like(x)}
    if takes_types:
        feeds["token_type_ids"] = np.zeros_like(x)
    hidden = session.run(None, feeds)[0][0]
    v = hidden.mean(axis=0)
    vectors.append((v / np.linalg.norm(v)).tolist())
    ids_out.append(ids)
print(json.dumps({"ids": ids_out, "vectors": vectors}))
"#;

#[derive(serde::Deserialize)]
struct Reference {
    ids: Vec<Vec<u32>>,
    vectors: Vec<Vec<f32>>,
}

/// Token ids and vectors of `texts` computed in Python, or `None` (after [`skip`]).
fn reference(texts: &[String]) -> Option<Reference> {
    let dir = model_dir()?;
    let Some(python) = std::env::var_os("PAPERBOY_TEST_PYTHON") else {
        skip("PAPERBOY_TEST_PYTHON is not set, so there are no reference vectors");
        return None;
    };
    let tmp = tempfile::tempdir().expect("dir");
    let vocab = if dir.join("vocab.txt").is_file() {
        dir.join("vocab.txt")
    } else {
        let path = tmp.path().join("vocab.txt");
        let vocab = StaticEmbedder::builtin_vocab().expect("vocab");
        std::fs::write(&path, vocab.join("\n") + "\n").expect("write vocab");
        path
    };
    let check = std::process::Command::new(&python)
        .args(["-c", "import onnxruntime, tokenizers, numpy"])
        .output()
        .expect("run python");
    if !check.status.success() {
        skip(&format!(
            "the Python at PAPERBOY_TEST_PYTHON lacks onnxruntime, tokenizers or numpy: {}",
            String::from_utf8_lossy(&check.stderr).trim()
        ));
        return None;
    }
    let mut child = std::process::Command::new(&python)
        .arg("-c")
        .arg(REFERENCE)
        .arg(dir.join("model.onnx"))
        .arg(&vocab)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    let input = serde_json::to_vec(texts).expect("json");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &input).expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "the reference script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("reference json"))
}

#[test]
fn token_ids_and_vectors_match_huggingface_tokenizers_and_onnxruntime_in_python() {
    let Some(embedder) = embedder() else { return };
    let texts = texts();
    let Some(want) = reference(&texts) else {
        return;
    };
    for (text, ids) in texts.iter().zip(&want.ids) {
        assert_eq!(&embedder.token_ids(text), ids, "token ids of {text:?}");
    }
    assert_eq!(want.ids[6].len(), 256, "the long text is cut at 256 tokens");
    // Documents go through in padded batches, queries one at a time.
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let documents = embedder.embed_documents(&refs);
    for ((text, got), want) in texts.iter().zip(&documents).zip(&want.vectors) {
        assert_eq!(got.len(), 384);
        let cos = dot(got, want);
        let short: String = text.chars().take(40).collect();
        eprintln!("cosine {cos:.5} (document) {short:?}");
        assert!(
            cos >= 0.99,
            "document {text:?}: cosine {cos} with the reference"
        );
        let cos = dot(&embedder.embed_query(text), want);
        assert!(
            cos >= 0.99,
            "query {text:?}: cosine {cos} with the reference"
        );
    }
}

#[test]
fn related_texts_are_closer_than_unrelated_ones() {
    let Some(embedder) = embedder() else { return };
    let query = embedder.embed_query("How do proteins fold into their 3D shape?");
    let docs = embedder.embed_documents(&[
        "AlphaFold predicts protein structures from amino acid sequences.",
        "The stock market fell sharply after the central bank raised interest rates.",
        "A recipe for sourdough bread with a long cold fermentation.",
    ]);
    let scores: Vec<f32> = docs.iter().map(|d| dot(&query, d)).collect();
    eprintln!("similarities {scores:?}");
    assert!(scores[0] > 0.4, "{scores:?}");
    assert!(
        scores[0] > scores[1] + 0.2 && scores[0] > scores[2] + 0.2,
        "{scores:?}"
    );
    assert_ne!(
        embedder.id(),
        StaticEmbedder::builtin().expect("built-in").id(),
        "an index built with one embedder is rebuilt for the other"
    );
}

const PAPERS: &[(&str, &str)] = &[
    (
        "Protein folding with attention",
        "We predict the 3D structure of proteins from sequence.",
    ),
    (
        "Interest rates and stock prices",
        "Central bank decisions move equity markets.",
    ),
    (
        "Sourdough fermentation",
        "Wild yeast and lactic bacteria leaven bread dough.",
    ),
    (
        "Robotic grasping",
        "A robot hand picks up fragile objects using touch sensors.",
    ),
    (
        "Image generation by diffusion",
        "Denoising models synthesize photographs from noise.",
    ),
    (
        "Speech recognition",
        "Transcribing spoken words into text with neural networks.",
    ),
    (
        "Graph neural networks",
        "Message passing over molecular graphs predicts toxicity.",
    ),
    (
        "Climate models",
        "Simulating global temperature under rising carbon dioxide.",
    ),
];

#[tokio::test]
async fn a_transformer_backfill_stopped_midway_resumes_without_embedding_twice() {
    let Some(onnx) = embedder() else { return };
    assert!(onnx.deferred(), "a transformer embeds in the background");
    let (store, _sdir) = paperboy_testkit::sqlite_store().await;
    let published: DateTime<Utc> = "2025-10-01T00:00:00Z".parse().expect("time");
    let papers: Vec<NewPaper> = PAPERS
        .iter()
        .enumerate()
        .map(|(i, (title, summary))| {
            NewPaper::new(
                ArxivId::parse(&format!("2510.{:05}", i + 1)).expect("id"),
                *title,
                *summary,
                published,
            )
        })
        .collect();
    store.upsert_papers(&papers).await.expect("upsert");
    let dir = tempfile::tempdir().expect("dir");
    let counting = |inner: &Arc<OnnxEmbedder>| Counting::new(inner.clone());

    let first = counting(&onnx);
    let engine = SearchEngine::open(dir.path(), first.clone()).expect("open");
    engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 0,
            waiting: 8
        }
    );
    let mut q = SearchQuery::new("bread");
    q.mode = SearchMode::Keyword;
    assert_eq!(engine.search(&q).expect("search").hits[0].key, "2510.00003");
    engine.backfill(store.as_ref(), 3).await.expect("step");
    drop(engine);

    let second = counting(&onnx);
    let engine = SearchEngine::open(dir.path(), second.clone()).expect("reopen");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 3,
            waiting: 5
        }
    );
    engine.catch_up(store.as_ref()).await.expect("catch up");
    Backfill::new(&engine)
        .run_until(store.as_ref(), None)
        .await
        .expect("backfill");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 8,
            waiting: 0
        }
    );
    assert_eq!(first.documents.load(Ordering::SeqCst), 3);
    assert_eq!(
        second.documents.load(Ordering::SeqCst),
        5,
        "nothing embedded twice"
    );

    let mut q = SearchQuery::new("how do amino acid chains take their shape");
    q.mode = SearchMode::Semantic;
    let hits = engine.search(&q).expect("search").hits;
    assert_eq!(hits.len(), 8);
    assert_eq!(hits[0].key, "2510.00001", "by meaning, without the words");
}
