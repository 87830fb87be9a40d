//! Background embedding (the path of a slow, transformer embedder) on a real SQLite store,
//! with the built-in embedder in deferred mode so it runs everywhere: keyword search works
//! before any vector exists, a backfill stopped midway resumes after a restart without
//! embedding anything twice, papers added or changed meanwhile are embedded too, and a vote
//! does not cost a paper its vector. `tests/onnx.rs` runs the same story with the transformer.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use common::Counting;
use paperboy_core::{ArxivId, NewPaper};
use paperboy_search::backfill::{Backfill, saved_progress};
use paperboy_search::{Embedded, SearchEngine, SearchMode, SearchQuery, StaticEmbedder};

/// The built-in embedder, counting the documents it embeds and run the slow way.
fn counting() -> Arc<Counting> {
    Counting::new(Arc::new(StaticEmbedder::builtin().expect("built-in model")))
}

const TOPICS: &[(&str, &str)] = &[
    (
        "Diffusion models for image synthesis",
        "A denoising diffusion model generates photographs from noise.",
    ),
    (
        "Graph neural networks for molecules",
        "Message passing over atoms predicts the toxicity of chemical compounds.",
    ),
    (
        "Language models that reason step by step",
        "Chain of thought prompting improves arithmetic word problems.",
    ),
    (
        "Robot grasping with tactile sensors",
        "A robotic hand learns to pick up fragile objects from touch.",
    ),
];

fn paper(n: usize) -> NewPaper {
    let (title, summary) = TOPICS[n % TOPICS.len()];
    let published: DateTime<Utc> = "2025-10-01T00:00:00Z".parse().expect("time");
    NewPaper::new(
        ArxivId::parse(&format!("2510.{:05}", n + 1)).expect("id"),
        format!("{title} ({n})"),
        format!("{summary} Variant {n}."),
        published + chrono::Duration::hours(n as i64),
    )
}

fn key(n: usize) -> String {
    format!("2510.{:05}", n + 1)
}

fn keyword(text: &str) -> SearchQuery {
    let mut q = SearchQuery::new(text);
    q.mode = SearchMode::Keyword;
    q.limit = 100;
    q
}

fn semantic(text: &str) -> SearchQuery {
    let mut q = SearchQuery::new(text);
    q.mode = SearchMode::Semantic;
    q.limit = 100;
    q
}

fn hits(engine: &SearchEngine, q: &SearchQuery) -> Vec<String> {
    engine
        .search(q)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.key)
        .collect()
}

