//! RSS 2.0 and Atom feeds, served by the real app and parsed back with `feed-rs`.

mod common;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef};

/// The shared harness over three papers of two days, two of them from one organization.
struct TestApp(common::TestApp);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn daily(id: &str, date: &str, votes: i64, title: &str, org: Option<&str>) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).expect("id"),
        title,
        format!("The abstract of {title} with <tags> & ampersands."),
        t("2025-10-27T12:00:00Z"),
    );
    p.authors = vec![
        NewAuthor::named("Ada Lovelace"),
        NewAuthor::named("Zoë Ångström"),
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
        organization: org.map(|o| OrgRef {
            name: o.into(),
            fullname: format!("{o} Research"),
            avatar_url: None,
        }),
    });
    p
}

impl TestApp {
    async fn spawn() -> Self {
        let app = common::TestApp::spawn().await;
        app.store
            .upsert_papers(&[
                daily(
                    "2510.00001",
                    "2025-10-28",
                    3,
                    "Older day paper",
                    Some("acme"),
                ),
                daily("2510.00002", "2025-10-29", 5, "Fewer votes paper", None),
                daily(
                    "2510.00003",
                    "2025-10-29",
                    40,
                    "Most voted paper",
                    Some("acme"),
                ),
            ])
            .await
            .expect("seed");
        Self(app)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.0.get(path).await
    }

    /// Fetches a feed in both formats, checks the content types, parses both and returns
    /// the entry titles (the same for both formats).
    async fn feed(&self, path: &str) -> (String, Vec<String>) {
        let mut titles = Vec::new();
        let mut feed_title = String::new();
        for (format, mime) in [
            ("rss", "application/rss+xml"),
            ("atom", "application/atom+xml"),
        ] {
            let r = self.get(&format!("/feeds/{format}/{path}")).await;
            assert_eq!(r.status(), 200, "{format} {path}");
            let ct = r.headers()["content-type"].to_str().expect("ct").to_owned();
            assert!(ct.starts_with(mime), "{ct}");
            let body = r.bytes().await.expect("body");
            let feed = feed_rs::parser::parse(&body[..])
                .unwrap_or_else(|e| panic!("{format} {path} does not parse: {e}"));
            let expected_type = if format == "rss" {
                feed_rs::model::FeedType::RSS2
            } else {
                feed_rs::model::FeedType::Atom
            };
            assert_eq!(feed.feed_type, expected_type);
            let these: Vec<String> = feed
                .entries
                .iter()
                .map(|e| e.title.as_ref().expect("entry title").content.clone())
                .collect();
            for e in &feed.entries {
                let link = &e.links.first().expect("entry link").href;
                assert!(link.starts_with(&self.0.base), "absolute link {link}");
                assert!(e.summary.is_some(), "entries have a summary");
            }
            if format == "atom" {
                let first = &feed.entries.first().expect("an entry");
                assert_eq!(first.authors[1].name, "Zoë Ångström");
                assert!(
                    first
                        .summary
                        .as_ref()
                        .expect("summary")
                        .content
                        .contains("<tags> & ampersands")
                );
            }
            if format == "rss" {
                titles = these;
                feed_title = feed.title.expect("feed title").content;
            } else {
                assert_eq!(these, titles, "RSS and Atom agree");
            }
        }
        (feed_title, titles)
    }
}

#[tokio::test]
async fn the_daily_feeds_list_the_latest_day_or_a_given_day() {
    let app = TestApp::spawn().await;
    let (_, latest) = app.feed("daily").await;
    assert_eq!(latest, ["Most voted paper", "Fewer votes paper"]);
    let (title, day) = app.feed("daily/2025-10-28").await;
    assert!(title.contains("2025-10-28"), "{title}");
    assert_eq!(day, ["Older day paper"]);
    assert_eq!(app.get("/feeds/rss/daily/2025-13-40").await.status(), 400);
    assert_eq!(app.get("/feeds/json/daily").await.status(), 404);
}

#[tokio::test]
async fn trending_search_organization_and_author_feeds_validate() {
    let app = TestApp::spawn().await;
    let (_, trending) = app.feed("trending").await;
    assert_eq!(trending[0], "Most voted paper");
    assert_eq!(trending.len(), 3, "the whole week of the latest day");
    let (_, found) = app.feed("search?q=voted").await;
    assert_eq!(found, ["Most voted paper"]);
    assert_eq!(app.get("/feeds/rss/search?q=").await.status(), 400);
    let (title, org) = app.feed("orgs/acme").await;
    assert!(title.contains("acme Research"), "{title}");
    assert_eq!(org, ["Most voted paper", "Older day paper"]);
    assert_eq!(app.get("/feeds/atom/orgs/nobody").await.status(), 404);
    let (title, by) = app.feed("authors/Zo%C3%AB%20%C3%85ngstr%C3%B6m").await;
    assert!(title.contains("Zoë Ångström"), "{title}");
    assert_eq!(by.len(), 3);
    assert_eq!(
        app.get("/feeds/rss/authors/Nobody%20Here").await.status(),
        404
    );
}

#[tokio::test]
async fn the_daily_page_links_its_feeds() {
    let app = TestApp::spawn().await;
    let html = app
        .get("/papers/date/2025-10-29")
        .await
        .text()
        .await
        .expect("html");
    for href in [
        "/feeds/rss/daily/2025-10-29",
        "/feeds/atom/daily/2025-10-29",
        "/feeds/rss/trending",
        "/feeds/atom/trending",
    ] {
        assert!(
            html.contains(r#"rel="alternate" type="application/"#)
                && html.contains(&format!(r#"href="{href}""#)),
            "{href}"
        );
    }
}

#[tokio::test]
async fn the_trending_feed_lists_what_the_trending_page_lists() {
    // The latest day is a Monday: the papers of the Sunday before belong to the trending
    // week (the 7 days ending with the latest day), not to that Monday's ISO week.
    let app = common::TestApp::spawn().await;
    app.store
        .upsert_papers(&[
            daily("2510.00001", "2025-10-26", 9, "Sunday paper", None),
            daily("2510.00002", "2025-10-27", 3, "Monday paper", None),
            daily("2510.00003", "2025-10-19", 50, "Old paper", None),
        ])
        .await
        .expect("seed");
    let page = app.html("/papers/trending").await;
    let feed = feed_rs::parser::parse(
        app.get("/feeds/rss/trending")
            .await
            .bytes()
            .await
            .expect("rss")
            .as_ref(),
    )
    .expect("rss");
    let mut titles: Vec<String> = feed
        .entries
        .iter()
        .filter_map(|e| e.title.as_ref().map(|t| t.content.clone()))
        .collect();
    titles.sort();
    assert_eq!(titles, ["Monday paper", "Sunday paper"]);
    for t in &titles {
        assert!(page.contains(t.as_str()), "{t} is on the page too");
    }
    assert!(!page.contains("Old paper"));
}
