//! The harness the web tests share: the real app on a random port over a real SQLite file, a
//! fake arXiv host on loopback serving a recorded answer, and a cookie-keeping client that
//! fills in CSRF tokens the way a browser's forms would.

#![allow(dead_code)] // Each test file uses a part of it.

use std::sync::Arc;

use paperboy_core::{ArxivId, NewPaper, Username};
use paperboy_mail::{MailService, Mailer, SiteSettings, SmtpSettings};
use paperboy_store::{NewUser, Store};
use paperboy_testkit::smtp::SmtpSink;

/// The recorded arXiv answer the fake arXiv host serves (papers 2510.01234, 2510.02345 and
/// 2510.03456).
pub const ARXIV_FEED: &str =
    include_str!("../../../paperboy-ingest/tests/fixtures/arxiv_query.xml");

/// The password test accounts use.
pub const PASSWORD: &str = "correct horse";

/// Serves the recorded arXiv feed on loopback; returns its base URL.
pub async fn fake_arxiv() -> String {
    let app = axum::Router::new().route(
        "/api/query",
        axum::routing::get(|| async { ([("content-type", "application/atom+xml")], ARXIV_FEED) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// What to run beside the app.
#[derive(Default)]
pub struct Options {
    /// A real SMTP server (aiosmtpd) the app mails through.
    pub smtp: Option<SmtpSink>,
    /// A search engine.
    pub search: Option<Arc<paperboy_search::SearchEngine>>,
    /// `Secure` cookies, as in production (the client then keeps none over plain http).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// A running app.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub smtp: Option<SmtpSink>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let (store, dir) = paperboy_testkit::sqlite_store().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut state = paperboy_web::AppState::new(store.clone());
        // Plain http on loopback: cookies without `Secure`, so the client keeps them.
        state.cookies = paperboy_web::auth::CookiePolicy {
            secure: options.secure_cookies,
        };
        state.arxiv =
            paperboy_ingest::ArxivClient::new(&fake_arxiv().await, std::time::Duration::ZERO);
        state.search = options.search;
        state.trusted_proxies = options.trusted_proxies.into();
        if let Some(sink) = &options.smtp {
            let site = SiteSettings::new("Paperboy", &base, "Paperboy <digest@example.org>")
                .expect("site");
            let mailer = Mailer::new(SmtpSettings {
                host: "127.0.0.1".into(),
                port: sink.port(),
                ..SmtpSettings::default()
            })
            .expect("mailer");
            state = state.with_mail(MailService::new(store.clone(), site, mailer));
        }
        tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));
        Self {
            base,
            http: Self::browser(),
            store,
            smtp: options.smtp,
            _dir: dir,
        }
    }

    /// A fresh browser: its own cookies, redirects not followed.
    pub fn browser() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// The same app seen through another browser (another person).
    pub fn other(&self) -> Visitor<'_> {
        Visitor {
            app: self,
            http: Self::browser(),
        }
    }

    /// The app's own browser.
    pub fn me(&self) -> Visitor<'_> {
        Visitor {
            app: self,
            http: self.http.clone(),
        }
    }

    /// `GET` in the app's own browser.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.me().get(path).await
    }

    /// A page's status and HTML in the app's own browser.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// A page's HTML in the app's own browser.
    pub async fn html(&self, path: &str) -> String {
        self.me().html(path).await
    }

    /// Posts a form (with the CSRF token) in the app's own browser.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.me().post(path, form).await
    }

    /// Signs up `name` in the app's own browser.
    pub async fn sign_up(&self, name: &str) -> reqwest::Response {
        self.me().sign_up(name).await
    }

    /// Stores a paper with this title (an abstract and no authors).
    pub async fn seed_titled(&self, id: &str, title: &str) {
        self.seed(id, title, "An abstract.", &[]).await
    }

    /// Stores a paper with these authors.
    pub async fn seed(&self, id: &str, title: &str, summary: &str, authors: &[&str]) {
        let mut p = NewPaper::new(
            ArxivId::parse(id).expect("id"),
            title,
            summary,
            chrono::Utc::now(),
        );
        p.authors = authors
            .iter()
            .map(|a| paperboy_core::NewAuthor::named(*a))
            .collect();
        self.store.upsert_papers(&[p]).await.expect("seed");
    }

    /// Makes an administrator account (as `paperboy user create --admin` does).
    pub async fn create_admin(&self, name: &str) {
        let hash = paperboy_web::auth::hash_password(PASSWORD.into())
            .await
            .expect("hash");
        self.store
            .create_user(&NewUser {
                username: Username::parse(name).expect("username"),
                fullname: format!("{name} (admin)"),
                email: Some(
                    paperboy_core::Email::parse(&format!("{name}@example.org")).expect("email"),
                ),
                password_hash: Some(hash),
                is_admin: true,
            })
            .await
            .expect("admin");
    }
}