#[tokio::test]
async fn a_backfill_stopped_midway_resumes_after_a_restart_and_embeds_every_paper_once() {
    let (store, _sdir) = paperboy_testkit::sqlite_store().await;
    let papers: Vec<NewPaper> = (0..40).map(paper).collect();
    store.upsert_papers(&papers).await.expect("upsert");
    let dir = tempfile::tempdir().expect("dir");

    // The catch-up indexes text only: keyword search answers at once, nothing is embedded.
    let embedder = counting();
    let engine = SearchEngine::open(dir.path(), embedder.clone()).expect("open");
    assert_eq!(
        engine
            .catch_up(store.as_ref())
            .await
            .expect("catch up")
            .indexed,
        40
    );
    assert_eq!(
        embedder.documents.load(Ordering::SeqCst),
        0,
        "nothing embedded inline"
    );
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 0,
            waiting: 40
        }
    );
    assert_eq!(hits(&engine, &keyword("toxicity")).len(), 10);
    assert!(
        hits(&engine, &semantic("chemistry")).is_empty(),
        "no vector yet, no error"
    );
    let hybrid = engine
        .search(&SearchQuery::new("toxicity"))
        .expect("hybrid");
    assert_eq!(
        hybrid.hits.len(),
        10,
        "hybrid falls back on the keyword side"
    );

    // Two steps of at most 7, then the process "stops".
    engine.backfill(store.as_ref(), 7).await.expect("step");
    engine.backfill(store.as_ref(), 7).await.expect("step");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 14,
            waiting: 26
        }
    );
    assert_eq!(embedder.documents.load(Ordering::SeqCst), 14);
    let partial = hits(&engine, &semantic("toxicity of chemical compounds"));
    assert_eq!(
        partial.len(),
        14,
        "semantic search uses what is embedded so far"
    );
    drop(engine);

    // Restart: the same embedder resumes where the last step committed.
    let embedder = counting();
    let engine = SearchEngine::open(dir.path(), embedder.clone()).expect("reopen");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 14,
            waiting: 26
        }
    );
    // Meanwhile a paper arrived and one changed its abstract (it loses its stale vector).
    let mut changed = paper(0);
    changed.summary = "Now about toxicity of chemical compounds.".into();
    store
        .upsert_papers(&[paper(40), changed])
        .await
        .expect("upsert");
    engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 13,
            waiting: 28
        }
    );

    let mut job = Backfill::new(&engine);
    let end = job.run_until(store.as_ref(), None).await.expect("backfill");
    assert_eq!((end.done, end.waiting), (41, 0));
    assert_eq!(
        embedder.documents.load(Ordering::SeqCst),
        28,
        "only what was waiting is embedded: nothing twice"
    );
    let saved = saved_progress(dir.path()).expect("progress saved for `paperboy stats`");
    assert_eq!((saved.done, saved.waiting), (41, 0));
    assert!(saved.rate > 0.0, "{saved:?}");

    // Every paper is found by meaning now, the changed one by its new text.
    let all = hits(&engine, &semantic("anything at all"));
    assert_eq!(all.len(), 41);
    let top = hits(&engine, &semantic("toxicity of chemical compounds"));
    assert!(top[..12].contains(&key(0)), "{top:?}");
    assert!(
        top[..11].iter().all(|k| {
            let n: usize = k[5..].parse().expect("n");
            (n - 1) % TOPICS.len() == 1 || n == 1
        }),
        "the molecule papers come first: {top:?}"
    );
}

#[tokio::test]
async fn a_vote_keeps_a_papers_vector_and_a_hidden_paper_leaves_the_queue() {
    let (store, _sdir) = paperboy_testkit::sqlite_store().await;
    let papers: Vec<NewPaper> = (0..6).map(paper).collect();
    store.upsert_papers(&papers).await.expect("upsert");
    let dir = tempfile::tempdir().expect("dir");
    let embedder = counting();
    let engine = SearchEngine::open(dir.path(), embedder.clone()).expect("open");
    engine.catch_up(store.as_ref()).await.expect("catch up");
    engine.backfill(store.as_ref(), 3).await.expect("step");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 3,
            waiting: 3
        }
    );

    // A vote on an embedded paper and a source upvote change: text unchanged, vector kept.
    let user = paperboy_testkit::seed_user(&store, "voter").await;
    store
        .set_vote(user, &ArxivId::parse(&key(0)).expect("id"), true)
        .await
        .expect("vote");
    let mut upvoted = paper(1);
    upvoted.source_upvotes = Some(99);
    store.upsert_papers(&[upvoted]).await.expect("upsert");
    // Hidden while waiting: it leaves the queue without being embedded.
    assert!(
        store
            .set_paper_hidden(&ArxivId::parse(&key(5)).expect("id"), true)
            .await
            .expect("hide")
    );
    engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 3,
            waiting: 2
        }
    );
    Backfill::new(&engine)
        .run_until(store.as_ref(), None)
        .await
        .expect("backfill");
    assert_eq!(
        engine.embedded(),
        Embedded {
            done: 5,
            waiting: 0
        }
    );
    assert_eq!(embedder.documents.load(Ordering::SeqCst), 5);
    assert!(!hits(&engine, &keyword("toxicity")).contains(&key(5)));
    assert!(
        hits(&engine, &semantic("anything"))
            .iter()
            .all(|k| *k != key(5))
    );
}
