//! Conformance of the API area on both backends: personal API tokens, the simple search and
//! organization feeds.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef, Username};
use paperboy_store::{NewUser, Store, StoreError};

paperboy_testkit::conformance!(
    a_token_authenticates_its_owner_until_revoked,
    tokens_are_stored_hashed_and_listed_per_user,
    a_token_for_an_unknown_user_is_not_found,
    simple_search_needs_every_word_and_ranks_by_matches_then_upvotes,
    simple_search_treats_wildcards_as_text,
    the_organization_feed_lists_its_submissions_newest_first,
);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

async fn user(store: &Arc<dyn Store>, name: &str) -> paperboy_store::User {
    store
        .create_user(&NewUser {
            username: Username::parse(name).expect("username"),
            fullname: format!("{name} full"),
            email: None,
            password_hash: None,
            is_admin: false,
        })
        .await
        .expect("create user")
}

fn paper(id: &str, title: &str, summary: &str, votes: i64) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).expect("id"),
        title,
        summary,
        t("2025-10-27T10:00:00Z"),
    );
    p.authors = vec![NewAuthor::named("Ada Lovelace")];
    p.source_upvotes = Some(votes);
    p
}

async fn a_token_authenticates_its_owner_until_revoked(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    let created = store
        .create_api_token(ada.id, "laptop")
        .await
        .expect("create");
    assert!(created.secret.len() >= 32);
    let who = store
        .authenticate_api_token(&created.secret)
        .await
        .expect("auth")
        .expect("a user");
    assert_eq!(who.username, "ada");
    let listed = store.api_tokens(ada.id).await.expect("list");
    let first_use = listed[0].last_used_at;
    assert!(first_use.is_some(), "use is recorded");
    // A use soon after is not written again (a read, not a write per API call).
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let again = store
        .authenticate_api_token(&created.secret)
        .await
        .expect("auth")
        .expect("a user");
    assert_eq!(again.id, ada.id);
    let listed = store.api_tokens(ada.id).await.expect("list");
    assert_eq!(
        listed[0].last_used_at, first_use,
        "recorded once a minute at most"
    );
    assert!(
        store
            .authenticate_api_token("pb_not-a-token")
            .await
            .expect("auth")
            .is_none()
    );
    assert!(
        store
            .revoke_api_token(ada.id, created.token.id)
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_api_token(ada.id, created.token.id)
            .await
            .expect("revoke twice")
    );
    assert!(
        store
            .authenticate_api_token(&created.secret)
            .await
            .expect("auth")
            .is_none(),
        "a revoked token no longer works"
    );
}

async fn tokens_are_stored_hashed_and_listed_per_user(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let a1 = store.create_api_token(ada.id, "one").await.expect("a1");
    let a2 = store.create_api_token(ada.id, "two").await.expect("a2");
    store.create_api_token(bob.id, "bob's").await.expect("b");
    assert_ne!(a1.secret, a2.secret);
    let names: Vec<String> = store
        .api_tokens(ada.id)
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["one", "two"]);
    assert!(
        !store
            .revoke_api_token(bob.id, a1.token.id)
            .await
            .expect("revoke"),
        "nobody revokes another user's token"
    );
    assert_eq!(
        store
            .authenticate_api_token(&a1.secret)
            .await
            .expect("auth")
            .map(|u| u.username),
        Some("ada".to_owned())
    );
}

async fn a_token_for_an_unknown_user_is_not_found(store: Arc<dyn Store>) {
    assert!(matches!(
        store.create_api_token(999_999, "x").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn simple_search_needs_every_word_and_ranks_by_matches_then_upvotes(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[
            paper(
                "2501.00001",
                "Attention is all you need",
                "Transformers.",
                5,
            ),
            paper(
                "2501.00002",
                "Sparse ATTENTION for attention",
                "Long attention context.",
                1,
            ),
            paper("2501.00003", "Graph networks", "Attention on graphs.", 50),
            paper("2501.00004", "Unrelated", "Nothing here.", 100),
        ])
        .await
        .expect("upsert");
    let ids = |v: Vec<paperboy_core::Paper>| -> Vec<String> {
        v.into_iter().map(|p| p.id.base().to_owned()).collect()
    };
    let hits = ids(store
        .search_papers_simple("attention", 10)
        .await
        .expect("q"));
    assert_eq!(hits, ["2501.00002", "2501.00001", "2501.00003"]);
    let hits = ids(store
        .search_papers_simple("attention GRAPHS", 10)
        .await
        .expect("q"));
    assert_eq!(hits, ["2501.00003"]);
    let hits = ids(store.search_papers_simple("lovelace", 2).await.expect("q"));
    assert_eq!(hits.len(), 2, "authors match and limit holds");
    assert!(
        store
            .search_papers_simple("   ", 10)
            .await
            .expect("q")
            .is_empty()
    );
}

async fn simple_search_treats_wildcards_as_text(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[
            paper("2501.00001", "100% recall", "a_b", 1),
            paper("2501.00002", "Plain", "Nothing.", 1),
        ])
        .await
        .expect("upsert");
    assert_eq!(
        store.search_papers_simple("%", 10).await.expect("q").len(),
        1
    );
    assert_eq!(
        store.search_papers_simple("_", 10).await.expect("q").len(),
        1
    );
}

async fn the_organization_feed_lists_its_submissions_newest_first(store: Arc<dyn Store>) {
    let on_feed = |id: &str, day: &str, org: Option<&str>| {
        let mut p = paper(id, &format!("Paper {id}"), "Abstract.", 1);
        p.feed = Some(NewFeedEntry {
            feed_date: NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("day"),
            submitted_at: t(&format!("{day}T09:00:00Z")),
            submitter: Some(UserRef {
                username: "akhaliq".into(),
                fullname: "AK".into(),
                avatar_url: None,
            }),
            organization: org.map(|o| OrgRef {
                name: o.into(),
                fullname: format!("{o} Inc"),
                avatar_url: None,
            }),
        });
        p
    };
    store
        .upsert_papers(&[
            on_feed("2501.00001", "2025-10-27", Some("acme")),
            on_feed("2501.00002", "2025-10-28", Some("acme")),
            on_feed("2501.00003", "2025-10-28", Some("other")),
            on_feed("2501.00004", "2025-10-29", None),
        ])
        .await
        .expect("upsert");
    let got: Vec<String> = store
        .feed_by_organization("acme", 10)
        .await
        .expect("org feed")
        .into_iter()
        .map(|p| p.id.base().to_owned())
        .collect();
    assert_eq!(got, ["2501.00002", "2501.00001"]);
    assert!(
        store
            .feed_by_organization("nobody", 10)
            .await
            .expect("none")
            .is_empty()
    );
}