/// One browser on the app.
pub struct Visitor<'a> {
    pub app: &'a TestApp,
    pub http: reqwest::Client,
}

impl Visitor<'_> {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.app.base))
            .send()
            .await
            .expect("GET")
    }

    pub async fn html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The CSRF token the site's forms carry for this browser.
    pub async fn csrf(&self) -> String {
        let html = self.html("/signin").await;
        let at = html
            .find("name=\"csrf_token\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }

    /// Posts a form as the page's form would (with the CSRF token).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf_token", &token));
        self.http
            .post(format!("{}{path}", self.app.base))
            .form(&fields)
            .send()
            .await
            .expect("POST")
    }

    /// Signs up `name` (`name@example.org`). When the app sends mail, sign-up mails a link:
    /// this follows it, as the address's owner would.
    pub async fn sign_up(&self, name: &str) -> reqwest::Response {
        let email = format!("{name}@example.org");
        if let Some(sink) = &self.app.smtp {
            return self.sign_up_by_mail(name, &email, sink).await;
        }
        let r = self
            .post(
                "/signup",
                &[
                    ("username", name),
                    ("fullname", &format!("{name} full")),
                    ("email", &email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "signed up {name}");
        r
    }

    async fn sign_up_by_mail(&self, name: &str, email: &str, sink: &SmtpSink) -> reqwest::Response {
        let before = sink.messages().len();
        let r = self
            .post(
                "/signup",
                &[
                    ("username", name),
                    ("fullname", &format!("{name} full")),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 200, "sign-up of {name} answered");
        let prefix = format!("{}/signup/confirm/", self.app.base);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let link = loop {
            let mail = sink
                .wait_for(before + 1, std::time::Duration::from_secs(1))
                .await;
            let found = mail[before.min(mail.len())..].iter().find_map(|m| {
                let at = m.text.find(&prefix)?;
                (m.rcpt == [email]).then(|| {
                    m.text[at..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
            });
            if let Some(link) = found {
                break link;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no confirmation mail for {email}"
            );
        };
        let r = self.post(&link[self.app.base.len()..], &[]).await;
        assert_eq!(r.status().as_u16(), 303, "signed up {name}");
        r
    }

    pub async fn sign_in(&self, name: &str, password: &str) -> u16 {
        self.post("/signin", &[("username", name), ("password", password)])
            .await
            .status()
            .as_u16()
    }

    /// Whether this browser is signed in.
    pub async fn signed_in(&self) -> bool {
        self.html("/").await.contains("Sign out")
    }
}

/// The `href` of the first `<link rel="alternate" type="{kind}">` of a page.
pub fn alternate(html: &str, kind: &str) -> Option<String> {
    html.split("<link ").skip(1).find_map(|tag| {
        let tag = &tag[..tag.find('>')?];
        if !tag.contains("rel=\"alternate\"") || !tag.contains(&format!("type=\"{kind}\"")) {
            return None;
        }
        let at = tag.find("href=\"")? + 6;
        Some(tag[at..at + tag[at..].find('"')?].to_owned())
    })
}
