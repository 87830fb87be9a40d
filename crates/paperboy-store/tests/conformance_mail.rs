//! The storage conformance suite for email digests (subscribers, editions, the outbox): every
//! test runs against SQLite, and against PostgreSQL when `TEST_DATABASE_URL` is set.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperboy_core::Email;
use paperboy_store::{
    Cadence, DeliveryOutcome, ImportedSubscriber, NewEdition, NewSubscriber, NewUser, Store,
    SubscribeOutcome, SubscriberStatus,
};

paperboy_testkit::conformance!(
    a_new_address_is_pending_until_its_token_confirms_it_once,
    an_expired_confirmation_token_does_nothing,
    resubscribing_a_pending_address_replaces_its_token,
    resubscribing_a_confirmed_address_changes_nothing,
    addresses_are_unique_whatever_their_case,
    unsubscribing_is_idempotent_and_needs_only_the_token,
    cadence_changes_by_token,
    building_an_edition_enqueues_each_confirmed_subscriber_once,
    claims_never_overlap_and_an_expired_lease_is_claimed_again,
    outcomes_settle_rows_and_retries_wait_their_turn,
    a_late_outcome_from_a_lost_claim_changes_nothing,
    importing_subscribers_skips_known_addresses,
    concurrent_claims_hand_out_each_row_once,
    subscribing_queues_the_confirmation_in_the_same_transaction,
    a_settled_confirmation_is_not_claimed_again_and_a_new_request_queues_it_again,
    an_account_is_linked_to_an_address_only_by_the_link_mailed_to_it,
    an_accounts_upvoted_papers_are_listed_for_its_recommendations,
    a_confirmation_mailed_late_still_has_its_full_time_and_a_stale_one_is_not_renewed,
);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("email")
}

fn request(addr: &str, token_hash: &str, expires: &str) -> NewSubscriber {
    NewSubscriber {
        email: email(addr),
        user_id: None,
        cadence: Cadence::Daily,
        confirm_token: format!("token-{token_hash}"),
        confirm_token_hash: token_hash.into(),
        confirm_expires_at: t(expires),
        unsubscribe_token: format!("unsub-{addr}"),
    }
}

async fn confirmed(store: &Arc<dyn Store>, addr: &str, cadence: Cadence) -> i64 {
    let mut r = request(addr, &format!("hash-{addr}"), "2100-01-01T00:00:00Z");
    r.cadence = cadence;
    store.subscribe(&r).await.expect("subscribe");
    store
        .confirm_subscriber(&format!("hash-{addr}"), Utc::now())
        .await
        .expect("confirm")
        .expect("confirmed")
        .id
}

fn edition(date: &str, cadence: Cadence) -> NewEdition {
    NewEdition {
        cadence,
        date: NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date"),
        paper_ids: vec!["2510.00001".into(), "2510.00002".into()],
    }
}

async fn a_new_address_is_pending_until_its_token_confirms_it_once(store: Arc<dyn Store>) {
    let outcome = store
        .subscribe(&request("ada@example.org", "h1", "2025-10-31T00:00:00Z"))
        .await
        .expect("subscribe");
    let SubscribeOutcome::ConfirmationNeeded(s) = outcome else {
        panic!("a new address needs confirmation: {outcome:?}");
    };
    assert_eq!(s.status, SubscriberStatus::Pending);
    assert_eq!(s.email, "ada@example.org");
    assert!(
        store
            .confirm_subscriber("wrong", t("2025-10-30T00:00:00Z"))
            .await
            .expect("confirm")
            .is_none()
    );
    let got = store
        .confirm_subscriber("h1", t("2025-10-30T00:00:00Z"))
        .await
        .expect("confirm")
        .expect("the right token confirms");
    assert_eq!((got.id, got.status), (s.id, SubscriberStatus::Confirmed));
    assert!(
        store
            .confirm_subscriber("h1", t("2025-10-30T00:00:00Z"))
            .await
            .expect("confirm")
            .is_none(),
        "a token works once"
    );
}

