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
    a_page_reads_bodies_only_where_needed_and_html_cut_short,
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

async fn a_page_reads_bodies_only_where_needed_and_html_cut_short(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let current = store
        .add_comment_with_html(&new(ada, "current"), "<p>current</p>", 2)
        .await
        .expect("current");
    let long_html = format!("<p>{}</p>", "é".repeat(100));
    let long = store
        .add_comment_with_html(&new(ada, "long"), &long_html, 2)
        .await
        .expect("long");
    let stale = store
        .add_comment_with_html(&new(ada, "stale"), "<p>stale</p>", 1)
        .await
        .expect("stale");
    let missing = store
        .add_comment(&new(ada, "missing"))
        .await
        .expect("missing");
    let bobs = store
        .add_comment_with_html(&new(bob, "bob's"), "<p>bob's</p>", 2)
        .await
        .expect("bob's");
    let page = store
        .comments_for_page(&id("2510.00001"), None, 2, 20)
        .await
        .expect("anonymous page");
    let bodies: Vec<_> = page.iter().map(|c| (c.id, c.body.as_str())).collect();
    assert_eq!(
        bodies,
        [
            (current.id, ""),
            (long.id, ""),
            (stale.id, "stale"),
            (missing.id, "missing"),
            (bobs.id, "")
        ],
        "bodies only to render"
    );
    assert_eq!(page[0].body_html.as_deref(), Some("<p>current</p>"));
    let cut = page[1].body_html.as_deref().expect("cut");
    assert_eq!(cut.chars().count(), 20, "cut by characters: {cut}");
    assert!(long_html.starts_with(cut));
    assert_eq!(page[3].body_html, None);
    assert_eq!(page[4].username, "bob");
    let bobs_page = store
        .comments_for_page(&id("2510.00001"), Some(bob), 2, 1_000)
        .await
        .expect("bob's page");
    assert_eq!(
        bobs_page[4].body, "bob's",
        "the viewer's own, for the edit form"
    );
    assert_eq!(bobs_page[0].body, "");
    assert_eq!(bobs_page[1].body_html.as_deref(), Some(long_html.as_str()));
}
