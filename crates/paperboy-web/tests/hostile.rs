//! One hostile corpus, every sink (issue #13): every entry of `paperboy_testkit::hostile` is
//! put in a paper's title, abstract and author name, a comment, a user's and an
//! organization's display name, and then read back through every output — HTML pages, the
//! JSON API, the Markdown view, RSS and Atom, and email (digest and confirmation) — checking
//! that nothing of it became markup, a header, or broken output.

mod common;

use base64::Engine;
use chrono::{NaiveDate, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef, Username};
use paperboy_mail::SiteSettings;
use paperboy_mail::digest::{EditionContent, RecipientLinks, render_confirmation, render_digest};
use paperboy_mail::message::{Outgoing, compose};
use paperboy_store::{Cadence, NewComment, NewUser};
use paperboy_testkit::hostile::{Hostile, corpus, html_findings};

const DAYS: [&str; 2] = ["2025-10-28", "2025-10-29"];

fn id(i: usize) -> String {
    format!("2510.{:05}", i + 1)
}

fn title(i: usize, h: &Hostile) -> String {
    format!("T{i} {}", h.clipped(3_000))
}

fn author(i: usize, h: &Hostile) -> String {
    format!("A{i} {}", h.clipped(200))
}

fn fullname(i: usize, h: &Hostile) -> String {
    format!("F{i} {}", h.clipped(100))
}

/// The app with one paper, user, comment and organization per corpus entry.
async fn seeded() -> (common::TestApp, Vec<Hostile>) {
    let app = common::TestApp::spawn().await;
    let corpus = corpus();
    let papers: Vec<NewPaper> = corpus
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut p = NewPaper::new(
                ArxivId::parse(&id(i)).expect("id"),
                title(i, h),
                format!("S{i} {}", h.clipped(3_000)),
                Utc::now(),
            );
            p.authors = vec![NewAuthor::named(author(i, h))];
            p.source_upvotes = Some(1);
            let day = NaiveDate::parse_from_str(DAYS[i % 2], "%Y-%m-%d").expect("day");
            p.feed = Some(NewFeedEntry {
                feed_date: day,
                submitted_at: day.and_hms_opt(9, 0, 0).expect("time").and_utc(),
                submitter: Some(UserRef {
                    username: format!("u{i}"),
                    fullname: fullname(i, h),
                    avatar_url: None,
                }),
                organization: Some(OrgRef {
                    name: format!("org{i}"),
                    fullname: fullname(i, h),
                    avatar_url: None,
                }),
            });
            p
        })
        .collect();
    app.store.upsert_papers(&papers).await.expect("seed");
    for (i, h) in corpus.iter().enumerate() {
        let user = app
            .store
            .create_user(&NewUser {
                username: Username::parse(&format!("w{i}")).expect("username"),
                fullname: fullname(i, h),
                email: None,
                password_hash: None,
                is_admin: false,
            })
            .await
            .expect("user");
        app.store
            .add_comment(&NewComment {
                paper: ArxivId::parse(&id(i)).expect("id"),
                user_id: user.id,
                parent_id: None,
                body: h.clipped(9_000),
            })
            .await
            .expect("comment");
        app.store
            .create_organization(&format!("g{i}"), &fullname(i, h), user.id)
            .await
            .expect("organization");
    }
    (app, corpus)
}

/// Fetches an HTML page and fails on anything in it that could run script or load from
/// elsewhere.
async fn check_page(app: &common::TestApp, path: &str, what: &str) -> String {
    let (status, html) = app.page(path).await;
    assert!(status < 500, "{what}: {path} answered {status}");
    let found = html_findings(&html, &[]);
    assert!(found.is_empty(), "{what}: {path}: {found:?}");
    html
}

#[tokio::test]
async fn html_pages_show_the_hostile_corpus_as_text() {
    let (app, corpus) = seeded().await;
    for path in [
        "/".to_owned(),
        format!("/papers/date/{}", DAYS[0]),
        format!("/papers/date/{}", DAYS[1]),
        "/papers/week/2025-W44".to_owned(),
        "/papers/month/2025-10".to_owned(),
        "/papers/trending".to_owned(),
        "/orgs".to_owned(),
    ] {
        check_page(&app, &path, "list").await;
    }
    // Item 13: no image from another host, whatever a comment says.
    let r = app.get(&format!("/papers/{}", id(0))).await;
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    let img_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("img-src"))
        .expect("img-src");
    assert_eq!(img_src, "img-src 'self' data:", "{csp}");
    for (i, h) in corpus.iter().enumerate() {
        let html = check_page(&app, &format!("/papers/{}", id(i)), h.name).await;
        assert!(
            html.contains(&format!("T{i} ")),
            "{}: the title is shown",
            h.name
        );
        let author = paperboy_web::feeds::encode_segment(&author(i, h));
        check_page(&app, &format!("/authors/{author}"), h.name).await;
        check_page(&app, &format!("/users/u{i}"), h.name).await;
        check_page(&app, &format!("/users/w{i}"), h.name).await;
        check_page(&app, &format!("/orgs/org{i}"), h.name).await;
        check_page(&app, &format!("/orgs/g{i}"), h.name).await;
        let q: String = form_urlencoded::byte_serialize(h.clipped(200).as_bytes()).collect();
        check_page(&app, &format!("/search?q={q}"), h.name).await;
    }
}

