//! Subscriptions and digests through the real app on a random port, with a real SMTP server
//! (aiosmtpd) receiving the mail and the outbox worker running beside the server (as in
//! `paperboy serve`): every link is followed against the running server.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, Email, NewAuthor, NewFeedEntry, NewPaper};
use paperboy_mail::schedule::build_edition;
use paperboy_mail::{MailService, Mailer, SiteSettings, SmtpSettings, Worker, WorkerOptions};
use paperboy_store::{Cadence, Store, SubscriberStatus};
use paperboy_testkit::smtp::{ReceivedMail, SmtpSink};

struct TestApp {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn Store>,
    site: SiteSettings,
    mailer: Mailer,
    sink: SmtpSink,
    _dir: tempfile::TempDir,
}

impl TestApp {
    async fn spawn() -> Option<Self> {
        Self::spawn_with_worker(true).await
    }

    /// The app, with or without the background outbox worker (without, a test drives the
    /// worker itself).
    async fn spawn_with_worker(background_worker: bool) -> Option<Self> {
        let sink = SmtpSink::start()?;
        let (store, dir) = paperboy_testkit::sqlite_store().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let site =
            SiteSettings::new("Paperboy", &base, "Paperboy <digest@example.org>").expect("site");
        let mailer = Mailer::new(SmtpSettings {
            host: "127.0.0.1".into(),
            port: sink.port(),
            ..SmtpSettings::default()
        })
        .expect("mailer");
        let mut state = paperboy_web::AppState::new(store.clone()).with_mail(MailService::new(
            store.clone(),
            site.clone(),
            mailer.clone(),
        ));
        // The outbox worker, as `serve` runs it: it sends the queued confirmations.
        if background_worker {
            let worker = Worker::new(store.clone(), site.clone(), mailer.clone(), fast());
            tokio::spawn(async move { worker.run(std::future::pending()).await });
        }
        // Plain http on loopback: cookies without `Secure`, so the client keeps them.
        state.cookies = paperboy_web::auth::CookiePolicy { secure: false };
        // Loopback is the proxy: a test names its clients in `X-Forwarded-For`.
        state.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")].into();
        tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Some(Self {
            base,
            http,
            store,
            site,
            mailer,
            sink,
            _dir: dir,
        })
    }

    /// The CSRF token a page's forms carry (the footer's subscribe form is on every page).
    async fn csrf(&self) -> String {
        let html = self.follow(&format!("{}/", self.base)).await.1;
        let at = html
            .find("name=\"csrf_token\" value=\"")
            .expect("a form with a token");
        let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }

