//! The outbox worker: claims due rows of both durable queues, confirmations first, then digests
//! (a lease, so a worker killed mid-batch leaves rows that are claimed again once the lease
//! runs out), renders each message, sends it, and records the outcome of each message as soon
//! as it is known. Temporary failures are retried with exponential backoff; permanent ones are
//! recorded and never retried.
//!
//! Delivery is at-least-once with a stable `Message-ID`, and the window for a second
//! transmission is kept as small as SMTP allows: each SMTP connection carries one message at a
//! time, and its outcome is committed right after the server's reply, before that connection
//! takes the next message. So a crash can leave at most `concurrency` messages (one per
//! connection) accepted by the server but not recorded; those, and only those, are sent again
//! after the lease, with the same `Message-ID`. A worker also never starts a send when less
//! than [`WorkerOptions::send_budget`] of its lease is left, so a slow batch is never sent
//! twice by a worker that took over its rows.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use paperboy_core::cache::ByteCache;
use paperboy_store::{
    ConfirmationMessage, DeliveryOutcome, OutboxMessage, Store, SubscriberStatus,
};

use crate::digest::{
    EditionContent, FOR_YOU_PAPERS, RecipientLinks, load_papers, render_confirmation, render_digest,
};
use crate::message::{
    Outgoing, compose, confirmation_message_id, digest_message_id, preferences_url, unsubscribe_url,
};
use crate::token::hash_token;
use crate::{MailResult, Mailer, SendError, SharedRecommender, SiteSettings};

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Rows claimed at a time.
    pub batch_size: u32,
    /// Messages in flight at once, each on its own pooled SMTP connection (so never more than
    /// the mailer's connections). Also the most messages a crash can leave sent but not
    /// recorded.
    pub concurrency: usize,
    /// How long a claim lasts; rows of a worker that died are claimed again after it.
    pub lease: Duration,
    /// Wait before the first retry; doubled for each further attempt.
    pub retry_base: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// Attempts after which a temporary failure counts as permanent.
    pub max_attempts: i32,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// The longest one send may take (the SMTP timeout); no send starts when less than this
    /// (or half the lease, if shorter) is left of the claim.
    pub send_budget: Duration,
    /// Bytes of rendered editions kept between messages (least recently used go first).
    pub edition_cache_bytes: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            batch_size: 200,
            concurrency: 4,
            lease: Duration::from_secs(300),
            retry_base: Duration::from_secs(60),
            retry_max: Duration::from_secs(6 * 3600),
            max_attempts: 10,
            poll: Duration::from_secs(5),
            send_budget: Duration::from_secs(60),
            edition_cache_bytes: DEFAULT_EDITION_CACHE_BYTES,
        }
    }
}

/// What a batch (or a whole run) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Rows claimed.
    pub claimed: u64,
    /// Messages the server accepted.
    pub sent: u64,
    /// Temporary failures, to be retried.
    pub retried: u64,
    /// Permanent failures.
    pub failed: u64,
    /// Rows dropped because the subscriber left (or, for a confirmation, confirmed).
    pub cancelled: u64,
    /// Claimed rows left unsent because the claim was about to run out; claimed again later.
    pub deferred: u64,
}

impl std::ops::AddAssign for BatchReport {
    fn add_assign(&mut self, o: Self) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.retried += o.retried;
        self.failed += o.failed;
        self.cancelled += o.cancelled;
        self.deferred += o.deferred;
    }
}

impl std::fmt::Display for BatchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} to retry, {} failed, {} cancelled",
            self.sent, self.retried, self.failed, self.cancelled
        )?;
        if self.deferred > 0 {
            write!(f, ", {} left for the next claim", self.deferred)?;
        }
        Ok(())
    }
}

/// Drains the outbox.
pub struct Worker {
    store: Arc<dyn Store>,
    site: SiteSettings,
    mailer: Mailer,
    recommender: Option<SharedRecommender>,
    options: WorkerOptions,
    editions: ByteCache<i64, Arc<EditionContent>>,
}

/// How long a worker keeps an edition rendered: it sends one or two editions at a time (the
/// day's, the week's), and an older one only while its retries last.
const EDITION_TTL: Duration = Duration::from_secs(3600);

