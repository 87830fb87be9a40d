-- Email digests (SQLite): subscribers, editions and the durable outbox. Timestamps are Unix
-- milliseconds (UTC).

CREATE TABLE subscribers (
    id                  INTEGER PRIMARY KEY,
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL UNIQUE,
    user_id             INTEGER REFERENCES users (id) ON DELETE SET NULL,
    cadence             TEXT NOT NULL CHECK (cadence IN ('daily', 'weekly')),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    confirm_token_hash  TEXT UNIQUE,
    confirm_expires_at  INTEGER,
    unsubscribe_token   TEXT NOT NULL UNIQUE,
    created_at          INTEGER NOT NULL,
    confirmed_at        INTEGER,
    unsubscribed_at     INTEGER
);
CREATE INDEX subscribers_confirmed ON subscribers (cadence, status);

CREATE TABLE editions (
    id            INTEGER PRIMARY KEY,
    cadence       TEXT NOT NULL CHECK (cadence IN ('daily', 'weekly')),
    edition_date  TEXT NOT NULL,
    paper_ids     TEXT NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    UNIQUE (cadence, edition_date)
);

-- One row per (subscriber, edition). `status` is queued → sending → sent | failed | cancelled;
-- a `sending` row whose lease ran out (its worker died) is claimed again.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    subscriber_id    INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    edition_id       INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    claim            INTEGER,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    UNIQUE (subscriber_id, edition_id)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_edition ON outbox (edition_id, status);