    async fn subscribe(&self, email: &str) -> (u16, String) {
        let token = self.csrf().await;
        let r = self
            .http
            .post(format!("{}/subscribe", self.base))
            .form(&[("email", email), ("csrf_token", token.as_str())])
            .send()
            .await
            .expect("post");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn follow(&self, url: &str) -> (u16, String) {
        assert!(url.starts_with(&self.base), "{url} points at this server");
        let r = self.http.get(url).send().await.expect("get");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn status_of(&self, email: &str) -> Option<SubscriberStatus> {
        self.store
            .subscriber_by_email(&Email::parse(email).expect("email"))
            .await
            .expect("read")
            .map(|s| s.status)
    }

    async fn send_digest(&self) {
        let mut p = NewPaper::new(
            ArxivId::parse("2510.00001").expect("id"),
            "A paper worth reading",
            "Abstract.",
            DateTime::parse_from_rfc3339("2025-10-29T08:00:00Z")
                .expect("t")
                .with_timezone(&Utc),
        );
        p.authors = vec![NewAuthor::named("Ada Lovelace")];
        p.feed = Some(NewFeedEntry {
            feed_date: day(),
            submitted_at: p.published_at,
            submitter: None,
            organization: None,
        });
        self.store.upsert_papers(&[p]).await.expect("paper");
        build_edition(&*self.store, Cadence::Daily, day())
            .await
            .expect("build");
        self.settle().await;
    }

    /// Waits until every queued message (confirmations and digests) is settled: sent, or
    /// failed for good.
    async fn settle(&self) {
        Worker::new(
            self.store.clone(),
            self.site.clone(),
            self.mailer.clone(),
            fast(),
        )
        .drain()
        .await
        .expect("drain");
    }

    /// Makes a local account with this address (as `paperboy user create` does: its address
    /// not verified) and signs this browser in.
    async fn sign_up(&self, username: &str, email: &str) {
        self.create_account(username, email).await;
        let token = self.csrf().await;
        let r = self
            .http
            .post(format!("{}/signin", self.base))
            .form(&[
                ("username", username),
                ("password", "correct horse battery staple"),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .expect("sign in");
        assert!(r.status().is_redirection(), "signed in: {}", r.status());
    }

    async fn create_account(&self, username: &str, email: &str) {
        let hash = paperboy_web::auth::hash_password("correct horse battery staple".into())
            .await
            .expect("hash");
        self.store
            .create_user(&paperboy_store::NewUser {
                username: paperboy_core::Username::parse(username).expect("username"),
                fullname: "Ada Lovelace".into(),
                email: Some(Email::parse(email).expect("email")),
                password_hash: Some(hash),
                is_admin: false,
            })
            .await
            .expect("account");
    }

    /// Posts the sign-up form from `client` (an address behind the trusted proxy).
    async fn post_sign_up(
        &self,
        http: &reqwest::Client,
        username: &str,
        email: &str,
    ) -> (u16, String) {
        let token = self.csrf_of(http).await;
        let r = http
            .post(format!("{}/signup", self.base))
            .form(&[
                ("username", username),
                ("fullname", "Somebody"),
                ("email", email),
                ("password", "correct horse battery staple"),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .expect("sign up");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    /// The CSRF token of another browser.
    async fn csrf_of(&self, http: &reqwest::Client) -> String {
        let html = http
            .get(format!("{}/", self.base))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        let at = html
            .find("name=\"csrf_token\" value=\"")
            .expect("a form with a token");
        let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }

    async fn save_digest_settings(&self, cadence: &str, with_token: bool) -> (u16, String) {
        let token = if with_token {
            self.csrf().await
        } else {
            "forged".into()
        };
        let r = self
            .http
            .post(format!("{}/settings/digest", self.base))
            .form(&[("cadence", cadence), ("csrf_token", token.as_str())])
            .send()
            .await
            .expect("post");
        (r.status().as_u16(), r.text().await.expect("body"))
    }
}

/// Worker options for tests: quick polls and retries.
fn fast() -> WorkerOptions {
    WorkerOptions {
        poll: Duration::from_millis(50),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_millis(400),
        max_attempts: 50,
        ..WorkerOptions::default()
    }
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 29).expect("date")
}

/// The first URL in `text` that starts with `prefix`.
fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn for_rcpt<'a>(mail: &'a [ReceivedMail], who: &str) -> Vec<&'a ReceivedMail> {
    mail.iter().filter(|m| m.rcpt == [who]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_sends_only_a_confirmation_whose_link_confirms_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let (status, body) = app.subscribe("Ada@Example.org").await;
    assert_eq!(status, 200);
    assert!(body.contains("Check your inbox"));
    assert_eq!(
        app.status_of("ada@example.org").await,
        Some(SubscriberStatus::Pending)
    );

    let got = app.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.rcpt, ["Ada@example.org"]);
    assert!(m.header("Subject").expect("subject").contains("Confirm"));
    assert!(
        m.header("List-Unsubscribe")
            .expect("header")
            .contains("/unsubscribe/")
    );
    assert_eq!(
        m.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let confirm = link(&m.text, &format!("{}/subscribe/confirm/", app.base));
    assert_eq!(
        link(&m.html, &format!("{}/subscribe/confirm/", app.base)),
        confirm
    );
    let token = confirm.rsplit('/').next().expect("token");
    assert!(token.len() >= 32, "at least 128 bits");

    // A digest built before confirmation does not go to a pending address.
    app.send_digest().await;
    assert_eq!(app.sink.messages().len(), 1, "nothing but the confirmation");

    let (status, body) = app.follow(&confirm).await;
    assert_eq!(status, 200);
    assert!(body.contains("You are subscribed"));
    assert_eq!(
        app.status_of("ada@example.org").await,
        Some(SubscriberStatus::Confirmed)
    );
    let (status, _) = app.follow(&confirm).await;
    assert_eq!(status, 404, "the link works once");
    let (status, _) = app
        .follow(&format!(
            "{}/subscribe/confirm/{}",
            app.base,
            "0".repeat(64)
        ))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_answers_the_same_whether_or_not_the_address_was_subscribed() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let (_, fresh) = app.subscribe("new@example.org").await;
    app.subscribe("old@example.org").await;
    let first = app.sink.wait_for(2, Duration::from_secs(10)).await;
    let mail = for_rcpt(&first, "old@example.org");
    let confirm = link(&mail[0].text, &format!("{}/subscribe/confirm/", app.base));
    app.follow(&confirm).await;
    assert_eq!(
        app.status_of("old@example.org").await,
        Some(SubscriberStatus::Confirmed)
    );

    let (status, again) = app.subscribe("old@example.org").await;
    assert_eq!(status, 200);
    assert_eq!(
        again, fresh,
        "the same page for a subscribed address as for a new one"
    );
    app.settle().await;
    assert_eq!(
        for_rcpt(&app.sink.messages(), "old@example.org").len(),
        1,
        "a confirmed address is not mailed again"
    );
    assert_eq!(
        app.status_of("old@example.org").await,
        Some(SubscriberStatus::Confirmed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_address_or_a_header_injection_attempt_is_refused_and_nothing_is_sent() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    for bad in [
        "not-an-address",
        "ada@example.org\r\nBcc: victim@example.org",
        "ada@example.org\nSubject: hi",
        "\"Ada\" <ada@example.org>, victim@example.org",
    ] {
        let (status, body) = app.subscribe(bad).await;
        assert_eq!(status, 400, "{bad:?}");
        assert!(body.contains("does not look right"));
    }
    assert_eq!(
        app.store
            .confirmed_subscribers(Cadence::Daily, 10)
            .await
            .expect("list")
            .len(),
        0
    );
    assert_eq!(app.status_of("ada@example.org").await, None);
    app.settle().await;
    assert!(app.sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsubscribe_links_of_a_digest_work_in_one_click_without_signing_in_and_again() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    for who in ["ada@example.org", "bob@example.org"] {
        app.subscribe(who).await;
    }
    let confirmations = app.sink.wait_for(2, Duration::from_secs(10)).await;
    for m in &confirmations {
        let (status, _) = app
            .follow(&link(&m.text, &format!("{}/subscribe/confirm/", app.base)))
            .await;
        assert_eq!(status, 200);
    }
    app.send_digest().await;
    let all = app.sink.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(all.len(), 4);
    let ada = *for_rcpt(&all, "ada@example.org")
        .last()
        .expect("ada's digest");
    let bob = *for_rcpt(&all, "bob@example.org")
        .last()
        .expect("bob's digest");
    assert!(ada.text.contains("A paper worth reading"));

    // Ada clicks the link in the body: one GET, no confirmation step.
    let after = ada
        .text
        .split("Unsubscribe in one click: ")
        .nth(1)
        .expect("the unsubscribe line");
    let body_link = link(after, &format!("{}/unsubscribe/", app.base));
    assert!(!body_link.ends_with("/preferences"));
    let (status, page) = app.follow(&body_link).await;
    assert_eq!(status, 200);
    assert!(page.contains("You are unsubscribed"));
    assert_eq!(
        app.status_of("ada@example.org").await,
        Some(SubscriberStatus::Unsubscribed)
    );
    let (status, _) = app.follow(&body_link).await;
    assert_eq!(status, 200, "idempotent");

    // Bob's mail client uses the header: RFC 8058 one-click POST.
    let header = bob.header("List-Unsubscribe").expect("header");
    let https = link(header, &format!("{}/unsubscribe/", app.base));
    assert!(header.contains("<mailto:digest@example.org?subject=unsubscribe%20"));
    for _ in 0..2 {
        let r = app
            .http
            .post(&https)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 200);
    }
    assert_eq!(
        app.status_of("bob@example.org").await,
        Some(SubscriberStatus::Unsubscribed)
    );

    let (status, _) = app
        .follow(&format!("{}/unsubscribe/{}", app.base, "f".repeat(64)))
        .await;
    assert_eq!(status, 404);

    // Nobody is mailed again: a new edition enqueues no one.
    let next = build_edition(&*app.store, Cadence::Daily, day().succ_opt().expect("next"))
        .await
        .expect("build");
    assert_eq!(next.enqueued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preferences_page_shows_and_changes_the_cadence() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    app.subscribe("ada@example.org").await;
    let m = app.sink.wait_for(1, Duration::from_secs(10)).await;
    app.follow(&link(
        &m[0].text,
        &format!("{}/subscribe/confirm/", app.base),
    ))
    .await;
    let token = app
        .store
        .subscriber_by_email(&Email::parse("ada@example.org").expect("email"))
        .await
        .expect("read")
        .expect("found")
        .unsubscribe_token;
    let url = format!("{}/unsubscribe/{token}/preferences", app.base);
    let (status, page) = app.follow(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains("every weekday"));
    let r = app
        .http
        .post(&url)
        .form(&[("cadence", "weekly")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200);
    let (_, page) = app.follow(&url).await;
    assert!(page.contains("once a week"));
    let r = app
        .http
        .post(&url)
        .form(&[("cadence", "hourly")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_shows_the_latest_edition_and_every_page_offers_the_subscribe_form() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let r = app
        .http
        .get(format!("{}/digest/preview", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 404, "no papers, no preview");
    app.send_digest().await;
    let r = app
        .http
        .get(format!("{}/digest/preview", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("style-src 'unsafe-inline'") && !csp.contains("script-src"));
    let html = r.text().await.expect("body");
    assert!(html.contains("A paper worth reading"));
    assert!(html.contains("style=\""));

    let (status, home) = app.follow(&format!("{}/", app.base)).await;
    assert_eq!(status, 200);
    assert!(home.contains("Get trending papers in your email inbox!"));
    assert!(home.contains(r#"action="/subscribe""#));
    assert!(home.contains(r#"name="csrf_token""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_requested_while_the_smtp_server_is_down_arrives_once_it_is_back() {
    let Some(mut app) = TestApp::spawn_with_worker(false).await else {
        return;
    };
    app.sink.stop();
    let (status, body) = app.subscribe("ada@example.org").await;
    assert_eq!(status, 200, "subscribing does not wait for the SMTP server");
    assert!(body.contains("Check your inbox"));
    assert_eq!(
        app.status_of("ada@example.org").await,
        Some(SubscriberStatus::Pending)
    );
    let counts = app.store.confirmation_counts().await.expect("counts");
    assert_eq!(counts.queued, 1, "queued with the pending subscriber");

    let worker = Worker::new(
        app.store.clone(),
        app.site.clone(),
        app.mailer.clone(),
        fast(),
    );
    let report = worker.run_batch().await.expect("batch");
    assert_eq!(
        (report.claimed, report.retried, report.sent),
        (1, 1, 0),
        "connection refused: kept for a retry"
    );
    assert!(app.sink.messages().is_empty());

    app.sink.restart();
    let report = worker.drain().await.expect("drain");
    assert_eq!(report.sent, 1);
    let got = app.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        got.len(),
        1,
        "the confirmation arrived once the server was back"
    );
    assert_eq!(got[0].rcpt, ["ada@example.org"]);
    let confirm = link(&got[0].text, &format!("{}/subscribe/confirm/", app.base));
    let (status, body) = app.follow(&confirm).await;
    assert_eq!(status, 200);
    assert!(body.contains("You are subscribed"));
    app.settle().await;
    assert_eq!(app.sink.messages().len(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_too_often_is_refused_with_429_and_retry_after() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // Per address: three requests an hour, whatever the address's state.
    for _ in 0..3 {
        assert_eq!(app.subscribe("ada@example.org").await.0, 200);
    }
    let token = app.csrf().await;
    let r = app
        .http
        .post(format!("{}/subscribe", app.base))
        .form(&[("email", "ADA@example.org"), ("csrf_token", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 429, "the same address, in any case");
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    // Per client: ten requests an hour from one address, across addresses.
    for i in 0..6 {
        assert_eq!(
            app.subscribe(&format!("reader{i}@example.org")).await.0,
            200,
            "request {} from this client",
            i + 5
        );
    }
    let (status, _) = app.subscribe("someone-else@example.org").await;
    assert_eq!(status, 429, "the eleventh request from one client");
    assert_eq!(app.status_of("someone-else@example.org").await, None);
    app.settle().await;
    let got = app.sink.messages();
    let to_ada = for_rcpt(&got, "ada@example.org");
    // A request made before the previous confirmation went out replaces it in the queue.
    assert!(
        (1..=3).contains(&to_ada.len()),
        "at most one confirmation per accepted request, none for the refused one: {}",
        to_ada.len()
    );
    let latest = link(
        &to_ada.last().expect("a confirmation").text,
        &format!("{}/subscribe/confirm/", app.base),
    );
    assert_eq!(app.follow(&latest).await.0, 200, "the latest link confirms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_sees_and_changes_their_digest_in_settings() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let r = app
        .http
        .get(format!("{}/settings/digest", app.base))
        .send()
        .await
        .expect("get");
    assert!(
        r.status().is_redirection() || r.status().as_u16() == 401,
        "signed out: {}",
        r.status()
    );
    app.sign_up("ada", "ada@example.org").await;
    let (status, page) = app.follow(&format!("{}/settings/digest", app.base)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Trending papers sent to ada@example.org"));
    assert!(
        page.contains(r#"value="off" checked"#),
        "not subscribed yet"
    );
    let (_, settings) = app.follow(&format!("{}/settings", app.base)).await;
    assert!(
        settings.contains(r#"action="/settings/digest""#)
            && settings.contains("Trending papers sent to ada@example.org"),
        "the settings page carries the digest form"
    );

    let (status, _) = app.save_digest_settings("weekly", false).await;
    assert_eq!(status, 403, "the form needs its CSRF token");
    assert_eq!(app.status_of("ada@example.org").await, None);

    // Subscribing from settings is double opt-in too, and links the account.
    let (status, page) = app.save_digest_settings("weekly", true).await;
    assert_eq!(status, 200);
    assert!(page.contains("A confirmation link is on its way to ada@example.org"));
    assert!(page.contains(r#"value="weekly" checked"#));
    assert!(page.contains("waiting for you to follow the confirmation link"));
    let got = app.sink.wait_for(1, Duration::from_secs(10)).await;
    let confirm = link(&got[0].text, &format!("{}/subscribe/confirm/", app.base));
    assert_eq!(app.follow(&confirm).await.0, 200);
    let user = app
        .store
        .user_by_name("ada")
        .await
        .expect("read")
        .expect("ada");
    let s = app
        .store
        .subscriber_by_email(&Email::parse("ada@example.org").expect("email"))
        .await
        .expect("read")
        .expect("subscribed");
    assert_eq!(
        (s.status, s.cadence, s.user_id),
        (SubscriberStatus::Confirmed, Cadence::Weekly, Some(user.id))
    );

    // Confirmed: changing the cadence takes effect at once, with no new email.
    let (status, page) = app.save_digest_settings("daily", true).await;
    assert_eq!(status, 200);
    assert!(page.contains("gets trending papers every weekday"));
    assert!(page.contains(r#"value="daily" checked"#));
    let (_, page) = app.follow(&format!("{}/settings/digest", app.base)).await;
    assert!(page.contains(r#"value="daily" checked"#));
    // Changing the cadence mails nothing, so it does not count against the address's
    // subscription budget (three an hour).
    for cadence in ["weekly", "daily", "weekly", "daily"] {
        assert_eq!(app.save_digest_settings(cadence, true).await.0, 200);
    }

    let (status, page) = app.save_digest_settings("monthly", true).await;
    assert_eq!(status, 400);
    assert!(page.contains("is not a choice: pick daily, weekly or off"));

    let (status, page) = app.save_digest_settings("off", true).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"value="off" checked"#));
    assert_eq!(
        app.status_of("ada@example.org").await,
        Some(SubscriberStatus::Unsubscribed)
    );
    app.settle().await;
    assert_eq!(
        app.sink.messages().len(),
        1,
        "only the one confirmation was mailed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_neither_sees_nor_changes_a_subscription_of_its_address_until_it_follows_a_link()
{
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // The address was subscribed from the footer, before any account used it.
    app.subscribe("ada@example.org").await;
    let got = app.sink.wait_for(1, Duration::from_secs(10)).await;
    let confirm = link(&got[0].text, &format!("{}/subscribe/confirm/", app.base));
    assert_eq!(app.follow(&confirm).await.0, 200);
    // An account has that address without having proved it (made with `paperboy user
    // create`, or before sign-ups were confirmed by mail).
    app.sign_up("mallory", "ada@example.org").await;
    let (_, page) = app.follow(&format!("{}/settings/digest", app.base)).await;
    assert!(
        page.contains(r#"value="off" checked"#),
        "the subscription is not shown"
    );
    let (status, _) = app.save_digest_settings("off", true).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.status_of("ada@example.org").await,
        Some(SubscriberStatus::Confirmed),
        "nor can it be ended from the account"
    );
    let (status, page) = app.save_digest_settings("weekly", true).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("A confirmation link is on its way to ada@example.org"),
        "the same answer as for an address that is not subscribed"
    );
    let s = app
        .store
        .subscriber_by_email(&Email::parse("ada@example.org").expect("email"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (s.status, s.cadence, s.user_id),
        (SubscriberStatus::Confirmed, Cadence::Daily, None),
        "unchanged and unlinked until the address's owner follows the new link"
    );
    // The owner of the address gets the link; following it links the account.
    let got = app.sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2);
    let confirm = link(&got[1].text, &format!("{}/subscribe/confirm/", app.base));
    assert_eq!(app.follow(&confirm).await.0, 200);
    let mallory = app
        .store
        .user_by_name("mallory")
        .await
        .expect("read")
        .expect("account");
    let s = app
        .store
        .subscriber_by_email(&Email::parse("ada@example.org").expect("email"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (s.status, s.user_id),
        (SubscriberStatus::Confirmed, Some(mallory.id))
    );
    let (_, page) = app.follow(&format!("{}/settings/digest", app.base)).await;
    assert!(page.contains(r#"value="daily" checked"#), "now shown");
}

/// A fresh browser keeping its own cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The page's answer (its status paragraph), with the address it names blanked.
fn status_of_page(html: &str, email: &str) -> String {
    let at = html.find("role=\"status\">").expect("an answer");
    html[at..at + html[at..].find("</p>").expect("end")].replace(email, "ADDRESS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_answers_the_same_for_a_registered_address_and_mails_its_owner_instead() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    app.create_account("ada", "ada@example.org").await;
    let eve = browser();
    let (status, taken) = app.post_sign_up(&eve, "eve", "ada@example.org").await;
    let newcomer = browser();
    let (status_new, fresh) = app.post_sign_up(&newcomer, "bob", "bob@example.org").await;
    assert_eq!((status, status_new), (200, 200));
    assert_eq!(
        status_of_page(&taken, "ada@example.org"),
        status_of_page(&fresh, "bob@example.org"),
        "the same answer either way"
    );
    assert!(fresh.contains("Check your inbox"));
    assert!(
        app.store.user_by_name("eve").await.expect("read").is_none()
            && app.store.user_by_name("bob").await.expect("read").is_none(),
        "no account before the link is followed"
    );
    let got = app.sink.wait_for(2, Duration::from_secs(10)).await;
    let to_ada = for_rcpt(&got, "ada@example.org");
    assert_eq!(to_ada.len(), 1);
    assert!(
        to_ada[0]
            .text
            .contains("already belongs to your account @ada")
            && to_ada[0].text.contains(&format!("{}/reset", app.base))
            && !to_ada[0].text.contains("/signup/confirm/"),
        "the owner gets a note, not a link: {}",
        to_ada[0].text
    );
    let to_bob = for_rcpt(&got, "bob@example.org");
    assert_eq!(to_bob.len(), 1);
    let confirm = link(&to_bob[0].text, &format!("{}/signup/confirm/", app.base));

    // Following the link shows a button; only the button (a form) makes the account.
    let (status, page) = app.follow(&confirm).await;
    assert_eq!(status, 200);
    assert!(page.contains("Create my account"));
    assert!(app.store.user_by_name("bob").await.expect("read").is_none());
    let token = app.csrf_of(&newcomer).await;
    let post = |token: String| {
        let newcomer = newcomer.clone();
        let confirm = confirm.clone();
        async move {
            newcomer
                .post(&confirm)
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .expect("confirm")
        }
    };
    let r = post(token.clone()).await;
    assert_eq!(r.status().as_u16(), 303);
    let bob = app
        .store
        .user_by_name("bob")
        .await
        .expect("read")
        .expect("bob's account");
    assert_eq!(bob.email.as_deref(), Some("bob@example.org"));
    let home = newcomer
        .get(format!("{}/", app.base))
        .send()
        .await
        .expect("home")
        .text()
        .await
        .expect("body");
    assert!(home.contains("Sign out"), "the confirmation signs in");
    assert_eq!(
        post(token).await.status().as_u16(),
        404,
        "the link works once"
    );
    app.settle().await;
    assert_eq!(app.sink.messages().len(), 2, "nothing else was mailed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_mail_to_one_address_is_capped_with_the_same_answer() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let mut answers = Vec::new();
    for i in 0..6 {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(
                [(
                    reqwest::header::HeaderName::from_static("x-forwarded-for"),
                    format!("203.0.113.{}", i + 1).parse().expect("header"),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .expect("client");
        let (status, page) = app
            .post_sign_up(&http, &format!("user{i}"), "target@example.org")
            .await;
        assert_eq!(status, 200);
        answers.push(status_of_page(&page, "target@example.org"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one answer");
    app.sink.wait_for(3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        for_rcpt(&app.sink.messages(), "target@example.org").len(),
        3,
        "three sign-up mails an hour to one address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_mail_to_one_address_is_capped_whoever_asks() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    app.create_account("ada", "ada@example.org").await;
    let mut answers = Vec::new();
    for i in 0..20 {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(
                [(
                    reqwest::header::HeaderName::from_static("x-forwarded-for"),
                    format!("198.51.100.{}", i + 1).parse().expect("header"),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .expect("client");
        let token = app.csrf_of(&http).await;
        let r = http
            .post(format!("{}/reset", app.base))
            .form(&[("email", "ada@example.org"), ("csrf_token", token.as_str())])
            .send()
            .await
            .expect("reset");
        assert_eq!(r.status().as_u16(), 200, "client {i}");
        answers.push(status_of_page(
            &r.text().await.expect("body"),
            "ada@example.org",
        ));
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one answer, capped or not"
    );
    app.sink.wait_for(3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = for_rcpt(&app.sink.messages(), "ada@example.org").len();
    assert!(
        (1..=3).contains(&got),
        "at most three reset mails an hour to one address, got {got}"
    );
}
