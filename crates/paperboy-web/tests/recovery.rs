//! The server keeps answering when things break: a search index damaged on disk still gives
//! searches that answer 200 (the store's word search stands in while the index is rebuilt),
//! and a panic in a handler becomes the site's 500 page (or the API's JSON error) while the
//! server goes on serving. Real server on a random port, real SQLite store, real index files.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paperboy_core::{ArxivId, NewPaper};
use paperboy_search::{SearchEngine, StaticEmbedder};
use paperboy_store::Store;

const PAPERS: usize = 60;

fn id(i: usize) -> String {
    format!("2511.{:05}", i + 1)
}

fn paper(i: usize) -> NewPaper {
    NewPaper::new(
        ArxivId::parse(&id(i)).expect("id"),
        format!("Robust retrieval study marker{i}x"),
        format!("We evaluate retrieval models; marker{i}x is the paper's own word."),
        DateTime::parse_from_rfc3339("2025-11-01T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
            + chrono::Duration::hours(i as i64),
    )
}

fn open(dir: &Path) -> SearchEngine {
    SearchEngine::open(dir, StaticEmbedder::builtin_shared().expect("model")).expect("open")
}

/// Serves the real app (with `extra` routes behind its layers) on a random port.
async fn serve(
    state: paperboy_web::AppState,
    extra: axum::Router<paperboy_web::AppState>,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app =
        paperboy_web::router_with(state, extra).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A store of generated papers and a data folder whose index `damage` broke after a full
/// catch-up; the engine is opened again on it.
async fn damaged(
    damage: impl FnOnce(&Path),
) -> (Arc<dyn Store>, Arc<SearchEngine>, [tempfile::TempDir; 2]) {
    let (store, sdir) = paperboy_testkit::sqlite_store().await;
    let papers: Vec<NewPaper> = (0..PAPERS).map(paper).collect();
    store.upsert_papers(&papers).await.expect("upsert");
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    engine.catch_up(store.as_ref()).await.expect("catch up");
    drop(engine);
    damage(&dir.path().join("search"));
    let engine = Arc::new(open(dir.path()));
    assert!(!engine.open_report().is_clean(), "the damage is found");
    (store, engine, [sdir, dir])
}

fn cut_vector_log(search: &Path) {
    let log = search.join("vectors.log");
    let len = std::fs::metadata(&log).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(len / 2 + 5)
        .expect("cut");
}

fn flip_text_segment(search: &Path) {
    let (path, len) = std::fs::read_dir(search.join("text"))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx" || x == "store"))
        .map(|p| {
            let len = std::fs::metadata(&p).expect("meta").len();
            (p, len)
        })
        .max_by_key(|x| x.1)
        .expect("a segment file");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[len as usize / 2] ^= 0x33;
    std::fs::write(&path, bytes).expect("write");
}

/// Searches for paper `i`'s own word answer 200 and find it, on the API and the page, and
/// hostile queries answer 200 too.
async fn assert_searches_answer(base: &str, i: usize) {
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{base}/api/papers/search?q=marker{i}x"))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), 200);
    let items: serde_json::Value = r.json().await.expect("json");
    let ids: Vec<&str> = items
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|it| it["paper"]["id"].as_str())
        .collect();
    assert!(ids.contains(&id(i).as_str()), "{ids:?}");
    let r = http
        .get(format!("{base}/search?q=marker{i}x"))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(
        html.contains(&format!("marker{i}x")),
        "the paper is on the page"
    );
    for q in [
        "retrieval",
        "((((((((((retrieval AND models))))))))))",
        "\"robust -study",
    ] {
        let r = http
            .get(format!("{base}/api/papers/search"))
            .query(&[("q", q)])
            .send()
            .await
            .expect("api");
        assert_eq!(r.status(), 200, "{q}");
        let r = http
            .get(format!("{base}/search"))
            .query(&[("q", q)])
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), 200, "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_a_cut_off_vector_log_answers_searches_and_repairs_at_catch_up() {
    let (store, engine, _dirs) = damaged(cut_vector_log).await;
    let mut state = paperboy_web::AppState::new(store.clone());
    state.search = Some(engine.clone());
    let base = serve(state, axum::Router::new()).await;
    // Papers before and past the cut.
    assert_searches_answer(&base, 0).await;
    assert_searches_answer(&base, PAPERS - 1).await;
    let done = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert!(done.repaired);
    assert!(engine.is_ready());
    assert_searches_answer(&base, PAPERS - 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_a_damaged_text_index_answers_from_the_store_until_it_is_rebuilt() {
    let (store, engine, _dirs) = damaged(|search| {
        cut_vector_log(search);
        flip_text_segment(search);
    })
    .await;
    assert!(!engine.is_ready(), "the text index is being rebuilt");
    let mut state = paperboy_web::AppState::new(store.clone());
    state.search = Some(engine.clone());
    let base = serve(state, axum::Router::new()).await;
    assert_searches_answer(&base, 3).await;
    let done = engine.catch_up(store.as_ref()).await.expect("catch up");
    assert!(done.repaired && engine.is_ready());
    assert_searches_answer(&base, 3).await;
}

async fn handler_bug() -> &'static str {
    panic!("a handler bug")
}

async fn api_handler_bug() -> &'static str {
    panic!("an API handler bug")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_handler_is_a_logged_500_and_the_server_goes_on() {
    let (store, _dir) = paperboy_testkit::sqlite_store().await;
    paperboy_testkit::seed_paper(&store, "2510.00001").await;
    let state = paperboy_web::AppState::new(store);
    let extra = axum::Router::new()
        .route("/test/panic", axum::routing::get(handler_bug))
        .route("/api/test/panic", axum::routing::get(api_handler_bug));
    let base = serve(state, extra).await;
    let http = reqwest::Client::new();
    for _ in 0..8 {
        let r = http
            .get(format!("{base}/test/panic"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 500);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("type")
                .starts_with("text/html")
        );
        let html = r.text().await.expect("html");
        assert!(html.contains("Something went wrong"), "{html}");
        assert!(
            !html.contains("a handler bug"),
            "the cause stays in the log"
        );

        let r = http
            .get(format!("{base}/api/test/panic"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status(), 500);
        let body: serde_json::Value = r.json().await.expect("json");
        assert!(body["error"].as_str().is_some(), "{body}");
        assert!(!body.to_string().contains("API handler bug"));
    }
    // The same client (and connections) goes on being served.
    let r = http
        .get(format!("{base}/api/papers/2510.00001"))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200);
}
