//! The search engine end to end on small generated catalogues: highlighting, filters, id and
//! URL queries, phrases, authors, sorting, incremental catch-up from a real SQLite store,
//! rebuilds, replicas, similar papers and recommendations.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, DateWindow, NewAuthor, NewFeedEntry, NewPaper, OrgRef};
use paperboy_search::{
    Embedder, Feedback, Filters, SearchEngine, SearchError, SearchMode, SearchQuery, SearchSort,
    SegmentKind, StaticEmbedder,
};
use paperboy_store::Store;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

struct Fixture {
    id: &'static str,
    title: &'static str,
    summary: &'static str,
    authors: &'static [&'static str],
    category: &'static str,
    feed: Option<&'static str>,
    org: Option<&'static str>,
    code: bool,
    upvotes: i64,
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        id: "2510.00001",
        title: "Diffusion Models for High-Resolution Image Synthesis",
        summary: "We scale latent diffusion models to generate images at megapixel resolution with a cascaded denoiser.",
        authors: &["Ada Lovelace", "Grace Hopper"],
        category: "cs.CV",
        feed: Some("2025-10-27"),
        org: Some("deepmind"),
        code: true,
        upvotes: 40,
    },
    Fixture {
        id: "2510.00002",
        title: "Graph Neural Networks for Molecule Property Prediction",
        summary: "Message passing graph neural networks predict molecular properties such as solubility and toxicity.",
        authors: &["Alan Turing"],
        category: "cs.LG",
        feed: Some("2025-10-28"),
        org: None,
        code: false,
        upvotes: 12,
    },
    Fixture {
        id: "2510.00003",
        title: "Large Language Models Are Few-Shot Reasoners",
        summary: "Prompting large language models with chain of thought exemplars improves arithmetic reasoning.",
        authors: &["Yann Sutskever", "Ada Lovelace"],
        category: "cs.CL",
        feed: Some("2025-11-03"),
        org: Some("openai"),
        code: true,
        upvotes: 90,
    },
    Fixture {
        id: "2510.00004",
        title: "Neural Graph Rendering of Indoor Scenes",
        summary: "A neural renderer of indoor scenes whose graph of objects drives the lighting; the networks are trained end to end.",
        authors: &["Marie Curie"],
        category: "cs.CV",
        feed: None,
        org: None,
        code: false,
        upvotes: 3,
    },
    Fixture {
        id: "2510.00005",
        title: "Speech Recognition with Transformers at Scale",
        summary: "An encoder-decoder transformer trained on weakly supervised audio transcribes speech robustly.",
        authors: &["Claude Shannon"],
        category: "cs.CL",
        feed: Some("2025-10-27"),
        org: Some("openai"),
        code: false,
        upvotes: 25,
    },
];

fn new_paper(f: &Fixture) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(f.id).expect("id"),
        f.title.to_owned(),
        f.summary.to_owned(),
        t("2025-10-20T10:00:00Z") + chrono::Duration::days(f.id[5..].parse::<i64>().expect("n")),
    );
    p.authors = f.authors.iter().map(|a| NewAuthor::named(*a)).collect();
    p.categories = vec![f.category.into()];
    p.source_upvotes = Some(f.upvotes);
    if f.code {
        p.github_repo = Some(format!("https://github.com/example/{}", f.id));
    }
    p.feed = f.feed.map(|d| NewFeedEntry {
        feed_date: day(d),
        submitted_at: t(&format!("{d}T09:00:00Z")),
        submitter: None,
        organization: f.org.map(|o| OrgRef {
            name: o.into(),
            fullname: o.to_uppercase(),
            avatar_url: None,
        }),
    });
    p
}

async fn store_with_fixtures() -> (Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    let papers: Vec<NewPaper> = FIXTURES.iter().map(new_paper).collect();
    store.upsert_papers(&papers).await.expect("upsert");
    (store, dir)
}

fn embedder() -> Arc<dyn paperboy_search::Embedder> {
    StaticEmbedder::builtin_shared().expect("built-in model")
}

