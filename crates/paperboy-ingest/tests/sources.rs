//! The live-source clients and the sync, against recorded responses served by a local HTTP
//! server (never the internet).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use paperboy_core::{ArxivId, DateWindow};
use paperboy_ingest::{ArxivClient, HfClient, SourceError, SyncSettings, sync_once};
use paperboy_store::{FeedQuery, FeedSort, Store};

const ARXIV_FEED: &str = include_str!("fixtures/arxiv_query.xml");
const ARXIV_ERROR: &str = include_str!("fixtures/arxiv_error.xml");
const HF_DAILY: &str = include_str!("fixtures/hf_daily_papers.json");

const ATOM: &str = "application/atom+xml; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// A request the fake server received.
#[derive(Debug, Clone)]
struct Recorded {
    at: Instant,
    path: String,
    params: Vec<(String, String)>,
    user_agent: String,
}

impl Recorded {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Reply = (u16, &'static str, String);
type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    respond: Responder,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

/// A local server answering every request with `respond`, recording what it was asked.
struct FakeServer {
    base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeServer {
    async fn start(respond: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            respond: Arc::new(respond),
            requests: Arc::clone(&requests),
        };
        let app = axum::Router::new().fallback(answer).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr: SocketAddr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            requests,
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests lock").clone()
    }

    fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn answer(
    State(state): State<ServerState>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let recorded = Recorded {
        at: Instant::now(),
        path: uri.path().to_owned(),
        params,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    };
    let (status, content_type, body) = (state.respond)(&recorded);
    state.requests.lock().expect("requests lock").push(recorded);
    let status = StatusCode::from_u16(status).expect("status");
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The recorded feed with only the entries of these ids (as arXiv answers an `id_list`).
fn feed_with(ids: &[&str]) -> String {
    let first = ARXIV_FEED
        .find("  <entry>")
        .expect("the fixture has entries");
    let last = ARXIV_FEED
        .rfind("</entry>")
        .expect("the fixture has entries")
        + "</entry>".len();
    let mut out = ARXIV_FEED[..first].to_owned();
    for entry in ARXIV_FEED[first..last].split_inclusive("</entry>") {
        if ids.iter().any(|id| entry.contains(&format!("/abs/{id}v"))) {
            out.push_str(entry);
        }
    }
    out.push_str(&ARXIV_FEED[last..]);
    out.replace(
        "<opensearch:totalResults>3<",
        &format!("<opensearch:totalResults>{}<", ids.len()),
    )
}

/// A page of a search in arXiv's older layout (namespaces declared on each element):
/// `count` entries from `start`, of `total`.
fn generated_page(total: usize, start: usize, count: usize) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3Dcat%3Acs.CL%26start%3D{start}%26max_results%3D200" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=cat:cs.CL&amp;id_list=&amp;start={start}&amp;max_results=200</title>
  <id>http://arxiv.org/api/pageTestFeed{start}</id>
  <updated>2025-10-07T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{count}</opensearch:itemsPerPage>
"#
    );
    for n in start..start + count {
        let minute = n % 60;
        xml.push_str(&format!(
            r#"  <entry>
    <id>http://arxiv.org/abs/2510.{number:05}v1</id>
    <updated>2025-10-06T12:{minute:02}:00Z</updated>
    <published>2025-10-06T12:{minute:02}:00Z</published>
    <title>Generated Paper Number {n}</title>
    <summary>  An abstract for paper {n}.
</summary>
    <author>
      <name>Author {n}</name>
    </author>
    <link href="http://arxiv.org/abs/2510.{number:05}v1" rel="alternate" type="text/html"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
"#,
            number = 20_000 + n
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).expect("arXiv id")
}

fn quick_arxiv(server: &FakeServer) -> ArxivClient {
    ArxivClient::new(&server.base, Duration::from_millis(5))
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_arxiv_feed_gives_ids_versions_authors_categories_dates_and_unescaped_text() {
    let server = FakeServer::start(|_| (200, ATOM, ARXIV_FEED.to_owned())).await;
    let ids = [id("2510.01234"), id("2510.02345"), id("2510.03456")];
    let papers = quick_arxiv(&server)
        .fetch_ids(&ids)
        .await
        .expect("the feed parses");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/api/query");
    assert_eq!(
        requests[0].param("id_list"),
        Some("2510.01234,2510.02345,2510.03456")
    );
    assert_eq!(requests[0].param("max_results"), Some("3"));
    assert!(
        requests[0].user_agent.starts_with("paperboy/")
            && requests[0]
                .user_agent
                .ends_with("(self-hosted daily papers)"),
        "{}",
        requests[0].user_agent
    );

    assert_eq!(papers.len(), 3);
    let a = &papers[0];
    assert_eq!(a.id.to_string(), "2510.01234v2");
    assert_eq!(a.id.version(), Some(2));
    assert_eq!(
        a.title,
        r"Sparse & Linear Attention in $\mathcal{O}(n)$: Long-Context Transformers without the Quadratic Cost"
    );
    assert!(
        a.summary.starts_with("Self-attention scales quadratically"),
        "{}",
        a.summary
    );
    assert!(a.summary.contains("loses <1% accuracy"), "{}", a.summary);
    assert!(a.summary.contains("it is >3x faster"), "{}", a.summary);
    assert!(a.summary.contains("sparse & linear"), "{}", a.summary);
    assert!(!a.summary.contains('\n') && !a.summary.ends_with(' '));
    let names: Vec<_> = a.authors.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Mira Castellanos",
            "Tobias Wendt",
            "Zoë Lindqvist",
            "Arjun Raghunathan"
        ]
    );
    assert!(a.authors.iter().all(|x| !x.hidden && x.hf_user.is_none()));
    assert_eq!(a.categories, ["cs.CL", "cs.LG", "cs.AI"]);
    assert_eq!(a.published_at.to_rfc3339(), "2025-10-02T17:41:09+00:00");
    assert_eq!(
        a.updated_at.expect("a second version").to_rfc3339(),
        "2025-10-05T09:12:44+00:00"
    );
    assert_eq!(
        a.comment.as_deref(),
        Some("v2: fixed typos in Sec. 3; 14 pages, 6 figures")
    );
    assert_eq!((a.doi.as_deref(), a.journal_ref.as_deref()), (None, None));
    assert!(a.feed.is_none(), "arXiv records are not on the daily feed");

    let b = &papers[1];
    assert_eq!(b.id.to_string(), "2510.02345v1");
    assert_eq!(
        b.updated_at, None,
        "one version: updated is not later than published"
    );
    assert!(
        b.summary.contains(r#"how "the same text" can"#),
        "{}",
        b.summary
    );
    assert_eq!(b.doi.as_deref(), Some("10.18653/v1/2025.emnlp-main.412"));
    assert_eq!(
        b.journal_ref.as_deref(),
        Some("Proceedings of EMNLP 2025, pages 6120-6137")
    );
    assert_eq!(b.authors.len(), 2);

    let c = &papers[2];
    assert_eq!(
        c.categories,
        ["cs.CL", "cs.IR"],
        "primary first, no duplicates"
    );
    assert_eq!(c.comment, None);
}

#[tokio::test]
async fn an_arxiv_error_feed_becomes_an_api_error_with_its_message() {
    for status in [200, 400] {
        let server = FakeServer::start(move |_| (status, ATOM, ARXIV_ERROR.to_owned())).await;
        let err = quick_arxiv(&server)
            .fetch_ids(&[id("2510.01234")])
            .await
            .expect_err("an error feed");
        match err {
            SourceError::Api(message) => {
                assert_eq!(
                    message, "incorrect id format for 2510.0123",
                    "HTTP {status}"
                );
            }
            other => panic!("expected SourceError::Api for HTTP {status}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_category_day_is_paged_by_start_until_a_short_page() {
    let server = FakeServer::start(|r| {
        let start: usize = r.param("start").and_then(|s| s.parse().ok()).unwrap_or(0);
        let count = 250usize.saturating_sub(start).min(200);
        (200, ATOM, generated_page(250, start, count))
    })
    .await;
    let papers = quick_arxiv(&server)
        .fetch_category_day("cs.CL", day("2025-10-06"))
        .await
        .expect("two pages");

    assert_eq!(papers.len(), 250);
    assert_eq!(papers[0].id.to_string(), "2510.20000v1");
    assert_eq!(papers[249].id.to_string(), "2510.20249v1");
    assert_eq!(papers[0].categories, ["cs.CL"]);
    let requests = server.requests();
    let starts: Vec<_> = requests.iter().map(|r| r.param("start")).collect();
    assert_eq!(starts, [Some("0"), Some("200")]);
    for r in &requests {
        assert_eq!(r.path, "/api/query");
        assert_eq!(
            r.param("search_query"),
            Some("cat:cs.CL AND submittedDate:[202510060000 TO 202510062359]")
        );
        assert_eq!(r.param("sortBy"), Some("submittedDate"));
        assert_eq!(r.param("sortOrder"), Some("ascending"));
        assert_eq!(r.param("max_results"), Some("200"));
        assert_eq!(r.param("id_list"), None);
    }
}

#[tokio::test]
async fn a_category_day_stops_when_the_total_is_reached_by_a_full_page() {
    let server = FakeServer::start(|r| {
        let start: usize = r.param("start").and_then(|s| s.parse().ok()).unwrap_or(0);
        let count = 200usize.saturating_sub(start).min(200);
        (200, ATOM, generated_page(200, start, count))
    })
    .await;
    let papers = quick_arxiv(&server)
        .fetch_category_day("cs.CL", day("2025-10-06"))
        .await
        .expect("one page");
    assert_eq!(papers.len(), 200);
    assert_eq!(
        server.requests().len(),
        1,
        "totalResults says there is no second page"
    );

    let empty = FakeServer::start(|_| (200, ATOM, generated_page(0, 0, 0))).await;
    let papers = quick_arxiv(&empty)
        .fetch_category_day("cs.CL", day("2025-10-05"))
        .await
        .expect("an empty day");
    assert!(papers.is_empty());
    assert_eq!(empty.requests().len(), 1);
}

#[tokio::test]
async fn the_arxiv_limiter_spaces_two_requests_by_at_least_the_interval_even_across_clones() {
    let interval = Duration::from_millis(200);
    let server = FakeServer::start(|_| (200, ATOM, feed_with(&["2510.01234"]))).await;
    let client = ArxivClient::new(&server.base, interval);
    let clone = client.clone();
    let ids = [id("2510.01234")];

    let started = Instant::now();
    let (first, second) = tokio::join!(client.fetch_ids(&ids), clone.fetch_ids(&ids));
    first.expect("first request");
    second.expect("second request");

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let last_arrival = requests.iter().map(|r| r.at).max().expect("two requests");
    assert!(
        last_arrival.duration_since(started) >= interval,
        "the second request arrived {:?} after the first was started",
        last_arrival.duration_since(started)
    );
    assert!(started.elapsed() >= interval);
}

#[tokio::test]
async fn an_unreachable_base_url_is_reported_as_unreachable() {
    let base = closed_port_url();
    let hf = HfClient::new(&base)
        .daily_papers(day("2025-10-06"))
        .await
        .expect_err("nothing listens");
    assert!(hf.is_unreachable(), "{hf:?}");
    assert!(hf.to_string().contains(&base), "{hf}");

    let arxiv = ArxivClient::new(&base, Duration::from_millis(5))
        .fetch_ids(&[id("2510.01234")])
        .await
        .expect_err("nothing listens");
    assert!(arxiv.is_unreachable(), "{arxiv:?}");
}

#[tokio::test]
async fn a_server_error_is_reported_as_http_with_its_status() {
    let server = FakeServer::start(|_| {
        (
            500,
            "text/html",
            "<h1>Internal Server Error</h1>".to_owned(),
        )
    })
    .await;
    let hf = HfClient::new(&server.base)
        .daily_papers(day("2025-10-06"))
        .await
        .expect_err("HTTP 500");
    assert!(
        matches!(&hf, SourceError::Http { status: 500, url } if url.contains("/api/daily_papers")),
        "{hf:?}"
    );
    assert!(!hf.is_unreachable());

    let arxiv = quick_arxiv(&server)
        .fetch_ids(&[id("2510.01234")])
        .await
        .expect_err("HTTP 500");
    assert!(
        matches!(arxiv, SourceError::Http { status: 500, .. }),
        "{arxiv:?}"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_the_expected_format_is_a_parse_error() {
    let server = FakeServer::start(|r| match r.path.as_str() {
        "/api/daily_papers" => (200, JSON, r#"{"error":"Invalid date"}"#.to_owned()),
        _ => (
            200,
            "text/html",
            "<html><body>Maintenance</body></html>".to_owned(),
        ),
    })
    .await;
    let hf = HfClient::new(&server.base)
        .daily_papers(day("2025-10-06"))
        .await
        .expect_err("not an array");
    assert!(matches!(hf, SourceError::Parse { .. }), "{hf:?}");
    let arxiv = quick_arxiv(&server)
        .fetch_ids(&[id("2510.01234")])
        .await
        .expect_err("not a feed");
    assert!(matches!(arxiv, SourceError::Parse { .. }), "{arxiv:?}");
}

#[tokio::test]
async fn hugging_face_daily_papers_skip_malformed_items_and_ask_for_the_date() {
    let server = FakeServer::start(|_| (200, JSON, HF_DAILY.to_owned())).await;
    let papers = HfClient::new(&format!("{}/", server.base))
        .daily_papers(day("2025-10-06"))
        .await
        .expect("daily papers");

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "a short page is the last");
    assert_eq!(requests[0].path, "/api/daily_papers");
    assert_eq!(requests[0].param("date"), Some("2025-10-06"));
    assert_eq!(requests[0].param("limit"), Some("100"));
    assert_eq!(requests[0].param("p"), Some("0"));

    let ids: Vec<_> = papers.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(
        ids,
        ["2510.01234", "2510.02345"],
        "the item with a bad id is skipped"
    );
    let feed = papers[0]
        .feed
        .as_ref()
        .expect("a daily item is on the feed");
    assert_eq!(feed.feed_date, day("2025-10-06"));
    assert_eq!(
        feed.submitter.as_ref().map(|u| u.username.as_str()),
        Some("pnatarajan")
    );
    assert_eq!(
        papers[0].title,
        r"Sparse & Linear Attention in $\mathcal{O}(n)$: Long-Context Transformers without the Quadratic Cost"
    );
    assert_eq!(
        papers[0].authors[0].hf_user.as_deref(),
        Some("mcastellanos")
    );
    assert!(papers[0].authors[3].hidden);
}

#[tokio::test]
async fn hugging_face_daily_papers_read_the_next_page_while_pages_are_full() {
    let item = |n: usize| {
        serde_json::json!({
            "paper": {
                "id": format!("2510.{:05}", 30_000 + n),
                "authors": [{"name": format!("Author {n}"), "hidden": false}],
                "publishedAt": "2025-10-03T10:00:00.000Z",
                "submittedOnDailyAt": "2025-10-06T08:00:00.000Z",
                "title": format!("Paper {n}"),
                "summary": "An abstract.",
                "upvotes": 1
            },
            "publishedAt": "2025-10-06T08:00:00.000Z",
            "title": format!("Paper {n}"),
            "numComments": 0
        })
    };
    let server = FakeServer::start(move |r| {
        let items: Vec<_> = match r.param("p") {
            Some("0") => (0..100).map(item).collect(),
            Some("1") => vec![item(100)],
            _ => Vec::new(),
        };
        (200, JSON, serde_json::Value::Array(items).to_string())
    })
    .await;
    let papers = HfClient::new(&server.base)
        .daily_papers(day("2025-10-06"))
        .await
        .expect("two pages");
    assert_eq!(papers.len(), 101);
    let pages: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.param("p").map(str::to_owned))
        .collect();
    assert_eq!(pages, [Some("0".to_owned()), Some("1".to_owned())]);
}

/// huggingface.co and arXiv in one: the recorded daily list on 2025-10-06, nothing on other
/// days; arXiv's `id_list` answers with the recorded entries asked for, and a `cs.CL` search
/// of 2025-10-06 with all three recorded entries.
async fn fake_sources() -> FakeServer {
    FakeServer::start(|r| match r.path.as_str() {
        "/api/daily_papers" if r.param("date") == Some("2025-10-06") => {
            (200, JSON, HF_DAILY.to_owned())
        }
        "/api/daily_papers" => (200, JSON, "[]".to_owned()),
        "/api/query" => {
            if let Some(list) = r.param("id_list") {
                let ids: Vec<&str> = list.split(',').collect();
                (200, ATOM, feed_with(&ids))
            } else if r
                .param("search_query")
                .is_some_and(|q| q.contains("20251006"))
            {
                (200, ATOM, ARXIV_FEED.to_owned())
            } else {
                (200, ATOM, feed_with(&[]))
            }
        }
        _ => (404, "text/plain", "not found".to_owned()),
    })
    .await
}

fn settings(hf_base: &str, arxiv_base: &str) -> SyncSettings {
    SyncSettings {
        hf_base: hf_base.to_owned(),
        arxiv_base: arxiv_base.to_owned(),
        days: 2,
        categories: vec!["cs.CL".to_owned()],
        arxiv_interval: Duration::from_millis(5),
    }
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let store = paperboy_store::sqlite::SqliteStore::open(&dir.path().join("paperboy.sqlite"))
        .await
        .expect("open SQLite");
    Arc::new(store)
}

fn feed_query(date: NaiveDate) -> FeedQuery {
    FeedQuery {
        window: DateWindow::Day(date),
        submitter: None,
        sort: FeedSort::Upvotes,
        offset: 0,
        limit: 50,
    }
}

#[tokio::test]
async fn sync_once_puts_the_good_hugging_face_papers_on_the_feed_and_enriches_them_from_arxiv() {
    let server = fake_sources().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let today = day("2025-10-06");

    let report = sync_once(&store, &settings(&server.base, &server.base), today)
        .await
        .expect("sync");
    assert_eq!(
        (report.hf_papers, report.days, report.arxiv_failures),
        (2, 2, 0)
    );
    assert_eq!(
        report.arxiv_papers,
        2 + 3,
        "two enriched, three from the cs.CL search"
    );
    assert!(
        report.to_string().contains("2 papers from huggingface.co"),
        "{report}"
    );

    let hf_dates: Vec<_> = server
        .requests_to("/api/daily_papers")
        .iter()
        .map(|r| r.param("date").map(str::to_owned))
        .collect();
    assert_eq!(
        hf_dates,
        [Some("2025-10-05".to_owned()), Some("2025-10-06".to_owned())]
    );
    let arxiv = server.requests_to("/api/query");
    assert_eq!(arxiv[0].param("id_list"), Some("2510.01234,2510.02345"));
    let searches: Vec<_> = arxiv
        .iter()
        .filter_map(|r| r.param("search_query"))
        .collect();
    assert_eq!(
        searches,
        [
            "cat:cs.CL AND submittedDate:[202510050000 TO 202510052359]",
            "cat:cs.CL AND submittedDate:[202510060000 TO 202510062359]",
        ]
    );

    let page = store.feed(&feed_query(today)).await.expect("feed");
    let on_feed: Vec<_> = page.papers.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(on_feed, ["2510.01234", "2510.02345"], "most upvoted first");
    let submitters: Vec<_> = page
        .papers
        .iter()
        .map(|p| {
            let feed = p.feed.as_ref().expect("feed entry");
            assert_eq!(feed.feed_date, today);
            feed.submitter.as_ref().map(|u| u.username.clone())
        })
        .collect();
    assert_eq!(
        submitters,
        [Some("pnatarajan".to_owned()), Some("jberg".to_owned())]
    );
    assert!(
        store
            .feed(&feed_query(day("2025-10-05")))
            .await
            .expect("feed")
            .papers
            .is_empty()
    );

    let a = store
        .paper(&id("2510.01234"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        a.categories,
        ["cs.CL", "cs.LG", "cs.AI"],
        "categories from arXiv"
    );
    assert_eq!(a.version, Some(2));
    assert_eq!(
        a.updated_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-10-05T09:12:44+00:00")
    );
    assert_eq!(
        a.comment.as_deref(),
        Some("v2: fixed typos in Sec. 3; 14 pages, 6 figures")
    );
    assert_eq!(a.upvotes, 41, "huggingface.co's upvotes are kept");
    assert_eq!(
        a.github_repo.as_deref(),
        Some("https://github.com/mcastellanos/sparse-linear-attention")
    );
    assert_eq!(a.authors.len(), 4);
    assert_eq!(
        a.authors[0].user.as_deref(),
        Some("mcastellanos"),
        "huggingface.co's claimed authorship survives the arXiv metadata"
    );
    assert!(a.authors[3].hidden);

    let b = store
        .paper(&id("2510.02345"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(b.doi.as_deref(), Some("10.18653/v1/2025.emnlp-main.412"));
    assert_eq!(
        b.feed
            .as_ref()
            .and_then(|f| f.organization.as_ref())
            .map(|o| o.name.as_str()),
        Some("tokbench-lab")
    );

    let c = store
        .paper(&id("2510.03456"))
        .await
        .expect("read")
        .expect("from the search");
    assert!(
        c.feed.is_none(),
        "a category paper enters the catalogue, not the feed"
    );
    assert_eq!(c.authors.len(), 1);

    let last = store.get_state("sync.last_success").await.expect("state");
    let last = last.expect("the success is recorded");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&last).is_ok(),
        "{last}"
    );
}

#[tokio::test]
async fn running_sync_once_twice_creates_no_duplicates() {
    let server = fake_sources().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let settings = settings(&server.base, &server.base);
    let today = day("2025-10-06");

    sync_once(&store, &settings, today)
        .await
        .expect("first sync");
    let first = store.stats().await.expect("stats");
    sync_once(&store, &settings, today)
        .await
        .expect("second sync");
    let second = store.stats().await.expect("stats");

    assert_eq!(first, second);
    assert_eq!(
        (
            second.papers,
            second.feed_entries,
            second.feed_days,
            second.authors
        ),
        (3, 2, 1, 4 + 2 + 1)
    );
    let a = store
        .paper(&id("2510.01234"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(a.authors[0].user.as_deref(), Some("mcastellanos"));
    assert_eq!(a.categories, ["cs.CL", "cs.LG", "cs.AI"]);
}

#[tokio::test]
async fn sync_once_returns_at_once_when_hugging_face_is_unreachable() {
    let arxiv = fake_sources().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;

    let err = sync_once(
        &store,
        &settings(&closed_port_url(), &arxiv.base),
        day("2025-10-06"),
    )
    .await
    .expect_err("huggingface.co is down");
    assert!(err.is_unreachable(), "{err:?}");
    assert!(arxiv.requests().is_empty(), "arXiv is not asked");
    assert_eq!(
        store.get_state("sync.last_success").await.expect("state"),
        None
    );
}

#[tokio::test]
async fn sync_once_keeps_the_hugging_face_papers_when_arxiv_is_unreachable() {
    let hf = fake_sources().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let today = day("2025-10-06");

    let report = sync_once(&store, &settings(&hf.base, &closed_port_url()), today)
        .await
        .expect("huggingface.co alone is enough");
    assert_eq!((report.hf_papers, report.arxiv_papers), (2, 0));
    assert_eq!(
        report.arxiv_failures, 1,
        "the other arXiv requests are skipped"
    );
    assert!(
        report.to_string().contains("arXiv requests failed"),
        "{report}"
    );
    assert_eq!(
        store
            .feed(&feed_query(today))
            .await
            .expect("feed")
            .papers
            .len(),
        2
    );
}