/// Bytes of rendered editions a worker keeps when no budget is given.
pub const DEFAULT_EDITION_CACHE_BYTES: usize = 5 << 20;

impl Worker {
    /// A worker over a store, sending through `mailer`. The concurrency is capped at the
    /// mailer's connections: one message in flight per connection.
    pub fn new(
        store: Arc<dyn Store>,
        site: SiteSettings,
        mailer: Mailer,
        mut options: WorkerOptions,
    ) -> Self {
        options.concurrency = options
            .concurrency
            .clamp(1, mailer.settings().max_connections.max(1) as usize);
        let edition_cache_bytes = options.edition_cache_bytes;
        Self {
            store,
            site,
            mailer,
            recommender: None,
            options,
            editions: ByteCache::new(edition_cache_bytes, EDITION_TTL),
        }
    }

    /// Messages this worker keeps in flight at most (one per SMTP connection): also the most a
    /// crash can leave accepted by the server but not recorded, hence sent twice.
    pub fn concurrency(&self) -> usize {
        self.options.concurrency
    }

    /// Adds the "for you" section from a recommender.
    pub fn with_recommender(mut self, recommender: Option<SharedRecommender>) -> Self {
        self.recommender = recommender;
        self
    }

    /// Claims one batch of due rows (confirmations first, then digests) and sends it; each
    /// outcome is recorded as it comes.
    pub async fn run_batch(&self) -> MailResult<BatchReport> {
        let now = Utc::now();
        let lease = chrono::Duration::from_std(self.options.lease)
            .unwrap_or_else(|_| chrono::Duration::minutes(5));
        let lease_until = now + lease;
        let claim = rand::random::<i64>();
        let confirmations = self
            .store
            .claim_confirmations(self.options.batch_size, claim, now, lease_until)
            .await?;
        let room = self
            .options
            .batch_size
            .saturating_sub(confirmations.len() as u32);
        let digests = if room == 0 {
            Vec::new()
        } else {
            self.store
                .claim_outbox(room, claim, now, lease_until)
                .await?
        };
        let mut report = BatchReport {
            claimed: (confirmations.len() + digests.len()) as u64,
            ..BatchReport::default()
        };
        let jobs = confirmations
            .into_iter()
            .map(Job::Confirmation)
            .chain(digests.into_iter().map(Job::Digest));
        // At most `concurrency` messages in flight, each on its own connection; a slot frees
        // only once its outcome is recorded.
        let mut outcomes = futures::stream::iter(jobs)
            .map(|job| self.deliver(job, lease_until))
            .buffer_unordered(self.options.concurrency);
        while let Some(outcome) = outcomes.next().await {
            match outcome? {
                None => report.deferred += 1,
                Some(DeliveryOutcome::Sent) => report.sent += 1,
                Some(DeliveryOutcome::Retry { .. }) => report.retried += 1,
                Some(DeliveryOutcome::Failed { .. }) => report.failed += 1,
                Some(DeliveryOutcome::Cancelled) => report.cancelled += 1,
            }
        }
        Ok(report)
    }

    /// Sends until nothing is queued or being sent (waiting for retries and for the leases of
    /// dead workers as needed), then returns what was done.
    pub async fn drain(&self) -> MailResult<BatchReport> {
        let mut total = BatchReport::default();
        loop {
            let report = self.run_batch().await?;
            total += report;
            if report.claimed == 0 {
                let pending = self.store.outbox_counts(None).await?.pending()
                    + self.store.confirmation_counts().await?.pending();
                if pending == 0 {
                    return Ok(total);
                }
                tokio::time::sleep(self.options.poll).await;
            }
        }
    }