async fn engine() -> (
    SearchEngine,
    Arc<dyn Store>,
    tempfile::TempDir,
    tempfile::TempDir,
) {
    let (store, sdir) = store_with_fixtures().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = SearchEngine::open(dir.path(), embedder()).expect("open");
    let done = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(done.indexed, FIXTURES.len());
    (engine, store, sdir, dir)
}

fn keys(engine: &SearchEngine, q: &SearchQuery) -> Vec<String> {
    engine
        .search(q)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.key)
        .collect()
}

fn kw(text: &str) -> SearchQuery {
    let mut q = SearchQuery::new(text);
    q.mode = SearchMode::Keyword;
    q
}

#[tokio::test]
async fn matched_words_are_highlighted_in_title_and_abstract() {
    let (engine, _s, _d1, _d2) = engine().await;
    let res = engine
        .search(&SearchQuery::new("diffusion"))
        .expect("search");
    let hit = &res.hits[0];
    assert_eq!(hit.key, "2510.00001");
    let title: String = hit
        .highlighted_title
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(title, FIXTURES[0].title);
    let marked: Vec<&str> = hit
        .highlighted_title
        .iter()
        .filter(|s| s.kind == SegmentKind::Highlight)
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(marked, ["Diffusion"]);
    assert!(
        hit.highlighted_summary
            .iter()
            .any(|s| s.kind == SegmentKind::Highlight && s.text == "diffusion")
    );
    let json = serde_json::to_value(hit).expect("json");
    assert_eq!(json["highlightedTitle"][0]["type"], "highlight");
    assert_eq!(json["highlightedTitle"][1]["type"], "text");
}

#[tokio::test]
async fn stemming_matches_other_forms_of_a_word() {
    let (engine, _s, _d1, _d2) = engine().await;
    assert_eq!(keys(&engine, &kw("predicting molecules")), ["2510.00002"]);
}

#[tokio::test]
async fn filters_narrow_results_by_window_category_organization_and_code() {
    let (engine, _s, _d1, _d2) = engine().await;
    let mut q = kw("");
    q.filters = Filters {
        window: Some(DateWindow::Day(day("2025-10-27"))),
        ..Filters::default()
    };
    let mut got = keys(&engine, &q);
    got.sort();
    assert_eq!(got, ["2510.00001", "2510.00005"]);

    let mut q = SearchQuery::new("models");
    q.filters.category = Some("cs.CL".into());
    assert!(
        keys(&engine, &q)
            .iter()
            .all(|k| k == "2510.00003" || k == "2510.00005")
    );
    assert!(!keys(&engine, &q).is_empty());

    let mut q = kw("");
    q.filters.organization = Some("OpenAI".into());
    q.filters.has_code = Some(true);
    assert_eq!(keys(&engine, &q), ["2510.00003"]);

    let mut q = SearchQuery::new("graph");
    q.filters.window = Some(DateWindow::Day(day("2025-10-28")));
    assert_eq!(keys(&engine, &q), ["2510.00002"]);
}

#[tokio::test]
async fn an_arxiv_id_or_url_goes_straight_to_that_paper() {
    let (engine, _s, _d1, _d2) = engine().await;
    for text in [
        "2510.00003",
        "arXiv:2510.00003v2",
        "https://arxiv.org/abs/2510.00003v1",
        "https://huggingface.co/papers/2510.00003",
    ] {
        let res = engine.search(&SearchQuery::new(text)).expect("search");
        assert!(res.direct, "{text}");
        assert_eq!(res.total, 1, "{text}");
        assert_eq!(res.hits[0].key, "2510.00003", "{text}");
    }
    let res = engine
        .search(&SearchQuery::new("2510.99999"))
        .expect("search");
    assert!(res.direct && res.hits.is_empty());
}

#[tokio::test]
async fn a_quoted_phrase_matches_only_the_words_in_that_order() {
    let (engine, _s, _d1, _d2) = engine().await;
    let loose = keys(&engine, &kw("graph neural"));
    assert!(loose.contains(&"2510.00004".to_owned()));
    assert_eq!(keys(&engine, &kw("\"graph neural\"")), ["2510.00002"]);
}

