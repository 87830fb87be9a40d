//! The outbox worker: claims due rows (a lease, so a worker killed mid-batch leaves rows that
//! are claimed again once the lease runs out), renders each recipient's digest, sends it, and
//! records the outcome of each message as soon as it is known. Temporary failures are retried
//! with exponential backoff; permanent ones are recorded and never retried.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use paperboy_store::{DeliveryOutcome, OutboxMessage, Store, SubscriberStatus};

use crate::digest::{EditionContent, FOR_YOU_PAPERS, RecipientLinks, load_papers, render_digest};
use crate::message::{Outgoing, compose, digest_message_id, preferences_url, unsubscribe_url};
use crate::{MailResult, Mailer, SendError, SharedRecommender, SiteSettings};

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Rows claimed at a time.
    pub batch_size: u32,
    /// Messages in flight at once (each on a pooled SMTP connection).
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
    /// Rows dropped because the subscriber left.
    pub cancelled: u64,
}

impl std::ops::AddAssign for BatchReport {
    fn add_assign(&mut self, o: Self) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.retried += o.retried;
        self.failed += o.failed;
        self.cancelled += o.cancelled;
    }
}

impl std::fmt::Display for BatchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} to retry, {} failed, {} cancelled",
            self.sent, self.retried, self.failed, self.cancelled
        )
    }
}

/// Drains the outbox.
pub struct Worker {
    store: Arc<dyn Store>,
    site: SiteSettings,
    mailer: Mailer,
    recommender: Option<SharedRecommender>,
    options: WorkerOptions,
    editions: Mutex<HashMap<i64, Arc<EditionContent>>>,
}

impl Worker {
    /// A worker over a store, sending through `mailer`.
    pub fn new(
        store: Arc<dyn Store>,
        site: SiteSettings,
        mailer: Mailer,
        options: WorkerOptions,
    ) -> Self {
        Self {
            store,
            site,
            mailer,
            recommender: None,
            options,
            editions: Mutex::new(HashMap::new()),
        }
    }

    /// Adds the "for you" section from a recommender.
    pub fn with_recommender(mut self, recommender: Option<SharedRecommender>) -> Self {
        self.recommender = recommender;
        self
    }

    /// Claims one batch of due rows and sends it; each outcome is recorded as it comes.
    pub async fn run_batch(&self) -> MailResult<BatchReport> {
        let now = Utc::now();
        let lease = chrono::Duration::from_std(self.options.lease)
            .unwrap_or_else(|_| chrono::Duration::minutes(5));
        let claim = rand::random::<i64>();
        let rows = self
            .store
            .claim_outbox(self.options.batch_size, claim, now, now + lease)
            .await?;
        let mut report = BatchReport {
            claimed: rows.len() as u64,
            ..BatchReport::default()
        };
        let mut outcomes = futures::stream::iter(rows)
            .map(|m| self.deliver(m))
            .buffer_unordered(self.options.concurrency.max(1));
        while let Some(outcome) = outcomes.next().await {
            match outcome? {
                DeliveryOutcome::Sent => report.sent += 1,
                DeliveryOutcome::Retry { .. } => report.retried += 1,
                DeliveryOutcome::Failed { .. } => report.failed += 1,
                DeliveryOutcome::Cancelled => report.cancelled += 1,
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
                if self.store.outbox_counts(None).await?.pending() == 0 {
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
        if let Some(c) = lock(&self.editions).get(&edition_id) {
            return Ok(Some(c.clone()));
        }
        let Some(edition) = self.store.edition(edition_id).await? else {
            return Ok(None);
        };
        let content = Arc::new(EditionContent::load(&*self.store, &edition, &self.site).await?);
        lock(&self.editions).insert(edition_id, content.clone());
        Ok(Some(content))
    }

    async fn for_you(&self, m: &OutboxMessage) -> Vec<crate::PaperItem> {
        let (Some(rec), Some(user)) = (&self.recommender, m.subscriber.user_id) else {
            return Vec::new();
        };
        let ids = match rec.recommend(user, FOR_YOU_PAPERS).await {
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

    /// Sends one claimed row and records the outcome.
    async fn deliver(&self, m: OutboxMessage) -> MailResult<DeliveryOutcome> {
        let outcome = self.attempt(&m).await?;
        let outcome = match outcome {
            DeliveryOutcome::Retry { error, .. } if m.attempts + 1 >= self.options.max_attempts => {
                DeliveryOutcome::Failed {
                    error: format!("gave up after {} attempts: {error}", m.attempts + 1),
                }
            }
            other => other,
        };
        match &outcome {
            DeliveryOutcome::Failed { error } => {
                tracing::warn!(outbox = m.id, %error, "digest not delivered");
            }
            DeliveryOutcome::Retry { error, not_before } => {
                tracing::info!(outbox = m.id, %error, %not_before, "digest delivery will be retried");
            }
            _ => {}
        }
        if !self
            .store
            .record_delivery(m.id, m.claim, &outcome, Utc::now())
            .await?
        {
            tracing::warn!(
                outbox = m.id,
                "the claim ran out before the outcome was recorded; raise the lease"
            );
        }
        Ok(outcome)
    }

    async fn attempt(&self, m: &OutboxMessage) -> MailResult<DeliveryOutcome> {
        if m.subscriber.status != SubscriberStatus::Confirmed {
            return Ok(DeliveryOutcome::Cancelled);
        }
        let Some(content) = self.content(m.edition_id).await? else {
            return Ok(DeliveryOutcome::Failed {
                error: format!("edition {} no longer exists", m.edition_id),
            });
        };
        let for_you = self.for_you(m).await;
        let token = &m.subscriber.unsubscribe_token;
        let links = RecipientLinks {
            unsubscribe_url: unsubscribe_url(&self.site, token),
            preferences_url: preferences_url(&self.site, token),
        };
        let (text, html) = render_digest(&content, &for_you, &links, &self.site)?;
        let message = match compose(
            &self.site,
            Outgoing {
                to: &m.subscriber.email,
                subject: &content.subject,
                unsubscribe_token: token,
                message_id: Some(digest_message_id(&self.site, m.edition_id, m.subscriber.id)),
                text,
                html,
                eight_bit: self.mailer.eight_bit(),
            },
        ) {
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
                not_before: Utc::now() + self.backoff(m.attempts),
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
