//! Hostile input for the importers and the live-source clients: random bytes and random
//! nesting thrown at the arXiv Atom parser and the huggingface.co daily-papers reader (through
//! their real HTTP clients, against a local server) and at the JSON Lines / JSON array
//! importer (real files into a real SQLite store). Nothing panics, nothing yields more papers
//! than the input holds, and an oversized record or answer is refused with a clear error.

use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use paperboy_core::ArxivId;
use paperboy_ingest::import::{ImportError, MAX_RECORD_BYTES};
use paperboy_ingest::source::MAX_ANSWER_BYTES;
use paperboy_ingest::{ArxivClient, HfClient, ImportOptions, SourceError, import_files};
use paperboy_store::Store;
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
});

/// A local stand-in for arXiv and huggingface.co that answers whatever body a test set.
struct Fake {
    base: String,
    body: Arc<Mutex<Vec<u8>>>,
}

static FAKE: LazyLock<Fake> = LazyLock::new(|| {
    let body = Arc::new(Mutex::new(Vec::new()));
    let served = body.clone();
    let handler = move || {
        let served = served.clone();
        async move { served.lock().expect("body").clone() }
    };
    let app = axum::Router::new()
        .route("/api/query", axum::routing::get(handler.clone()))
        .route("/api/daily_papers", axum::routing::get(handler));
    let listener = RT.block_on(async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
    });
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    RT.spawn(async move { axum::serve(listener, app).await });
    Fake { base, body }
});

/// Tests run on several threads but share the fake: one question at a time.
static TURN: Mutex<()> = Mutex::new(());

fn answer_with(body: &[u8]) {
    *FAKE.body.lock().expect("body") = body.to_vec();
}

fn arxiv() -> ArxivClient {
    ArxivClient::new(&FAKE.base, Duration::ZERO)
}

fn hf() -> HfClient {
    HfClient::new(&FAKE.base)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 29).expect("date")
}

/// Asks the fake arXiv for one paper; the papers it yields, or the error.
fn fetch_arxiv(body: &[u8]) -> Result<Vec<paperboy_core::NewPaper>, SourceError> {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    answer_with(body);
    RT.block_on(arxiv().fetch_ids(&[ArxivId::parse("2510.01234").expect("id")]))
}

fn fetch_hf(body: &[u8]) -> Result<Vec<paperboy_core::NewPaper>, SourceError> {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    answer_with(body);
    RT.block_on(hf().daily_papers(day()))
}

const ATOM_TAGS: &[&str] = &[
    "entry",
    "id",
    "title",
    "summary",
    "author",
    "name",
    "published",
    "updated",
    "link",
    "category",
    "arxiv:primary_category",
    "arxiv:comment",
    "arxiv:doi",
    "opensearch:totalResults",
    "feed",
];

/// Text as an Atom feed may (or should not) hold it.
fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .:/-]{0,24}",
        Just("http://arxiv.org/abs/2510.01234v2".to_owned()),
        Just("2025-10-29T08:00:00Z".to_owned()),
        Just("&amp;&lt;&#x1F600;&#0;&#xD800;&bogus;&".to_owned()),
        Just("<![CDATA[ <b>x</b> ]]>".to_owned()),
        Just("<!-- c --><?pi x?>".to_owned()),
        Just("<".to_owned()),
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

/// A random tree of Atom-ish elements, sometimes left unclosed.
fn xml_tree() -> impl Strategy<Value = String> {
    xml_text().prop_recursive(8, 256, 6, |inner| {
        (
            prop::sample::select(ATOM_TAGS),
            prop::option::of(("[a-z]{1,6}", xml_text())),
            prop::collection::vec(inner, 0..6),
            any::<bool>(),
        )
            .prop_map(|(tag, attr, children, close)| {
                let attr = attr
                    .map(|(k, v)| format!(" {k}=\"{}\"", v.replace('"', "&quot;")))
                    .unwrap_or_default();
                let close = if close {
                    format!("</{tag}>")
                } else {
                    String::new()
                };
                format!("<{tag}{attr}>{}{close}", children.concat())
            })
    })
}

fn atom_feed() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(xml_tree(), 0..8).prop_map(|body| {
        format!(
            "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" \
             xmlns:arxiv=\"http://arxiv.org/schemas/atom\" \
             xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">{}</feed>",
            body.concat()
        )
        .into_bytes()
    })
}