#[tokio::test]
async fn an_author_name_finds_their_papers() {
    let (engine, _s, _d1, _d2) = engine().await;
    let mut got = keys(&engine, &kw("\"Ada Lovelace\""));
    got.sort();
    assert_eq!(got, ["2510.00001", "2510.00003"]);
    assert_eq!(
        keys(&engine, &SearchQuery::new("Claude Shannon"))[0],
        "2510.00005"
    );
}

#[tokio::test]
async fn results_sort_by_date_or_upvotes() {
    let (engine, _s, _d1, _d2) = engine().await;
    let mut q = kw("");
    q.sort = SearchSort::Upvotes;
    assert_eq!(
        keys(&engine, &q),
        [
            "2510.00003",
            "2510.00001",
            "2510.00005",
            "2510.00002",
            "2510.00004"
        ]
    );
    q.sort = SearchSort::Date;
    assert_eq!(keys(&engine, &q)[0], "2510.00005");
    let mut q = SearchQuery::new("neural");
    q.sort = SearchSort::Date;
    assert_eq!(keys(&engine, &q), ["2510.00004", "2510.00002"]);
}

#[tokio::test]
async fn semantic_search_finds_a_paper_without_its_words() {
    let (engine, _s, _d1, _d2) = engine().await;
    let mut q = SearchQuery::new("audio transcription model");
    q.mode = SearchMode::Semantic;
    assert_eq!(keys(&engine, &q)[0], "2510.00005");
    let mut q = SearchQuery::new("chemistry of drugs");
    q.mode = SearchMode::Semantic;
    assert_eq!(keys(&engine, &q)[0], "2510.00002");
}

#[tokio::test]
async fn catch_up_indexes_only_what_changed_and_sees_updates() {
    let (mut engine, store, _d1, _d2) = engine().await;
    // Changes younger than the overlap are read again (harmlessly); older ones never.
    let again = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(again.indexed, FIXTURES.len(), "{again:?}");
    engine.catch_up_overlap = std::time::Duration::from_millis(50);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    engine.catch_up(store.as_ref()).await.expect("catch up");
    let again = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(again.indexed, 0, "nothing changed");

    let mut p = new_paper(&FIXTURES[1]);
    p.title = "Equivariant Transformers for Protein Folding".into();
    let mut extra = new_paper(&FIXTURES[0]);
    extra.id = ArxivId::parse("2510.00006").expect("id");
    extra.title = "Protein Design by Diffusion".into();
    store.upsert_papers(&[p, extra]).await.expect("upsert");
    let done = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(done.indexed, 2);
    let mut got = keys(&engine, &kw("protein"));
    got.sort();
    assert_eq!(got, ["2510.00002", "2510.00006"]);
    assert!(keys(&engine, &kw("\"molecule property\"")).is_empty());
}

#[tokio::test]
async fn the_index_survives_a_restart_and_a_rebuild_gives_the_same_answers() {
    let (engine, store, _d1, dir) = engine().await;
    let queries = ["diffusion images", "language reasoning", "graph networks"];
    let before: Vec<Vec<String>> = queries
        .iter()
        .map(|q| keys(&engine, &SearchQuery::new(*q)))
        .collect();
    drop(engine);

    let reopened = SearchEngine::open(dir.path(), embedder()).expect("reopen");
    assert_eq!(reopened.len(), FIXTURES.len());
    let after: Vec<Vec<String>> = queries
        .iter()
        .map(|q| keys(&reopened, &SearchQuery::new(*q)))
        .collect();
    assert_eq!(before, after);

    let done = reopened.rebuild(store.as_ref()).await.expect("rebuild");
    assert_eq!(done.indexed, FIXTURES.len());
    assert_eq!(reopened.len(), FIXTURES.len());
    let rebuilt: Vec<Vec<String>> = queries
        .iter()
        .map(|q| keys(&reopened, &SearchQuery::new(*q)))
        .collect();
    assert_eq!(before, rebuilt);
}

