-- Confirmation emails through the durable outbox (SQLite). One row per subscriber, written in
-- the transaction that makes the address pending; a new request replaces it. `token` is the
-- confirmation token the message carries, kept only until the row is settled (only its hash
-- stays on the subscriber). `status` is queued → sending → sent | failed | cancelled, as in
-- `outbox`.

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
