//! Digests delivered over real SMTP (aiosmtpd on loopback) from a real SQLite store: what
//! arrives, to whom, with which headers and parts; failures that are retried or not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, Email, NewAuthor, NewFeedEntry, NewPaper, OrgRef};
use paperboy_mail::schedule::build_edition;
use paperboy_mail::{
    MailResult, Mailer, Recommender, SiteSettings, SmtpSettings, Worker, WorkerOptions,
};
use paperboy_store::{Cadence, ImportedSubscriber, NewSubscriber, Store};
use paperboy_testkit::smtp::SmtpSink;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 29).expect("date")
}

fn paper(i: u32, votes: i64, title: &str) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(&format!("2510.{i:05}")).expect("id"),
        title,
        format!(
            "We study {title}. {}",
            "It matters a great deal. ".repeat(30)
        ),
        t("2025-10-28T12:00:00Z"),
    );
    p.authors = (0..6)
        .map(|a| NewAuthor::named(format!("Author {a}")))
        .collect();
    p.source_upvotes = Some(votes);
    p.feed = Some(NewFeedEntry {
        feed_date: day(),
        submitted_at: t("2025-10-29T08:00:00Z"),
        submitter: None,
        organization: Some(OrgRef {
            name: "lab".into(),
            fullname: "The <Lab> & Friends".into(),
            avatar_url: None,
        }),
    });
    p
}

fn site() -> SiteSettings {
    SiteSettings::new(
        "Paperboy",
        "https://papers.example.org",
        "Paperboy <digest@papers.example.org>",
    )
    .expect("site")
}

fn options() -> WorkerOptions {
    WorkerOptions {
        batch_size: 50,
        concurrency: 3,
        lease: Duration::from_secs(30),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_millis(400),
        max_attempts: 50,
        poll: Duration::from_millis(50),
        send_budget: Duration::from_secs(5),
        ..WorkerOptions::default()
    }
}

fn mailer(sink: &SmtpSink) -> Mailer {
    Mailer::new(SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port(),
        timeout: Duration::from_secs(5),
        ..SmtpSettings::default()
    })
    .expect("mailer")
}

async fn seeded() -> (Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = paperboy_testkit::sqlite_store().await;
    store
        .upsert_papers(&[
            paper(1, 10, "Fast <Attention>"),
            paper(2, 50, "Diffusion for all"),
            paper(3, 5, "Agents & tools"),
        ])
        .await
        .expect("papers");
    (store, dir)
}