async fn an_expired_confirmation_token_does_nothing(store: Arc<dyn Store>) {
    store
        .subscribe(&request("ada@example.org", "h1", "2025-10-31T00:00:00Z"))
        .await
        .expect("subscribe");
    assert!(
        store
            .confirm_subscriber("h1", t("2025-10-31T00:00:01Z"))
            .await
            .expect("confirm")
            .is_none()
    );
    let s = store
        .subscriber_by_email(&email("ada@example.org"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(s.status, SubscriberStatus::Pending);
}

async fn resubscribing_a_pending_address_replaces_its_token(store: Arc<dyn Store>) {
    store
        .subscribe(&request("ada@example.org", "old", "2100-01-01T00:00:00Z"))
        .await
        .expect("first");
    let again = store
        .subscribe(&request("ada@example.org", "new", "2100-01-01T00:00:00Z"))
        .await
        .expect("second");
    assert!(matches!(again, SubscribeOutcome::ConfirmationNeeded(_)));
    let now = Utc::now();
    assert!(
        store
            .confirm_subscriber("old", now)
            .await
            .expect("old")
            .is_none()
    );
    assert!(
        store
            .confirm_subscriber("new", now)
            .await
            .expect("new")
            .is_some()
    );
}

async fn resubscribing_a_confirmed_address_changes_nothing(store: Arc<dyn Store>) {
    let id = confirmed(&store, "ada@example.org", Cadence::Weekly).await;
    let again = store
        .subscribe(&request("ada@example.org", "other", "2100-01-01T00:00:00Z"))
        .await
        .expect("again");
    let SubscribeOutcome::AlreadyConfirmed(s) = again else {
        panic!("already confirmed: {again:?}");
    };
    assert_eq!((s.id, s.cadence), (id, Cadence::Weekly));
    assert!(
        store
            .confirm_subscriber("other", Utc::now())
            .await
            .expect("confirm")
            .is_none(),
        "no new token was stored"
    );
}

async fn addresses_are_unique_whatever_their_case(store: Arc<dyn Store>) {
    let id = confirmed(&store, "Ada@Example.org", Cadence::Daily).await;
    let again = store
        .subscribe(&request("ada@example.org", "x", "2100-01-01T00:00:00Z"))
        .await
        .expect("again");
    assert!(matches!(again, SubscribeOutcome::AlreadyConfirmed(ref s) if s.id == id));
    let found = store
        .subscriber_by_email(&email("ADA@example.ORG"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.id, id);
}

async fn unsubscribing_is_idempotent_and_needs_only_the_token(store: Arc<dyn Store>) {
    let id = confirmed(&store, "ada@example.org", Cadence::Daily).await;
    assert!(
        store
            .unsubscribe("nobody's", Utc::now())
            .await
            .expect("unknown")
            .is_none()
    );
    for _ in 0..2 {
        let s = store
            .unsubscribe("unsub-ada@example.org", Utc::now())
            .await
            .expect("unsubscribe")
            .expect("known token");
        assert_eq!((s.id, s.status), (id, SubscriberStatus::Unsubscribed));
    }
    // Coming back starts double opt-in again, keeping the unsubscribe secret.
    let back = store
        .subscribe(&request("ada@example.org", "back", "2100-01-01T00:00:00Z"))
        .await
        .expect("back");
    let SubscribeOutcome::ConfirmationNeeded(s) = back else {
        panic!("needs confirmation again: {back:?}");
    };
    assert_eq!(s.status, SubscriberStatus::Pending);
    assert_eq!(s.unsubscribe_token, "unsub-ada@example.org");
}

async fn cadence_changes_by_token(store: Arc<dyn Store>) {
    confirmed(&store, "ada@example.org", Cadence::Daily).await;
    let s = store
        .set_subscriber_cadence("unsub-ada@example.org", Cadence::Weekly)
        .await
        .expect("set")
        .expect("found");
    assert_eq!(s.cadence, Cadence::Weekly);
    assert!(
        store
            .set_subscriber_cadence("nope", Cadence::Weekly)
            .await
            .expect("set")
            .is_none()
    );
    assert_eq!(
        store
            .subscriber_by_token("unsub-ada@example.org")
            .await
            .expect("read")
            .expect("found")
            .cadence,
        Cadence::Weekly
    );
}

async fn building_an_edition_enqueues_each_confirmed_subscriber_once(store: Arc<dyn Store>) {
    confirmed(&store, "a@example.org", Cadence::Daily).await;
    confirmed(&store, "b@example.org", Cadence::Daily).await;
    confirmed(&store, "w@example.org", Cadence::Weekly).await;
    store
        .subscribe(&request("pending@example.org", "p", "2100-01-01T00:00:00Z"))
        .await
        .expect("pending");
    let gone = confirmed(&store, "gone@example.org", Cadence::Daily).await;
    store
        .unsubscribe("unsub-gone@example.org", Utc::now())
        .await
        .expect("unsubscribe");
    let now = Utc::now();
    let built = store
        .build_edition(&edition("2025-10-29", Cadence::Daily), now)
        .await
        .expect("build");
    assert!(built.created);
    assert_eq!(built.enqueued, 2, "confirmed daily subscribers only");
    assert_eq!(built.edition.paper_ids, ["2510.00001", "2510.00002"]);

    let mut other_papers = edition("2025-10-29", Cadence::Daily);
    other_papers.paper_ids = vec!["2510.09999".into()];
    let again = store
        .build_edition(&other_papers, now)
        .await
        .expect("again");
    assert!(!again.created);
    assert_eq!(again.enqueued, 0, "building twice enqueues nothing twice");
    assert_eq!(
        again.edition, built.edition,
        "the first build's papers are kept"
    );

    confirmed(&store, "late@example.org", Cadence::Daily).await;
    let third = store
        .build_edition(&edition("2025-10-29", Cadence::Daily), now)
        .await
        .expect("third");
    assert_eq!(third.enqueued, 1, "a subscriber confirmed since is added");
    let counts = store
        .outbox_counts(Some(built.edition.id))
        .await
        .expect("counts");
    assert_eq!(counts.queued, 3);

    let claimed = store
        .claim_outbox(100, 1, now, now + Duration::minutes(5))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|m| m.subscriber.id != gone));
    let weekly = store
        .build_edition(&edition("2025-10-29", Cadence::Weekly), now)
        .await
        .expect("weekly");
    assert_eq!(weekly.enqueued, 1);
    assert_ne!(weekly.edition.id, built.edition.id);
    let latest = store
        .latest_edition(Some(Cadence::Daily))
        .await
        .expect("latest")
        .expect("some");
    assert_eq!(latest.id, built.edition.id);
    assert_eq!(
        store
            .edition(weekly.edition.id)
            .await
            .expect("read")
            .expect("found")
            .cadence,
        Cadence::Weekly
    );
}

async fn claims_never_overlap_and_an_expired_lease_is_claimed_again(store: Arc<dyn Store>) {
    for i in 0..5 {
        confirmed(&store, &format!("s{i}@example.org"), Cadence::Daily).await;
    }
    let now = t("2025-10-29T08:00:00Z");
    store
        .build_edition(&edition("2025-10-29", Cadence::Daily), now)
        .await
        .expect("build");
    let lease = now + Duration::minutes(5);
    let a = store.claim_outbox(3, 11, now, lease).await.expect("a");
    let b = store.claim_outbox(3, 22, now, lease).await.expect("b");
    assert_eq!((a.len(), b.len()), (3, 2));
    let ids: HashSet<i64> = a.iter().chain(&b).map(|m| m.id).collect();
    assert_eq!(ids.len(), 5, "no row claimed twice");
    assert!(
        store
            .claim_outbox(10, 33, now + Duration::minutes(4), lease)
            .await
            .expect("c")
            .is_empty(),
        "leased rows stay with their worker"
    );
    for m in &b {
        assert!(
            store
                .record_delivery(m.id, m.claim, &DeliveryOutcome::Sent, now)
                .await
                .expect("record")
        );
    }
    // Worker 11 died: after its lease, its rows (and only those) are claimed again.
    let later = now + Duration::minutes(6);
    let c = store
        .claim_outbox(10, 44, later, later + Duration::minutes(5))
        .await
        .expect("reclaim");
    let mut got: Vec<i64> = c.iter().map(|m| m.id).collect();
    let mut want: Vec<i64> = a.iter().map(|m| m.id).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(c.iter().all(|m| m.claim == 44));
}

async fn outcomes_settle_rows_and_retries_wait_their_turn(store: Arc<dyn Store>) {
    for i in 0..4 {
        confirmed(&store, &format!("s{i}@example.org"), Cadence::Daily).await;
    }
    let now = t("2025-10-29T08:00:00Z");
    let built = store
        .build_edition(&edition("2025-10-29", Cadence::Daily), now)
        .await
        .expect("build");
    let m = store
        .claim_outbox(4, 7, now, now + Duration::minutes(5))
        .await
        .expect("claim");
    let retry_at = now + Duration::minutes(2);
    let outcomes = [
        DeliveryOutcome::Sent,
        DeliveryOutcome::Retry {
            error: "421 try later".into(),
            not_before: retry_at,
        },
        DeliveryOutcome::Failed {
            error: "550 no such user".into(),
        },
        DeliveryOutcome::Cancelled,
    ];
    for (msg, outcome) in m.iter().zip(&outcomes) {
        assert!(
            store
                .record_delivery(msg.id, msg.claim, outcome, now)
                .await
                .expect("record")
        );
    }
    let counts = store
        .outbox_counts(Some(built.edition.id))
        .await
        .expect("counts");
    assert_eq!(
        (
            counts.sent,
            counts.queued,
            counts.failed,
            counts.cancelled,
            counts.sending
        ),
        (1, 1, 1, 1, 0)
    );
    assert!(
        store
            .claim_outbox(
                10,
                8,
                now + Duration::minutes(1),
                now + Duration::minutes(9)
            )
            .await
            .expect("early")
            .is_empty(),
        "a retry waits until it is due"
    );
    let due = store
        .claim_outbox(10, 9, retry_at, retry_at + Duration::minutes(5))
        .await
        .expect("due");
    assert_eq!(
        due.len(),
        1,
        "only the retry comes back; sent and failed rows never do"
    );
    assert_eq!(due[0].id, m[1].id);
    assert_eq!(due[0].attempts, 1);
}

async fn a_late_outcome_from_a_lost_claim_changes_nothing(store: Arc<dyn Store>) {
    confirmed(&store, "a@example.org", Cadence::Daily).await;
    let now = t("2025-10-29T08:00:00Z");
    store
        .build_edition(&edition("2025-10-29", Cadence::Daily), now)
        .await
        .expect("build");
    let first = store
        .claim_outbox(1, 1, now, now + Duration::seconds(30))
        .await
        .expect("first");
    let later = now + Duration::minutes(1);
    let second = store
        .claim_outbox(1, 2, later, later + Duration::seconds(30))
        .await
        .expect("second");
    assert_eq!(first[0].id, second[0].id);
    let stale = DeliveryOutcome::Failed {
        error: "boom".into(),
    };
    assert!(
        !store
            .record_delivery(first[0].id, 1, &stale, later)
            .await
            .expect("stale")
    );
    assert!(
        store
            .record_delivery(second[0].id, 2, &DeliveryOutcome::Sent, later)
            .await
            .expect("fresh")
    );
    assert_eq!(store.outbox_counts(None).await.expect("counts").sent, 1);
}

async fn importing_subscribers_skips_known_addresses(store: Arc<dyn Store>) {
    confirmed(&store, "known@example.org", Cadence::Weekly).await;
    let list: Vec<_> = ["known@example.org", "new1@example.org", "new2@example.org"]
        .iter()
        .map(|a| ImportedSubscriber {
            email: email(a),
            cadence: Cadence::Daily,
            unsubscribe_token: format!("imp-{a}"),
        })
        .collect();
    assert_eq!(store.import_subscribers(&list).await.expect("import"), 2);
    assert_eq!(store.import_subscribers(&list).await.expect("again"), 0);
    let daily = store
        .confirmed_subscribers(Cadence::Daily, 10)
        .await
        .expect("list");
    let emails: Vec<_> = daily.iter().map(|s| s.email.as_str()).collect();
    assert_eq!(emails, ["new1@example.org", "new2@example.org"]);
    let known = store
        .subscriber_by_email(&email("known@example.org"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(known.cadence, Cadence::Weekly, "left as it was");
}

async fn concurrent_claims_hand_out_each_row_once(store: Arc<dyn Store>) {
    let list: Vec<_> = (0..200)
        .map(|i| ImportedSubscriber {
            email: email(&format!("s{i}@example.org")),
            cadence: Cadence::Daily,
            unsubscribe_token: format!("tok{i}"),
        })
        .collect();
    store.import_subscribers(&list).await.expect("import");
    let now = Utc::now();
    store
        .build_edition(&edition("2025-10-29", Cadence::Daily), now)
        .await
        .expect("build");
    let mut tasks = Vec::new();
    for worker in 0..4_i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_outbox(7, worker, now, now + Duration::minutes(5))
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|m| m.id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("worker"));
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200);
    assert_eq!(distinct.len(), 200);
}

async fn subscribing_queues_the_confirmation_in_the_same_transaction(store: Arc<dyn Store>) {
    store
        .subscribe(&request("ada@example.org", "h1", "2100-01-01T00:00:00Z"))
        .await
        .expect("subscribe");
    // Asking again before it was sent replaces the queued message: one row, the new token.
    store
        .subscribe(&request("ada@example.org", "h2", "2100-01-01T00:00:00Z"))
        .await
        .expect("again");
    confirmed(&store, "bob@example.org", Cadence::Daily).await;
    // Bob followed his link before his message went out: confirming cancelled it. Asking again
    // as a confirmed subscriber queues nothing more.
    store
        .subscribe(&request("bob@example.org", "h3", "2100-01-01T00:00:00Z"))
        .await
        .expect("confirmed again");
    let counts = store.confirmation_counts().await.expect("counts");
    assert_eq!((counts.queued, counts.cancelled), (1, 1));

    let now = Utc::now();
    let claimed = store
        .claim_confirmations(10, 7, now, now + Duration::minutes(5))
        .await
        .expect("claim");
    let got: Vec<(String, String, SubscriberStatus)> = claimed
        .iter()
        .map(|m| {
            (
                m.subscriber.email.clone(),
                m.token.clone(),
                m.subscriber.status,
            )
        })
        .collect();
    assert_eq!(
        got,
        [(
            "ada@example.org".to_owned(),
            "token-h2".to_owned(),
            SubscriberStatus::Pending
        )]
    );
    assert!(
        store
            .claim_confirmations(10, 8, now, now + Duration::minutes(5))
            .await
            .expect("claim again")
            .is_empty(),
        "claimed rows are not handed out twice"
    );
    let counts = store.confirmation_counts().await.expect("counts");
    assert_eq!((counts.sending, counts.queued), (1, 0));

    // An expired lease (the worker died) hands the row out again, with its token.
    let later = now + Duration::minutes(6);
    let again = store
        .claim_confirmations(10, 9, later, later + Duration::minutes(5))
        .await
        .expect("reclaim");
    assert_eq!(again.len(), 1);
    assert!(
        !store
            .record_confirmation(again[0].id, 7, &DeliveryOutcome::Sent, later)
            .await
            .expect("stale"),
        "the lost claim records nothing"
    );
    for m in &again {
        assert!(
            store
                .record_confirmation(m.id, 9, &DeliveryOutcome::Sent, later)
                .await
                .expect("record")
        );
    }
    let counts = store.confirmation_counts().await.expect("counts");
    assert_eq!((counts.sent, counts.cancelled, counts.pending()), (1, 1, 0));
}

async fn a_settled_confirmation_is_not_claimed_again_and_a_new_request_queues_it_again(
    store: Arc<dyn Store>,
) {
    store
        .subscribe(&request("ada@example.org", "h1", "2100-01-01T00:00:00Z"))
        .await
        .expect("subscribe");
    let now = Utc::now();
    let m = store
        .claim_confirmations(10, 1, now, now + Duration::minutes(5))
        .await
        .expect("claim")
        .pop()
        .expect("one");
    let retry_at = now + Duration::minutes(1);
    assert!(
        store
            .record_confirmation(
                m.id,
                1,
                &DeliveryOutcome::Retry {
                    error: "451 try later".into(),
                    not_before: retry_at,
                },
                now,
            )
            .await
            .expect("retry")
    );
    assert!(
        store
            .claim_confirmations(10, 2, now, now + Duration::minutes(5))
            .await
            .expect("early")
            .is_empty(),
        "a retry waits for its time"
    );
    let m = store
        .claim_confirmations(10, 3, retry_at, retry_at + Duration::minutes(5))
        .await
        .expect("due")
        .pop()
        .expect("due again");
    assert_eq!((m.attempts, m.token.as_str()), (1, "token-h1"));
    assert!(
        store
            .record_confirmation(m.id, 3, &DeliveryOutcome::Sent, retry_at)
            .await
            .expect("sent")
    );
    let far = now + Duration::days(30);
    assert!(
        store
            .claim_confirmations(10, 4, far, far + Duration::minutes(5))
            .await
            .expect("settled")
            .is_empty()
    );
    // A new request (the first mail was lost in a spam folder, say) queues a new message.
    store
        .subscribe(&request("ada@example.org", "h2", "2100-01-01T00:00:00Z"))
        .await
        .expect("again");
    let m = store
        .claim_confirmations(10, 5, far, far + Duration::minutes(5))
        .await
        .expect("claim")
        .pop()
        .expect("queued again");
    assert_eq!((m.attempts, m.token.as_str()), (0, "token-h2"));
}

async fn an_account_is_linked_to_an_address_only_by_the_link_mailed_to_it(store: Arc<dyn Store>) {
    let user = |name: &str| NewUser {
        username: paperboy_core::Username::parse(name).expect("username"),
        fullname: name.into(),
        email: None,
        password_hash: None,
        is_admin: false,
    };
    let ada = store.create_user(&user("ada")).await.expect("ada");
    // A confirmed address, subscribed from the footer: no account.
    let id = confirmed(&store, "ada@example.org", Cadence::Weekly).await;
    let mut r = request("ada@example.org", "h9", "2100-01-01T00:00:00Z");
    r.user_id = Some(ada.id);
    let SubscribeOutcome::ConfirmationNeeded(s) = store.subscribe(&r).await.expect("ask") else {
        panic!("linking needs the link mailed to the address");
    };
    assert_eq!(
        (s.id, s.status, s.user_id, s.cadence),
        (id, SubscriberStatus::Confirmed, None, Cadence::Weekly),
        "still confirmed, not linked yet, unchanged"
    );
    let now = Utc::now();
    let m = store
        .claim_confirmations(10, 1, now, now + Duration::minutes(5))
        .await
        .expect("claim")
        .pop()
        .expect("the link's message is queued");
    assert_eq!((m.subscriber.id, m.token.as_str()), (id, "token-h9"));
    let s = store
        .confirm_subscriber("h9", Utc::now())
        .await
        .expect("follow")
        .expect("the token works");
    assert_eq!(
        (s.id, s.status, s.user_id),
        (id, SubscriberStatus::Confirmed, Some(ada.id))
    );
    assert!(
        store
            .confirm_subscriber("h9", Utc::now())
            .await
            .expect("again")
            .is_none(),
        "once"
    );
    // Linked: asking again changes nothing and mails nothing.
    assert!(matches!(
        store.subscribe(&r).await.expect("again"),
        SubscribeOutcome::AlreadyConfirmed(_)
    ));

    // A new address asked for by an account is linked when confirmed, not before.
    let bob = store.create_user(&user("bob")).await.expect("bob");
    let mut r = request("bob@example.org", "hb", "2100-01-01T00:00:00Z");
    r.user_id = Some(bob.id);
    let SubscribeOutcome::ConfirmationNeeded(s) = store.subscribe(&r).await.expect("bob") else {
        panic!("new");
    };
    assert_eq!((s.status, s.user_id), (SubscriberStatus::Pending, None));
    let s = store
        .confirm_subscriber("hb", Utc::now())
        .await
        .expect("confirm")
        .expect("confirmed");
    assert_eq!(s.user_id, Some(bob.id));

    // Unsubscribing drops a link still waiting, and cancels its queued message.
    let mut r = request("carol@example.org", "hc", "2100-01-01T00:00:00Z");
    r.user_id = Some(ada.id);
    let SubscribeOutcome::ConfirmationNeeded(s) = store.subscribe(&r).await.expect("carol") else {
        panic!("new");
    };
    let before = store.confirmation_counts().await.expect("counts").cancelled;
    store
        .unsubscribe(&s.unsubscribe_token, Utc::now())
        .await
        .expect("unsubscribe");
    assert_eq!(
        store.confirmation_counts().await.expect("counts").cancelled,
        before + 1
    );
    assert!(
        store
            .confirm_subscriber("hc", Utc::now())
            .await
            .expect("confirm")
            .is_none(),
        "an unsubscribed address's token is void"
    );
}

async fn an_accounts_upvoted_papers_are_listed_for_its_recommendations(store: Arc<dyn Store>) {
    let papers: Vec<paperboy_core::NewPaper> = (1..=3)
        .map(|i| {
            paperboy_core::NewPaper::new(
                paperboy_core::ArxivId::parse(&format!("2510.0000{i}")).expect("id"),
                format!("Paper {i}"),
                "Abstract.",
                t("2025-10-28T12:00:00Z"),
            )
        })
        .collect();
    store.upsert_papers(&papers).await.expect("papers");
    let new_user = |name: &str| NewUser {
        username: paperboy_core::Username::parse(name).expect("username"),
        fullname: name.into(),
        email: None,
        password_hash: None,
        is_admin: false,
    };
    let ada = store.create_user(&new_user("ada")).await.expect("ada");
    let bob = store.create_user(&new_user("bob")).await.expect("bob");
    for id in ["2510.00001", "2510.00003v2", "2510.00002"] {
        store
            .set_vote(
                ada.id,
                &paperboy_core::ArxivId::parse(id).expect("id"),
                true,
            )
            .await
            .expect("vote");
    }
    store
        .set_vote(
            ada.id,
            &paperboy_core::ArxivId::parse("2510.00002").expect("id"),
            false,
        )
        .await
        .expect("unvote");
    let mut got = store.upvoted_paper_ids(ada.id, 10).await.expect("upvotes");
    got.sort();
    assert_eq!(
        got,
        ["2510.00001", "2510.00003"],
        "base ids, un-votes left out"
    );
    assert_eq!(
        store
            .upvoted_paper_ids(ada.id, 1)
            .await
            .expect("limit")
            .len(),
        1
    );
    assert!(
        store
            .upvoted_paper_ids(bob.id, 10)
            .await
            .expect("none")
            .is_empty()
    );
}

async fn a_confirmation_mailed_late_still_has_its_full_time_and_a_stale_one_is_not_renewed(
    store: Arc<dyn Store>,
) {
    store
        .subscribe(&request("ada@example.org", "old", "2025-10-30T00:00:00Z"))
        .await
        .expect("first");
    store
        .subscribe(&request("ada@example.org", "new", "2025-10-30T00:00:00Z"))
        .await
        .expect("again");
    assert!(
        !store
            .renew_confirmation("old", t("2025-11-02T00:00:00Z"))
            .await
            .expect("stale"),
        "a replaced token is not renewed (its message is not sent)"
    );
    assert!(
        store
            .renew_confirmation("new", t("2025-11-02T00:00:00Z"))
            .await
            .expect("renew")
    );
    assert!(
        store
            .renew_confirmation("new", t("2025-10-29T00:00:00Z"))
            .await
            .expect("never shortened")
    );
    let s = store
        .confirm_subscriber("new", t("2025-11-01T00:00:00Z"))
        .await
        .expect("confirm")
        .expect("the renewed token works past its first expiry");
    assert_eq!(s.status, SubscriberStatus::Confirmed);
    assert!(
        !store
            .renew_confirmation("new", t("2025-11-03T00:00:00Z"))
            .await
            .expect("followed"),
        "a followed token is not current any more"
    );
}
