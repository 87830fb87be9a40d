//! Paperboy's email digests: "Get trending papers in your email inbox".
//!
//! - [`digest`] picks an edition's papers (the trending list of its window) and renders the
//!   digest (askama templates: an HTML part with inline CSS, every value escaped, and a
//!   plain-text part).
//! - [`message`] turns a rendered digest or a confirmation into a MIME message with a stable
//!   `Message-ID` and the RFC 8058 one-click `List-Unsubscribe` headers.
//! - [`transport`] sends over SMTP with `lettre`, reusing pooled connections, and sorts
//!   failures into temporary (retry with backoff) and permanent.
//! - [`worker`] drains the durable outbox: claims rows, sends, records each outcome.
//! - [`schedule`] builds editions at the instance's send time; [`service`] is what the web
//!   layer calls (subscribe, confirm, unsubscribe, preview).

pub mod digest;
pub mod message;
pub mod schedule;
pub mod service;
pub mod token;
pub mod transport;
pub mod worker;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{NaiveTime, Weekday};
use paperboy_store::StoreError;

pub use digest::{EditionContent, PaperItem, select_papers};
pub use schedule::{ScheduleSettings, spawn_digest_jobs};
pub use service::MailService;
pub use transport::{Mailer, SendError, SmtpSettings, SmtpTls};
pub use worker::{Worker, WorkerOptions};

/// What can go wrong in the mail layer.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template failed to render.
    #[error("rendering a digest failed: {0}")]
    Render(#[from] askama::Error),
    /// A message could not be put together (a bad address, say).
    #[error("building a message failed: {0}")]
    Build(String),
    /// A setting is unusable; the message says which and why.
    #[error("invalid mail setting: {0}")]
    Settings(String),
}

/// `s` as one header-safe line: line breaks, tabs and other control characters become spaces,
/// bidirectional overrides (which can make a subject read backwards) are dropped, and runs of
/// spaces shrink to one. Every subject and display name a message carries goes through here,
/// so no title, name or setting can make a header span lines.
pub fn one_line(s: &str) -> String {
    let spaced: String = s
        .chars()
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}'))
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Result of a mail-layer call.
pub type MailResult<T> = Result<T, MailError>;

/// Where the site lives and who sends its mail: what links and headers are made from.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    /// The site's name, shown in subjects and footers.
    pub site_name: String,
    /// The public base URL of the site, without a trailing slash (`https://papers.example.org`).
    pub base_url: String,
    /// The From address (`Paperboy <digest@papers.example.org>` or a bare address).
    pub from: lettre::message::Mailbox,
}

impl SiteSettings {
    /// Settings from text values, checked: an unparsable From address or a base URL that is
    /// not http(s) is an error that says so.
    pub fn new(site_name: &str, base_url: &str, from: &str) -> MailResult<Self> {
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(MailError::Settings(format!(
                "the site's base URL `{base_url}` must start with http:// or https://"
            )));
        }
        let from = from.trim().parse().map_err(|e| {
            MailError::Settings(format!("the From address `{from}` is not usable: {e}"))
        })?;
        Ok(Self {
            site_name: site_name.to_owned(),
            base_url,
            from,
        })
    }

    /// The host part of the base URL (used in `Message-ID`s).
    pub fn host(&self) -> &str {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    }
}

/// When digests go out: the instance's time zone and send time, and the weekday of the weekly
/// edition. Daily editions go out on weekdays.
#[derive(Debug, Clone, Copy)]
pub struct SendTime {
    /// The instance's time zone.
    pub time_zone: chrono_tz::Tz,
    /// Local time of day digests are built and sent.
    pub at: NaiveTime,
    /// Day the weekly edition goes out.
    pub weekly_on: Weekday,
}

/// Papers recommended to one account: the "for you" section of its digest. The search engine
/// provides one; without it the section is left out.
#[async_trait]
pub trait Recommender: Send + Sync + 'static {
    /// Up to `limit` base arXiv ids recommended to `user_id`, best first, leaving out
    /// `exclude` (the edition's own papers); empty if the user has no history to go on.
    async fn recommend(
        &self,
        user_id: i64,
        exclude: &[String],
        limit: usize,
    ) -> MailResult<Vec<String>>;
}

/// A shared recommender.
pub type SharedRecommender = Arc<dyn Recommender>;
