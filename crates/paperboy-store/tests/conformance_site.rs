//! Conformance suite for organizations, authorship claims, moderation and account changes, on
//! both backends.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use paperboy_core::{ArxivId, Email};
use paperboy_store::{ClaimStatus, FeedSubmission, NewComment, OrgRole, Store, StoreError};

use paperboy_testkit::{seed_paper, seed_user as user};

paperboy_testkit::conformance!(
    an_organization_has_its_creator_as_administrator_and_members_join_and_leave,
    a_submission_for_an_organization_lists_on_it,
    an_author_claim_waits_for_an_administrator_and_one_name_has_one_holder,
    a_hidden_paper_leaves_every_list_and_comes_back,
    a_hidden_comment_keeps_its_place_and_the_count_follows,
    a_suspended_account_loses_its_sessions_and_tokens,
    changing_the_password_ends_other_sessions,
    a_reset_link_works_once_before_it_expires_and_ends_all_sessions,
    email_changes_refuse_a_taken_address,
    only_the_author_edits_a_live_comment,
    a_paper_lists_its_upvoters_newest_first,
);

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).expect("id")
}

async fn an_organization_has_its_creator_as_administrator_and_members_join_and_leave(
    store: Arc<dyn Store>,
) {
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let org = store
        .create_organization("lab", "The Lab", ada)
        .await
        .expect("create");
    assert_eq!((org.name.as_str(), org.members, org.papers), ("lab", 1, 0));
    assert!(matches!(
        store.create_organization("lab", "Another", bob).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.request_membership(org.id, bob).await.expect("ask"),
        paperboy_store::MembershipStatus::Requested
    );
    store
        .decide_membership(org.id, bob, ada, true)
        .await
        .expect("approve");
    assert!(matches!(
        store.request_membership(org.id, 999_999).await,
        Err(StoreError::NotFound(_))
    ));
    let members = store.org_members(org.id).await.expect("members");
    let names: Vec<_> = members
        .iter()
        .map(|m| (m.username.as_str(), m.role))
        .collect();
    assert_eq!(names, [("ada", OrgRole::Admin), ("bob", OrgRole::Member)]);
    assert_eq!(
        store
            .organization("lab")
            .await
            .expect("read")
            .expect("org")
            .members,
        2
    );
    assert!(store.organization("nope").await.expect("read").is_none());
    let bobs = store.user_organizations(bob).await.expect("bob's orgs");
    assert_eq!(bobs.len(), 1);
    assert!(matches!(
        store.remove_org_member(org.id, ada, ada).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .remove_org_member(org.id, bob, bob)
            .await
            .expect("leave")
    );
    assert!(
        !store
            .remove_org_member(org.id, bob, bob)
            .await
            .expect("again")
    );
    assert!(
        matches!(
            store.remove_org_member(org.id, ada, ada).await,
            Err(StoreError::Conflict(_))
        ),
        "the last administrator cannot leave, even alone: the organization would be orphaned"
    );
    assert_eq!(store.org_members(org.id).await.expect("members").len(), 1);
}

async fn a_submission_for_an_organization_lists_on_it(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    seed_paper(&store, "2510.00002").await;
    let ada = user(&store, "ada").await;
    let org = store
        .create_organization("lab", "The Lab", ada)
        .await
        .expect("create");
    let day = NaiveDate::from_ymd_opt(2025, 10, 29).expect("date");
    for (pid, org_id) in [("2510.00001", Some(org.id)), ("2510.00002", None)] {
        store
            .submit_to_feed(
                &id(pid),
                &FeedSubmission {
                    feed_date: day,
                    submitted_at: Utc::now(),
                    submitter_id: ada,
                    organization_id: org_id,
                },
            )
            .await
            .expect("submit");
    }
    let listed = store.feed_by_organization("lab", 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id.base(), "2510.00001");
    let feed_org = listed[0]
        .feed
        .as_ref()
        .and_then(|f| f.organization.as_ref());
    assert_eq!(feed_org.map(|o| o.fullname.as_str()), Some("The Lab"));
    let orgs = store.organizations(10).await.expect("orgs");
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].papers, 1);
}

