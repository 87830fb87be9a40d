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

/// Text as a feed reader shows it: XML-illegal characters gone, whitespace runs as one space.
fn shown(s: &str) -> String {
    paperboy_web::feeds::xml_text(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// HTML text back to plain text (the escapes `feeds::html_text` makes).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every element name of an XML document; panics if it is not well-formed XML.
fn xml_elements(body: &[u8]) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut names = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                // Every character must be one XML 1.0 allows.
                let text = String::from_utf8_lossy(t.as_ref()).into_owned();
                assert_eq!(
                    text,
                    paperboy_web::feeds::xml_text(&text),
                    "illegal characters"
                );
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML at {}: {e}", reader.buffer_position()),
        }
        buf.clear();
    }
    names
}

/// Issue #13, item 4: titles, abstracts and author names from the hostile corpus go through
/// RSS and Atom as text. RSS's `<description>` (which readers render as HTML) holds escaped
/// HTML; no element of the hostile text becomes a feed element or a tag in the description;
/// XML-illegal characters are dropped, so both feeds stay well-formed XML; a real feed parser
/// gives back the text.
#[tokio::test]
async fn hostile_records_stay_text_in_rss_and_atom() {
    let app = common::TestApp::spawn().await;
    let corpus = paperboy_testkit::hostile::corpus();
    // Two days, so that every entry fits in a feed's 50 entries.
    let days = ["2025-10-28", "2025-10-29"];
    let papers: Vec<NewPaper> = corpus
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let text = h.clipped(3_000);
            let mut p = daily(
                &format!("2510.{:05}", i + 1),
                days[i % 2],
                1,
                &format!("T{i} {text}"),
                None,
            );
            p.summary = format!("S{i} {text}");
            p.authors = vec![NewAuthor::named(format!("A{i} {}", h.clipped(200)))];
            p
        })
        .collect();
    app.store.upsert_papers(&papers).await.expect("seed");
    let feed_elements = [
        "rss",
        "channel",
        "title",
        "link",
        "description",
        "lastBuildDate",
        "generator",
        "item",
        "pubDate",
        "guid",
        "feed",
        "id",
        "updated",
        "author",
        "name",
        "entry",
        "published",
        "summary",
    ];
    let mut seen = 0;
    for day in days {
        for format in ["rss", "atom"] {
            let body = app
                .get(&format!("/feeds/{format}/daily/{day}"))
                .await
                .bytes()
                .await
                .expect("body");
            for name in xml_elements(&body) {
                assert!(
                    feed_elements.contains(&name.as_str()),
                    "{format} {day}: element <{name}> came from the hostile text"
                );
            }
            let feed = feed_rs::parser::parse(&body[..])
                .unwrap_or_else(|e| panic!("{format} {day} does not parse: {e}"));
            for e in &feed.entries {
                let title = &e.title.as_ref().expect("title").content;
                let i: usize = title[1..title.find(' ').unwrap_or(title.len())]
                    .parse()
                    .expect("entry number");
                let text = corpus[i].clipped(3_000);
                let name = corpus[i].name;
                assert_eq!(
                    shown(title),
                    shown(&format!("T{i} {text}")),
                    "{format}: {name}"
                );
                let summary = &e.summary.as_ref().expect("summary").content;
                if format == "rss" {
                    assert!(
                        !summary.contains('<'),
                        "rss: {name}: the description holds markup: {summary}"
                    );
                    assert_eq!(
                        shown(&unescape(summary)),
                        shown(&format!("A{i} {} — S{i} {text}", corpus[i].clipped(200))),
                        "rss: {name}"
                    );
                } else {
                    assert_eq!(
                        shown(summary),
                        shown(&format!("S{i} {text}")),
                        "atom: {name}"
                    );
                    assert_eq!(
                        shown(&e.authors[0].name),
                        shown(&format!("A{i} {}", corpus[i].clipped(200))),
                        "atom: {name}"
                    );
                }
                seen += 1;
            }
        }
    }
    assert_eq!(seen, corpus.len() * 2, "every record in both formats");
}

/// Issue #13, item 10: a request naming another host gets feed links to the address the
/// server listens on, not to that host.
#[tokio::test]
async fn feed_links_do_not_follow_a_foreign_host_header() {
    let app = TestApp::spawn().await;
    for format in ["rss", "atom"] {
        let body = app
            .0
            .http
            .get(format!("{}/feeds/{format}/daily", app.0.base))
            .header("host", "evil.example")
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        assert!(!body.contains("evil.example"), "{format}: {body}");
        assert!(
            body.contains(&format!("{}/papers/2510.00003", app.0.base)),
            "{format}: {body}"
        );
    }
}
