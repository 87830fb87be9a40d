//! Comments are rendered once, when written or edited, and pages serve the stored HTML: the
//! real app on a random port over a real SQLite file. Long threads come in pages of threads
//! and long comments as excerpts, so a paper page stays cheap whatever users post.

mod common;

use common::TestApp;
use paperboy_core::ArxivId;
use paperboy_web::comments::RENDERER_VERSION;
use paperboy_web::markdown::render_comment;
use paperboy_web::pages::paper::{COLLAPSE_BYTES, THREADS_PER_PAGE};

const PAPER: &str = "2510.00001";

fn paper() -> ArxivId {
    ArxivId::parse(PAPER).expect("id")
}

/// A comment under 10,000 characters built to be as costly to render as possible: deep
/// braces, nested exponents, a `\sqrt` chain, deep lists and quotes, brackets, a long line.
fn worst_case() -> String {
    let mut s = String::new();
    s.push_str(&format!("${}x{}$\n\n", "{".repeat(300), "}".repeat(300)));
    s.push_str(&format!("${}x{}$\n\n", "x^{".repeat(150), "}".repeat(150)));
    s.push_str(&format!("${}x$\n\n", "\\sqrt".repeat(200)));
    s.push_str(&"- ".repeat(200));
    s.push_str("deep\n\n");
    s.push_str(&">".repeat(200));
    s.push_str(" quoted\n\n");
    s.push_str(&"[".repeat(500));
    s.push_str("\n\n");
    s.push_str(&"$x$ ".repeat(100));
    s.push_str("\n\n");
    s.push_str(&"a".repeat(10_000 - s.chars().count() - 1));
    assert!(s.chars().count() < 10_000);
    s
}

async fn comments(app: &TestApp) -> Vec<paperboy_store::Comment> {
    app.store.comments(&paper()).await.expect("comments")
}

