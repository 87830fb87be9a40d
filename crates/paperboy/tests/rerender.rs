//! `paperboy rerender-comments`: comments stored without HTML or by an older renderer are
//! rendered again by the real binary over a real SQLite file; `--all` renders every one.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use paperboy_core::ArxivId;
use paperboy_store::{NewComment, Store};
use paperboy_web::comments::RENDERER_VERSION;
use paperboy_web::markdown::render_comment;

fn rerender(data_dir: &Path, all: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperboy"));
    cmd.env_remove("PAPERBOY_DATABASE_URL")
        .env("PAPERBOY_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .arg("rerender-comments");
    if all {
        cmd.arg("--all");
    }
    let out = cmd.output().expect("run paperboy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn comment(user_id: i64, body: &str) -> NewComment {
    NewComment {
        paper: ArxivId::parse("2510.00001").expect("id"),
        user_id,
        parent_id: None,
        body: body.into(),
    }
}

#[tokio::test]
async fn stale_comments_are_rendered_again_and_all_with_the_flag() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn Store> = Arc::new(
        paperboy_store::sqlite::SqliteStore::open(&dir.path().join("paperboy.sqlite"))
            .await
            .expect("open"),
    );
    paperboy_testkit::seed_paper(&store, "2510.00001").await;
    let ada = paperboy_testkit::seed_user(&store, "ada").await;
    let old = store
        .add_comment_with_html(&comment(ada, "**old** $x^2$"), "<p>old output</p>", 0)
        .await
        .expect("old");
    let never = store
        .add_comment(&comment(ada, "*never rendered*"))
        .await
        .expect("never");
    let current = store
        .add_comment_with_html(
            &comment(ada, "current"),
            "<p>kept as is</p>",
            RENDERER_VERSION,
        )
        .await
        .expect("current");
    let html = |id: i64| {
        let store = store.clone();
        async move {
            store
                .comments(&ArxivId::parse("2510.00001").expect("id"))
                .await
                .expect("comments")
                .into_iter()
                .find(|c| c.id == id)
                .map(|c| (c.body_html, c.html_version))
                .expect("comment")
        }
    };

    let out = rerender(dir.path(), false);
    assert!(out.contains("Rendered 2 comments"), "{out}");
    assert_eq!(
        html(old.id).await,
        (Some(render_comment("**old** $x^2$")), RENDERER_VERSION)
    );
    assert_eq!(
        html(never.id).await,
        (Some(render_comment("*never rendered*")), RENDERER_VERSION)
    );
    assert_eq!(
        html(current.id).await,
        (Some("<p>kept as is</p>".to_owned()), RENDERER_VERSION),
        "a current rendering is left alone"
    );
    assert!(rerender(dir.path(), false).contains("Rendered 0 comments"));

    let out = rerender(dir.path(), true);
    assert!(out.contains("Rendered 3 comments"), "{out}");
    assert_eq!(
        html(current.id).await,
        (Some(render_comment("current")), RENDERER_VERSION)
    );
}