#[tokio::test]
async fn the_json_api_round_trips_the_hostile_corpus() {
    let (app, corpus) = seeded().await;
    for (i, h) in corpus.iter().enumerate() {
        let r = app.get(&format!("/api/papers/{}", id(i))).await;
        assert_eq!(r.status(), 200, "{}", h.name);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("type")
                .starts_with("application/json"),
            "{}",
            h.name
        );
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.expect("body"))
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", h.name));
        assert_eq!(
            v["title"].as_str(),
            Some(title(i, h).as_str()),
            "{}",
            h.name
        );
        assert_eq!(
            v["summary"].as_str(),
            Some(format!("S{i} {}", h.clipped(3_000)).as_str()),
            "{}",
            h.name
        );
    }
    for day in DAYS {
        let body = app
            .get(&format!("/api/daily_papers?date={day}&limit=100"))
            .await
            .bytes()
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("daily papers JSON");
        assert_eq!(
            v.as_array().map(Vec::len),
            Some(corpus.len() / 2 + (corpus.len() % 2) * usize::from(day == DAYS[0])),
            "{day}"
        );
    }
}

#[tokio::test]
async fn the_markdown_view_passes_no_raw_html() {
    let (app, corpus) = seeded().await;
    for (i, h) in corpus.iter().enumerate() {
        let r = app.get(&format!("/papers/{}.md", id(i))).await;
        assert_eq!(r.status(), 200, "{}", h.name);
        let md = r.text().await.expect("markdown");
        // As a Markdown viewer would show it.
        let mut raw_html = Vec::new();
        let parser =
            pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::all()).inspect(|e| {
                if let pulldown_cmark::Event::Html(s) | pulldown_cmark::Event::InlineHtml(s) = e {
                    raw_html.push(s.to_string());
                }
            });
        let mut html = String::new();
        pulldown_cmark::html::push_html(&mut html, parser);
        assert!(
            raw_html.is_empty(),
            "{}: raw HTML {raw_html:?} in\n{md}",
            h.name
        );
        let found = html_findings(&html, &[]);
        assert!(found.is_empty(), "{}: {found:?} from\n{md}", h.name);
        // The heading is one line: a title cannot start a block of its own.
        let first = md.lines().next().unwrap_or("");
        assert!(
            first.starts_with(&format!("# T{i} ")),
            "{}: {first}",
            h.name
        );
    }
}

#[tokio::test]
async fn rss_and_atom_carry_the_hostile_corpus_as_text() {
    let (app, corpus) = seeded().await;
    let mut entries = 0;
    for day in DAYS {
        for format in ["rss", "atom"] {
            let body = app
                .get(&format!("/feeds/{format}/daily/{day}"))
                .await
                .bytes()
                .await
                .expect("feed");
            let feed = feed_rs::parser::parse(&body[..])
                .unwrap_or_else(|e| panic!("{format} {day} is not a feed: {e}"));
            for e in &feed.entries {
                let summary = &e.summary.as_ref().expect("summary").content;
                if format == "rss" {
                    assert!(
                        !summary.contains('<'),
                        "rss description with markup: {summary}"
                    );
                }
                entries += 1;
            }
        }
    }
    assert_eq!(entries, corpus.len() * 2);
    // Feeds named after hostile text (an author, a search) too.
    for (i, h) in corpus.iter().enumerate() {
        let author = paperboy_web::feeds::encode_segment(&author(i, h));
        for format in ["rss", "atom"] {
            let r = app.get(&format!("/feeds/{format}/authors/{author}")).await;
            if r.status() != 200 {
                // A name longer than an author feed takes is refused, clearly.
                assert_eq!(r.status(), 400, "{format} author feed of {}", h.name);
                continue;
            }
            let body = r.bytes().await.expect("feed");
            feed_rs::parser::parse(&body[..])
                .unwrap_or_else(|e| panic!("{format} author feed of {}: {e}", h.name));
        }
    }
}

