//! Conformance suite for accounts, sessions, comments and submissions, on both backends.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use paperboy_core::ArxivId;
use paperboy_store::{
    FeedSubmission, MembershipStatus, NewComment, OrgRole, PendingSignup, Store, StoreError,
};

use paperboy_testkit::{seed_paper, seed_user as user};

paperboy_testkit::conformance!(
    sessions_find_their_user_until_they_expire_or_end,
    users_are_found_by_id_and_email,
    comments_thread_one_level_deep_and_keep_the_count,
    only_the_author_deletes_a_comment_and_the_count_follows,
    a_duplicate_submission_lands_on_the_existing_entry,
    votes_are_reported_for_the_papers_asked_about,
    joining_an_organization_takes_an_administrators_approval,
    an_invitation_is_answered_by_the_invitee_only,
    the_last_administrator_hands_over_before_leaving,
    a_removed_members_papers_stay_until_an_administrator_detaches_them,
    a_hidden_paper_takes_no_vote_comment_edit_or_submission,
    a_pending_signup_is_taken_once_before_it_expires,
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

fn submission(submitter_id: i64, organization_id: Option<i64>) -> FeedSubmission {
    FeedSubmission {
        feed_date: NaiveDate::from_ymd_opt(2025, 10, 29).expect("date"),
        submitted_at: Utc::now(),
        submitter_id,
        organization_id,
    }
}

async fn member_names(store: &Arc<dyn Store>, org: i64) -> Vec<(String, OrgRole)> {
    store
        .org_members(org)
        .await
        .expect("members")
        .into_iter()
        .map(|m| (m.username, m.role))
        .collect()
}

async fn joining_an_organization_takes_an_administrators_approval(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let eve = user(&store, "eve").await;
    let org = store
        .create_organization("lab", "The Lab", ada)
        .await
        .expect("create");
    assert_eq!(
        store.request_membership(org.id, eve).await.expect("ask"),
        MembershipStatus::Requested
    );
    assert_eq!(
        store.request_membership(org.id, eve).await.expect("again"),
        MembershipStatus::Requested,
        "asking twice changes nothing"
    );
    // A request is not a membership: no listing, no count, no submitting for it.
    assert_eq!(member_names(&store, org.id).await.len(), 1);
    assert_eq!(
        store
            .organization("lab")
            .await
            .expect("read")
            .expect("org")
            .members,
        1
    );
    assert!(
        store
            .user_organizations(eve)
            .await
            .expect("orgs")
            .is_empty()
    );
    assert!(matches!(
        store
            .submit_to_feed(&id("2510.00001"), &submission(eve, Some(org.id)))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .paper(&id("2510.00001"))
            .await
            .expect("read")
            .expect("paper")
            .feed
            .is_none()
    );
    let pending = store.pending_memberships(org.id).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].username.as_str(),
            pending[0].status,
            pending[0].org_name.as_str()
        ),
        ("eve", MembershipStatus::Requested, "lab")
    );
    assert_eq!(
        store.user_pending_memberships(eve).await.expect("mine"),
        pending
    );
    // Only an administrator decides: not the asker, not another user.
    for actor in [eve, bob] {
        assert!(matches!(
            store.decide_membership(org.id, eve, actor, true).await,
            Err(StoreError::NotFound(_))
        ));
    }
    store
        .decide_membership(org.id, eve, ada, false)
        .await
        .expect("deny");
    assert!(
        store
            .pending_memberships(org.id)
            .await
            .expect("pending")
            .is_empty()
    );
    assert!(
        matches!(
            store.decide_membership(org.id, eve, ada, true).await,
            Err(StoreError::NotFound(_))
        ),
        "a denied request is gone"
    );
    // Bob asks and is approved: now he is a member and submits for the organization.
    store.request_membership(org.id, bob).await.expect("ask");
    store
        .decide_membership(org.id, bob, ada, true)
        .await
        .expect("approve");
    assert_eq!(
        member_names(&store, org.id).await,
        [
            ("ada".to_owned(), OrgRole::Admin),
            ("bob".to_owned(), OrgRole::Member)
        ]
    );
    assert_eq!(
        store.request_membership(org.id, bob).await.expect("again"),
        MembershipStatus::Active
    );
    assert_eq!(store.user_organizations(bob).await.expect("orgs").len(), 1);
    assert!(
        store
            .submit_to_feed(&id("2510.00001"), &submission(bob, Some(org.id)))
            .await
            .expect("submit")
    );
    assert_eq!(
        store
            .feed_by_organization("lab", 10)
            .await
            .expect("list")
            .len(),
        1
    );
    // A member who is not an administrator decides nothing either.
    store
        .request_membership(org.id, eve)
        .await
        .expect("ask again");
    assert!(matches!(
        store.decide_membership(org.id, eve, bob, true).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.request_membership(999_999, eve).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn an_invitation_is_answered_by_the_invitee_only(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let cat = user(&store, "cat").await;
    let dan = user(&store, "dan").await;
    let org = store
        .create_organization("lab", "The Lab", ada)
        .await
        .expect("create");
    assert!(
        matches!(
            store.invite_to_organization(org.id, bob, cat).await,
            Err(StoreError::Conflict(_))
        ),
        "only an administrator invites"
    );
    assert_eq!(
        store
            .invite_to_organization(org.id, ada, bob)
            .await
            .expect("invite"),
        MembershipStatus::Invited
    );
    assert!(matches!(
        store.invite_to_organization(org.id, ada, 999_999).await,
        Err(StoreError::NotFound(_))
    ));
    let mine = store.user_pending_memberships(bob).await.expect("mine");
    assert_eq!(
        (mine.len(), mine[0].status, mine[0].org_name.as_str()),
        (1, MembershipStatus::Invited, "lab")
    );
    assert!(
        matches!(
            store.decide_membership(org.id, bob, ada, true).await,
            Err(StoreError::NotFound(_))
        ),
        "the administrator cannot accept for the invitee"
    );
    store
        .decide_membership(org.id, bob, bob, true)
        .await
        .expect("accept");
    assert_eq!(member_names(&store, org.id).await.len(), 2);
    // Declining drops the invitation.
    store
        .invite_to_organization(org.id, ada, cat)
        .await
        .expect("invite");
    store
        .decide_membership(org.id, cat, cat, false)
        .await
        .expect("decline");
    assert!(
        store
            .user_pending_memberships(cat)
            .await
            .expect("cat")
            .is_empty()
    );
    assert_eq!(member_names(&store, org.id).await.len(), 2);
    // Asking when invited, or inviting one who asked, is agreement on both sides.
    store
        .invite_to_organization(org.id, ada, cat)
        .await
        .expect("invite");
    assert_eq!(
        store.request_membership(org.id, cat).await.expect("ask"),
        MembershipStatus::Active
    );
    store.request_membership(org.id, dan).await.expect("ask");
    assert_eq!(
        store
            .invite_to_organization(org.id, ada, dan)
            .await
            .expect("invite"),
        MembershipStatus::Active
    );
    assert_eq!(member_names(&store, org.id).await.len(), 4);
    assert!(
        store
            .pending_memberships(org.id)
            .await
            .expect("none")
            .is_empty()
    );
}

async fn the_last_administrator_hands_over_before_leaving(store: Arc<dyn Store>) {
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let org = store
        .create_organization("lab", "The Lab", ada)
        .await
        .expect("create");
    store
        .invite_to_organization(org.id, ada, bob)
        .await
        .expect("invite");
    assert!(
        matches!(
            store.set_org_role(org.id, ada, bob, OrgRole::Admin).await,
            Err(StoreError::NotFound(_))
        ),
        "an invitee is not a member yet"
    );
    store
        .decide_membership(org.id, bob, bob, true)
        .await
        .expect("accept");
    for attempt in [
        store.remove_org_member(org.id, ada, ada).await,
        store.remove_org_member(org.id, bob, ada).await,
    ] {
        assert!(
            matches!(attempt, Err(StoreError::Conflict(_))),
            "{attempt:?}"
        );
    }
    assert!(
        matches!(
            store.set_org_role(org.id, ada, ada, OrgRole::Member).await,
            Err(StoreError::Conflict(_))
        ),
        "the last administrator cannot demote themselves"
    );
    assert!(
        matches!(
            store.set_org_role(org.id, bob, bob, OrgRole::Admin).await,
            Err(StoreError::Conflict(_))
        ),
        "a member cannot promote themselves"
    );
    store
        .set_org_role(org.id, ada, bob, OrgRole::Admin)
        .await
        .expect("hand over");
    store
        .set_org_role(org.id, ada, ada, OrgRole::Member)
        .await
        .expect("step down");
    assert_eq!(
        member_names(&store, org.id).await,
        [
            ("bob".to_owned(), OrgRole::Admin),
            ("ada".to_owned(), OrgRole::Member)
        ]
    );
    assert!(
        matches!(
            store.set_org_role(org.id, ada, bob, OrgRole::Member).await,
            Err(StoreError::Conflict(_))
        ),
        "no longer an administrator"
    );
    assert!(
        store
            .remove_org_member(org.id, ada, ada)
            .await
            .expect("leave")
    );
    assert!(matches!(
        store.remove_org_member(org.id, bob, bob).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(member_names(&store, org.id).await.len(), 1);
}

async fn a_removed_members_papers_stay_until_an_administrator_detaches_them(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    seed_paper(&store, "2510.00002").await;
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let org = store
        .create_organization("lab", "The Lab", ada)
        .await
        .expect("create");
    store
        .invite_to_organization(org.id, ada, bob)
        .await
        .expect("invite");
    store
        .decide_membership(org.id, bob, bob, true)
        .await
        .expect("accept");
    for pid in ["2510.00001", "2510.00002"] {
        store
            .submit_to_feed(&id(pid), &submission(bob, Some(org.id)))
            .await
            .expect("submit");
    }
    assert!(
        matches!(
            store.remove_org_member(org.id, bob, ada).await,
            Err(StoreError::Conflict(_))
        ),
        "a member removes nobody else"
    );
    assert!(
        store
            .remove_org_member(org.id, ada, bob)
            .await
            .expect("remove")
    );
    assert!(
        store
            .user_organizations(bob)
            .await
            .expect("orgs")
            .is_empty()
    );
    assert_eq!(
        store
            .feed_by_organization("lab", 10)
            .await
            .expect("list")
            .len(),
        2,
        "the papers stay attributed"
    );
    assert!(matches!(
        store.detach_org_paper(org.id, bob, &id("2510.00001")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .detach_org_paper(org.id, ada, &id("2510.00001"))
            .await
            .expect("detach")
    );
    assert!(
        !store
            .detach_org_paper(org.id, ada, &id("2510.00001"))
            .await
            .expect("again")
    );
    let listed = store.feed_by_organization("lab", 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id.base(), "2510.00002");
    let detached = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("paper")
        .feed
        .expect("still on the daily list");
    assert!(detached.organization.is_none());
    assert_eq!(detached.submitter.expect("submitter").username, "bob");
    assert_eq!(
        store
            .organization("lab")
            .await
            .expect("read")
            .expect("org")
            .papers,
        1
    );
}

async fn a_hidden_paper_takes_no_vote_comment_edit_or_submission(store: Arc<dyn Store>) {
    seed_paper(&store, "2510.00001").await;
    let ada = user(&store, "ada").await;
    let pid = id("2510.00001");
    assert_eq!(store.set_vote(ada, &pid, true).await.expect("vote"), 1);
    let comment = store
        .add_comment(&NewComment {
            paper: pid.clone(),
            user_id: ada,
            parent_id: None,
            body: "before".into(),
        })
        .await
        .expect("comment");
    assert!(!store.paper_hidden(&pid).await.expect("hidden?"));
    assert!(store.set_paper_hidden(&pid, true).await.expect("hide"));
    assert!(store.paper_hidden(&pid).await.expect("hidden?"));
    assert!(
        !store
            .paper_hidden(&id("2510.09999"))
            .await
            .expect("unknown")
    );
    for up in [true, false] {
        assert!(
            matches!(
                store.set_vote(ada, &pid, up).await,
                Err(StoreError::NotFound(_))
            ),
            "no vote (up: {up}) on a hidden paper"
        );
    }
    assert!(matches!(
        store
            .add_comment(&NewComment {
                paper: pid.clone(),
                user_id: ada,
                parent_id: None,
                body: "after".into(),
            })
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.edit_comment(comment.id, ada, "changed").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.submit_to_feed(&pid, &submission(ada, None)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.set_paper_hidden(&pid, false).await.expect("show"));
    let paper = store.paper(&pid).await.expect("read").expect("shown");
    assert_eq!(paper.upvotes, 1, "the refused unvote changed nothing");
    assert!(
        paper.feed.is_none(),
        "the refused submission changed nothing"
    );
    assert_eq!(
        store.comments(&pid).await.expect("comments")[0].body,
        "before"
    );
    assert_eq!(store.set_vote(ada, &pid, false).await.expect("unvote"), 0);
}

async fn a_pending_signup_is_taken_once_before_it_expires(store: Arc<dyn Store>) {
    let signup = PendingSignup {
        username: "ada".into(),
        fullname: "Ada Lovelace".into(),
        email: "ada@example.org".into(),
        password_hash: "$argon2id$x".into(),
    };
    let now = Utc::now();
    store
        .create_pending_signup("hash-1", &signup, now + Duration::hours(24))
        .await
        .expect("store");
    store
        .create_pending_signup("hash-2", &signup, now + Duration::hours(24))
        .await
        .expect("a second one");
    assert!(
        store
            .take_pending_signup("nope", now)
            .await
            .expect("take")
            .is_none()
    );
    assert_eq!(
        store
            .take_pending_signup("hash-1", now)
            .await
            .expect("take"),
        Some(signup.clone())
    );
    assert!(
        store
            .take_pending_signup("hash-1", now)
            .await
            .expect("again")
            .is_none(),
        "once"
    );
    assert!(
        store
            .take_pending_signup("hash-2", now + Duration::hours(25))
            .await
            .expect("late")
            .is_none(),
        "expired"
    );
}
