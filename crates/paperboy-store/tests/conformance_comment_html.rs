//! Conformance suite for comments' stored HTML (rendered once, when written or edited), on
//! both backends: it is stored with the comment, cleared by a plain edit or a deletion, and
//! a re-rendering pass finds exactly the comments whose HTML is missing or stale.

use std::sync::Arc;

use paperboy_core::ArxivId;
use paperboy_store::{NewComment, Store, StoreError};

use paperboy_testkit::{seed_paper, seed_user as user};

paperboy_testkit::conformance!(
    a_comment_is_stored_with_its_html_and_version,
    an_edit_replaces_or_clears_the_html,
    stale_and_missing_html_is_found_in_keyset_pages,
    setting_html_loses_to_an_edit_in_between,
);

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).expect("id")
}

fn new(user_id: i64, body: &str) -> NewComment {
    NewComment {
        paper: id("2510.00001"),
        user_id,
        parent_id: None,
        body: body.into(),
    }
}

async fn a_comment_is_stored_with_its_html_and_version(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let c = store
        .add_comment_with_html(&new(ada, "**hi**"), "<p><strong>hi</strong></p>", 7)
        .await
        .expect("comment");
    assert_eq!(c.body_html.as_deref(), Some("<p><strong>hi</strong></p>"));
    assert_eq!(c.html_version, 7);
    let plain = store.add_comment(&new(ada, "plain")).await.expect("plain");
    assert_eq!((plain.body_html, plain.html_version), (None, 0));
    let listed = store.comments(&id("2510.00001")).await.expect("thread");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0].body_html.as_deref(),
        Some("<p><strong>hi</strong></p>"),
        "the page reads the stored HTML"
    );
    assert_eq!(listed[0].html_version, 7);
    assert!(matches!(
        store
            .add_comment_with_html(
                &NewComment {
                    paper: id("2510.09999"),
                    ..new(ada, "x")
                },
                "<p>x</p>",
                7
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Deleting clears the HTML with the body.
    store.delete_comment(c.id, ada).await.expect("delete");
    let listed = store.comments(&id("2510.00001")).await.expect("thread");
    assert!(listed[0].deleted);
    assert_eq!(listed[0].body_html, None);
}

async fn an_edit_replaces_or_clears_the_html(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let c = store
        .add_comment_with_html(&new(ada, "one"), "<p>one</p>", 3)
        .await
        .expect("comment");
    let edited = store
        .edit_comment_with_html(c.id, ada, "two", "<p>two</p>", 4)
        .await
        .expect("edit");
    assert_eq!(
        (
            edited.body.as_str(),
            edited.body_html.as_deref(),
            edited.html_version
        ),
        ("two", Some("<p>two</p>"), 4)
    );
    assert!(edited.edited_at.is_some());
    assert!(matches!(
        store
            .edit_comment_with_html(c.id, bob, "mine", "<p>mine</p>", 4)
            .await,
        Err(StoreError::NotFound(_))
    ));
    // A plain edit cannot leave the old rendering behind.
    let plain = store.edit_comment(c.id, ada, "three").await.expect("plain");
    assert_eq!((plain.body_html, plain.html_version), (None, 0));
    store.set_comment_hidden(c.id, true).await.expect("hide");
    assert!(matches!(
        store
            .edit_comment_with_html(c.id, ada, "four", "<p>four</p>", 4)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn stale_and_missing_html_is_found_in_keyset_pages(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let current = store
        .add_comment_with_html(&new(ada, "current"), "<p>current</p>", 2)
        .await
        .expect("current");
    let old = store
        .add_comment_with_html(&new(ada, "old"), "<p>old</p>", 1)
        .await
        .expect("old");
    let missing = store
        .add_comment(&new(ada, "missing"))
        .await
        .expect("missing");
    let gone = store.add_comment(&new(ada, "gone")).await.expect("gone");
    store.delete_comment(gone.id, ada).await.expect("delete");
    let newer = store
        .add_comment_with_html(&new(ada, "newer"), "<p>newer</p>", 3)
        .await
        .expect("newer");

    let stale = store
        .comments_to_render(Some(2), 0, 100)
        .await
        .expect("stale");
    assert_eq!(
        stale,
        [
            (old.id, "old".to_owned()),
            (missing.id, "missing".to_owned()),
            (newer.id, "newer".to_owned())
        ],
        "another version or none; never a deleted comment"
    );
    // Keyset pages: two, then the rest after the last id seen.
    let first = store
        .comments_to_render(Some(2), 0, 2)
        .await
        .expect("page 1");
    assert_eq!(first.len(), 2);
    let rest = store
        .comments_to_render(Some(2), first[1].0, 2)
        .await
        .expect("page 2");
    assert_eq!(rest, [(newer.id, "newer".to_owned())]);
    // Every live comment, whatever its version.
    let all = store.comments_to_render(None, 0, 100).await.expect("all");
    let ids: Vec<_> = all.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [current.id, old.id, missing.id, newer.id]);

    for (id, body) in &stale {
        assert!(
            store
                .set_comment_html(*id, body, &format!("<p>{body}!</p>"), 2)
                .await
                .expect("set")
        );
    }
    assert!(
        store
            .comments_to_render(Some(2), 0, 100)
            .await
            .expect("none")
            .is_empty()
    );
    let listed = store.comments(&id("2510.00001")).await.expect("thread");
    let missing_now = listed.iter().find(|c| c.id == missing.id).expect("listed");
    assert_eq!(missing_now.body_html.as_deref(), Some("<p>missing!</p>"));
    assert_eq!(missing_now.html_version, 2);
}

async fn setting_html_loses_to_an_edit_in_between(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let c = store
        .add_comment(&new(ada, "before"))
        .await
        .expect("comment");
    let (cid, body) = store
        .comments_to_render(Some(1), 0, 10)
        .await
        .expect("stale")
        .remove(0);
    assert_eq!((cid, body.as_str()), (c.id, "before"));
    store
        .edit_comment_with_html(c.id, ada, "after", "<p>after</p>", 1)
        .await
        .expect("edit");
    assert!(
        !store
            .set_comment_html(c.id, &body, "<p>before</p>", 1)
            .await
            .expect("set"),
        "the rendering of an old body is not stored over the edit"
    );
    let listed = store.comments(&id("2510.00001")).await.expect("thread");
    assert_eq!(listed[0].body_html.as_deref(), Some("<p>after</p>"));
    assert!(
        !store
            .set_comment_html(999_999, "x", "<p>x</p>", 1)
            .await
            .expect("unknown"),
        "an unknown comment stores nothing"
    );
}