const JSON_KEYS: &[&str] = &[
    "paper",
    "id",
    "title",
    "summary",
    "abstract",
    "authors",
    "authors_parsed",
    "publishedAt",
    "submittedBy",
    "organization",
    "name",
    "user",
    "fullname",
    "upvotes",
    "numComments",
    "versions",
    "created",
    "update_date",
    "categories",
    "hidden",
];

/// A random JSON value whose keys are the ones the records use.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("2510.01234".to_owned()),
            Just("2025-10-29T08:00:00.000Z".to_owned()),
            Just("Mon, 2 Apr 2007 19:18:42 GMT".to_owned()),
            "[a-zA-Z0-9 ,.]{0,16}",
            any::<String>().prop_map(|s| s.chars().take(16).collect()),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(8, 256, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(JSON_KEYS), inner), 0..8).prop_map(
                |pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    })
}

/// A record with a `paper` or Kaggle shape, filled with random values.
fn record_like() -> impl Strategy<Value = Value> {
    (json_value(), json_value(), json_value()).prop_map(|(a, b, c)| shaped(a, b, c))
}

fn shaped(a: Value, b: Value, c: Value) -> Value {
    if a == Value::Bool(true) {
        json!({ "paper": { "id": "2510.01234", "title": b, "summary": c } })
    } else if a.is_null() {
        json!({ "id": "2510.01234", "abstract": b, "authors": c })
    } else {
        json!({ "paper": a, "title": b, "publishedAt": c })
    }
}

/// Counts of what an input could possibly yield.
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic_the_arxiv_client(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(papers) = fetch_arxiv(&body) {
            prop_assert!(papers.len() <= occurrences(&body, b"entry"));
        }
    }

    #[test]
    fn random_atom_nesting_never_panics_and_yields_at_most_its_entries(body in atom_feed()) {
        if let Ok(papers) = fetch_arxiv(&body) {
            prop_assert!(papers.len() <= occurrences(&body, b"<entry"), "{}", papers.len());
            for p in &papers {
                prop_assert!(p.title.len() <= body.len() && p.summary.len() <= body.len());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic_the_daily_papers_client(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(papers) = fetch_hf(&body) {
            let objects = occurrences(&body, b"{");
            prop_assert!(papers.len() <= objects, "{} papers", papers.len());
        }
    }

    #[test]
    fn random_daily_papers_json_never_panics_and_yields_at_most_its_items(
        items in prop::collection::vec(prop_oneof![json_value(), record_like()], 0..12)
    ) {
        let body = serde_json::to_vec(&items).expect("json");
        if let Ok(papers) = fetch_hf(&body) {
            prop_assert!(papers.len() <= items.len());
        }
    }
}

/// A SQLite store in a temporary folder.
fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RT
        .block_on(paperboy_store::sqlite::SqliteStore::open(
            &dir.path().join("p.sqlite"),
        ))
        .expect("store");
    (Arc::new(store), dir)
}

fn import(
    store: &Arc<dyn Store>,
    dir: &tempfile::TempDir,
    content: &[u8],
) -> Result<paperboy_ingest::ImportReport, ImportError> {
    static FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.path().join(format!("input-{n}.jsonl"));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(content))
        .expect("write");
    RT.block_on(import_files(
        store.clone(),
        &[path],
        &ImportOptions {
            batch_size: 7,
            ..ImportOptions::default()
        },
    ))
}

