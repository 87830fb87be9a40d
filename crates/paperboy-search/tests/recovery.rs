//! A damaged index on disk is detected at open, repaired (cut to its last whole record, or
//! emptied and rebuilt) and never served or panicked on: real files in a temporary folder, a
//! real index built from generated papers in a real SQLite store.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewPaper};
use paperboy_search::ann::{ANN_MIN, VectorIndex};
use paperboy_search::{
    CatchUp, SearchEngine, SearchMode, SearchQuery, SearchResults, StaticEmbedder,
};
use paperboy_store::Store;

const PAPERS: usize = 120;

fn id(i: usize) -> String {
    format!("2511.{:05}", i + 1)
}

/// Paper `i`: its title and abstract carry a word of its own (`markerI`).
fn paper(i: usize) -> NewPaper {
    let topics = [
        "diffusion",
        "graph",
        "language",
        "speech",
        "robotics",
        "protein",
    ];
    let topic = topics[i % topics.len()];
    let mut p = NewPaper::new(
        ArxivId::parse(&id(i)).expect("id"),
        format!("A study of {topic} models number marker{i}"),
        format!(
            "We train {topic} networks on a new benchmark; marker{i} improves accuracy over \
             strong baselines while using less compute."
        ),
        DateTime::parse_from_rfc3339("2025-11-01T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
            + chrono::Duration::hours(i as i64),
    );
    p.authors = vec![NewAuthor::named(format!("Author {i}"))];
    p.categories = vec!["cs.LG".into()];
    p
}

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    let papers: Vec<NewPaper> = (0..PAPERS).map(paper).collect();
    store.upsert_papers(&papers).await.expect("upsert");
    (store, dir)
}

fn open(dir: &Path) -> SearchEngine {
    SearchEngine::open(dir, StaticEmbedder::builtin_shared().expect("model")).expect("open")
}

/// A data folder with the whole store indexed (and the engine closed).
async fn indexed() -> (Arc<dyn Store>, tempfile::TempDir, tempfile::TempDir) {
    let (store, sdir) = store().await;
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    let done = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert_eq!(done.indexed, PAPERS);
    assert!(!done.repaired);
    assert!(
        engine.open_report().is_clean(),
        "{:?}",
        engine.open_report()
    );
    drop(engine);
    (store, sdir, dir)
}

fn search(engine: &SearchEngine, text: &str, mode: SearchMode) -> SearchResults {
    let mut q = SearchQuery::new(text);
    q.mode = mode;
    q.limit = 10;
    engine.search(&q).expect("search answers")
}

fn finds(engine: &SearchEngine, i: usize) -> bool {
    search(engine, &format!("marker{i}"), SearchMode::Keyword)
        .hits
        .iter()
        .any(|h| h.key == id(i))
}

fn vectors_log(dir: &Path) -> std::path::PathBuf {
    dir.join("search").join("vectors.log")
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).expect("write");
}

/// Every paper is found again, the index is whole on the next open, and the catch-up said it
/// repaired.
async fn assert_repaired(dir: &Path, engine: SearchEngine, store: &dyn Store) {
    let done: CatchUp = engine.catch_up(store).await.expect("catch up");
    assert!(done.repaired, "the catch-up reports the repair: {done:?}");
    assert_eq!(done.indexed, PAPERS, "every paper is read again");
    assert!(engine.is_ready());
    assert_eq!(engine.len(), PAPERS);
    for i in [0, PAPERS / 2, PAPERS - 1] {
        assert!(finds(&engine, i), "paper {i} is found after the repair");
    }
    let again = engine.catch_up(store).await.expect("catch up");
    assert!(!again.repaired, "repaired once");
    drop(engine);
    let reopened = open(dir);
    assert!(
        reopened.open_report().is_clean(),
        "{:?}",
        reopened.open_report()
    );
    assert_eq!(reopened.len(), PAPERS);
}

#[tokio::test]
async fn a_cut_off_vector_log_is_cut_to_its_last_whole_record_and_search_still_answers() {
    let (store, _s, dir) = indexed().await;
    let log = vectors_log(dir.path());
    let len = std::fs::metadata(&log).expect("meta").len();
    // One upsert record per paper, all of one size: cut in the middle of one.
    let header = 16;
    assert_eq!((len - header) % PAPERS as u64, 0);
    let record = (len - header) / PAPERS as u64;
    let cut = header + record * (PAPERS as u64 * 6 / 10) + record / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(cut)
        .expect("cut");

    let engine = open(dir.path());
    let report = engine.open_report().clone();
    assert!(!report.is_clean());
    assert!(report.vectors.dropped_bytes > 0, "{report:?}");
    assert!(report.vectors.damage.is_some(), "{report:?}");
    let kept = std::fs::metadata(&log).expect("meta").len();
    assert_eq!(kept, cut - report.vectors.dropped_bytes, "the file is cut");
    assert!(
        engine.len() < PAPERS && !engine.is_empty(),
        "{}",
        engine.len()
    );
    assert!(report.stale_text_docs > 0, "{report:?}");
    // Searches answer (they panicked on slots past the cut before), in every mode.
    for mode in [
        SearchMode::Hybrid,
        SearchMode::Keyword,
        SearchMode::Semantic,
    ] {
        let found = search(&engine, "diffusion models benchmark", mode);
        assert!(found.hits.len() <= 10);
        search(&engine, &format!("marker{}", PAPERS - 1), mode);
    }
    assert!(
        !engine.is_ready(),
        "keyword search misses papers until the catch-up"
    );
    assert!(finds(&engine, 0), "a paper before the cut is still found");
    assert!(
        !finds(&engine, PAPERS - 1),
        "a paper past the cut is not served with another's vector"
    );
    assert_repaired(dir.path(), engine, store.as_ref()).await;
}

