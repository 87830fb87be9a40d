-- Email digests (PostgreSQL): subscribers, editions and the durable outbox.

CREATE TABLE subscribers (
    id                  BIGSERIAL PRIMARY KEY,
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL UNIQUE,
    user_id             BIGINT REFERENCES users (id) ON DELETE SET NULL,
    cadence             TEXT NOT NULL CHECK (cadence IN ('daily', 'weekly')),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    confirm_token_hash  TEXT UNIQUE,
    confirm_expires_at  TIMESTAMPTZ,
    unsubscribe_token   TEXT NOT NULL UNIQUE,
    created_at          TIMESTAMPTZ NOT NULL,
    confirmed_at        TIMESTAMPTZ,
    unsubscribed_at     TIMESTAMPTZ
);
CREATE INDEX subscribers_confirmed ON subscribers (cadence, status);

CREATE TABLE editions (
    id            BIGSERIAL PRIMARY KEY,
    cadence       TEXT NOT NULL CHECK (cadence IN ('daily', 'weekly')),
    edition_date  DATE NOT NULL,
    paper_ids     JSONB NOT NULL DEFAULT '[]',
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (cadence, edition_date)
);

-- One row per (subscriber, edition). `status` is queued → sending → sent | failed | cancelled;
-- a `sending` row whose lease ran out (its worker died) is claimed again.
CREATE TABLE outbox (
    id               BIGSERIAL PRIMARY KEY,
    subscriber_id    BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    edition_id       BIGINT NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    claim            BIGINT,
    lease_until      TIMESTAMPTZ,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ,
    UNIQUE (subscriber_id, edition_id)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_edition ON outbox (edition_id, status);
