-- Confirmation emails through the durable outbox, and account links that wait for them
-- (SQLite). One confirmation row per subscriber, written in the transaction that makes the
-- address pending (or asks to link it to an account); a new request replaces it. `token` is the
-- confirmation token the message carries, kept only until the row is settled (only its hash
-- stays on the subscriber). `status` is queued → sending → sent | failed | cancelled, as in
-- `outbox`; confirming or unsubscribing cancels a queued one.

CREATE TABLE confirmation_outbox (
    id               INTEGER PRIMARY KEY,
    subscriber_id    INTEGER NOT NULL UNIQUE REFERENCES subscribers (id) ON DELETE CASCADE,
    token            TEXT,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    claim            INTEGER,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX confirmation_outbox_due ON confirmation_outbox (status, next_attempt_at);

-- The account a subscription is linked to once the address's owner follows the confirmation
-- link (account addresses are not verified, so asking from an account's settings proves
-- nothing by itself). `user_id` is set from it when the link is followed.
ALTER TABLE subscribers ADD COLUMN link_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