#[tokio::test]
async fn a_byte_flipped_in_the_vector_log_is_detected_and_not_served() {
    let (store, _s, dir) = indexed().await;
    let log = vectors_log(dir.path());
    let len = std::fs::metadata(&log).expect("meta").len() as usize;
    let at = len / 2;
    flip(&log, at);

    let engine = open(dir.path());
    let report = engine.open_report().clone();
    assert!(report.vectors.damage.is_some(), "{report:?}");
    // Nothing from the damaged record on is read.
    let kept = std::fs::metadata(&log).expect("meta").len() as usize;
    assert!(kept <= at, "kept {kept} bytes, flipped at {at}");
    assert!(engine.len() < PAPERS);
    search(&engine, "graph networks", SearchMode::Hybrid);
    assert_repaired(dir.path(), engine, store.as_ref()).await;
}

#[tokio::test]
async fn a_vector_log_of_the_older_headerless_format_is_rebuilt_not_misread() {
    let (store, _s, dir) = indexed().await;
    let dims = StaticEmbedder::builtin_shared().expect("model").dims();
    // The previous format: bare records (operation, key length, key, scale, codes).
    let mut old = Vec::new();
    for i in 0..PAPERS {
        let key = id(i);
        old.push(1u8);
        old.extend_from_slice(&(key.len() as u16).to_le_bytes());
        old.extend_from_slice(key.as_bytes());
        old.extend_from_slice(&0.01f32.to_le_bytes());
        old.extend((0..dims).map(|d| ((i + d) % 200) as u8));
    }
    std::fs::write(vectors_log(dir.path()), &old).expect("write");

    let engine = open(dir.path());
    let report = engine.open_report().clone();
    assert!(report.vectors.rebuilt.is_some(), "{report:?}");
    assert_eq!(report.vectors.dropped_bytes, old.len() as u64);
    assert_eq!(
        engine.len(),
        0,
        "nothing of the old file is read as vectors"
    );
    assert_eq!(report.stale_text_docs, PAPERS, "{report:?}");
    assert!(!engine.is_ready());
    search(&engine, "language models", SearchMode::Hybrid);
    assert_repaired(dir.path(), engine, store.as_ref()).await;
}

#[tokio::test]
async fn a_byte_flipped_in_a_text_index_file_is_detected_and_the_text_index_rebuilt() {
    let (store, _s, dir) = indexed().await;
    let text = dir.path().join("search").join("text");
    // The largest segment file (postings, terms or the document store).
    let (path, len) = std::fs::read_dir(&text)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| ["idx", "term", "store", "pos"].contains(&&*x.to_string_lossy()))
        })
        .map(|p| {
            let len = std::fs::metadata(&p).expect("meta").len();
            (p, len)
        })
        .max_by_key(|x| x.1)
        .expect("a segment file");
    flip(&path, len as usize / 2);

    let engine = open(dir.path());
    let report = engine.open_report().clone();
    assert!(
        !report.damaged_text_files.is_empty() || report.wiped.is_some(),
        "the damage is detected: {report:?}"
    );
    assert!(!engine.is_ready(), "keyword search waits for the rebuild");
    // What the damaged file held is not served (the text index starts empty).
    assert!(!finds(&engine, 3));
    search(&engine, "speech", SearchMode::Hybrid);
    assert_repaired(dir.path(), engine, store.as_ref()).await;
}

#[tokio::test]
async fn a_whole_index_opens_clean_and_its_catch_up_repairs_nothing() {
    let (store, _s, dir) = indexed().await;
    let engine = open(dir.path());
    assert!(
        engine.open_report().is_clean(),
        "{:?}",
        engine.open_report()
    );
    assert!(engine.is_ready());
    assert_eq!(engine.len(), PAPERS);
    let done = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert!(!done.repaired);
    assert!(finds(&engine, 7));
}

