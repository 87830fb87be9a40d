//! Paperboy's storage: the [`Store`] trait and its two backends, SQLite (the embedded default:
//! one file under the data directory) and PostgreSQL (for several stateless replicas).
//!
//! Both backends pass the same conformance suite (`tests/conformance.rs`). Each owns its
//! migrations (`migrations/sqlite`, `migrations/postgres`), applied when the store opens.

pub mod api;
mod mail;
mod model;
pub mod postgres;
mod site;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

pub use api::{ApiToken, CreatedApiToken};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, Email, NewPaper, Paper};

pub use mail::{
    Cadence, ConfirmationMessage, DeliveryOutcome, Edition, EditionBuilt, ImportedSubscriber,
    NewEdition, NewSubscriber, OutboxCounts, OutboxMessage, SubscribeOutcome, Subscriber,
    SubscriberStatus, email_key,
};
pub use model::{
    Backend, ChangeCursor, ChangedPapers, Comment, FeedPage, FeedQuery, FeedSort, FeedSubmission,
    NewComment, NewUser, PaperCursor, Stats, UpsertSummary, User, author_key, sort_trending,
};
pub use site::{
    AuthorClaim, ClaimStatus, HiddenPaper, MembershipStatus, OrgMember, OrgProfile, OrgRole,
    PendingMembership, PendingSignup,
};

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule was broken (a taken username, say).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be read back.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database reported an error.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database reported an error.
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection could be had.
    #[error("could not get a database connection: {0}")]
    Pool(String),
    /// The schema could not be brought up to date.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database file or URL is unusable.
    #[error("cannot open the database: {0}")]
    Open(String),
    /// The integrity check found a problem.
    #[error("integrity check failed: {0}")]
    Integrity(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Paperboy keeps. Implemented by [`sqlite::SqliteStore`] and
/// [`postgres::PgStore`]; both must behave the same (see the conformance suite).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Stores papers in one transaction: new ones are inserted, known ones updated (a newer
    /// version replaces title, abstract and authors; missing optional fields keep what was
    /// stored). A paper with a feed entry enters (or updates) the daily feed.
    async fn upsert_papers(&self, papers: &[NewPaper]) -> StoreResult<UpsertSummary>;

    /// One paper by id (the version, if any, is ignored); a hidden paper is `None`.
    async fn paper(&self, id: &ArxivId) -> StoreResult<Option<Paper>>;

    /// A page of the daily feed.
    async fn feed(&self, query: &FeedQuery) -> StoreResult<FeedPage>;

    /// The most recent day that has papers on the daily list.
    async fn latest_feed_date(&self) -> StoreResult<Option<NaiveDate>>;

    /// The nearest days before and after `date` that have papers on the daily list.
    async fn neighbour_feed_dates(
        &self,
        date: NaiveDate,
    ) -> StoreResult<(Option<NaiveDate>, Option<NaiveDate>)>;

    /// The catalogue, newest first, `limit` papers after `cursor`.
    async fn list_papers(
        &self,
        cursor: Option<&PaperCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Paper>>;

    /// Papers with an author of this name (case-insensitive), newest first.
    async fn papers_by_author(&self, name: &str, limit: u32) -> StoreResult<Vec<Paper>>;

    /// Creates an account. A taken username or email is a [`StoreError::Conflict`].
    async fn create_user(&self, user: &NewUser) -> StoreResult<User>;

    /// An account by username.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;

    /// Sets or removes `user_id`'s upvote on a paper; returns the paper's upvote count after.
    /// Voting twice counts once. A hidden (or unknown) paper takes no vote nor unvote:
    /// [`StoreError::NotFound`].
    async fn set_vote(&self, user_id: i64, paper: &ArxivId, up: bool) -> StoreResult<i64>;

    /// Whether `user_id` upvoted the paper.
    async fn has_voted(&self, user_id: i64, paper: &ArxivId) -> StoreResult<bool>;

    /// A value of the key-value state (sync cursors and the like).
    async fn get_state(&self, key: &str) -> StoreResult<Option<String>>;

    /// Sets a value of the key-value state.
    async fn set_state(&self, key: &str, value: &str) -> StoreResult<()>;

    /// Counts of what is stored.
    async fn stats(&self) -> StoreResult<Stats>;

    /// Runs the backend's own consistency checks; an error names what is wrong.
    async fn check_integrity(&self) -> StoreResult<()>;

    // ---- community: accounts, sessions, comments, submissions ----

    /// An account by id.
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;

    /// An account by email (as [`paperboy_core::Email`] normalizes it).
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    /// Records a session: the SHA-256 of its token, never the token.
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The account of an unexpired session.
    async fn session_user(&self, token_hash: &str) -> StoreResult<Option<User>>;

    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;

    /// Adds a comment; the paper's comment count follows in the same transaction. A parent
    /// that is not a top-level comment of the same paper is a [`StoreError::Conflict`]; a
    /// hidden or unknown paper is [`StoreError::NotFound`].
    async fn add_comment(&self, comment: &NewComment) -> StoreResult<Comment>;

    /// A paper's comments, oldest first.
    async fn comments(&self, paper: &ArxivId) -> StoreResult<Vec<Comment>>;

    /// Deletes a comment of `user_id` (its body is cleared, its place kept); another user's
    /// or a missing comment is [`StoreError::NotFound`].
    async fn delete_comment(&self, id: i64, user_id: i64) -> StoreResult<()>;

    /// Puts a stored paper on the daily list. Returns false, changing nothing, when it is
    /// already there: a duplicate submission lands on the existing entry. A hidden or unknown
    /// paper is [`StoreError::NotFound`]; an organization the submitter is not an approved
    /// member of is a [`StoreError::Conflict`].
    async fn submit_to_feed(&self, paper: &ArxivId, entry: &FeedSubmission) -> StoreResult<bool>;

    /// Which of `ids` the user upvoted (base ids).
    async fn voted_among(&self, user_id: i64, ids: &[ArxivId]) -> StoreResult<Vec<String>>;

    // ---- api ----

    /// Papers whose title, abstract or authors hold every word of `query`
    /// (case-insensitive), most matches first, then most upvotes. An empty query finds
    /// nothing. Backs `/api/papers/search` until the search crate replaces it.
    async fn search_papers_simple(&self, query: &str, limit: u32) -> StoreResult<Vec<Paper>>;

    /// Papers submitted to the daily list for the organization `name`, newest first.
    async fn feed_by_organization(&self, name: &str, limit: u32) -> StoreResult<Vec<Paper>>;

    /// Creates a personal API token for `user_id` labelled `name`; the secret is in the
    /// result only (the store keeps its SHA-256). An unknown user is [`StoreError::NotFound`].
    async fn create_api_token(&self, user_id: i64, name: &str) -> StoreResult<CreatedApiToken>;

    /// `user_id`'s tokens that are not revoked, oldest first.
    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>>;

    /// Revokes `user_id`'s token `token_id`; `false` if there was no such live token.
    async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> StoreResult<bool>;

    /// The owner of a live token with this secret (and records the use), or `None`.
    async fn authenticate_api_token(&self, secret: &str) -> StoreResult<Option<User>>;

    // ---- mail ----

    /// Subscribes an address (double opt-in). A new, pending or unsubscribed address becomes
    /// pending with the request's confirmation token (an unsubscribed one keeps its old
    /// unsubscribe secret) and, in the same transaction, its confirmation message is queued
    /// (replacing any earlier one of the address). A confirmed one is left as it is, unless the
    /// request names an account it is not linked to: then it stays confirmed and gets the token
    /// and its message too. The request's account is linked only when the token is followed
    /// ([`Store::confirm_subscriber`]): account addresses are not verified.
    async fn subscribe(&self, request: &NewSubscriber) -> StoreResult<SubscribeOutcome>;

    /// Imports already-confirmed subscribers in one transaction; known addresses are left as
    /// they are. Returns how many were added.
    async fn import_subscribers(&self, list: &[ImportedSubscriber]) -> StoreResult<u64>;

    /// Confirms the subscriber whose confirmation token hashes to `token_hash`, if the token has
    /// not expired at `now`, linking the account that asked for it, if any, and cancelling the
    /// queued confirmation message. The token works once.
    async fn confirm_subscriber(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Subscriber>>;

    /// Unsubscribes whoever holds this unsubscribe secret (idempotent), cancelling a queued
    /// confirmation message; `None` if nobody does.
    async fn unsubscribe(&self, token: &str, now: DateTime<Utc>)
    -> StoreResult<Option<Subscriber>>;

    /// The subscriber holding this unsubscribe secret.
    async fn subscriber_by_token(&self, token: &str) -> StoreResult<Option<Subscriber>>;

    /// The subscriber with this address (case-insensitive).
    async fn subscriber_by_email(&self, email: &Email) -> StoreResult<Option<Subscriber>>;

    /// Changes the cadence of whoever holds this unsubscribe secret.
    async fn set_subscriber_cadence(
        &self,
        token: &str,
        cadence: Cadence,
    ) -> StoreResult<Option<Subscriber>>;

    /// Confirmed subscribers of a cadence, by id, at most `limit`.
    async fn confirmed_subscribers(
        &self,
        cadence: Cadence,
        limit: u32,
    ) -> StoreResult<Vec<Subscriber>>;

    /// Stores an edition (or finds the one already built for its cadence and date, keeping its
    /// papers) and, in the same transaction, enqueues one message per confirmed subscriber of
    /// its cadence who has none for it yet. Building twice enqueues nothing twice.
    async fn build_edition(
        &self,
        edition: &NewEdition,
        now: DateTime<Utc>,
    ) -> StoreResult<EditionBuilt>;

    /// An edition by id.
    async fn edition(&self, id: i64) -> StoreResult<Option<Edition>>;

    /// The most recently dated edition (of a cadence, if given).
    async fn latest_edition(&self, cadence: Option<Cadence>) -> StoreResult<Option<Edition>>;

    /// Atomically claims up to `limit` messages that are due at `now` (queued and due, or
    /// claimed by a worker whose lease ran out), leasing them to `claim` until `lease_until`.
    /// Two workers never hold the same row.
    async fn claim_outbox(
        &self,
        limit: u32,
        claim: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxMessage>>;

    /// Records how sending a claimed message went; `false` (and nothing changes) if the claim
    /// is no longer held.
    async fn record_delivery(
        &self,
        id: i64,
        claim: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Outbox rows by status (of one edition, if given).
    async fn outbox_counts(&self, edition_id: Option<i64>) -> StoreResult<OutboxCounts>;

    /// The papers an account upvoted (base ids), most recent first, at most `limit`: what its
    /// digest's "for you" section is drawn from.
    async fn upvoted_paper_ids(&self, user_id: i64, limit: u32) -> StoreResult<Vec<String>>;

    /// Atomically claims up to `limit` due confirmation messages, like
    /// [`Store::claim_outbox`] does digests.
    async fn claim_confirmations(
        &self,
        limit: u32,
        claim: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<ConfirmationMessage>>;

    /// Records how sending a claimed confirmation went (a settled one forgets its token);
    /// `false` (and nothing changes) if the claim is no longer held.
    async fn record_confirmation(
        &self,
        id: i64,
        claim: i64,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Confirmation messages by status.
    async fn confirmation_counts(&self) -> StoreResult<OutboxCounts>;

    /// Just before its message is sent: makes the confirmation token hashing to `token_hash`
    /// work until at least `until` (so a link mailed late, after the SMTP server was down,
    /// still has its full time). `false` if the token is no longer current (followed,
    /// replaced by a newer request, or the address left): then its message is not sent.
    async fn renew_confirmation(&self, token_hash: &str, until: DateTime<Utc>)
    -> StoreResult<bool>;
    // ---- site: organizations, authors, moderation, account changes ----

    /// An organization by handle, with its member and paper counts.
    async fn organization(&self, name: &str) -> StoreResult<Option<OrgProfile>>;

    /// Organizations, those with the most papers first, at most `limit`.
    async fn organizations(&self, limit: u32) -> StoreResult<Vec<OrgProfile>>;

    /// Creates an organization with `creator_id` as its administrator. A taken handle is a
    /// [`StoreError::Conflict`].
    async fn create_organization(
        &self,
        name: &str,
        fullname: &str,
        creator_id: i64,
    ) -> StoreResult<OrgProfile>;

    /// An organization's members (approved ones only), administrators first, then by when
    /// they joined.
    async fn org_members(&self, org_id: i64) -> StoreResult<Vec<OrgMember>>;

    /// The organizations `user_id` is an approved member of, by name.
    async fn user_organizations(&self, user_id: i64) -> StoreResult<Vec<OrgProfile>>;

    /// `user_id` asks to join an organization; an administrator decides
    /// ([`Store::decide_membership`]). Asking when invited accepts the invitation. Returns where
    /// the membership stands after (a member stays one). An unknown organization or user is
    /// [`StoreError::NotFound`].
    async fn request_membership(&self, org_id: i64, user_id: i64) -> StoreResult<MembershipStatus>;

    /// An administrator (`admin_id`, an approved administrator of the organization, else
    /// [`StoreError::Conflict`]) invites `user_id`, who accepts or declines
    /// ([`Store::decide_membership`]). Inviting someone who asked to join approves them.
    /// Returns where the membership stands after. An unknown user is [`StoreError::NotFound`].
    async fn invite_to_organization(
        &self,
        org_id: i64,
        admin_id: i64,
        user_id: i64,
    ) -> StoreResult<MembershipStatus>;

    /// Answers a pending membership of `user_id`: a request is decided by an administrator of
    /// the organization (`actor_id`), an invitation by the invitee (`actor_id == user_id`).
    /// `accept` makes them a member; otherwise the request or invitation is dropped. Nothing
    /// pending that `actor_id` may answer is [`StoreError::NotFound`].
    async fn decide_membership(
        &self,
        org_id: i64,
        user_id: i64,
        actor_id: i64,
        accept: bool,
    ) -> StoreResult<()>;

    /// Requests and invitations of an organization not yet answered, oldest first.
    async fn pending_memberships(&self, org_id: i64) -> StoreResult<Vec<PendingMembership>>;

    /// `user_id`'s requests and invitations not yet answered, oldest first.
    async fn user_pending_memberships(&self, user_id: i64) -> StoreResult<Vec<PendingMembership>>;

    /// An administrator (`admin_id`) changes a member's role. Demoting the last administrator
    /// is a [`StoreError::Conflict`] (another must be made one first), as is acting without
    /// being an administrator; a user who is not a member is [`StoreError::NotFound`].
    async fn set_org_role(
        &self,
        org_id: i64,
        admin_id: i64,
        user_id: i64,
        role: OrgRole,
    ) -> StoreResult<()>;

    /// Removes `user_id` from an organization (or withdraws their request, or declines their
    /// invitation); `false` if they were not in it. `actor_id` is `user_id` (leaving) or an
    /// administrator of it (removing; else [`StoreError::Conflict`]). The last administrator
    /// cannot leave nor be removed ([`StoreError::Conflict`]): another must be made one first.
    /// Papers submitted for the organization by whoever leaves stay attributed to it.
    async fn remove_org_member(
        &self,
        org_id: i64,
        actor_id: i64,
        user_id: i64,
    ) -> StoreResult<bool>;

    /// An administrator (`admin_id`) takes a paper off the organization's list (its daily
    /// entry stays, with no organization); `false` if it was not on it.
    async fn detach_org_paper(
        &self,
        org_id: i64,
        admin_id: i64,
        paper: &ArxivId,
    ) -> StoreResult<bool>;

    /// Records that `user_id` says they are the author `name` (pending until an administrator
    /// decides). Claiming the same name again returns the claim already made.
    async fn claim_author(&self, user_id: i64, name: &str) -> StoreResult<AuthorClaim>;

    /// The claims on an author name (any spelling with the same [`author_key`]), oldest first.
    async fn author_claims(&self, name: &str) -> StoreResult<Vec<AuthorClaim>>;

    /// `user_id`'s claims, oldest first.
    async fn user_author_claims(&self, user_id: i64) -> StoreResult<Vec<AuthorClaim>>;

    /// Claims waiting for an administrator, oldest first.
    async fn pending_author_claims(&self, limit: u32) -> StoreResult<Vec<AuthorClaim>>;

    /// An administrator confirms or rejects a claim. Confirming a name someone else holds
    /// already is a [`StoreError::Conflict`]; an unknown claim is [`StoreError::NotFound`].
    async fn decide_author_claim(
        &self,
        claim_id: i64,
        admin_id: i64,
        confirm: bool,
    ) -> StoreResult<AuthorClaim>;

    /// Hides a paper from every list, page and search (or shows it again); `false` if it was
    /// already so. An unknown paper is [`StoreError::NotFound`].
    async fn set_paper_hidden(&self, id: &ArxivId, hidden: bool) -> StoreResult<bool>;

    /// Whether the paper is stored and hidden by an administrator (an unknown paper is not).
    async fn paper_hidden(&self, id: &ArxivId) -> StoreResult<bool>;

    /// Papers administrators hid, most recently changed first.
    async fn hidden_papers(&self, limit: u32) -> StoreResult<Vec<HiddenPaper>>;

    /// Hides a comment (its place is kept and its paper's count follows) or shows it again;
    /// the comment's paper (base id), `None` if nothing changed. Unknown comment:
    /// [`StoreError::NotFound`].
    async fn set_comment_hidden(&self, id: i64, hidden: bool) -> StoreResult<Option<String>>;

    /// Suspends an account (ending its sessions and refusing new ones; the API refuses its
    /// tokens, which still name it) or lifts the suspension; `false` if it was already so.
    async fn set_user_suspended(&self, user_id: i64, suspended: bool) -> StoreResult<bool>;

    /// Suspended accounts, by username.
    async fn suspended_users(&self, limit: u32) -> StoreResult<Vec<User>>;

    /// Changes an account's display name.
    async fn set_fullname(&self, user_id: i64, fullname: &str) -> StoreResult<()>;

    /// Changes an account's email; one another account has is a [`StoreError::Conflict`].
    async fn set_email(&self, user_id: i64, email: &Email) -> StoreResult<()>;

    /// Changes an account's password hash and ends all its sessions but `keep_session` (the
    /// hash of the session making the change, if any).
    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> StoreResult<()>;

    /// Stores a password reset link for `user_id` (the SHA-256 of its token).
    async fn create_password_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The account of an unused, unexpired reset link.
    async fn password_reset_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    /// Uses a reset link: sets the password, marks every reset link of the account used and
    /// ends all its sessions, in one transaction. `None` (and nothing changes) if the link is
    /// unknown, used or expired.
    async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    /// Stores a sign-up waiting for the link mailed to its address (the SHA-256 of the
    /// link's token), and forgets expired ones.
    async fn create_pending_signup(
        &self,
        token_hash: &str,
        signup: &PendingSignup,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Takes (once) the unexpired sign-up whose link token hashes to `token_hash`.
    async fn take_pending_signup(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PendingSignup>>;

    /// The accounts that upvoted a paper here, most recent first, at most `limit`.
    async fn paper_upvoters(
        &self,
        paper: &ArxivId,
        limit: u32,
    ) -> StoreResult<Vec<paperboy_core::StoredUserRef>>;

    /// Replaces the body of `user_id`'s comment and records when. Another user's, a deleted
    /// or hidden or missing comment, or one on a hidden paper, is [`StoreError::NotFound`].
    async fn edit_comment(&self, id: i64, user_id: i64, body: &str) -> StoreResult<Comment>;

    // ---- comments' stored HTML (rendered once, on write) ----

    /// [`Store::add_comment`], storing the body's rendered `html` (made by renderer
    /// `html_version`) in the same row.
    async fn add_comment_with_html(
        &self,
        comment: &NewComment,
        html: &str,
        html_version: i32,
    ) -> StoreResult<Comment>;

    /// [`Store::edit_comment`], storing the new body's rendered `html` with it. (A plain
    /// `edit_comment` clears the stored HTML, so a stale rendering is never served.)
    async fn edit_comment_with_html(
        &self,
        id: i64,
        user_id: i64,
        body: &str,
        html: &str,
        html_version: i32,
    ) -> StoreResult<Comment>;

    /// Live (not deleted) comments with an id above `after` whose stored HTML is missing or
    /// made by another renderer than `version` (every live comment when `version` is
    /// `None`), as `(id, body)`, by id, at most `limit`: keyset pages for a re-rendering pass.
    async fn comments_to_render(
        &self,
        version: Option<i32>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, String)>>;

    /// A paper's comments as its page reads them, oldest first, without what the page does not
    /// show: the Markdown body only where it may be needed (`viewer`'s own comments, for the
    /// edit form, and those whose HTML is missing or not made by renderer `version`, to
    /// render), an empty body otherwise; the HTML cut to its first `html_chars` characters
    /// (a page shows a longer one as an excerpt).
    async fn comments_for_page(
        &self,
        paper: &ArxivId,
        viewer: Option<i64>,
        version: i32,
        html_chars: u32,
    ) -> StoreResult<Vec<Comment>>;

    /// Stores comment `id`'s rendered `html` (renderer `version`) if its body is still
    /// `body` (an edit in between wins); whether it was stored.
    async fn set_comment_html(
        &self,
        id: i64,
        body: &str,
        html: &str,
        version: i32,
    ) -> StoreResult<bool>;

    // ---- search ----

    /// Papers changed (inserted, updated, voted on, hidden) after `cursor`, oldest change
    /// first, at most `limit` changes: keyset on `(modified_at, id)`, so a caller that keeps
    /// the returned cursor sees every change exactly in order (the search index catches up
    /// this way). Hidden papers come back as `removed`.
    async fn papers_changed_since(
        &self,
        cursor: Option<&ChangeCursor>,
        limit: u32,
    ) -> StoreResult<ChangedPapers>;
}

/// Opens the store a configuration names: a `postgres://` (or `postgresql://`) URL selects
/// PostgreSQL; `sqlite://PATH` a SQLite file; nothing, `DATA_DIR/paperboy.sqlite`.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> StoreResult<Arc<dyn Store>> {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PgStore::connect(url).await?))
        }
        Some(url) if url.starts_with("sqlite://") => {
            let path = Path::new(&url["sqlite://".len()..]);
            Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
        }
        Some(url) => Err(StoreError::Open(format!(
            "unsupported database URL `{}`: use postgres://… or sqlite://PATH",
            url.split('@').next_back().unwrap_or("")
        ))),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StoreError::Open(format!("cannot create {}: {e}", data_dir.display()))
            })?;
            Ok(Arc::new(
                sqlite::SqliteStore::open(&data_dir.join("paperboy.sqlite")).await?,
            ))
        }
    }
}