#[tokio::test]
async fn opening_an_index_another_engine_holds_fails_and_loses_nothing() {
    let (engine, _store, _d1, dir) = engine().await;
    let q = SearchQuery::new("diffusion images");
    let before = keys(&engine, &q);
    assert!(!before.is_empty());
    // The same embedder, and one whose change would otherwise empty the index.
    let mut other = StaticEmbedder::builtin().expect("built-in model");
    other.fit_to_corpus(&["a different corpus", "fits different weights"]);
    assert_ne!(other.id(), embedder().id());
    for e in [embedder(), Arc::new(other) as Arc<dyn Embedder>] {
        match SearchEngine::open(dir.path(), e) {
            Err(SearchError::InUse(_)) => {}
            Err(e) => panic!("not the in-use error: {e}"),
            Ok(_) => panic!("a second engine opened an index in use"),
        }
    }
    assert_eq!(keys(&engine, &q), before);
    drop(engine);
    let reopened = SearchEngine::open(dir.path(), embedder()).expect("reopen");
    assert_eq!(reopened.len(), FIXTURES.len());
    assert_eq!(keys(&reopened, &q), before);
}

#[tokio::test]
async fn feedback_moves_the_semantic_side_towards_the_best_hit() {
    let (mut engine, _store, _d1, _dir) = engine().await;
    // The semantic side alone, so the order is plain to predict.
    let mut q = SearchQuery::new("neural networks for images");
    q.semantic_weight = Some(1.0);
    q.limit = 6;
    assert_eq!(engine.feedback, None, "the built-in embedder uses none");
    let plain = keys(&engine, &q);
    let best = plain.first().cloned().expect("a hit");
    // Feedback that outweighs the query: the hits come in order of likeness to the best one.
    engine.feedback = Some(Feedback {
        papers: 1,
        weight: 1_000.0,
    });
    let moved = keys(&engine, &q);
    let id = ArxivId::parse(&best).expect("id");
    let like_best: Vec<String> = std::iter::once(best.clone())
        .chain(engine.similar(&id, 5).into_iter().map(|s| s.key))
        .collect();
    assert_eq!(moved, like_best);
    assert_ne!(moved, plain, "the query alone ranks otherwise");
    // No weight, no change.
    engine.feedback = Some(Feedback {
        papers: 3,
        weight: 0.0,
    });
    assert_eq!(keys(&engine, &q), plain);
}

#[tokio::test]
async fn compacting_merges_segments_and_changes_no_answer() {
    let (engine, _store, _d1, _dir) = engine().await;
    // One commit per batch: several segments, as incremental updates leave them.
    let extra: Vec<paperboy_search::SearchDoc> = (0..6)
        .map(|i| paperboy_search::SearchDoc {
            key: format!("2511.{:05}", 100 + i),
            title: format!("Diffusion language graph study number {i}"),
            summary: format!(
                "A study of diffusion, language reasoning and graph networks, part {i}."
            ),
            ..paperboy_search::SearchDoc::default()
        })
        .collect();
    for doc in &extra {
        engine.index_docs(std::slice::from_ref(doc)).expect("index");
        engine.commit().expect("commit");
    }
    let before_segments = engine.segment_count();
    assert!(
        before_segments > paperboy_search::text::search_threads(),
        "the test needs more segments than threads: {before_segments}"
    );
    let queries = [
        "diffusion images",
        "language reasoning",
        "graph networks",
        "study",
    ];
    // Papers with equal scores come in the order of their place in the index, which merging
    // changes (and background merges may already have): within a tie, by key.
    let answers = |e: &SearchEngine| -> Vec<Vec<(u32, String)>> {
        queries
            .iter()
            .map(|q| {
                let mut sq = kw(q);
                sq.limit = 50;
                let mut hits: Vec<(u32, String)> = e
                    .search(&sq)
                    .expect("search")
                    .hits
                    .into_iter()
                    .map(|h| ((h.score * 1e4).round() as u32, h.key))
                    .collect();
                hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                hits
            })
            .collect()
    };
    let before = answers(&engine);
    engine.compact().expect("compact");
    assert!(
        engine.segment_count() <= paperboy_search::text::search_threads(),
        "{} segments left",
        engine.segment_count()
    );
    assert!(engine.segment_count() < before_segments);
    assert_eq!(answers(&engine), before);
}

