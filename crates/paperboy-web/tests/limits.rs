//! Bounds and error polish (issue 13, items 3 and 12), on the real app over HTTP: password
//! hashes capped per server (queue, then 503 with `Retry-After`); every error answered with the
//! site's page (or the API's JSON) — 405, 413, 414, malformed query strings, forms and paths —
//! and never with storage internals; week and month pages that link only to pages that exist;
//! `?p=` taken by every list page; and an API page past the end that is `[]`.

use std::sync::Arc;
use std::time::Duration;

use paperboy_core::{ArxivId, NewFeedEntry, NewPaper};
use paperboy_store::Store;
use paperboy_web::auth::Hashers;

/// A running app and what the tests look into.
struct App {
    base: String,
    store: Arc<dyn Store>,
    hashers: Arc<Hashers>,
    _dir: tempfile::TempDir,
}

async fn spawn(hashers: Hashers) -> App {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let hashers = Arc::new(hashers);
    let mut state = paperboy_web::AppState::new(store.clone());
    state.cookies = paperboy_web::auth::CookiePolicy { secure: false };
    state.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")].into();
    state.hashers = hashers.clone();
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));
    App {
        base,
        store,
        hashers,
        _dir: dir,
    }
}

async fn app() -> App {
    spawn(Hashers::default()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A request carrying a CSRF cookie and returning its token, as a browser's form would.
fn with_csrf(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    request.header("cookie", format!("pb_csrf={token}"))
}

/// The CSRF token of this browser's forms (its cookie set on the way).
async fn csrf(http: &reqwest::Client, base: &str) -> String {
    let html = http
        .get(format!("{base}/signin"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let at = html.find("name=\"csrf_token\" value=\"").expect("a form") + 25;
    html[at..at + html[at..].find('"').expect("end")].to_owned()
}

/// Status, content type and body.
async fn read(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, r.text().await.expect("body"))
}

fn assert_site_page(status: u16, ct: &str, body: &str, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(
        ct.starts_with("text/html"),
        "{expected}: the site's page, not {ct}: {body}"
    );
    assert!(
        body.contains("<!doctype html") || body.contains("<!DOCTYPE html"),
        "{body}"
    );
    for axum_text in ["Failed to deserialize", "Failed to parse", "Invalid URL"] {
        assert!(!body.contains(axum_text), "axum's wording leaked: {body}");
    }
}

fn assert_api_error(status: u16, ct: &str, body: &str, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(ct.starts_with("application/json"), "{ct}: {body}");
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
}

async fn seed_day(store: &Arc<dyn Store>, day: &str, n: u32) {
    let date = paperboy_core::dates::parse_day(day).expect("day");
    let at = date.and_hms_opt(9, 0, 0).expect("time").and_utc();
    let papers: Vec<NewPaper> = (0..n)
        .map(|i| {
            let mut p = NewPaper::new(
                ArxivId::parse(&format!("2503.{:05}", 10_000 + i)).expect("id"),
                format!("Zebra paper {i}"),
                "About zebras and their stripes.",
                at,
            );
            p.feed = Some(NewFeedEntry {
                feed_date: date,
                submitted_at: at,
                submitter: None,
                organization: None,
            });
            p
        })
        .collect();
    store.upsert_papers(&papers).await.expect("seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_never_run_more_hashes_than_the_cap() {
    let app = spawn(Hashers::new(2, Duration::from_secs(60))).await;
    let http = client();
    let token = paperboy_web::auth::new_token();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let request = with_csrf(http.post(format!("{}/signin", app.base)), &token)
            .header("x-forwarded-for", format!("10.0.0.{}", i + 1))
            .form(&[
                ("username", format!("nobody{i}")),
                ("password", "wrong password".into()),
                ("csrf_token", token.clone()),
            ]);
        tasks.spawn(async move { request.send().await.expect("POST").status().as_u16() });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("task"), 401, "a wrong password is refused");
    }
    assert_eq!(app.hashers.max(), 2);
    assert!(
        (1..=2).contains(&app.hashers.peak()),
        "{} hashes ran at once; the cap is 2",
        app.hashers.peak()
    );
    assert_eq!(app.hashers.in_flight(), 0);
}

#[tokio::test]
async fn a_sign_in_that_cannot_get_a_hasher_in_time_is_a_503_with_retry_after() {
    let app = spawn(Hashers::new(1, Duration::ZERO)).await;
    let held = app.hashers.permit().await.expect("the only hasher");
    let token = paperboy_web::auth::new_token();
    let r = with_csrf(client().post(format!("{}/signin", app.base)), &token)
        .form(&[
            ("username", "somebody"),
            ("password", "any password"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let (status, ct, body) = read(r).await;
    assert_site_page(status, &ct, &body, 503);
    assert!(body.contains("try again"), "{body}");
    drop(held);
}

#[tokio::test]
async fn a_method_a_route_does_not_serve_is_a_405_page_not_a_403() {
    let app = app().await;
    let http = client();
    for path in ["/signin", "/signup", "/papers/2503.10000/upvote"] {
        let r = http
            .put(format!("{}{path}", app.base))
            .body("x")
            .send()
            .await
            .expect("PUT");
        // No `Allow` guess: axum sets it only on an unlayered router, and a wrong list is
        // worse than none (schemathesis checks it against the OpenAPI document).
        assert!(
            r.headers()
                .get("allow")
                .is_none_or(|v| v.as_bytes() != b"GET, HEAD, POST"),
            "{path}: a guessed Allow header"
        );
        let (status, ct, body) = read(r).await;
        assert_site_page(status, &ct, &body, 405);
        assert!(body.contains("PUT"), "{body}");
    }
    let (status, ct, body) = read(
        http.delete(format!("{}/api/daily_papers", app.base))
            .send()
            .await
            .expect("DELETE"),
    )
    .await;
    assert_api_error(status, &ct, &body, 405);
}

#[tokio::test]
async fn a_too_long_address_is_a_414_with_a_body() {
    let app = app().await;
    let http = client();
    let long = "x".repeat(9 * 1024);
    let (status, ct, body) = read(
        http.get(format!("{}/search?q={long}", app.base))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_site_page(status, &ct, &body, 414);
    assert!(body.contains("too long"), "{body}");
    let (status, ct, body) = read(
        http.get(format!("{}/api/daily_papers?q={long}", app.base))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_api_error(status, &ct, &body, 414);
    // Just under the bound is served as usual.
    let fine = "x".repeat(7 * 1024);
    let (status, _, _) = read(
        http.get(format!("{}/papers/trending?pad={fine}", app.base))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_too_large_body_is_a_413_page_or_json() {
    let app = app().await;
    let http = client();
    let token = paperboy_web::auth::new_token();
    let big = "y".repeat(paperboy_web::MAX_BODY_BYTES + 1);
    let (status, ct, body) = read(
        with_csrf(http.post(format!("{}/signin", app.base)), &token)
            .form(&[("username", big.as_str()), ("csrf_token", token.as_str())])
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_site_page(status, &ct, &body, 413);
    let (status, ct, body) = read(
        http.post(format!("{}/api/papers/index", app.base))
            .header("content-type", "application/json")
            .body(format!("{{\"arxiv_id\":\"{big}\"}}"))
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert!(status == 413 || status == 401, "{status}");
    assert_api_error(status, &ct, &body, status);
}

#[tokio::test]
async fn malformed_query_strings_forms_and_paths_get_the_sites_page() {
    let app = app().await;
    let http = client();
    for path in [
        "/papers/trending?p=abc",
        "/papers/month/2025-03?p=-1",
        "/papers/date/2025-03-03?p=x",
        "/search?q=a&p=many",
    ] {
        let (status, ct, body) = read(
            http.get(format!("{}{path}", app.base))
                .send()
                .await
                .expect("GET"),
        )
        .await;
        assert_site_page(status, &ct, &body, 400);
    }
    // A form without its fields: the site's 400 page, not axum's 422.
    let token = paperboy_web::auth::new_token();
    let (status, ct, body) = read(
        with_csrf(http.post(format!("{}/signin", app.base)), &token)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_site_page(status, &ct, &body, 400);
    // A path segment that does not parse names no page.
    let (status, ct, body) = read(
        with_csrf(
            http.post(format!("{}/comments/abc/delete", app.base)),
            &token,
        )
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("POST"),
    )
    .await;
    assert!(status == 404 || status == 303, "{status}: {body}");
    if status == 404 {
        assert_site_page(status, &ct, &body, 404);
    }
}

#[tokio::test]
async fn a_404_never_shows_storage_internals() {
    let app = app().await;
    let http = client();
    let token = csrf(&http, &app.base).await;
    let r = http
        .post(format!("{}/signup", app.base))
        .form(&[
            ("username", "ada"),
            ("fullname", "Ada"),
            ("email", "ada@example.org"),
            ("password", "correct horse"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .expect("sign up");
    assert_eq!(r.status().as_u16(), 303, "{:?}", r.headers());
    let (status, ct, body) = read(
        http.post(format!("{}/comments/107/delete", app.base))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_site_page(status, &ct, &body, 404);
    assert!(
        !body.contains("storage") && !body.contains("comment 107"),
        "{body}"
    );
}

/// The `href`s of a page that point at other list pages.
fn list_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|h| {
            h.starts_with("/papers/date/")
                || h.starts_with("/papers/week/")
                || h.starts_with("/papers/month/")
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn week_and_month_pages_at_the_ends_of_the_calendar_link_only_to_pages_that_exist() {
    let app = app().await;
    let http = client();
    for page in [
        "/papers/week/9999-W52",
        "/papers/month/9999-12",
        "/papers/week/0000-W01",
        "/papers/month/0000-01",
        "/papers/date/9999-12-31",
        "/papers/week/2025-W10",
    ] {
        let (status, _, html) = read(
            http.get(format!("{}{page}", app.base))
                .send()
                .await
                .expect("GET"),
        )
        .await;
        assert_eq!(status, 200, "{page}: {html}");
        for link in list_links(&html) {
            let status = http
                .get(format!("{}{link}", app.base))
                .send()
                .await
                .expect("GET")
                .status()
                .as_u16();
            assert!(
                status == 200 || status == 303,
                "{page} links to {link}, which answers {status}"
            );
        }
    }
    // An ordinary week still links both ways.
    let html = http
        .get(format!("{}/papers/week/2025-W10", app.base))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(html.contains("/papers/week/2025-W09") && html.contains("/papers/week/2025-W11"));
}

#[tokio::test]
async fn every_list_page_takes_p_and_search_pages_by_thirty() {
    let app = app().await;
    seed_day(&app.store, "2025-03-03", 70).await;
    let http = client();
    for path in [
        "/?p=1",
        "/papers?p=0",
        "/papers/date/2025-03-03?p=1",
        "/papers/week/2025-W10?p=1",
        "/papers/month/2025-03?p=1",
        "/papers/trending?p=1",
        "/search?q=zebra&p=1",
    ] {
        let (status, ct, body) = read(
            http.get(format!("{}{path}", app.base))
                .send()
                .await
                .expect("GET"),
        )
        .await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(ct.starts_with("text/html"));
    }
    let cards = |html: &str| html.matches("class=\"card\"").count();
    let first = http
        .get(format!("{}/search?q=zebra", app.base))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert_eq!(cards(&first), 30, "a page of thirty");
    let more = first
        .split("<p class=\"more\"><a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the next page");
    assert!(
        more.starts_with("/search?q=zebra&") && more.ends_with("p=1"),
        "{more}"
    );
    let third = http
        .get(format!("{}/search?q=zebra&p=2", app.base))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert_eq!(cards(&third), 10, "the rest");
    assert!(!third.contains("More results"));
    // Past the cap: the site's 400 page.
    let (status, ct, body) = read(
        http.get(format!("{}/search?q=zebra&p=10", app.base))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_site_page(status, &ct, &body, 400);
}

#[tokio::test]
async fn an_api_page_past_the_end_is_an_empty_list() {
    let app = app().await;
    seed_day(&app.store, "2025-03-03", 5).await;
    let http = client();
    for query in [
        "date=2025-03-03&p=100000",
        "date=2025-03-03&p=1",
        "month=2025-03&p=101&limit=100",
        "p=9223372036854775807",
    ] {
        let r = http
            .get(format!("{}/api/daily_papers?{query}", app.base))
            .send()
            .await
            .expect("GET");
        assert!(r.headers().get("link").is_none(), "{query}: no next page");
        let (status, _, body) = read(r).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body, "[]", "{query}");
    }
    // Past the document's int64 the number itself is invalid: a 400, as for `p=x`.
    for query in ["p=9223372036854775808", "p=99999999999999999999999", "p=x"] {
        let (status, ct, body) = read(
            http.get(format!("{}/api/daily_papers?{query}", app.base))
                .send()
                .await
                .expect("GET"),
        )
        .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(ct.starts_with("application/json"), "{query}: {ct}");
        assert!(body.contains("page number"), "{query}: {body}");
    }
    let (status, _, body) = read(
        http.get(format!(
            "{}/api/daily_papers?date=2025-03-03&p=0&limit=2",
            app.base
        ))
        .send()
        .await
        .expect("GET"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&body)
            .expect("JSON")
            .len(),
        2
    );
    let (status, ct, body) = read(
        http.get(format!("{}/api/daily_papers?p=abc", app.base))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_api_error(status, &ct, &body, 400);
}