async fn an_author_claim_waits_for_an_administrator_and_one_name_has_one_holder(
    store: Arc<dyn Store>,
) {
    let ada = user(&store, "ada").await;
    let eve = user(&store, "eve").await;
    let admin = user(&store, "root").await;
    let claim = store
        .claim_author(ada, "Ada  Lovelace")
        .await
        .expect("claim");
    assert_eq!(claim.status, ClaimStatus::Pending);
    assert_eq!(claim.name, "Ada Lovelace");
    let again = store
        .claim_author(ada, "ada lovelace")
        .await
        .expect("again");
    assert_eq!(again.id, claim.id, "claiming twice finds the first claim");
    let rival = store
        .claim_author(eve, "Ada Lovelace")
        .await
        .expect("rival");
    let pending = store.pending_author_claims(10).await.expect("pending");
    assert_eq!(pending.len(), 2);
    let confirmed = store
        .decide_author_claim(claim.id, admin, true)
        .await
        .expect("confirm");
    assert_eq!(confirmed.status, ClaimStatus::Confirmed);
    assert!(confirmed.decided_at.is_some());
    assert!(
        matches!(
            store.decide_author_claim(rival.id, admin, true).await,
            Err(StoreError::Conflict(_))
        ),
        "one confirmed holder per name"
    );
    let rejected = store
        .decide_author_claim(rival.id, admin, false)
        .await
        .expect("reject");
    assert_eq!(rejected.status, ClaimStatus::Rejected);
    assert!(matches!(
        store.decide_author_claim(424_242, admin, true).await,
        Err(StoreError::NotFound(_))
    ));
    let on_name = store.author_claims("ADA LOVELACE").await.expect("by name");
    assert_eq!(
        on_name.iter().map(|c| c.status).collect::<Vec<_>>(),
        [ClaimStatus::Confirmed, ClaimStatus::Rejected]
    );
    assert!(
        store
            .pending_author_claims(10)
            .await
            .expect("pending")
            .is_empty()
    );
    assert_eq!(store.user_author_claims(ada).await.expect("mine").len(), 1);
}

