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
    authors          JSONB NOT NULL DEFAULT '[]',
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

-- Authors live on the paper row (an ordered JSON array of {name, hidden, user}); this table
-- finds papers by author: one row per (normalized name, paper).
CREATE TABLE author_papers (
    name_key  TEXT NOT NULL,
    paper_id  TEXT NOT NULL REFERENCES papers (id),
    PRIMARY KEY (name_key, paper_id)
);
CREATE INDEX author_papers_paper ON author_papers (paper_id);

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