/// Clustered unit vectors of length `d`.
fn vectors(n: usize, d: usize) -> Vec<Vec<f32>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let centres: Vec<Vec<f32>> = (0..50)
        .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.random_range(0..centres.len())];
            let mut v: Vec<f32> = c.iter().map(|x| x + rng.random_range(-0.4..0.4)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

/// A vector index with a saved graph (past [`ANN_MIN`]) in `dir`.
fn with_graph(dir: &Path, data: &[Vec<f32>]) -> Vec<Vec<(u32, f32)>> {
    let mut index = VectorIndex::open(dir, data[0].len()).expect("open");
    for (i, v) in data.iter().enumerate() {
        index.upsert(&format!("p{i}"), v);
    }
    index.flush().expect("flush");
    assert_eq!(index.graph_len(), data.len());
    assert!(dir.join("hnsw.bin").exists());
    data[..20].iter().map(|q| index.exact(q, 5)).collect()
}

/// The graph was dropped at open: searches scan exactly (the same answers as before), and a
/// graph built again without the write lock is saved and loaded on the next open.
fn assert_graph_rebuilt(dir: &Path, data: &[Vec<f32>], exact: &[Vec<(u32, f32)>]) {
    let (mut index, repair) = VectorIndex::open_checked(dir, data[0].len()).expect("open");
    assert!(repair.graph.is_some(), "{repair:?}");
    assert_eq!(repair.dropped_bytes, 0, "the vectors are whole: {repair:?}");
    assert_eq!(index.len(), data.len());
    assert_eq!(index.graph_len(), 0);
    assert!(index.needs_graph());
    for (q, want) in data[..20].iter().zip(exact) {
        assert_eq!(&index.search(q, 5), want, "an exact scan meanwhile");
    }
    let graph = index.build_graph();
    index.set_graph(graph).expect("set");
    assert_eq!(index.graph_len(), data.len());
    let (again, repair) = VectorIndex::open_checked(dir, data[0].len()).expect("reopen");
    assert!(repair.is_clean(), "{repair:?}");
    assert_eq!(again.graph_len(), data.len(), "the rebuilt graph was saved");
    assert!(!again.needs_graph());
}

#[test]
fn a_cut_off_flipped_or_missing_graph_file_is_dropped_and_built_again() {
    let data = vectors(ANN_MIN + 300, 8);
    let dir = tempfile::tempdir().expect("dir");
    let exact = with_graph(dir.path(), &data);
    let graph = dir.path().join("hnsw.bin");

    let len = std::fs::metadata(&graph).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&graph)
        .expect("open")
        .set_len(len - 10)
        .expect("cut");
    assert_graph_rebuilt(dir.path(), &data, &exact);

    flip(&graph, len as usize / 2);
    assert_graph_rebuilt(dir.path(), &data, &exact);

    std::fs::remove_file(&graph).expect("remove");
    assert_graph_rebuilt(dir.path(), &data, &exact);
}

#[test]
fn records_written_after_a_repair_are_whole_on_the_next_open() {
    let dir = tempfile::tempdir().expect("dir");
    let data = vectors(30, 8);
    let mut index = VectorIndex::open(dir.path(), 8).expect("open");
    for (i, v) in data[..20].iter().enumerate() {
        index.upsert(&format!("p{i}"), v);
    }
    index.reserve("waiting");
    assert!(index.remove("p3"));
    index.flush().expect("flush");
    let log = dir.path().join("vectors.log");
    let len = std::fs::metadata(&log).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(len - 2)
        .expect("cut");
    // The cut removal is lost: p3 is back, the rest as it was.
    let (mut index, repair) = VectorIndex::open_checked(dir.path(), 8).expect("open");
    assert_eq!(
        repair.dropped_bytes,
        len - 2 - std::fs::metadata(&log).expect("m").len()
    );
    assert!(index.slot("p3").is_some());
    assert_eq!(index.unembedded_len(), 1);
    for (i, v) in data[20..].iter().enumerate() {
        index.upsert(&format!("q{i}"), v);
    }
    index.flush().expect("flush");
    let (again, repair) = VectorIndex::open_checked(dir.path(), 8).expect("reopen");
    assert!(repair.is_clean(), "{repair:?}");
    assert_eq!(again.len(), 30);
    assert_eq!(
        again.exact(&data[25], 1)[0].0,
        index.slot("q5").expect("slot")
    );
}

#[test]
fn a_vector_log_of_another_vector_length_is_emptied() {
    let dir = tempfile::tempdir().expect("dir");
    let mut index = VectorIndex::open(dir.path(), 8).expect("open");
    index.upsert("a", &vectors(1, 8)[0]);
    index.flush().expect("flush");
    let (index, repair) = VectorIndex::open_checked(dir.path(), 16).expect("open");
    assert!(repair.rebuilt.is_some(), "{repair:?}");
    assert_eq!(index.len(), 0);
}