#[tokio::test]
async fn a_comment_is_rendered_when_written_and_pages_serve_what_was_stored() {
    let app = TestApp::spawn().await;
    app.seed_titled(PAPER, "Discussable").await;
    app.sign_up("ada").await;
    let body = worst_case();
    let r = app
        .post(&format!("/papers/{PAPER}/comments"), &[("body", &body)])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let stored = comments(&app).await.remove(0);
    assert_eq!(stored.html_version, RENDERER_VERSION);
    let html = stored.body_html.clone().expect("HTML stored on write");
    assert_eq!(html, render_comment(&body));
    assert!(html.contains("quoted") && html.contains("deep"), "{html}");

    // The whole comment, as stored, on the page that names it.
    let whole = format!("/papers/{PAPER}?comment={}", stored.id);
    let page = app.other().html(&whole).await;
    assert!(page.contains(&html), "the page serves the stored HTML");

    // Replaced in the store: the page shows the replacement, so it renders nothing itself.
    assert!(
        app.store
            .set_comment_html(
                stored.id,
                &body,
                "<p>stored-not-rendered</p>",
                RENDERER_VERSION
            )
            .await
            .expect("set")
    );
    let page = app.other().html(&whole).await;
    assert!(
        page.contains("<p>stored-not-rendered</p>"),
        "no render per view"
    );
    assert!(!page.contains(&html));

    // An edit renders again.
    let r = app
        .post(
            &format!("/comments/{}/edit", stored.id),
            &[("body", "now **bold** and $x^2$")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().expect("location");
    assert_eq!(
        location,
        format!("/papers/{PAPER}?comment={0}#comment-{0}", stored.id)
    );
    let edited = comments(&app).await.remove(0);
    let html = edited.body_html.expect("rendered on edit");
    assert_eq!(html, render_comment("now **bold** and $x^2$"));
    assert!(html.contains("<strong>bold</strong>") && html.contains("<math"));
    let page = app.other().html(&format!("/papers/{PAPER}")).await;
    assert!(page.contains(&html) && !page.contains("stored-not-rendered"));
}

#[tokio::test]
async fn a_comment_without_current_html_is_rendered_once_on_view_and_stored() {
    let app = TestApp::spawn().await;
    app.seed_titled(PAPER, "Discussable").await;
    let ada = paperboy_testkit::seed_user(&app.store, "ada").await;
    // As written before comments kept their HTML, and with an older renderer's.
    let missing = app
        .store
        .add_comment(&paperboy_store::NewComment {
            paper: paper(),
            user_id: ada,
            parent_id: None,
            body: "*never rendered*".into(),
        })
        .await
        .expect("comment");
    let old = app
        .store
        .add_comment_with_html(
            &paperboy_store::NewComment {
                paper: paper(),
                user_id: ada,
                parent_id: None,
                body: "**old renderer**".into(),
            },
            "<p>old output</p>",
            RENDERER_VERSION - 1,
        )
        .await
        .expect("comment");
    let page = app.other().html(&format!("/papers/{PAPER}")).await;
    assert!(page.contains("<em>never rendered</em>"), "{page}");
    assert!(page.contains("<strong>old renderer</strong>"));
    assert!(
        !page.contains("old output"),
        "a stale rendering is not served"
    );
    for c in comments(&app).await {
        assert_eq!(c.html_version, RENDERER_VERSION, "stored for the next view");
        let expected = if c.id == missing.id {
            render_comment("*never rendered*")
        } else {
            assert_eq!(c.id, old.id);
            render_comment("**old renderer**")
        };
        assert_eq!(c.body_html, Some(expected));
    }
}

#[tokio::test]
async fn long_threads_come_in_pages_and_long_comments_as_excerpts() {
    let app = TestApp::spawn().await;
    app.seed_titled(PAPER, "Discussable").await;
    let ada = paperboy_testkit::seed_user(&app.store, "ada").await;
    let total = THREADS_PER_PAGE + 5;
    let mut ids = Vec::new();
    for i in 0..total {
        let body = if i == 1 {
            format!("long-start {}", "word ".repeat(1_900))
        } else {
            format!("thread-{i:03}")
        };
        let html = render_comment(&body);
        let c = app
            .store
            .add_comment_with_html(
                &paperboy_store::NewComment {
                    paper: paper(),
                    user_id: ada,
                    parent_id: None,
                    body,
                },
                &html,
                RENDERER_VERSION,
            )
            .await
            .expect("comment");
        ids.push(c.id);
    }
    let reply = app
        .store
        .add_comment(&paperboy_store::NewComment {
            paper: paper(),
            user_id: ada,
            parent_id: Some(ids[total - 1]),
            body: "reply-to-last".into(),
        })
        .await
        .expect("reply");

    let first = app.other().html(&format!("/papers/{PAPER}")).await;
    assert!(
        first.contains("thread-000")
            && first.contains(&format!("thread-{:03}", THREADS_PER_PAGE - 1))
    );
    assert!(!first.contains(&format!("thread-{THREADS_PER_PAGE:03}")));
    assert!(first.contains(&format!("href=\"/papers/{PAPER}?p=1#comments-h\"")));
    assert!(first.contains(&format!("Threads 1–{THREADS_PER_PAGE} of {total}")));
    // The long comment: an excerpt and a link to the whole of it.
    let long_html = render_comment(&format!("long-start {}", "word ".repeat(1_900)));
    assert!(long_html.len() > COLLAPSE_BYTES);
    assert!(first.contains("long-start word word"));
    assert!(!first.contains(&long_html), "not the whole long comment");
    assert!(first.contains(&format!(
        "?comment={0}#comment-{0}\">Show the whole comment",
        ids[1]
    )));
    assert!(first.len() < 40 * 1024, "{} bytes", first.len());

    let second = app.other().html(&format!("/papers/{PAPER}?p=1")).await;
    assert!(second.contains(&format!("thread-{THREADS_PER_PAGE:03}")));
    assert!(
        second.contains("reply-to-last"),
        "replies come with their thread"
    );
    assert!(!second.contains("thread-000"));
    assert!(second.contains(&format!("href=\"/papers/{PAPER}#comments-h\"")));
    // Past the end: the last page.
    let past = app
        .other()
        .html(&format!("/papers/{PAPER}?p=99999999"))
        .await;
    assert!(past.contains("reply-to-last"));
    let status = app
        .other()
        .get(&format!("/papers/{PAPER}?p=abc"))
        .await
        .status();
    assert_eq!(status.as_u16(), 400);

    // A comment named: its thread's page, and the whole of it.
    let whole = app
        .other()
        .html(&format!("/papers/{PAPER}?comment={}", ids[1]))
        .await;
    assert!(whole.contains(&long_html));
    let by_reply = app
        .other()
        .html(&format!("/papers/{PAPER}?comment={}", reply.id))
        .await;
    assert!(
        by_reply.contains("reply-to-last")
            && by_reply.contains(&format!("thread-{:03}", total - 1))
    );
}
