//! Conformance suite for accounts, sessions, comments and submissions, on both backends.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use paperboy_core::ArxivId;
use paperboy_store::{FeedSubmission, NewComment, Store, StoreError};

use paperboy_testkit::{seed_paper, seed_user as user};

paperboy_testkit::conformance!(
    sessions_find_their_user_until_they_expire_or_end,
    users_are_found_by_id_and_email,
    comments_thread_one_level_deep_and_keep_the_count,
    only_the_author_deletes_a_comment_and_the_count_follows,
    a_duplicate_submission_lands_on_the_existing_entry,
    votes_are_reported_for_the_papers_asked_about,
);

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).expect("id")
}

async fn sessions_find_their_user_until_they_expire_or_end(store: Arc<dyn Store>) {
    let uid = user(&store, "ada").await;
    store
        .create_session("h1", uid, Utc::now() + Duration::hours(1))
        .await
        .expect("session");
    store
        .create_session("h2", uid, Utc::now() - Duration::seconds(1))
        .await
        .expect("expired");
    assert_eq!(
        store
            .session_user("h1")
            .await
            .expect("lookup")
            .map(|u| u.id),
        Some(uid)
    );
    assert!(
        store.session_user("h2").await.expect("lookup").is_none(),
        "expired"
    );
    assert!(store.session_user("nope").await.expect("lookup").is_none());
    store.delete_session("h1").await.expect("delete");
    assert!(
        store.session_user("h1").await.expect("lookup").is_none(),
        "ended"
    );
}

async fn users_are_found_by_id_and_email(store: Arc<dyn Store>) {
    let uid = user(&store, "grace").await;
    let by_id = store.user_by_id(uid).await.expect("by id").expect("found");
    assert_eq!(by_id.username, "grace");
    let by_email = store
        .user_by_email("grace@example.org")
        .await
        .expect("by email")
        .expect("found");
    assert_eq!(by_email.id, uid);
    assert!(
        store
            .user_by_email("nobody@example.org")
            .await
            .expect("none")
            .is_none()
    );
    assert!(store.user_by_id(uid + 1000).await.expect("none").is_none());
}

async fn comments_thread_one_level_deep_and_keep_the_count(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    seed_paper(&store, "2510.00002").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let top = store
        .add_comment(&NewComment {
            paper: id("2510.00001"),
            user_id: ada,
            parent_id: None,
            body: "First!".into(),
        })
        .await
        .expect("top");
    assert_eq!(
        (top.username.as_str(), top.body.as_str()),
        ("ada", "First!")
    );
    let reply = store
        .add_comment(&NewComment {
            paper: id("2510.00001"),
            user_id: bob,
            parent_id: Some(top.id),
            body: "Reply".into(),
        })
        .await
        .expect("reply");
    assert_eq!(reply.parent_id, Some(top.id));
    let deeper = store
        .add_comment(&NewComment {
            paper: id("2510.00001"),
            user_id: ada,
            parent_id: Some(reply.id),
            body: "x".into(),
        })
        .await;
    assert!(
        matches!(deeper, Err(StoreError::Conflict(_))),
        "replies are one level deep"
    );
    let elsewhere = store
        .add_comment(&NewComment {
            paper: id("2510.00002"),
            user_id: ada,
            parent_id: Some(top.id),
            body: "x".into(),
        })
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::Conflict(_))),
        "parent on another paper"
    );
    let missing = store
        .add_comment(&NewComment {
            paper: id("2510.09999"),
            user_id: ada,
            parent_id: None,
            body: "x".into(),
        })
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
    let thread = store.comments(&id("2510.00001")).await.expect("thread");
    assert_eq!(
        thread.iter().map(|c| c.id).collect::<Vec<_>>(),
        [top.id, reply.id]
    );
    let paper = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("paper");
    assert_eq!(paper.num_comments, 2);
}

async fn only_the_author_deletes_a_comment_and_the_count_follows(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let eve = user(&store, "eve").await;
    let c = store
        .add_comment(&NewComment {
            paper: id("2510.00001"),
            user_id: ada,
            parent_id: None,
            body: "Mine".into(),
        })
        .await
        .expect("comment");
    assert!(matches!(
        store.delete_comment(c.id, eve).await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_comment(c.id, ada).await.expect("delete own");
    assert!(
        matches!(
            store.delete_comment(c.id, ada).await,
            Err(StoreError::NotFound(_))
        ),
        "once"
    );
    let thread = store.comments(&id("2510.00001")).await.expect("thread");
    assert!(thread[0].deleted && thread[0].body.is_empty());
    let paper = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("paper");
    assert_eq!(paper.num_comments, 0);
}

async fn a_duplicate_submission_lands_on_the_existing_entry(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let day = NaiveDate::from_ymd_opt(2025, 10, 29).expect("date");
    let entry = |uid| FeedSubmission {
        feed_date: day,
        submitted_at: Utc::now(),
        submitter_id: uid,
        organization_id: None,
    };
    assert!(
        store
            .submit_to_feed(&id("2510.00001"), &entry(ada))
            .await
            .expect("first")
    );
    assert!(
        !store
            .submit_to_feed(&id("2510.00001"), &entry(bob))
            .await
            .expect("duplicate")
    );
    let paper = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("paper");
    let feed = paper.feed.expect("on the feed");
    assert_eq!(
        feed.submitter.expect("submitter").username,
        "ada",
        "the first submitter stays"
    );
    assert_eq!(feed.feed_date, day);
    assert!(matches!(
        store.submit_to_feed(&id("2510.09999"), &entry(ada)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.stats().await.expect("stats").feed_entries, 1);
}

async fn votes_are_reported_for_the_papers_asked_about(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    seed_paper(&store, "2510.00002").await;
    let ada = user(&store, "ada").await;
    store
        .set_vote(ada, &id("2510.00002"), true)
        .await
        .expect("vote");
    let voted = store
        .voted_among(ada, &[id("2510.00001"), id("2510.00002"), id("2510.00003")])
        .await
        .expect("voted");
    assert_eq!(voted, ["2510.00002"]);
}