async fn a_hidden_paper_leaves_every_list_and_comes_back(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    store
        .submit_to_feed(
            &id("2510.00001"),
            &FeedSubmission {
                feed_date: NaiveDate::from_ymd_opt(2025, 10, 29).expect("date"),
                submitted_at: Utc::now(),
                submitter_id: ada,
                organization_id: None,
            },
        )
        .await
        .expect("submit");
    assert!(
        store
            .set_paper_hidden(&id("2510.00001"), true)
            .await
            .expect("hide")
    );
    assert!(
        !store
            .set_paper_hidden(&id("2510.00001"), true)
            .await
            .expect("again")
    );
    assert!(
        store
            .paper(&id("2510.00001"))
            .await
            .expect("read")
            .is_none(),
        "a hidden paper has no page"
    );
    let hidden = store.hidden_papers(10).await.expect("hidden");
    assert_eq!(hidden.len(), 1);
    assert_eq!(hidden[0].id, "2510.00001");
    let day = store
        .feed(&paperboy_store::FeedQuery {
            window: paperboy_core::DateWindow::Day(
                NaiveDate::from_ymd_opt(2025, 10, 29).expect("date"),
            ),
            submitter: None,
            sort: paperboy_store::FeedSort::Upvotes,
            offset: 0,
            limit: 10,
        })
        .await
        .expect("feed");
    assert!(day.papers.is_empty(), "a hidden paper leaves the feed");
    let changes = store.papers_changed_since(None, 10).await.expect("changes");
    assert_eq!(changes.removed, ["2510.00001"], "the search index drops it");
    assert!(matches!(
        store
            .add_comment(&NewComment {
                paper: id("2510.00001"),
                user_id: ada,
                parent_id: None,
                body: "hi".into(),
            })
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .set_paper_hidden(&id("2510.00001"), false)
            .await
            .expect("show")
    );
    assert!(store.hidden_papers(10).await.expect("hidden").is_empty());
    assert!(matches!(
        store.set_paper_hidden(&id("2510.09999"), true).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn a_hidden_comment_keeps_its_place_and_the_count_follows(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let c = store
        .add_comment(&NewComment {
            paper: id("2510.00001"),
            user_id: ada,
            parent_id: None,
            body: "spam".into(),
        })
        .await
        .expect("comment");
    let count = |s: Arc<dyn Store>| async move {
        s.paper(&id("2510.00001"))
            .await
            .expect("read")
            .expect("paper")
            .num_comments
    };
    assert_eq!(count(store.clone()).await, 1);
    assert_eq!(
        store.set_comment_hidden(c.id, true).await.expect("hide"),
        Some("2510.00001".to_owned())
    );
    assert_eq!(
        store.set_comment_hidden(c.id, true).await.expect("again"),
        None
    );
    assert_eq!(count(store.clone()).await, 0);
    let listed = store.comments(&id("2510.00001")).await.expect("comments");
    assert!(listed[0].hidden, "still listed, marked hidden");
    assert!(matches!(
        store.edit_comment(c.id, ada, "edited").await,
        Err(StoreError::NotFound(_))
    ));
    store.set_comment_hidden(c.id, false).await.expect("show");
    assert_eq!(count(store.clone()).await, 1);
    // Hidden, then deleted by its author: counted off once, not twice.
    store
        .set_comment_hidden(c.id, true)
        .await
        .expect("hide again");
    store.delete_comment(c.id, ada).await.expect("delete");
    assert_eq!(count(store.clone()).await, 0);
    assert_eq!(
        store
            .set_comment_hidden(c.id, false)
            .await
            .expect("show a deleted one"),
        Some("2510.00001".to_owned())
    );
    assert_eq!(
        count(store.clone()).await,
        0,
        "a deleted comment stays uncounted"
    );
    assert!(matches!(
        store.set_comment_hidden(987_654, true).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn a_suspended_account_loses_its_sessions_and_tokens(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    store
        .create_session("s1", ada, Utc::now() + Duration::hours(1))
        .await
        .expect("session");
    let token = store.create_api_token(ada, "cli").await.expect("token");
    assert!(store.set_user_suspended(ada, true).await.expect("suspend"));
    assert!(store.session_user("s1").await.expect("lookup").is_none());
    assert!(
        store
            .authenticate_api_token(&token.secret)
            .await
            .expect("auth")
            .is_some_and(|u| u.suspended),
        "a token still names its account, marked suspended, so the API can say why it refuses"
    );
    let suspended = store.suspended_users(10).await.expect("list");
    assert_eq!(suspended.len(), 1);
    assert!(suspended[0].suspended);
    assert!(store.set_user_suspended(ada, false).await.expect("lift"));
    assert!(
        store
            .authenticate_api_token(&token.secret)
            .await
            .expect("auth")
            .is_some()
    );
    assert!(matches!(
        store.set_user_suspended(777_777, true).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn changing_the_password_ends_other_sessions(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    for h in ["here", "phone", "laptop"] {
        store
            .create_session(h, ada, Utc::now() + Duration::hours(1))
            .await
            .expect("session");
    }
    store
        .set_password(ada, "$argon2id$new", Some("here"))
        .await
        .expect("set");
    assert!(store.session_user("here").await.expect("lookup").is_some());
    assert!(store.session_user("phone").await.expect("lookup").is_none());
    assert!(
        store
            .session_user("laptop")
            .await
            .expect("lookup")
            .is_none()
    );
    let u = store.user_by_id(ada).await.expect("read").expect("user");
    assert_eq!(u.password_hash.as_deref(), Some("$argon2id$new"));
    store
        .set_password(ada, "$argon2id$newer", None)
        .await
        .expect("set");
    assert!(store.session_user("here").await.expect("lookup").is_none());
    store.set_fullname(ada, "Ada L.").await.expect("name");
    assert_eq!(
        store
            .user_by_id(ada)
            .await
            .expect("read")
            .expect("user")
            .fullname,
        "Ada L."
    );
}

async fn a_reset_link_works_once_before_it_expires_and_ends_all_sessions(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    let now = Utc::now();
    store
        .create_session("s", ada, now + Duration::hours(1))
        .await
        .expect("session");
    store
        .create_password_reset(ada, "r1", now + Duration::hours(1))
        .await
        .expect("reset");
    store
        .create_password_reset(ada, "r2", now + Duration::hours(1))
        .await
        .expect("reset 2");
    store
        .create_password_reset(ada, "old", now - Duration::seconds(1))
        .await
        .expect("expired");
    assert_eq!(
        store
            .password_reset_user("r1", now)
            .await
            .expect("check")
            .map(|u| u.id),
        Some(ada)
    );
    assert!(
        store
            .reset_password("old", "$argon2id$x", now)
            .await
            .expect("expired")
            .is_none()
    );
    let user = store
        .reset_password("r1", "$argon2id$reset", now)
        .await
        .expect("reset")
        .expect("user");
    assert_eq!(user.password_hash.as_deref(), Some("$argon2id$reset"));
    assert!(store.session_user("s").await.expect("lookup").is_none());
    assert!(
        store
            .reset_password("r1", "$argon2id$again", now)
            .await
            .expect("reuse")
            .is_none(),
        "single use"
    );
    assert!(
        store
            .password_reset_user("r2", now)
            .await
            .expect("other")
            .is_none(),
        "using one link spends the account's others"
    );
    assert!(
        store
            .password_reset_user("nope", now)
            .await
            .expect("unknown")
            .is_none()
    );
}

async fn email_changes_refuse_a_taken_address(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    user(&store, "bob").await;
    assert!(matches!(
        store
            .set_email(ada, &Email::parse("bob@example.org").expect("email"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .set_email(ada, &Email::parse("ada@lab.example").expect("email"))
        .await
        .expect("change");
    assert_eq!(
        store
            .user_by_email("ada@lab.example")
            .await
            .expect("read")
            .map(|u| u.id),
        Some(ada)
    );
}

async fn only_the_author_edits_a_live_comment(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let c = store
        .add_comment(&NewComment {
            paper: id("2510.00001"),
            user_id: ada,
            parent_id: None,
            body: "first".into(),
        })
        .await
        .expect("comment");
    assert!(c.edited_at.is_none());
    assert!(matches!(
        store.edit_comment(c.id, bob, "mine now").await,
        Err(StoreError::NotFound(_))
    ));
    let edited = store.edit_comment(c.id, ada, "second").await.expect("edit");
    assert_eq!(edited.body, "second");
    assert!(edited.edited_at.is_some());
    store.delete_comment(c.id, ada).await.expect("delete");
    assert!(matches!(
        store.edit_comment(c.id, ada, "back").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn a_paper_lists_its_upvoters_newest_first(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let eve = user(&store, "eve").await;
    let paper = id("2510.00001");
    for uid in [ada, bob, eve] {
        store.set_vote(uid, &paper, true).await.expect("vote");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    store.set_vote(bob, &paper, false).await.expect("unvote");
    let names: Vec<String> = store
        .paper_upvoters(&paper, 10)
        .await
        .expect("upvoters")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["eve", "ada"]);
    assert_eq!(store.paper_upvoters(&paper, 1).await.expect("one").len(), 1);
    store.set_user_suspended(eve, true).await.expect("suspend");
    assert_eq!(
        store
            .paper_upvoters(&paper, 10)
            .await
            .expect("upvoters")
            .len(),
        1,
        "a suspended account is not shown"
    );
}
