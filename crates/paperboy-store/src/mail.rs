//! The request and result types of the [`crate::Store`]'s email-digest methods: subscribers,
//! editions and the durable outbox.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::Email;

use crate::StoreError;

/// How often a subscriber gets a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cadence {
    /// Every weekday.
    #[default]
    Daily,
    /// Once a week.
    Weekly,
}

impl Cadence {
    /// The stored and URL form: `daily` or `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
        }
    }

    /// Reads `daily` or `weekly` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Some(Self::Daily),
            "weekly" => Some(Self::Weekly),
            _ => None,
        }
    }

    pub(crate) fn from_stored(s: &str) -> Result<Self, StoreError> {
        Self::parse(s).ok_or_else(|| StoreError::Corrupt(format!("cadence {s}")))
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberStatus {
    /// Subscribed, waiting for the confirmation link to be followed; nothing is sent but the
    /// confirmation email.
    Pending,
    /// Confirmed: gets digests.
    Confirmed,
    /// Left; gets nothing.
    Unsubscribed,
}

impl SubscriberStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Unsubscribed => "unsubscribed",
        }
    }

    pub(crate) fn from_stored(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(Self::Pending),
            "confirmed" => Ok(Self::Confirmed),
            "unsubscribed" => Ok(Self::Unsubscribed),
            _ => Err(StoreError::Corrupt(format!("subscriber status {s}"))),
        }
    }
}

/// A stored subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Row id.
    pub id: i64,
    /// The address, as given (domain lowercased).
    pub email: String,
    /// The account it is linked to (by following a confirmation link asked for from that
    /// account), if any.
    pub user_id: Option<i64>,
    /// How often.
    pub cadence: Cadence,
    /// Where it stands.
    pub status: SubscriberStatus,
    /// The secret of the one-click unsubscribe link.
    pub unsubscribe_token: String,
    /// When the address was first subscribed.
    pub created_at: DateTime<Utc>,
}

/// A subscription request (double opt-in: it starts pending).
#[derive(Debug, Clone)]
pub struct NewSubscriber {
    /// The address.
    pub email: Email,
    /// The signed-in account subscribing its own address, if any: linked once the address's
    /// owner follows the confirmation link.
    pub user_id: Option<i64>,
    /// How often.
    pub cadence: Cadence,
    /// The confirmation token to mail. It is queued with the confirmation message (in the
    /// transaction that makes the address pending) and erased once that message is settled;
    /// only its hash stays on the subscriber.
    pub confirm_token: String,
    /// SHA-256 (hex) of `confirm_token`.
    pub confirm_token_hash: String,
    /// When the confirmation token stops working.
    pub confirm_expires_at: DateTime<Utc>,
    /// The unsubscribe secret to use if the address is new.
    pub unsubscribe_token: String,
}

/// An already-confirmed subscriber to import (an administrator moving a list over).
#[derive(Debug, Clone)]
pub struct ImportedSubscriber {
    /// The address.
    pub email: Email,
    /// How often.
    pub cadence: Cadence,
    /// The unsubscribe secret.
    pub unsubscribe_token: String,
}

/// What [`crate::Store::subscribe`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// The address has the new confirmation token (pending; or still confirmed when an account
    /// asked to be linked to it), and its message is queued.
    ConfirmationNeeded(Subscriber),
    /// The address was already confirmed; nothing changed.
    AlreadyConfirmed(Subscriber),
}

/// A digest edition to build.
#[derive(Debug, Clone)]
pub struct NewEdition {
    /// Which subscribers it goes to.
    pub cadence: Cadence,
    /// Its date (the feed day, or a day of the week, it covers).
    pub date: NaiveDate,
    /// The papers it lists, in order (base arXiv ids).
    pub paper_ids: Vec<String>,
}

/// A stored edition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edition {
    /// Row id.
    pub id: i64,
    /// Which subscribers it goes to.
    pub cadence: Cadence,
    /// Its date.
    pub date: NaiveDate,
    /// The papers it lists, in order.
    pub paper_ids: Vec<String>,
    /// When it was built.
    pub created_at: DateTime<Utc>,
}

/// What [`crate::Store::build_edition`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionBuilt {
    /// The edition (the one stored before, if it had been built already).
    pub edition: Edition,
    /// Whether this call created it.
    pub created: bool,
    /// Messages newly enqueued (0 when every confirmed subscriber already had one).
    pub enqueued: u64,
}

/// A claimed outbox row: send it, then record the outcome with its `claim`.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// Row id.
    pub id: i64,
    /// The claim this worker holds on it.
    pub claim: i64,
    /// Attempts made before this one.
    pub attempts: i32,
    /// The edition to send.
    pub edition_id: i64,
    /// The recipient.
    pub subscriber: Subscriber,
}

/// A claimed confirmation message: mail the link of `token` to the (still pending)
/// subscriber, then record the outcome with its `claim`.
#[derive(Debug, Clone)]
pub struct ConfirmationMessage {
    /// Row id.
    pub id: i64,
    /// The claim this worker holds on it.
    pub claim: i64,
    /// Attempts made before this one.
    pub attempts: i32,
    /// The confirmation token whose link the message carries.
    pub token: String,
    /// The recipient.
    pub subscriber: Subscriber,
}

/// How a send went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The server accepted it.
    Sent,
    /// A temporary failure: try again from `not_before`.
    Retry {
        /// What went wrong.
        error: String,
        /// The earliest next attempt.
        not_before: DateTime<Utc>,
    },
    /// A permanent failure: never tried again.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// Not sent, and never will be (the subscriber left in the meantime).
    Cancelled,
}

/// Outbox rows by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting (including retries not yet due).
    pub queued: i64,
    /// Claimed by a worker.
    pub sending: i64,
    /// Delivered.
    pub sent: i64,
    /// Failed for good.
    pub failed: i64,
    /// Dropped because the subscriber left.
    pub cancelled: i64,
}

impl OutboxCounts {
    pub(crate) fn add(&mut self, status: &str, n: i64) {
        match status {
            "queued" => self.queued += n,
            "sending" => self.sending += n,
            "sent" => self.sent += n,
            "failed" => self.failed += n,
            "cancelled" => self.cancelled += n,
            _ => {}
        }
    }

    /// Rows not yet settled (queued or being sent).
    pub fn pending(&self) -> i64 {
        self.queued + self.sending
    }
}

/// The key that makes addresses unique: lowercased, so `Ada@x.org` and `ada@x.org` are one
/// subscriber.
pub fn email_key(email: &Email) -> String {
    email.as_str().to_lowercase()
}