#[tokio::test]
async fn two_replicas_catching_up_from_one_store_answer_the_same() {
    let (store, _sdir) = store_with_fixtures().await;
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let a = SearchEngine::open(a_dir.path(), embedder()).expect("a");
    a.catch_up(store.as_ref()).await.expect("a");
    let mut more = new_paper(&FIXTURES[2]);
    more.id = ArxivId::parse("2510.00007").expect("id");
    more.title = "Reasoning Benchmarks for Language Agents".into();
    store.upsert_papers(&[more]).await.expect("upsert");
    a.catch_up(store.as_ref()).await.expect("a");
    let b = SearchEngine::open(b_dir.path(), embedder()).expect("b");
    b.catch_up(store.as_ref()).await.expect("b");
    for q in ["language reasoning", "neural", "speech"] {
        let ra = a.search(&SearchQuery::new(q)).expect("a");
        let rb = b.search(&SearchQuery::new(q)).expect("b");
        let keys = |r: &paperboy_search::SearchResults| -> Vec<String> {
            r.hits.iter().map(|h| h.key.clone()).collect()
        };
        assert_eq!(keys(&ra), keys(&rb), "{q}");
        for (x, y) in ra.hits.iter().zip(&rb.hits) {
            assert!((x.score - y.score).abs() < 1e-3, "{q}: {x:?} vs {y:?}");
            assert_eq!(x.highlighted_summary, y.highlighted_summary);
        }
    }
}

#[tokio::test]
async fn similar_papers_and_recommendations_exclude_the_papers_themselves() {
    let (engine, _s, _d1, _d2) = engine().await;
    let id = ArxivId::parse("2510.00003").expect("id");
    let similar = engine.similar(&id, 3);
    assert_eq!(similar.len(), 3);
    assert!(similar.iter().all(|s| s.key != "2510.00003"));
    assert!(similar.windows(2).all(|w| w[0].score >= w[1].score));

    let liked = [
        ArxivId::parse("2510.00001").expect("id"),
        ArxivId::parse("2510.00004").expect("id"),
    ];
    let recs = engine.recommend(&liked, 10);
    assert_eq!(recs.len(), FIXTURES.len() - 2);
    assert!(
        recs.iter()
            .all(|r| r.key != "2510.00001" && r.key != "2510.00004")
    );
    assert!(engine.recommend(&[], 5).is_empty());
}

#[test]
fn a_damaged_model_file_is_a_clear_error() {
    let err = StaticEmbedder::from_bytes("x", b"PBSTATIC\x01\x00").expect_err("truncated");
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = StaticEmbedder::from_bytes("x", b"not a model").expect_err("magic");
    assert!(err.to_string().contains("not a Paperboy"), "{err}");
}

/// `serve` catches up from a task on a multi-thread runtime: the CPU work moves off the async
/// worker there (`block_in_place`), and a timer task of the same runtime keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_in_a_spawned_task_of_a_multi_thread_runtime_indexes_everything() {
    let (store, _sdir) = store_with_fixtures().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(SearchEngine::open(dir.path(), embedder()).expect("open"));
    let background = engine.clone();
    let task = tokio::spawn(async move { background.catch_up(store.as_ref()).await });
    let ticker = tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    });
    let done = task.await.expect("no panic").expect("catch up");
    ticker.await.expect("the other task ran");
    assert_eq!(done.indexed, FIXTURES.len());
    assert_eq!(engine.len(), FIXTURES.len());
    assert!(!keys(&engine, &kw("diffusion")).is_empty());
}
