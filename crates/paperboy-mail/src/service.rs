//! What the web layer calls: subscribe (double opt-in: only the confirmation email is sent
//! before confirmation, through the durable outbox), confirm, unsubscribe, change cadence, the
//! account's own subscription, and the browser preview.

use std::sync::Arc;

use chrono::{Duration, Utc};
use paperboy_core::Email;
use paperboy_store::{Cadence, NewSubscriber, Store, SubscribeOutcome, Subscriber};

use crate::digest::{EDITION_PAPERS, EditionContent, RecipientLinks, render_digest, select_papers};
use crate::message::{preferences_url, unsubscribe_url};
use crate::token::{hash_token, is_token, new_token};
use crate::{MailResult, Mailer, SiteSettings};

/// How long a confirmation link works.
pub const CONFIRM_TTL_HOURS: i64 = 48;

/// Subscriptions and previews for the web layer.
#[derive(Clone)]
pub struct MailService {
    store: Arc<dyn Store>,
    site: SiteSettings,
    mailer: Mailer,
}

impl MailService {
    /// A service over a store. Confirmation emails are queued in the store for the outbox
    /// [`crate::Worker`]; `mailer` is for one-off account messages sent right away.
    pub fn new(store: Arc<dyn Store>, site: SiteSettings, mailer: Mailer) -> Self {
        Self {
            store,
            site,
            mailer,
        }
    }

    /// The mailer one-off account messages go through.
    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// The site's settings.
    pub fn site(&self) -> &SiteSettings {
        &self.site
    }

    /// Subscribes an address. A new, pending or unsubscribed address is made pending and its
    /// confirmation email queued in the same transaction (the outbox worker sends it, retrying
    /// while the SMTP server is unreachable); a confirmed one gets nothing. The answer takes as
    /// long whatever the address's state; the caller shows the same page either way.
    /// `user_id` links the subscription to an account: pass it only for the account's own
    /// address.
    pub async fn subscribe(
        &self,
        email: Email,
        cadence: Cadence,
        user_id: Option<i64>,
    ) -> MailResult<SubscribeOutcome> {
        let token = new_token();
        Ok(self
            .store
            .subscribe(&NewSubscriber {
                email,
                user_id,
                cadence,
                confirm_token_hash: hash_token(&token),
                confirm_token: token,
                confirm_expires_at: Utc::now() + Duration::hours(CONFIRM_TTL_HOURS),
                unsubscribe_token: new_token(),
            })
            .await?)
    }

    /// Confirms the subscription a confirmation token belongs to; `None` if the token is
    /// unknown, used or expired.
    pub async fn confirm(&self, token: &str) -> MailResult<Option<Subscriber>> {
        if !is_token(token) {
            return Ok(None);
        }
        Ok(self
            .store
            .confirm_subscriber(&hash_token(token), Utc::now())
            .await?)
    }

    /// Unsubscribes the holder of an unsubscribe secret (idempotent); `None` if unknown.
    pub async fn unsubscribe(&self, token: &str) -> MailResult<Option<Subscriber>> {
        if !is_token(token) {
            return Ok(None);
        }
        Ok(self.store.unsubscribe(token, Utc::now()).await?)
    }

    /// The subscriber holding an unsubscribe secret.
    pub async fn subscriber(&self, token: &str) -> MailResult<Option<Subscriber>> {
        if !is_token(token) {
            return Ok(None);
        }
        Ok(self.store.subscriber_by_token(token).await?)
    }

    /// Changes the cadence of the holder of an unsubscribe secret.
    pub async fn set_cadence(
        &self,
        token: &str,
        cadence: Cadence,
    ) -> MailResult<Option<Subscriber>> {
        if !is_token(token) {
            return Ok(None);
        }
        Ok(self.store.set_subscriber_cadence(token, cadence).await?)
    }

    /// Sends a one-off account message (a password reset link) to `to` right away. The
    /// caller words it; nothing of the recipient's reaches a header but the parsed address.
    pub async fn send_account_message(
        &self,
        to: &str,
        subject: &str,
        text: String,
    ) -> MailResult<()> {
        let message = crate::message::compose_account(&self.site, to, subject, text)?;
        self.mailer
            .send(message)
            .await
            .map_err(|e| crate::MailError::Build(e.to_string()))
    }

    /// The HTML of the latest edition as a subscriber would see it (with inert links in place
    /// of their secrets); when no edition was built yet, one over the latest feed day. `None`
    /// when there are no papers at all.
    pub async fn preview_html(&self) -> MailResult<Option<String>> {
        let content = match self.store.latest_edition(None).await? {
            Some(edition) => EditionContent::load(&*self.store, &edition, &self.site).await?,
            None => {
                let Some(date) = self.store.latest_feed_date().await? else {
                    return Ok(None);
                };
                let ids = select_papers(&*self.store, Cadence::Daily, date, EDITION_PAPERS).await?;
                EditionContent::for_papers(&*self.store, Cadence::Daily, date, &ids, &self.site)
                    .await?
            }
        };
        let links = RecipientLinks {
            unsubscribe_url: unsubscribe_url(&self.site, "preview"),
            preferences_url: preferences_url(&self.site, "preview"),
        };
        let (_, html) = render_digest(&content, &[], &links, &self.site)?;
        Ok(Some(html))
    }
}
