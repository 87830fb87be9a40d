//! The huggingface.co-compatible JSON API, served by the real app on a random port over a real
//! SQLite file; `POST /api/papers/index` fetches from a local fake of the arXiv API that
//! serves a recorded response.

mod common;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef, Username};
use paperboy_store::{NewUser, Store};
use serde_json::Value;

struct TestApp {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

impl TestApp {
    async fn spawn() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = Arc::new(
            paperboy_store::sqlite::SqliteStore::open(&dir.path().join("api.sqlite"))
                .await
                .expect("open store"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let arxiv = paperboy_ingest::ArxivClient::new(
            &common::fake_arxiv().await,
            std::time::Duration::from_millis(1),
        );
        let state = paperboy_web::AppState::new(store.clone()).with_arxiv(arxiv);
        tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));
        Self {
            base,
            http: reqwest::Client::new(),
            store,
            dir,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    async fn json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        let ct = r.headers()["content-type"].to_str().expect("ct").to_owned();
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        (status, r.json().await.expect("json body"))
    }

    async fn index(&self, token: Option<&str>, body: &str) -> (u16, Value) {
        let r = self.index_response(token, body).await;
        let status = r.status().as_u16();
        (status, r.json().await.expect("json body"))
    }

    /// `POST /api/papers/index`, headers and all.
    async fn index_response(&self, token: Option<&str>, body: &str) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/api/papers/index", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    async fn user(&self, name: &str) -> paperboy_store::User {
        self.store
            .create_user(&NewUser {
                username: Username::parse(name).expect("username"),
                fullname: format!("{name} Fullname"),
                email: None,
                password_hash: None,
                is_admin: false,
            })
            .await
            .expect("user")
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn daily(id: &str, date: &str, hour: u32, votes: i64, title: &str) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).expect("id"),
        title,
        format!("The abstract of {title}, about attention."),
        t("2025-10-27T12:00:00Z"),
    );
    p.authors = vec![
        NewAuthor::named("Ada Lovelace"),
        NewAuthor {
            name: "Alan Turing".into(),
            hidden: false,
            hf_user: Some("aturing".into()),
        },
    ];
    p.source_upvotes = Some(votes);
    p.source_comments = Some(2);
    p.ai_summary = Some(format!("{title} in one sentence."));
    p.keywords = vec!["attention".into()];
    p.github_repo = Some("https://github.com/acme/x".into());
    p.feed = Some(NewFeedEntry {
        feed_date: NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date"),
        submitted_at: t(&format!("{date}T{hour:02}:00:00Z")),
        submitter: Some(UserRef {
            username: "akhaliq".into(),
            fullname: "AK".into(),
            avatar_url: Some("https://example.org/ak.png".into()),
        }),
        organization: Some(OrgRef {
            name: "acme".into(),
            fullname: "Acme Research".into(),
            avatar_url: None,
        }),
    });
    p
}

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    app.store
        .upsert_papers(&[
            daily("2510.00001", "2025-10-28", 8, 3, "Older day paper"),
            daily("2510.00002", "2025-10-29", 8, 5, "Early paper"),
            daily("2510.00003", "2025-10-29", 9, 40, "Middle paper"),
            daily("2510.00004", "2025-10-29", 10, 1, "Late paper"),
        ])
        .await
        .expect("seed");
    app
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|i| i["paper"]["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn daily_items_have_the_huggingface_shape() {
    let app = seeded().await;
    let (status, body) = app.json("/api/daily_papers?date=2025-10-29").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["2510.00004", "2510.00003", "2510.00002"]);
    let item = &body[1];
    assert_eq!(item["title"], "Middle paper");
    assert_eq!(item["publishedAt"], "2025-10-29T09:00:00.000Z");
    assert_eq!(item["numComments"], 2);
    assert_eq!(item["submittedBy"]["user"], "akhaliq");
    assert_eq!(item["submittedBy"]["name"], "akhaliq");
    assert_eq!(item["submittedBy"]["fullname"], "AK");
    assert_eq!(
        item["submittedBy"]["avatarUrl"],
        "https://example.org/ak.png"
    );
    assert_eq!(item["organization"]["name"], "acme");
    assert_eq!(item["organization"]["fullname"], "Acme Research");
    assert_eq!(item["ai_summary"], "Middle paper in one sentence.");
    let paper = &item["paper"];
    assert_eq!(paper["publishedAt"], "2025-10-27T12:00:00.000Z");
    assert_eq!(paper["submittedOnDailyAt"], "2025-10-29T09:00:00.000Z");
    assert_eq!(paper["upvotes"], 40);
    assert_eq!(paper["ai_keywords"][0], "attention");
    assert_eq!(paper["githubRepo"], "https://github.com/acme/x");
    assert_eq!(paper["authors"][0]["name"], "Ada Lovelace");
    assert_eq!(paper["authors"][1]["user"]["user"], "aturing");
    assert!(paper["authors"][0]["_id"].is_string());
    // Without a date: the latest day; trending puts the most voted first.
    let (_, latest) = app.json("/api/daily_papers?sort=trending").await;
    assert_eq!(ids(&latest)[0], "2510.00003");
    let (_, week) = app.json("/api/daily_papers?week=2025-W44").await;
    assert_eq!(ids(&week).len(), 4);
    let (_, month) = app
        .json("/api/daily_papers?month=2025-10&submitter=akhaliq")
        .await;
    assert_eq!(ids(&month).len(), 4);
    let (_, nobody) = app
        .json("/api/daily_papers?month=2025-10&submitter=nobody")
        .await;
    assert_eq!(ids(&nobody).len(), 0);
    // A submitter without a window: all their papers, across days, newest first, paged.
    let r = app.get("/api/daily_papers?submitter=akhaliq&limit=3").await;
    let link = r.headers()["link"].to_str().expect("link").to_owned();
    assert_eq!(
        link,
        "</api/daily_papers?submitter=akhaliq&p=1&limit=3>; rel=\"next\""
    );
    let all: serde_json::Value = r.json().await.expect("json");
    assert_eq!(ids(&all), ["2510.00004", "2510.00003", "2510.00002"]);
    let (_, rest) = app
        .json("/api/daily_papers?submitter=akhaliq&p=1&limit=3")
        .await;
    assert_eq!(ids(&rest), ["2510.00001"]);
}