/// The header section of a message, unfolded, with RFC 2047 words decoded: (name, value).
fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let raw = String::from_utf8_lossy(raw);
    let head = raw.split("\r\n\r\n").next().unwrap_or("");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().expect("a header to continue").1 += line;
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("not a header line: {line:?}"));
        out.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    for (_, value) in &mut out {
        let mut decoded = String::new();
        for word in value.split_whitespace() {
            match word
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
            {
                Some(b64) => decoded.push_str(&String::from_utf8_lossy(
                    &base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .expect("base64 word"),
                )),
                None => {
                    decoded.push(' ');
                    decoded.push_str(word);
                }
            }
        }
        *value = decoded;
    }
    out
}

fn check_message(raw: &[u8], what: &str) {
    let known = [
        "from",
        "to",
        "subject",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "date",
        "content-type",
        "content-transfer-encoding",
    ];
    for (name, value) in headers(raw) {
        assert!(
            known.contains(&name.as_str()),
            "{what}: header {name} injected"
        );
        assert!(
            !value.contains(['\r', '\n']),
            "{what}: {name} spans lines: {value:?}"
        );
    }
}

#[tokio::test]
async fn emails_keep_headers_on_one_line_and_escape_the_html_part() {
    let (app, corpus) = seeded().await;
    let links = RecipientLinks {
        unsubscribe_url: "https://papers.example.org/unsubscribe/abc".into(),
        preferences_url: "https://papers.example.org/subscription/abc".into(),
    };
    for (i, h) in corpus.iter().enumerate() {
        // A hostile site name reaches the subject and the List-Id.
        let site = SiteSettings::new(
            &h.clipped(200),
            "https://papers.example.org",
            "Paperboy <digest@example.org>",
        )
        .expect("site");
        let day = NaiveDate::parse_from_str(DAYS[i % 2], "%Y-%m-%d").expect("day");
        let content =
            EditionContent::for_papers(app.store.as_ref(), Cadence::Daily, day, &[id(i)], &site)
                .await
                .expect("content");
        let (text, html) = render_digest(&content, &content.papers, &links, &site).expect("digest");
        let found = html_findings(&html, &[]);
        assert!(found.is_empty(), "{}: digest HTML: {found:?}", h.name);
        let message = compose(
            &site,
            Outgoing {
                to: "ada@example.org",
                subject: &content.subject,
                unsubscribe_token: "abc",
                message_id: None,
                text,
                html,
                eight_bit: i % 2 == 0,
            },
        )
        .expect("digest message");
        check_message(&message.formatted(), &format!("digest: {}", h.name));

        let (text, html) = render_confirmation(
            &site,
            "https://papers.example.org/confirm/abc",
            Cadence::Weekly,
            "https://papers.example.org/unsubscribe/abc",
        )
        .expect("confirmation");
        let found = html_findings(&html, &[]);
        assert!(found.is_empty(), "{}: confirmation HTML: {found:?}", h.name);
        let subject = format!("Confirm your subscription to {}", site.site_name);
        let message = compose(
            &site,
            Outgoing {
                to: "ada@example.org",
                subject: &subject,
                unsubscribe_token: "abc",
                message_id: None,
                text,
                html,
                eight_bit: false,
            },
        )
        .expect("confirmation message");
        check_message(&message.formatted(), &format!("confirmation: {}", h.name));
    }
}

/// Issue #13, item 6: a planted CSRF cookie is not a token. The cached list pages (`/`, a
/// day, trending) neither carry it raw nor keep it: the visitor gets a new token.
#[tokio::test]
async fn a_planted_csrf_cookie_never_reaches_a_page() {
    let app = common::TestApp::spawn_with(common::Options {
        secure_cookies: true,
        ..Default::default()
    })
    .await;
    app.seed_titled("2510.00001", "A paper").await;
    let planted = "__Host-pb_csrf=\"><img src=x onerror=alert(1)>";
    let client = reqwest::Client::new();
    for path in ["/", "/papers/date/2025-10-29", "/papers/trending", "/"] {
        let r = client
            .get(format!("{}{path}", app.base))
            .header("cookie", planted)
            .send()
            .await
            .expect("GET");
        let set_cookie: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        assert!(
            set_cookie.iter().any(|c| c.starts_with("__Host-pb_csrf=")),
            "{path}: a new token is issued: {set_cookie:?}"
        );
        let html = r.text().await.expect("html");
        assert!(!html.contains("onerror"), "{path}: {html}");
        assert!(html_findings(&html, &[]).is_empty(), "{path}");
        let field = "name=\"csrf_token\" value=\"";
        let at = html.find(field).expect("a form with a token");
        let value = &html[at + field.len()..];
        let value = &value[..value.find('"').expect("end")];
        assert!(
            paperboy_web::csrf::CsrfToken::parse(value).is_some(),
            "{path}: the form carries a well-formed token, not {value:?}"
        );
    }
}