static IMPORT_STORE: LazyLock<(Arc<dyn Store>, tempfile::TempDir)> = LazyLock::new(store);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic_the_importer(content in prop::collection::vec(any::<u8>(), 0..4096)) {
        let (store, dir) = &*IMPORT_STORE;
        if let Ok(report) = import(store, dir, &content) {
            let lines = content.split(|&b| b == b'\n').count() as u64;
            prop_assert!(report.records <= lines.max(content.len() as u64));
            prop_assert!(report.stored.inserted + report.stored.updated <= report.records);
        }
    }

    #[test]
    fn random_records_never_panic_the_importer_and_each_line_counts_once(
        records in prop::collection::vec(prop_oneof![json_value(), record_like()], 1..20)
    ) {
        let (store, dir) = &*IMPORT_STORE;
        let mut content = Vec::new();
        for r in &records {
            // One record a line: never an array's opening bracket first.
            let line = match r {
                Value::Array(_) => json!({ "wrapped": r }),
                _ => r.clone(),
            };
            serde_json::to_writer(&mut content, &line).expect("json");
            content.push(b'\n');
        }
        let report = import(store, dir, &content).expect("JSON Lines import");
        prop_assert_eq!(report.records, records.len() as u64);
        prop_assert_eq!(
            report.skipped + report.stored.inserted + report.stored.updated,
            report.records
        );
    }

    #[test]
    fn random_arrays_never_panic_the_importer(
        records in prop::collection::vec(prop_oneof![json_value(), record_like()], 0..20)
    ) {
        let (store, dir) = &*IMPORT_STORE;
        let content = serde_json::to_vec(&records).expect("json");
        let report = import(store, dir, &content).expect("JSON array import");
        prop_assert_eq!(report.records, records.len() as u64);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 200_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"paper\":".repeat(depth), "}".repeat(depth));
    for body in [&arrays, &objects] {
        let hf = fetch_hf(body.as_bytes());
        assert!(matches!(hf, Err(SourceError::Parse { .. })), "{hf:?}");
    }
    let atom = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">{}{}</feed>",
        "<entry><title>".repeat(depth),
        "</title></entry>".repeat(depth)
    );
    match fetch_arxiv(atom.as_bytes()) {
        Ok(papers) => assert!(papers.len() <= depth),
        Err(e) => assert!(matches!(e, SourceError::Parse { .. }), "{e:?}"),
    }
    let (store, dir) = store();
    // A line of deep nesting is one bad record; the good line after it is stored.
    let good = r#"{"id":"2510.01234","title":"T","abstract":"A","authors":"Ada Lovelace","versions":[{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"}]}"#;
    let content = format!("{objects}\n{good}\n");
    let report = import(&store, &dir, content.as_bytes()).expect("import");
    assert_eq!((report.records, report.skipped), (2, 1));
    assert_eq!(report.stored.inserted, 1);
    let array = format!("[{good},{arrays}]");
    let e = import(&store, &dir, array.as_bytes()).expect_err("too deep");
    assert!(e.to_string().contains("recursion"), "{e}");
}

fn kaggle(id: &str, abstract_: &str) -> String {
    json!({
        "id": id,
        "title": "A title",
        "abstract": abstract_,
        "authors": "Ada Lovelace",
        "versions": [{ "version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT" }],
    })
    .to_string()
}

#[test]
fn a_record_past_8_mib_is_refused_clearly_and_the_rest_is_kept() {
    let (store, dir) = store();
    let huge = kaggle("2510.00002", &"x".repeat(MAX_RECORD_BYTES + 1));
    let content = format!(
        "{}\n{huge}\n{}\n",
        kaggle("2510.00001", "first"),
        kaggle("2510.00003", "third")
    );
    let report = import(&store, &dir, content.as_bytes()).expect("import");
    assert_eq!((report.records, report.skipped), (3, 1));
    assert_eq!(report.stored.inserted, 2);
    assert_eq!(report.bad[0].line, 2);
    assert!(
        report.bad[0]
            .error
            .to_string()
            .contains("larger than 8 MiB"),
        "{}",
        report.bad[0].error
    );
    let stored = RT
        .block_on(store.paper(&ArxivId::parse("2510.00003").expect("id")))
        .expect("read");
    assert!(stored.is_some(), "the record after the huge one is stored");

    // In a JSON array, the import stops there with the reason; what came before is stored.
    let (store, dir) = self::store();
    let array = format!(
        "[{},{huge},{}]",
        kaggle("2510.00001", "first"),
        kaggle("2510.00003", "third")
    );
    let e = import(&store, &dir, array.as_bytes()).expect_err("too large");
    assert!(e.to_string().contains("larger than 8 MiB"), "{e}");
    let first = RT
        .block_on(store.paper(&ArxivId::parse("2510.00001").expect("id")))
        .expect("read");
    assert!(first.is_some(), "the record before the huge one is stored");
}

#[test]
fn an_answer_past_32_mib_is_refused_clearly() {
    let huge = vec![b' '; MAX_ANSWER_BYTES + 1];
    for result in [fetch_arxiv(&huge), fetch_hf(&huge)] {
        match result {
            Err(SourceError::Parse { message, .. }) => {
                assert!(message.contains("larger than 32 MiB"), "{message}")
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }
    // Without a Content-Length (chunked), the reader stops at the limit too.
    let base = RT.block_on(endless_chunked_server());
    let e = RT
        .block_on(HfClient::new(&base).daily_papers(day()))
        .expect_err("too large");
    assert!(e.to_string().contains("larger than 32 MiB"), "{e}");
}

/// A server that answers with a chunked body that never ends (a JSON array of spaces).
async fn endless_chunked_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                let start = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n[\r\n";
                if socket.write_all(start).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 1 << 20];
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                // Far more than the limit; the client hangs up first.
                for _ in 0..256 {
                    if socket.write_all(&framed).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}