#[tokio::test]
async fn daily_pages_link_the_next_page_and_end_with_an_empty_list() {
    let app = seeded().await;
    let r = app.get("/api/daily_papers?week=2025-W44&limit=3").await;
    assert_eq!(r.status(), 200);
    let link = r.headers()["link"].to_str().expect("link").to_owned();
    assert_eq!(
        link,
        "</api/daily_papers?week=2025-W44&p=1&limit=3>; rel=\"next\""
    );
    let first: Value = r.json().await.expect("json");
    let r = app.get("/api/daily_papers?week=2025-W44&p=1&limit=3").await;
    assert!(
        r.headers().get("link").is_none(),
        "the last page links nothing"
    );
    let second: Value = r.json().await.expect("json");
    assert_eq!(ids(&first).len() + ids(&second).len(), 4);
    assert_eq!(ids(&second), ["2510.00001"]);
    let (status, past) = app
        .json("/api/daily_papers?week=2025-W44&p=50&limit=3")
        .await;
    assert_eq!(status, 200);
    assert_eq!(past, Value::Array(Vec::new()));
}

#[tokio::test]
async fn invalid_daily_parameters_are_json_400s_that_say_why() {
    let app = seeded().await;
    for q in [
        "date=2025-13-40",
        "date=yesterday",
        "week=2025-W60",
        "month=2025-13",
        "limit=0",
        "limit=101",
        "limit=ten",
        "p=-1",
        "sort=random",
    ] {
        let (status, body) = app.json(&format!("/api/daily_papers?{q}")).await;
        assert_eq!(status, 400, "{q}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.len() > 10),
            "{q}: {body}"
        );
    }
    // A malformed query string is decoded leniently, never a server error.
    let (status, _) = app.json("/api/daily_papers?date=%zz&&=&limit=%FF").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_paper_is_flat_with_linked_lists_and_unknown_ids_are_json_404s() {
    let app = seeded().await;
    let (status, p) = app.json("/api/papers/2510.00003v2").await;
    assert_eq!(status, 200);
    assert_eq!(p["id"], "2510.00003");
    assert_eq!(p["title"], "Middle paper");
    assert_eq!(p["numComments"], 2);
    assert_eq!(p["submittedOnDailyAt"], "2025-10-29T09:00:00.000Z");
    assert_eq!(p["submittedOnDailyBy"]["fullname"], "AK");
    for list in ["linkedModels", "linkedDatasets", "linkedSpaces"] {
        assert_eq!(p[list], Value::Array(Vec::new()));
    }
    assert_eq!(p["numTotalModels"], 0);
    let (status, e) = app.json("/api/papers/2599.99999").await;
    assert_eq!(status, 404);
    assert!(e["error"].as_str().expect("error").contains("2599.99999"));
    let (status, _) = app.json("/api/papers/not-an-id").await;
    assert_eq!(status, 404);
    let (status, repos) = app.json("/api/arxiv/2510.00003/repos").await;
    assert_eq!(status, 200);
    assert_eq!(repos["models"], Value::Array(Vec::new()));
    assert_eq!(repos["spaces"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn search_finds_every_word_and_highlights_the_matches() {
    let app = seeded().await;
    let (status, body) = app
        .json("/api/papers/search?q=middle%20PAPER&limit=5")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["2510.00003"]);
    let title = &body[0]["highlightedTitle"];
    assert_eq!(title[0]["type"], "highlight");
    assert_eq!(title[0]["text"], "Middle");
    assert_eq!(title[1]["type"], "text");
    assert_eq!(title[2]["text"], "paper");
    assert_eq!(body[0]["title"], "Middle paper");
    let (_, two) = app.json("/api/papers/search?q=attention&limit=2").await;
    assert_eq!(ids(&two).len(), 2);
    let (status, e) = app
        .json(&format!("/api/papers/search?q={}", "a".repeat(251)))
        .await;
    assert_eq!(status, 400);
    assert!(e["error"].as_str().expect("error").contains("250"));
    let (status, _) = app.json("/api/papers/search?q=x&limit=121").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_catalogue_pages_by_cursor_newest_first() {
    let app = seeded().await;
    let r = app.get("/api/papers?limit=3").await;
    let link = r.headers()["link"].to_str().expect("link").to_owned();
    let first: Value = r.json().await.expect("json");
    assert_eq!(ids(&first).len(), 3);
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.split_once(">;"))
        .expect("link target")
        .0
        .to_owned();
    let (_, second) = app.json(&next).await;
    let mut all = ids(&first);
    all.extend(ids(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "every paper once");
    let (status, _) = app.json("/api/papers?cursor=garbage").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_paper_reads_as_markdown() {
    let app = seeded().await;
    let r = app.get("/papers/2510.00003.md").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/markdown")
    );
    let md = r.text().await.expect("text");
    assert!(md.starts_with("# Middle paper\n"), "{md}");
    assert!(md.contains("Ada Lovelace, Alan Turing"));
    assert!(md.contains("## Abstract\n\nThe abstract of Middle paper"));
    assert_eq!(app.get("/papers/2599.99999.md").await.status(), 404);
    assert_eq!(
        app.get("/papers/2510.00003").await.status(),
        200,
        "the page still works"
    );
}

#[tokio::test]
async fn api_errors_are_json_with_the_right_status() {
    let app = seeded().await;
    let (status, e) = app.json("/api/nothing/here").await;
    assert_eq!(status, 404);
    assert!(e["error"].is_string());
    let r = app
        .http
        .delete(format!("{}/api/daily_papers", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 405);
    let e: Value = r.json().await.expect("json 405");
    assert!(e["error"].is_string());
    let user = app.user("ada").await;
    let token = app
        .store
        .create_api_token(user.id, "t")
        .await
        .expect("token")
        .secret;
    let (status, e) = app.index(Some(&token), "{not json").await;
    assert_eq!(status, 400, "{e}");
    let (status, _) = app.index(Some(&token), r#"{"arxivId": 42}"#).await;
    assert_eq!(status, 400);
    let big = format!(r#"{{"arxivId": "{}"}}"#, "1".repeat(64 * 1024));
    let (status, e) = app.index(Some(&token), &big).await;
    assert_eq!(status, 413, "{e}");
}

#[tokio::test]
async fn indexing_needs_a_token_and_puts_the_paper_on_today_once() {
    let app = seeded().await;
    let (status, e) = app.index(None, r#"{"arxivId": "2510.01234"}"#).await;
    assert_eq!(status, 401);
    assert!(e["error"].as_str().expect("error").contains("token"));
    let (status, _) = app
        .index(Some("pb_wrong"), r#"{"arxivId": "2510.01234"}"#)
        .await;
    assert_eq!(status, 401);
    let user = app.user("ada").await;
    let token = app
        .store
        .create_api_token(user.id, "t")
        .await
        .expect("token")
        .secret;
    let (status, _) = app.index(Some(&token), r#"{"arxivId": "not an id"}"#).await;
    assert_eq!(status, 400);
    let (status, p) = app
        .index(Some(&token), r#"{"arxivId": "2510.01234"}"#)
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["id"], "2510.01234");
    assert_eq!(p["submittedOnDailyBy"]["user"], "ada");
    let stored = app
        .store
        .paper(&ArxivId::parse("2510.01234").expect("id"))
        .await
        .expect("read")
        .expect("stored");
    let feed = stored.feed.expect("on the daily list");
    assert_eq!(feed.feed_date, Utc::now().date_naive());
    let before = app.store.stats().await.expect("stats");
    let (status, again) = app
        .index(Some(&token), r#"{"arxivId": "2510.01234v1"}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["title"], p["title"]);
    assert_eq!(
        app.store.stats().await.expect("stats"),
        before,
        "no duplicate"
    );
    let (status, _) = app
        .index(Some(&token), r#"{"arxivId": "2510.09999"}"#)
        .await;
    assert_eq!(status, 404, "arXiv does not know it");
}

#[tokio::test]
async fn writes_are_rate_limited_and_suspended_accounts_are_refused() {
    let app = seeded().await;
    let user = app.user("ada").await;
    let token = app
        .store
        .create_api_token(user.id, "t")
        .await
        .expect("token")
        .secret;
    let mut statuses = Vec::new();
    for _ in 0..=paperboy_web::api::WRITES_PER_MINUTE {
        statuses.push(
            app.index(Some(&token), r#"{"arxivId": "2510.00003"}"#)
                .await
                .0,
        );
    }
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 200));
    assert_eq!(statuses.last(), Some(&429));
    // The refusal says when to come back, in the header and the message.
    let r = app
        .index_response(Some(&token), r#"{"arxivId": "2510.00003"}"#)
        .await;
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("try again in")
    );

    let bob = app.user("bob").await;
    let bob_token = app
        .store
        .create_api_token(bob.id, "t")
        .await
        .expect("token")
        .secret;
    let conn = rusqlite::Connection::open(app.dir.path().join("api.sqlite")).expect("open");
    conn.execute("UPDATE users SET suspended = 1 WHERE username = 'bob'", [])
        .expect("suspend");
    let (status, e) = app
        .index(Some(&bob_token), r#"{"arxivId": "2510.00003"}"#)
        .await;
    assert_eq!(status, 403, "{e}");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_endpoint() {
    let app = seeded().await;
    let (status, doc) = app.json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    for path in [
        "/api/daily_papers",
        "/api/papers",
        "/api/papers/search",
        "/api/papers/{id}",
        "/api/papers/{id}/similar",
        "/api/recommendations",
        "/api/papers/index",
        "/api/arxiv/{id}/repos",
        "/papers/{id}.md",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_uses_the_engine_when_the_server_has_one() {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    let mut papers = Vec::new();
    for (i, (title, summary)) in [
        (
            "Diffusion models for protein design",
            "We generate proteins with denoising diffusion.",
        ),
        (
            "Sparse attention for long documents",
            "Linear-time attention over long contexts.",
        ),
        (
            "A survey of graph neural networks",
            "Message passing on graphs, reviewed.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = paperboy_core::NewPaper::new(
            paperboy_core::ArxivId::parse(&format!("2510.{:05}", i + 1)).expect("id"),
            title,
            summary,
            chrono::Utc::now(),
        );
        p.authors = vec![paperboy_core::NewAuthor::named("Ada Lovelace")];
        papers.push(p);
    }
    store.upsert_papers(&papers).await.expect("seed");
    let embedder = paperboy_search::StaticEmbedder::builtin_shared().expect("built-in embedder");
    let engine = paperboy_search::SearchEngine::open(&dir.path().join("data"), embedder)
        .expect("open engine");
    engine.catch_up(store.as_ref()).await.expect("catch up");
    let mut state = paperboy_web::AppState::new(store.clone());
    state.search = Some(std::sync::Arc::new(engine));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));

    // A stemmed word the plain word match would miss ("denoising" vs "denoise").
    let items: Vec<serde_json::Value> = reqwest::get(format!(
        "{base}/api/papers/search?q=denoise%20proteins&limit=2"
    ))
    .await
    .expect("search")
    .json()
    .await
    .expect("json");
    assert!(!items.is_empty() && items.len() <= 2, "{items:?}");
    assert_eq!(items[0]["paper"]["id"], "2510.00001");
    assert_eq!(items[0]["title"], "Diffusion models for protein design");
    let highlighted: Vec<&str> = items[0]["highlightedTitle"]
        .as_array()
        .expect("segments")
        .iter()
        .filter(|s| s["type"] == "highlight")
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(
        !highlighted.is_empty(),
        "the engine's highlights are returned: {items:?}"
    );
    // The search feed asks the engine too (the plain word match misses "denoise").
    let rss = reqwest::get(format!("{base}/feeds/rss/search?q=denoise%20proteins"))
        .await
        .expect("feed")
        .text()
        .await
        .expect("body");
    assert!(rss.contains("Diffusion models for protein design"), "{rss}");
}