    /// Runs until `shutdown` resolves: sends whatever becomes due, sleeping when idle. Store
    /// failures are logged and retried after a pause.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = match self.run_batch().await {
                Ok(r) if r.claimed > 0 => {
                    tracing::info!(%r, "digest batch");
                    Duration::ZERO
                }
                Ok(_) => self.options.poll,
                Err(e) => {
                    tracing::warn!(error = %e, "digest worker: will try again");
                    self.options.poll
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn content(&self, edition_id: i64) -> MailResult<Option<Arc<EditionContent>>> {
        if let Some(c) = self.editions.get(&edition_id) {
            return Ok(Some(c));
        }
        let Some(edition) = self.store.edition(edition_id).await? else {
            return Ok(None);
        };
        let content = Arc::new(EditionContent::load(&*self.store, &edition, &self.site).await?);
        self.editions.insert(edition_id, content.clone());
        Ok(Some(content))
    }

    async fn for_you(&self, m: &OutboxMessage, edition: &EditionContent) -> Vec<crate::PaperItem> {
        let (Some(rec), Some(user)) = (&self.recommender, m.subscriber.user_id) else {
            return Vec::new();
        };
        let shown: Vec<String> = edition.papers.iter().map(|p| p.id.clone()).collect();
        let ids = match rec.recommend(user, &shown, FOR_YOU_PAPERS).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, user, "recommendations unavailable; digest sent without them");
                return Vec::new();
            }
        };
        load_papers(&*self.store, &ids, &self.site.base_url)
            .await
            .unwrap_or_default()
    }

    /// Sends one claimed row and records the outcome; `None` when the claim was too close to
    /// running out to start a send (the row is left for the next claim).
    async fn deliver(
        &self,
        job: Job,
        lease_until: chrono::DateTime<Utc>,
    ) -> MailResult<Option<DeliveryOutcome>> {
        let budget = self.options.send_budget.min(self.options.lease / 2);
        let budget = chrono::Duration::from_std(budget).unwrap_or(chrono::Duration::zero());
        if Utc::now() + budget > lease_until {
            return Ok(None);
        }
        let (attempts, id, claim) = job.row();
        let outcome = match &job {
            Job::Digest(m) => self.attempt_digest(m).await?,
            Job::Confirmation(m) => self.attempt_confirmation(m).await?,
        };
        let outcome = match outcome {
            DeliveryOutcome::Retry { error, .. } if attempts + 1 >= self.options.max_attempts => {
                DeliveryOutcome::Failed {
                    error: format!("gave up after {} attempts: {error}", attempts + 1),
                }
            }
            other => other,
        };
        let kind = job.kind();
        match &outcome {
            DeliveryOutcome::Failed { error } => {
                tracing::warn!(kind, row = id, %error, "message not delivered");
            }
            DeliveryOutcome::Retry { error, not_before } => {
                tracing::info!(kind, row = id, %error, %not_before, "delivery will be retried");
            }
            _ => {}
        }
        // Recorded before this slot (and its connection) takes another message.
        let now = Utc::now();
        let recorded = match &job {
            Job::Digest(_) => self.store.record_delivery(id, claim, &outcome, now).await?,
            Job::Confirmation(_) => {
                self.store
                    .record_confirmation(id, claim, &outcome, now)
                    .await?
            }
        };
        if !recorded {
            tracing::warn!(
                kind,
                row = id,
                "the claim ran out before the outcome was recorded; raise the lease"
            );
        }
        Ok(Some(outcome))
    }

    async fn attempt_confirmation(&self, m: &ConfirmationMessage) -> MailResult<DeliveryOutcome> {
        // Only a token that is still current is mailed (not one followed, replaced by a newer
        // request, or of an address that left), and it works for its full time from now.
        let until = Utc::now() + chrono::Duration::hours(crate::service::CONFIRM_TTL_HOURS);
        if m.token.is_empty()
            || !self
                .store
                .renew_confirmation(&hash_token(&m.token), until)
                .await?
        {
            return Ok(DeliveryOutcome::Cancelled);
        }
        let s = &m.subscriber;
        let confirm_url = format!("{}/subscribe/confirm/{}", self.site.base_url, m.token);
        let unsub = unsubscribe_url(&self.site, &s.unsubscribe_token);
        let (text, html) = render_confirmation(&self.site, &confirm_url, s.cadence, &unsub)?;
        let subject = format!("Confirm your subscription to {}", self.site.site_name);
        self.send(
            Outgoing {
                to: &s.email,
                subject: &subject,
                unsubscribe_token: &s.unsubscribe_token,
                message_id: Some(confirmation_message_id(&self.site, s.id, &m.token)),
                text,
                html,
                eight_bit: self.mailer.eight_bit(),
            },
            m.attempts,
        )
        .await
    }

    async fn attempt_digest(&self, m: &OutboxMessage) -> MailResult<DeliveryOutcome> {
        if m.subscriber.status != SubscriberStatus::Confirmed {
            return Ok(DeliveryOutcome::Cancelled);
        }
        let Some(content) = self.content(m.edition_id).await? else {
            return Ok(DeliveryOutcome::Failed {
                error: format!("edition {} no longer exists", m.edition_id),
            });
        };
        let for_you = self.for_you(m, &content).await;
        let token = &m.subscriber.unsubscribe_token;
        let links = RecipientLinks {
            unsubscribe_url: unsubscribe_url(&self.site, token),
            preferences_url: preferences_url(&self.site, token),
        };
        let (text, html) = render_digest(&content, &for_you, &links, &self.site)?;
        self.send(
            Outgoing {
                to: &m.subscriber.email,
                subject: &content.subject,
                unsubscribe_token: token,
                message_id: Some(digest_message_id(&self.site, m.edition_id, m.subscriber.id)),
                text,
                html,
                eight_bit: self.mailer.eight_bit(),
            },
            m.attempts,
        )
        .await
    }

    async fn send(&self, out: Outgoing<'_>, attempts: i32) -> MailResult<DeliveryOutcome> {
        let message = match compose(&self.site, out) {
            Ok(message) => message,
            Err(e) => {
                return Ok(DeliveryOutcome::Failed {
                    error: e.to_string(),
                });
            }
        };
        Ok(match self.mailer.send(message).await {
            Ok(()) => DeliveryOutcome::Sent,
            Err(SendError::Permanent(error)) => DeliveryOutcome::Failed { error },
            Err(SendError::Temporary(error)) => DeliveryOutcome::Retry {
                error,
                not_before: Utc::now() + self.backoff(attempts),
            },
        })
    }

    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let factor = 2_u32.saturating_pow(attempts.clamp(0, 20) as u32);
        let wait = self
            .options
            .retry_base
            .saturating_mul(factor)
            .min(self.options.retry_max);
        chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1))
    }
}

