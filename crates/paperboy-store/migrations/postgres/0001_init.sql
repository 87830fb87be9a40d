-- Paperboy schema, version 1 (PostgreSQL).

CREATE TABLE organizations (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    fullname    TEXT NOT NULL,
    avatar_url  TEXT
);

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    fullname      TEXT NOT NULL,
    avatar_url    TEXT,
    email         TEXT UNIQUE,
    password_hash TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    suspended     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE papers (
    id               TEXT PRIMARY KEY,
    version          INTEGER,
    title            TEXT NOT NULL,
    summary          TEXT NOT NULL,
    categories       TEXT NOT NULL DEFAULT '',
    published_at     TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ,
    comment          TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    github_repo      TEXT,
    github_stars     BIGINT,
    project_page     TEXT,
    ai_summary       TEXT,
    keywords         JSONB NOT NULL DEFAULT '[]',
    source_upvotes   BIGINT,
    local_upvotes    BIGINT NOT NULL DEFAULT 0,
    source_comments  BIGINT,
    local_comments   BIGINT NOT NULL DEFAULT 0,
    discussion_id    TEXT,
    hidden           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    modified_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX papers_published ON papers (published_at DESC, id DESC);
CREATE INDEX papers_modified ON papers (modified_at);

CREATE TABLE paper_authors (
    paper_id  TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    hidden    BOOLEAN NOT NULL DEFAULT FALSE,
    hf_user   TEXT,
    PRIMARY KEY (paper_id, position)
);
CREATE INDEX paper_authors_name ON paper_authors (lower(name));

CREATE TABLE daily_entries (
    paper_id         TEXT PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
    feed_date        DATE NOT NULL,
    submitted_at     TIMESTAMPTZ NOT NULL,
    submitter_id     BIGINT REFERENCES users (id),
    organization_id  BIGINT REFERENCES organizations (id)
);
CREATE INDEX daily_entries_date ON daily_entries (feed_date, submitted_at);
CREATE INDEX daily_entries_submitter ON daily_entries (submitter_id);
CREATE INDEX daily_entries_org ON daily_entries (organization_id);

CREATE TABLE votes (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paper_id    TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX votes_paper ON votes (paper_id);

CREATE TABLE state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
