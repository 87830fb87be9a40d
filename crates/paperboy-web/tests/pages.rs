//! The pages, served by the real app on a random port over a real SQLite file.

mod common;

use chrono::{DateTime, NaiveDate, Utc};
use common::TestApp;
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn daily(id: &str, date: &str, votes: i64, title: &str) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).expect("id"),
        title,
        format!("The abstract of {title}."),
        t("2025-10-27T12:00:00Z"),
    );
    p.authors = vec![
        NewAuthor::named("Ada Lovelace"),
        NewAuthor::named("Alan Turing"),
    ];
    p.source_upvotes = Some(votes);
    p.feed = Some(NewFeedEntry {
        feed_date: NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date"),
        submitted_at: t(&format!("{date}T08:00:00Z")),
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

#[tokio::test]
async fn the_home_page_shows_the_latest_day_ordered_by_upvotes() {
    let app = TestApp::spawn().await;
    app.store
        .upsert_papers(&[
            daily("2510.00001", "2025-10-28", 3, "Older day paper"),
            daily("2510.00002", "2025-10-29", 5, "Fewer votes paper"),
            daily("2510.00003", "2025-10-29", 40, "Most voted paper"),
        ])
        .await
        .expect("seed");
    let (status, html) = app.page("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Wednesday, October 29, 2025"), "{html}");
    let most = html.find("Most voted paper").expect("first card");
    let fewer = html.find("Fewer votes paper").expect("second card");
    assert!(most < fewer, "ordered by upvotes");
    assert!(!html.contains("Older day paper"));
    assert!(html.contains("Acme Research"));
    assert!(html.contains("2 authors"));
    assert!(
        html.contains(r#"href="/papers/date/2025-10-28""#),
        "link to the previous day"
    );
}

#[tokio::test]
async fn a_day_page_lists_that_day_and_links_both_neighbours() {
    let app = TestApp::spawn().await;
    app.store
        .upsert_papers(&[
            daily("2510.00001", "2025-10-27", 1, "Monday paper"),
            daily("2510.00002", "2025-10-28", 1, "Tuesday paper"),
            daily("2510.00003", "2025-10-30", 1, "Thursday paper"),
        ])
        .await
        .expect("seed");
    let (status, html) = app.page("/papers/date/2025-10-28").await;
    assert_eq!(status, 200);
    assert!(html.contains("Tuesday paper"));
    assert!(html.contains(r#"href="/papers/date/2025-10-27""#));
    assert!(html.contains(r#"href="/papers/date/2025-10-30""#));
    // An empty day sends the visitor to the nearest day with papers.
    let r = app.get("/papers/date/2025-10-29").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/papers/date/2025-10-28");
}

#[tokio::test]
async fn a_malformed_date_is_a_400_with_a_clear_message() {
    let app = TestApp::spawn().await;
    let (status, html) = app.page("/papers/date/2025-13-40").await;
    assert_eq!(status, 400);
    assert!(html.contains("expected YYYY-MM-DD"), "{html}");
}

#[tokio::test]
async fn a_paper_page_shows_its_metadata_and_links() {
    let app = TestApp::spawn().await;
    let mut p = daily("2510.00042", "2025-10-29", 12, "A paper about things");
    p.github_repo = Some("https://github.com/acme/things".into());
    p.github_stars = Some(321);
    p.keywords = vec!["things".into()];
    p.authors.push(NewAuthor {
        name: "Hidden Person".into(),
        hidden: true,
        hf_user: None,
    });
    app.store.upsert_papers(&[p]).await.expect("seed");
    let (status, html) = app.page("/papers/2510.00042").await;
    assert_eq!(status, 200);
    for expected in [
        "A paper about things",
        "Ada Lovelace",
        "Alan Turing",
        "The abstract of A paper about things.",
        "Acme Research",
        "https://arxiv.org/abs/2510.00042",
        "https://arxiv.org/pdf/2510.00042",
        "https://github.com/acme/things",
        "321",
        "12 upvotes",
        "0 comments",
    ] {
        assert!(html.contains(expected), "missing {expected:?}");
    }
    assert!(
        !html.contains("Hidden Person"),
        "hidden authors are not shown"
    );
    // A versioned id lands on the paper's one page.
    let r = app.get("/papers/2510.00042v2").await;
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(r.headers()["location"], "/papers/2510.00042");
}

#[tokio::test]
async fn unknown_and_malformed_paper_ids_are_404s() {
    let app = TestApp::spawn().await;
    let (status, html) = app.page("/papers/2510.99999").await;
    assert_eq!(status, 404);
    assert!(html.contains("does not know the paper 2510.99999"));
    let (status, html) = app.page("/papers/not-an-id").await;
    assert_eq!(status, 404);
    assert!(html.contains("is not an arXiv id"));
    let (status, _) = app.page("/no/such/page").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn hostile_text_is_escaped_and_every_page_carries_a_strict_csp() {
    let app = TestApp::spawn().await;
    let mut p = daily("2510.00007", "2025-10-29", 1, "<script>alert(1)</script>");
    p.summary = "<img src=x onerror=alert(2)> & more".into();
    p.authors = vec![NewAuthor::named("<b onmouseover=alert(3)>Eve</b>")];
    app.store.upsert_papers(&[p]).await.expect("seed");
    for path in ["/", "/papers/2510.00007"] {
        let r = app.get(path).await;
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let html = r.text().await.expect("body");
        assert!(!html.contains("<script>alert(1)"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(
            html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"),
            "{path}: the text is shown, escaped"
        );
    }
}

#[tokio::test]
async fn an_empty_site_says_how_to_get_papers() {
    let app = TestApp::spawn().await;
    let (status, html) = app.page("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("paperboy import"));
}

#[tokio::test]
async fn week_and_month_views_list_their_window_and_link_their_neighbours() {
    let app = TestApp::spawn().await;
    app.store
        .upsert_papers(&[
            daily("2510.00001", "2025-10-27", 2, "Monday of W44"),
            daily("2510.00002", "2025-11-02", 9, "Sunday of W44"),
            daily("2510.00003", "2025-11-03", 5, "Monday of W45"),
        ])
        .await
        .expect("seed");
    let (status, html) = app.page("/papers/week/2025-W44").await;
    assert_eq!(status, 200);
    let sunday = html.find("Sunday of W44").expect("listed");
    let monday = html.find("Monday of W44").expect("listed");
    assert!(sunday < monday, "by upvotes");
    assert!(!html.contains("Monday of W45"));
    assert!(
        html.contains(r#"href="/papers/week/2025-W43""#)
            && html.contains(r#"href="/papers/week/2025-W45""#)
    );
    let (_, html) = app.page("/papers/month/2025-11").await;
    assert!(
        html.contains("Monday of W45")
            && html.contains("Sunday of W44")
            && !html.contains("Monday of W44")
    );
    assert!(html.contains(r#"href="/papers/month/2025-10""#));
    for bad in ["/papers/week/2025-W99", "/papers/month/2025-13"] {
        let (status, _) = app.page(bad).await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[tokio::test]
async fn the_trending_view_favours_fresh_papers_and_the_date_picker_jumps_to_a_day() {
    let app = TestApp::spawn().await;
    app.store
        .upsert_papers(&[
            daily("2510.00001", "2025-10-23", 60, "Old but popular"),
            daily("2510.00002", "2025-10-29", 8, "Fresh and rising"),
            daily("2510.00003", "2025-10-01", 500, "Too old to trend"),
        ])
        .await
        .expect("seed");
    let (status, html) = app.page("/papers/trending").await;
    assert_eq!(status, 200);
    let fresh = html.find("Fresh and rising").expect("listed");
    let old = html.find("Old but popular").expect("listed");
    assert!(fresh < old, "gravity: fresh votes beat old ones");
    assert!(
        !html.contains("Too old to trend"),
        "only the last seven days"
    );
    let r = app.get("/papers?date=2025-10-23").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/papers/date/2025-10-23");
    let (status, _) = app.page("/papers?date=yesterday").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn latex_in_titles_and_abstracts_is_rendered_as_mathml() {
    let app = TestApp::spawn().await;
    let mut p = daily(
        "2510.00008",
        "2025-10-29",
        1,
        r"Attention in $\mathcal{O}(n)$ time",
    );
    p.summary = r"We prove $\sum_{i=1}^n i = \frac{n(n+1)}{2}$ & more.".into();
    app.store.upsert_papers(&[p]).await.expect("seed");
    let (_, html) = app.page("/papers/2510.00008").await;
    assert!(
        html.matches("<math").count() >= 2,
        "title and abstract formulas"
    );
    assert!(html.contains("<mfrac>"));
    let h1 = &html[html.find("<h1>").expect("h1")..html.find("</h1>").expect("end of h1")];
    assert!(!h1.contains(r"$\mathcal") && h1.contains("<math"), "{h1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_page_shows_engine_results_with_highlights_and_escapes_the_query() {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    store
        .upsert_papers(&[
            daily(
                "2510.00001",
                "2025-10-29",
                3,
                "Diffusion models for protein design",
            ),
            daily(
                "2510.00002",
                "2025-10-29",
                9,
                "Sparse attention for long documents",
            ),
        ])
        .await
        .expect("seed");
    let embedder = paperboy_search::StaticEmbedder::builtin_shared().expect("embedder");
    let engine =
        paperboy_search::SearchEngine::open(&dir.path().join("data"), embedder).expect("engine");
    engine.catch_up(store.as_ref()).await.expect("catch up");
    let mut state = paperboy_web::AppState::new(store.clone());
    state.search = Some(std::sync::Arc::new(engine));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));

    let html = reqwest::get(format!("{base}/search?q=proteins"))
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let first = html
        .find("/papers/2510.00001")
        .expect("the protein paper is found");
    assert!(
        html.find("/papers/2510.00002")
            .is_none_or(|other| first < other),
        "ranked first"
    );
    assert!(html.contains("<mark>"), "matched words highlighted");
    assert!(
        html.contains(r#"action="/search""#),
        "the header carries the query box"
    );

    let r = reqwest::get(format!("{base}/search?q=%3Cscript%3Ealert(1)%3C/script%3E"))
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("body");
    assert!(!html.contains("<script>alert(1)"), "the query is escaped");
    let long = "x".repeat(251);
    let r = reqwest::get(format!("{base}/search?q={long}"))
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_papers_wait_for_their_vectors_the_search_page_finds_them_by_words_and_says_so() {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    store
        .upsert_papers(&[
            daily(
                "2510.00001",
                "2025-10-29",
                3,
                "Diffusion models for protein design",
            ),
            daily(
                "2510.00002",
                "2025-10-29",
                9,
                "Sparse attention for long documents",
            ),
        ])
        .await
        .expect("seed");
    // The built-in embedder run the way a transformer is: text now, vectors in the background.
    let embedder = paperboy_search::StaticEmbedder::builtin_shared().expect("embedder");
    let mut engine =
        paperboy_search::SearchEngine::open(&dir.path().join("data"), embedder).expect("engine");
    engine.set_deferred_embedding(true);
    engine.catch_up(store.as_ref()).await.expect("catch up");
    let engine = std::sync::Arc::new(engine);
    let mut state = paperboy_web::AppState::new(store.clone());
    state.search = Some(engine.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));
    let page = |q: &'static str| {
        let base = base.clone();
        async move {
            reqwest::get(format!("{base}/search?q={q}"))
                .await
                .expect("get")
                .text()
                .await
                .expect("body")
        }
    };

    let html = page("protein").await;
    assert!(html.contains("/papers/2510.00001"), "found by its words");
    assert!(
        html.contains("Results by meaning are partial: 0 of 2 papers are embedded"),
        "the page says so"
    );
    engine.backfill(store.as_ref(), 10).await.expect("backfill");
    let html = page("protein").await;
    assert!(html.contains("/papers/2510.00001"));
    assert!(
        !html.contains("Results by meaning are partial"),
        "every paper is embedded"
    );
}

#[tokio::test]
async fn without_an_engine_the_search_page_falls_back_to_the_word_match() {
    let app = TestApp::spawn().await;
    app.store
        .upsert_papers(&[daily(
            "2510.00003",
            "2025-10-29",
            1,
            "Graph neural networks reviewed",
        )])
        .await
        .expect("seed");
    let (status, html) = app.page("/search?q=graph%20neural").await;
    assert_eq!(status, 200);
    assert!(html.contains("/papers/2510.00003"));
    let (_, html) = app.page("/search?q=nothing%20like%20this").await;
    assert!(html.contains("No paper matches"));
}

#[tokio::test]
async fn a_page_number_past_the_last_one_is_a_clear_400() {
    let app = TestApp::spawn().await;
    for path in [
        "/papers/trending?p=101",
        "/papers/week/2025-W44?p=101",
        "/papers/month/2025-10?p=5000",
    ] {
        let (status, html) = app.page(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(html.contains("Page numbers go up to 100"), "{path}");
    }
    assert_eq!(app.page("/papers/trending?p=100").await.0, 200);
}