/// A claimed row of either queue.
enum Job {
    Digest(OutboxMessage),
    Confirmation(ConfirmationMessage),
}

impl Job {
    /// (attempts so far, row id, claim).
    fn row(&self) -> (i32, i64, i64) {
        match self {
            Self::Digest(m) => (m.attempts, m.id, m.claim),
            Self::Confirmation(m) => (m.attempts, m.id, m.claim),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Digest(_) => "digest",
            Self::Confirmation(_) => "confirmation",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::PaperItem;
    use paperboy_core::cache::ByteSize;
    use paperboy_store::Cadence;

    fn edition(id: i64, papers: usize) -> Arc<EditionContent> {
        Arc::new(EditionContent {
            edition_id: Some(id),
            cadence: Cadence::Daily,
            date: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
            subject: "Daily papers".into(),
            heading: "Daily papers".into(),
            papers: (0..papers)
                .map(|i| PaperItem {
                    id: format!("2501.{i:05}"),
                    title: "t".repeat(120),
                    organization: None,
                    authors: "a".repeat(80),
                    excerpt: "e".repeat(600),
                    upvotes: 1,
                    url: format!("https://example.org/papers/2501.{i:05}"),
                })
                .collect(),
        })
    }

    #[test]
    fn the_editions_kept_are_bounded_by_their_bytes() {
        let one = edition(1, 50);
        assert!(one.byte_size() > 50 * 800, "{}", one.byte_size());
        let cache: ByteCache<i64, Arc<EditionContent>> = ByteCache::new(1 << 20, EDITION_TTL);
        for id in 0..100 {
            cache.insert(id, edition(id, 50));
            assert!(cache.bytes() <= 1 << 20, "{}", cache.bytes());
        }
        assert!(cache.get(&99).is_some(), "the newest edition is kept");
        assert!(cache.len() < 100, "editions were let go: {}", cache.len());
    }
}