async fn import(store: &Arc<dyn Store>, addrs: &[&str], cadence: Cadence) {
    let list: Vec<_> = addrs
        .iter()
        .map(|a| ImportedSubscriber {
            email: Email::parse(a).expect("email"),
            cadence,
            unsubscribe_token: paperboy_mail::token::new_token(),
        })
        .collect();
    store.import_subscribers(&list).await.expect("import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_reaches_each_confirmed_subscriber_once_with_both_parts_and_one_click_headers() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let (store, _dir) = seeded().await;
    import(
        &store,
        &["ada@example.org", "bob@example.org"],
        Cadence::Daily,
    )
    .await;
    import(&store, &["weekly@example.org"], Cadence::Weekly).await;
    store
        .subscribe(&NewSubscriber {
            email: Email::parse("pending@example.org").expect("email"),
            user_id: None,
            cadence: Cadence::Daily,
            confirm_token: "pending-token".into(),
            confirm_token_hash: paperboy_mail::token::hash_token("pending-token"),
            confirm_expires_at: t("2100-01-01T00:00:00Z"),
            unsubscribe_token: paperboy_mail::token::new_token(),
        })
        .await
        .expect("pending");

    let built = build_edition(&*store, Cadence::Daily, day())
        .await
        .expect("build");
    assert_eq!(built.enqueued, 2);
    assert_eq!(
        built.edition.paper_ids.len(),
        3,
        "the day's trending papers"
    );
    let again = build_edition(&*store, Cadence::Daily, day())
        .await
        .expect("again");
    assert_eq!(again.enqueued, 0);

    let worker = Worker::new(store.clone(), site(), mailer(&sink), options());
    let report = worker.drain().await.expect("drain");
    assert_eq!(
        report.sent, 3,
        "two digests and the pending address's confirmation"
    );
    let got = sink.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3);
    let mut by_rcpt: HashMap<String, _> = got.into_iter().map(|m| (m.rcpt.join(","), m)).collect();
    let ada = by_rcpt.remove("ada@example.org").expect("ada's copy");
    assert!(by_rcpt.contains_key("bob@example.org"));
    let pending = by_rcpt
        .remove("pending@example.org")
        .expect("the pending address's one message");
    assert!(
        pending
            .header("Subject")
            .is_some_and(|s| s.starts_with("Confirm your subscription")),
        "nothing but the confirmation goes to a pending address"
    );
    assert!(
        pending
            .text
            .contains("https://papers.example.org/subscribe/confirm/pending-token")
    );
    let ada_sub = store
        .subscriber_by_email(&Email::parse("ada@example.org").expect("email"))
        .await
        .expect("read")
        .expect("ada");
    let token = &ada_sub.unsubscribe_token;
    assert_eq!(
        ada.header("List-Unsubscribe"),
        Some(
            format!(
                "<https://papers.example.org/unsubscribe/{token}>, <mailto:digest@papers.example.org?subject=unsubscribe%20{token}>"
            )
            .as_str()
        )
    );
    assert_eq!(
        ada.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        ada.header("Message-ID"),
        Some(
            format!(
                "<digest.{}.{}@papers.example.org>",
                built.edition.id, ada_sub.id
            )
            .as_str()
        )
    );
    assert!(
        ada.header("Subject")
            .expect("subject")
            .contains("Wednesday, October 29, 2025")
    );
    // Trending order (same age, so by upvotes), in both parts.
    let pos = |s: &str, needle: &str| s.find(needle).unwrap_or(usize::MAX);
    assert!(pos(&ada.text, "Diffusion for all") < pos(&ada.text, "Fast <Attention>"));
    assert!(ada.text.contains("The <Lab> & Friends"));
    assert!(
        ada.text
            .contains("Author 0, Author 1, Author 2, Author 3 et al.")
    );
    assert!(
        ada.text
            .contains("https://papers.example.org/papers/2510.00002")
    );
    assert!(ada.text.contains("▲ 50 upvotes"));
    assert!(
        ada.html.contains("Fast &#60;Attention&#62;")
            || ada.html.contains("Fast &lt;Attention&gt;")
    );
    assert!(!ada.html.contains("<Lab>"));
    assert!(ada.html.contains(&format!("/unsubscribe/{token}")));
    assert!(!ada.text.contains("For you"));

    // Nothing more goes out: the outbox is settled.
    assert_eq!(worker.drain().await.expect("again").claimed, 0);
    assert_eq!(sink.messages().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_smtp_server_down_nothing_is_lost_and_all_arrive_once_it_is_back() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let (store, _dir) = seeded().await;
    let addrs: Vec<String> = (0..5).map(|i| format!("s{i}@example.org")).collect();
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    import(&store, &refs, Cadence::Daily).await;
    let built = build_edition(&*store, Cadence::Daily, day())
        .await
        .expect("build");
    sink.stop();

    let worker = Worker::new(store.clone(), site(), mailer(&sink), options());
    let report = worker.run_batch().await.expect("batch");
    assert_eq!((report.claimed, report.retried, report.sent), (5, 5, 0));
    let counts = store
        .outbox_counts(Some(built.edition.id))
        .await
        .expect("counts");
    assert_eq!(counts.queued, 5, "all still queued for a retry");

    sink.restart();
    let report = worker.drain().await.expect("drain");
    assert_eq!(report.sent, 5);
    let got = sink.wait_for(5, Duration::from_secs(10)).await;
    let mut rcpts: Vec<String> = got.iter().map(|m| m.rcpt.join(",")).collect();
    rcpts.sort();
    assert_eq!(rcpts, addrs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_rejection_is_recorded_and_never_retried_while_a_temporary_one_is() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let (store, _dir) = seeded().await;
    import(
        &store,
        &[
            "bounce@example.org",
            "tempfail@example.org",
            "ok@example.org",
        ],
        Cadence::Daily,
    )
    .await;
    let built = build_edition(&*store, Cadence::Daily, day())
        .await
        .expect("build");
    let mut opts = options();
    opts.max_attempts = 3;
    let worker = Worker::new(store.clone(), site(), mailer(&sink), opts);
    let first = worker.run_batch().await.expect("batch");
    assert_eq!((first.sent, first.failed, first.retried), (1, 1, 1));
    let report = worker.drain().await.expect("drain");
    assert_eq!(report.sent, 0);
    let counts = store
        .outbox_counts(Some(built.edition.id))
        .await
        .expect("counts");
    assert_eq!(
        (counts.sent, counts.failed, counts.queued),
        (1, 2, 0),
        "the temporary failure gave up after its attempts"
    );
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt, ["ok@example.org"]);
}

struct Fixed(Vec<String>);

#[async_trait]
impl Recommender for Fixed {
    async fn recommend(
        &self,
        _user: i64,
        exclude: &[String],
        limit: usize,
    ) -> MailResult<Vec<String>> {
        Ok(self
            .0
            .iter()
            .filter(|id| !exclude.contains(id))
            .take(limit)
            .cloned()
            .collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_subscriber_gets_a_for_you_section_from_the_recommender() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let (store, _dir) = seeded().await;
    let mut extra = paper(9, 1, "Hidden gem");
    extra.feed = None;
    store.upsert_papers(&[extra]).await.expect("extra");
    let user = store
        .create_user(&paperboy_store::NewUser {
            username: paperboy_core::Username::parse("ada").expect("name"),
            fullname: "Ada".into(),
            email: None,
            password_hash: None,
            is_admin: false,
        })
        .await
        .expect("user");
    store
        .subscribe(&NewSubscriber {
            email: Email::parse("ada@example.org").expect("email"),
            user_id: Some(user.id),
            cadence: Cadence::Daily,
            confirm_token: "ada-token".into(),
            confirm_token_hash: "h".into(),
            confirm_expires_at: t("2100-01-01T00:00:00Z"),
            unsubscribe_token: paperboy_mail::token::new_token(),
        })
        .await
        .expect("subscribe");
    store
        .confirm_subscriber("h", Utc::now())
        .await
        .expect("confirm");
    import(&store, &["anon@example.org"], Cadence::Daily).await;
    build_edition(&*store, Cadence::Daily, day())
        .await
        .expect("build");
    let worker = Worker::new(store.clone(), site(), mailer(&sink), options()).with_recommender(
        Some(Arc::new(Fixed(vec![
            "2510.00002".into(), // in the edition already: left out
            "2510.00009".into(),
        ]))),
    );
    worker.drain().await.expect("drain");
    let got = sink.wait_for(2, Duration::from_secs(10)).await;
    let ada = got
        .iter()
        .find(|m| m.rcpt == ["ada@example.org"])
        .expect("ada");
    let anon = got
        .iter()
        .find(|m| m.rcpt == ["anon@example.org"])
        .expect("anon");
    assert!(ada.text.contains("For you") && ada.text.contains("Hidden gem"));
    let for_you = &ada.text[ada.text.find("For you").expect("section")..];
    assert!(
        !for_you.contains("Diffusion for all"),
        "the edition's own papers are not recommended again"
    );
    assert!(ada.html.contains("Hidden gem"));
    assert!(
        !anon.text.contains("For you"),
        "no account, no recommendations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgresql_share_the_outbox_and_send_each_message_once() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let Some(store) = paperboy_testkit::postgres_store().await else {
        return;
    };
    store
        .upsert_papers(&[paper(1, 10, "Fast <Attention>"), paper(2, 50, "Diffusion")])
        .await
        .expect("papers");
    let addrs: Vec<String> = (0..120).map(|i| format!("pg{i}@example.org")).collect();
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    import(&store, &refs, Cadence::Daily).await;
    let built = build_edition(&*store, Cadence::Daily, day())
        .await
        .expect("build");
    assert_eq!(built.enqueued, 120);
    let mut opts = options();
    opts.batch_size = 10;
    let a = Worker::new(store.clone(), site(), mailer(&sink), opts.clone());
    let b = Worker::new(store.clone(), site(), mailer(&sink), opts);
    let (ra, rb) = tokio::join!(a.drain(), b.drain());
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(ra.sent + rb.sent, 120);
    assert!(
        ra.sent > 0 && rb.sent > 0,
        "both workers took rows: {ra} / {rb}"
    );
    let got = sink.wait_for(120, Duration::from_secs(10)).await;
    let mut rcpts: Vec<String> = got.iter().map(|m| m.rcpt.join(",")).collect();
    rcpts.sort();
    let mut want = addrs.clone();
    want.sort();
    assert_eq!(rcpts, want, "each subscriber exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_queued_while_the_smtp_server_is_down_arrives_once_it_is_back() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let (store, _dir) = seeded().await;
    sink.stop();
    let service = paperboy_mail::MailService::new(store.clone(), site(), mailer(&sink));
    service
        .subscribe(
            Email::parse("ada@example.org").expect("email"),
            Cadence::Weekly,
            None,
        )
        .await
        .expect("subscribing does not need the SMTP server");
    let queued = store.confirmation_counts().await.expect("counts");
    assert_eq!(queued.queued, 1, "queued with the pending subscriber");

    let worker = Worker::new(store.clone(), site(), mailer(&sink), options());
    let report = worker.run_batch().await.expect("batch");
    assert_eq!((report.claimed, report.retried, report.sent), (1, 1, 0));
    assert!(sink.messages().is_empty());

    sink.restart();
    let report = worker.drain().await.expect("drain");
    assert_eq!(report.sent, 1);
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt, ["ada@example.org"]);
    let link_at = got[0]
        .text
        .find("https://papers.example.org/subscribe/confirm/")
        .expect("the confirmation link");
    let token = got[0].text[link_at..]
        .split_whitespace()
        .next()
        .expect("link")
        .rsplit('/')
        .next()
        .expect("token")
        .to_owned();
    let id = got[0].header("Message-ID").expect("Message-ID");
    assert!(
        id.starts_with("<confirm.") && id.ends_with("@papers.example.org>"),
        "{id}"
    );
    let confirmed = service
        .confirm(&token)
        .await
        .expect("confirm")
        .expect("the mailed token confirms");
    assert_eq!(confirmed.cadence, Cadence::Weekly);
    let counts = store.confirmation_counts().await.expect("counts");
    assert_eq!((counts.sent, counts.pending()), (1, 0));
    assert_eq!(worker.drain().await.expect("again").claimed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_whose_address_was_confirmed_or_left_meanwhile_is_not_sent() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let (store, _dir) = seeded().await;
    let service = paperboy_mail::MailService::new(store.clone(), site(), mailer(&sink));
    for addr in ["gone@example.org", "stays@example.org"] {
        service
            .subscribe(Email::parse(addr).expect("email"), Cadence::Daily, None)
            .await
            .expect("subscribe");
    }
    let gone = store
        .subscriber_by_email(&Email::parse("gone@example.org").expect("email"))
        .await
        .expect("read")
        .expect("stored");
    store
        .unsubscribe(&gone.unsubscribe_token, Utc::now())
        .await
        .expect("unsubscribe");
    let worker = Worker::new(store.clone(), site(), mailer(&sink), options());
    let report = worker.drain().await.expect("drain");
    assert_eq!(report.sent, 1);
    let counts = store.confirmation_counts().await.expect("counts");
    assert_eq!(
        (counts.sent, counts.cancelled),
        (1, 1),
        "unsubscribing cancelled the queued confirmation"
    );
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt, ["stays@example.org"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keeps_no_more_messages_in_flight_than_it_has_smtp_connections() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let (store, _dir) = seeded().await;
    let addrs: Vec<String> = (0..60).map(|i| format!("c{i}@example.org")).collect();
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    import(&store, &refs, Cadence::Daily).await;
    build_edition(&*store, Cadence::Daily, day())
        .await
        .expect("build");
    let mut opts = options();
    opts.concurrency = 16;
    let two = Mailer::new(SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port(),
        max_connections: 2,
        ..SmtpSettings::default()
    })
    .expect("mailer");
    let worker = Worker::new(store.clone(), site(), two, opts);
    assert_eq!(worker.concurrency(), 2, "capped at the connections");
    assert_eq!(worker.drain().await.expect("drain").sent, 60);
    let got = sink.wait_for(60, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 60);
    let most = got.iter().map(|m| m.in_flight).max().unwrap_or_default();
    // What a crash can leave sent but unrecorded: the messages in flight.
    assert!(
        (1..=2).contains(&most),
        "at most 2 messages were in flight at the server at once, {most} were"
    );
}
