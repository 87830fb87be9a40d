//! A real headless Chromium (Debian's, driven through chromedriver) uses the site as a
//! person would: opens the feed, changes day, opens a paper, signs up, signs in, upvotes,
//! comments, submits a paper, searches. It also visits pages whose stored titles, abstracts, author
//! names and comments are hostile, and checks that no injected script ran.
//! Screenshots land in `$CARGO_TARGET_TMPDIR/screenshots/`.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef};
use paperboy_store::Store;

/// The marker every hostile payload tries to set.
const PWNED: &str = "window.__pwned";

fn hostile_payloads() -> Vec<&'static str> {
    vec![
        "<script>window.__pwned=1</script>",
        "<img src=x onerror=\"window.__pwned=2\">",
        "<svg onload=\"window.__pwned=3\"></svg>",
        r"$\href{javascript:window.__pwned=4}{click}$",
        r"$\htmlData{onclick=window.__pwned=5}{x}$",
        "<a href=\"javascript:window.__pwned=6\">x</a>",
        "\"><script>window.__pwned=7</script>",
    ]
}

struct Driver {
    process: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn find_binary(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

async fn start_driver() -> Option<(Driver, Client)> {
    start_driver_with(&[]).await
}

/// A driver whose Chromium gets `extra` command-line arguments too.
async fn start_driver_with(extra: &[String]) -> Option<(Driver, Client)> {
    let Some(chromedriver) = find_binary(&["/usr/bin/chromedriver"]) else {
        paperboy_testkit::skip(
            "chromedriver is not installed (apt-get install chromium chromium-driver)",
        );
        return None;
    };
    let Some(chromium) = find_binary(&["/usr/bin/chromium"]) else {
        paperboy_testkit::skip("chromium is not installed (apt-get install chromium)");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let process = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver {
        process,
        url,
        _profile: profile,
    };
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,1000",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(format!(
        "--user-data-dir={}",
        driver._profile.path().display()
    ));
    args.extend(extra.iter().cloned());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    let started = Instant::now();
    loop {
        // chromedriver speaks plain http on loopback: no TLS stack needed.
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.clone());
        match builder.connect(&driver.url).await {
            Ok(client) => return Some((driver, client)),
            Err(e) if started.elapsed() > Duration::from_secs(30) => panic!("chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn spawn_app() -> (String, Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    let mut state = paperboy_web::AppState::new(store.clone());
    // Plain http on loopback: cookies without `Secure` so every browser keeps them.
    state.cookies = paperboy_web::auth::CookiePolicy { secure: false };
    state.arxiv = paperboy_ingest::ArxivClient::new(&common::fake_arxiv().await, Duration::ZERO);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));
    (base, store, dir)
}

fn daily(id: &str, date: &str, votes: i64, title: &str, summary: &str, author: &str) -> NewPaper {
    let mut p = NewPaper::new(ArxivId::parse(id).expect("id"), title, summary, Utc::now());
    p.authors = vec![NewAuthor::named(author), NewAuthor::named("Alan Turing")];
    p.source_upvotes = Some(votes);
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
    p.feed = Some(NewFeedEntry {
        feed_date: day,
        submitted_at: day.and_hms_opt(9, 0, 0).expect("time").and_utc(),
        submitter: Some(UserRef {
            username: "akhaliq".into(),
            fullname: "AK".into(),
            avatar_url: None,
        }),
        organization: Some(OrgRef {
            name: "acme".into(),
            fullname: "Acme Research".into(),
            avatar_url: None,
        }),
    });
    p
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

async fn not_pwned(client: &Client) -> bool {
    client
        .execute(&format!("return typeof {PWNED} === 'undefined';"), vec![])
        .await
        .expect("run check")
        .as_bool()
        .unwrap_or(false)
}

/// Waits until the page's HTML contains `text` (a click that submits a form returns before
/// the next page has loaded).
async fn wait_for_text(client: &Client, text: &str) -> String {
    let started = Instant::now();
    loop {
        let html = client.source().await.expect("html");
        if html.contains(text) {
            return html;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never saw {text:?} in {html}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page's address ends with `path`.
async fn wait_for_path(client: &Client, path: &str) {
    let started = Instant::now();
    loop {
        let url = client.current_url().await.expect("url");
        if url.path().ends_with(path) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never reached {path}: at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.expect(css);
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_reads_signs_up_upvotes_comments_and_submits_in_a_real_browser() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let (base, store, _dir) = spawn_app().await;
    store
        .upsert_papers(&[
            daily(
                "2510.00001",
                "2025-10-28",
                3,
                "Yesterday's paper",
                "About yesterday.",
                "Ada Lovelace",
            ),
            daily(
                "2510.00002",
                "2025-10-29",
                7,
                r"Attention in $\mathcal{O}(n)$",
                "A fast attention.",
                "Grace Hopper",
            ),
        ])
        .await
        .expect("seed");

    client.goto(&format!("{base}/")).await.expect("open feed");
    let heading = client
        .find(Locator::Css("h2.window"))
        .await
        .expect("heading")
        .text()
        .await
        .expect("text");
    assert!(heading.contains("October 29, 2025"), "{heading}");
    screenshot(&client, "feed").await;

    client
        .find(Locator::Css("a[rel=prev]"))
        .await
        .expect("previous day")
        .click()
        .await
        .expect("click");
    wait_for_path(&client, "/papers/date/2025-10-28").await;
    assert!(
        client
            .source()
            .await
            .expect("html")
            .contains("Yesterday's paper")
    );

    client
        .goto(&format!("{base}/papers/date/2025-10-29"))
        .await
        .expect("back");
    client
        .find(Locator::Css(".card h3 a"))
        .await
        .expect("paper link")
        .click()
        .await
        .expect("click");
    wait_for_path(&client, "/papers/2510.00002").await;
    screenshot(&client, "paper").await;

    // Sign up.
    client
        .goto(&format!("{base}/signup"))
        .await
        .expect("signup page");
    fill(&client, "#username", "ada").await;
    fill(&client, "#fullname", "Ada Lovelace").await;
    fill(&client, "#email", "ada@example.org").await;
    fill(&client, "#password", "correct horse battery").await;
    client
        .find(Locator::Css("form[action='/signup'] button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    wait_for_text(&client, "Sign out").await;

    // Sign out, then sign in again.
    client
        .find(Locator::Css("form[action='/signout'] button"))
        .await
        .expect("sign out")
        .click()
        .await
        .expect("click");
    wait_for_text(&client, "Sign up").await;
    client
        .goto(&format!("{base}/signin"))
        .await
        .expect("signin page");
    fill(&client, "#username", "ada").await;
    fill(&client, "#password", "correct horse battery").await;
    client
        .find(Locator::Css("form[action='/signin'] button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    wait_for_text(&client, "Sign out").await;

    // Upvote and comment on the paper.
    client
        .goto(&format!("{base}/papers/2510.00002"))
        .await
        .expect("paper");
    client
        .find(Locator::Css("form.votes button"))
        .await
        .expect("upvote")
        .click()
        .await
        .expect("click");
    wait_for_text(&client, "aria-pressed=\"true\"").await;
    let pressed = client
        .find(Locator::Css("form.votes button"))
        .await
        .expect("button")
        .attr("aria-pressed")
        .await
        .expect("attr");
    assert_eq!(pressed.as_deref(), Some("true"));
    assert_eq!(
        store
            .paper(&ArxivId::parse("2510.00002").expect("id"))
            .await
            .expect("read")
            .expect("paper")
            .upvotes,
        8
    );
    fill(&client, "#comment-body", "Great **result**, and $x^2$ too.").await;
    client
        .find(Locator::Css(".comment-form button"))
        .await
        .expect("comment")
        .click()
        .await
        .expect("click");
    wait_for_text(&client, "class=\"comment-body\"").await;
    let body = client
        .find(Locator::Css(".comment-body"))
        .await
        .expect("comment shown")
        .html(true)
        .await
        .expect("html");
    assert!(
        body.contains("<strong>result</strong>") && body.contains("<math"),
        "{body}"
    );
    screenshot(&client, "paper-with-comment").await;

    // Submit a paper by its arXiv id.
    client
        .goto(&format!("{base}/submit"))
        .await
        .expect("submit page");
    fill(&client, "#arxiv_id", "2510.03456").await;
    client
        .find(Locator::Css("form[action='/submit'] button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    wait_for_path(&client, "/papers/2510.03456").await;
    wait_for_text(
        &client,
        "Grounded Retrieval for Low-Resource Machine Translation",
    )
    .await;
    let today = store
        .paper(&ArxivId::parse("2510.03456").expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(today.feed.expect("feed").feed_date, Utc::now().date_naive());

    // Search from the header's query box.
    fill(&client, "#header-q", "Grounded Retrieval").await;
    // Enter submits the header's one-field form, as a person would.
    client
        .find(Locator::Css("#header-q"))
        .await
        .expect("query box")
        .send_keys("\u{E007}")
        .await
        .expect("press Enter");
    wait_for_path(&client, "/search").await;
    wait_for_text(&client, "/papers/2510.03456").await;
    screenshot(&client, "search").await;

    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_titles_abstracts_authors_and_comments_run_no_script_in_a_real_browser() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let (base, store, _dir) = spawn_app().await;
    let payloads = hostile_payloads();
    let papers: Vec<NewPaper> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| daily(&format!("2510.{:05}", i + 1), "2025-10-29", 1, p, p, p))
        .collect();
    store.upsert_papers(&papers).await.expect("seed");
    let user = store
        .create_user(&paperboy_store::NewUser {
            username: paperboy_core::Username::parse("mallory").expect("name"),
            fullname: "<script>window.__pwned=8</script>".into(),
            email: None,
            password_hash: None,
            is_admin: false,
        })
        .await
        .expect("user");
    for p in &payloads {
        store
            .add_comment(&paperboy_store::NewComment {
                paper: ArxivId::parse("2510.00001").expect("id"),
                user_id: user.id,
                parent_id: None,
                body: (*p).to_owned(),
            })
            .await
            .expect("comment");
    }
    let mut pages = vec![
        "/".to_owned(),
        "/papers/trending".to_owned(),
        "/papers/week/2025-W44".to_owned(),
    ];
    pages.extend((1..=payloads.len()).map(|i| format!("/papers/2510.{i:05}")));
    for path in pages {
        client.goto(&format!("{base}{path}")).await.expect("open");
        // Click everything clickable inside the content: a `javascript:` link would fire here.
        for link in client
            .find_all(Locator::Css("main a, main math"))
            .await
            .expect("links")
        {
            let href = link.attr("href").await.ok().flatten().unwrap_or_default();
            assert!(
                !href.trim_start().to_lowercase().starts_with("javascript:"),
                "{path}: {href}"
            );
        }
        assert!(not_pwned(&client).await, "an injected script ran on {path}");
    }
    screenshot(&client, "hostile-paper").await;
    client.close().await.expect("close");
}

/// Issue #13, items 9 and 10: a server with secure cookies reached over plain http at a LAN
/// name (`http://nas.lan`) says on the page, and on the form that then fails, why and what to
/// do; a request naming another host (`evil.example`) gets links to the base URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_a_lan_name_is_explained_and_links_ignore_a_foreign_host() {
    let rules = "--host-resolver-rules=MAP nas.lan 127.0.0.1, MAP evil.example 127.0.0.1";
    let Some((_driver, client)) = start_driver_with(&[rules.to_owned()]).await else {
        return;
    };
    let (store, _dir) = paperboy_testkit::sqlite_store().await;
    store
        .upsert_papers(&[daily(
            "2510.00001",
            "2025-10-29",
            1,
            "A paper",
            "An abstract.",
            "Ada Lovelace",
        )])
        .await
        .expect("seed");
    // As `paperboy serve` runs by default: `Secure`, `__Host-` cookies.
    let mut state = paperboy_web::AppState::new(store.clone());
    state.origin = Arc::new(
        paperboy_web::origin::SiteOrigin::new(Some("https://papers.example.org"), &[])
            .expect("origin"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));

    // Loopback is a secure context: no warning there.
    client
        .goto(&format!("http://127.0.0.1:{port}/"))
        .await
        .expect("open");
    let html = client.source().await.expect("html");
    assert!(!html.contains("--insecure-cookies"), "{html}");

    client
        .goto(&format!("http://nas.lan:{port}/"))
        .await
        .expect("open");
    let banner = client
        .find(Locator::Css("p.warning"))
        .await
        .expect("a warning on the page")
        .text()
        .await
        .expect("text");
    assert!(banner.contains("--insecure-cookies"), "{banner}");
    assert!(banner.contains("TLS proxy"), "{banner}");
    screenshot(&client, "plain-http-warning").await;
    // The browser kept no cookie: the footer's form fails, and says why.
    fill(&client, "#subscribe-email", "ada@example.org").await;
    client
        .find(Locator::Css("form.subscribe button"))
        .await
        .expect("subscribe button")
        .click()
        .await
        .expect("submit");
    let html = wait_for_text(&client, "This form has expired").await;
    assert!(html.contains("--insecure-cookies"), "{html}");
    assert!(html.contains("TLS proxy"), "{html}");

    client
        .goto(&format!("http://evil.example:{port}/papers/2510.00001"))
        .await
        .expect("open");
    let canonical = client
        .execute(
            "return document.querySelector('link[rel=canonical]').getAttribute('href');",
            vec![],
        )
        .await
        .expect("canonical");
    assert_eq!(
        canonical.as_str(),
        Some("https://papers.example.org/papers/2510.00001")
    );
    // Fetched from within the page: from the same (foreign) host.
    let feed = client
        .execute(
            "return fetch('/feeds/atom/daily').then(r => r.text());",
            vec![],
        )
        .await
        .expect("feed");
    let feed = feed.as_str().unwrap_or_default();
    assert!(!feed.contains("evil.example"), "{feed}");
    assert!(
        feed.contains("https://papers.example.org/papers/2510.00001"),
        "{feed}"
    );
    client.close().await.expect("close");
}
