-- Paperboy schema, version 1 (SQLite). Timestamps are Unix milliseconds (UTC); feed dates are
-- ISO dates ('2025-10-29'), which sort as text.

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    fullname    TEXT NOT NULL,
    avatar_url  TEXT
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    fullname      TEXT NOT NULL,
    avatar_url    TEXT,
    email         TEXT UNIQUE,
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    suspended     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE papers (
    id               TEXT PRIMARY KEY,
    version          INTEGER,
    title            TEXT NOT NULL,
    summary          TEXT NOT NULL,
    categories       TEXT NOT NULL DEFAULT '',
    published_at     INTEGER NOT NULL,
    updated_at       INTEGER,
    comment          TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    github_repo      TEXT,
    github_stars     INTEGER,
    project_page     TEXT,
    ai_summary       TEXT,
    authors          TEXT NOT NULL DEFAULT '[]',
    keywords         TEXT NOT NULL DEFAULT '[]',
    source_upvotes   INTEGER,
    local_upvotes    INTEGER NOT NULL DEFAULT 0,
    source_comments  INTEGER,
    local_comments   INTEGER NOT NULL DEFAULT 0,
    discussion_id    TEXT,
    hidden           INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    modified_at      INTEGER NOT NULL
);
CREATE INDEX papers_published ON papers (published_at DESC, id DESC);
CREATE INDEX papers_modified ON papers (modified_at);

-- Authors live on the paper row (an ordered JSON array of {name, hidden, user}); this table
-- finds papers by author: one row per (normalized name, paper).
CREATE TABLE author_papers (
    name_key  TEXT NOT NULL,
    paper_id  TEXT NOT NULL REFERENCES papers (id),
    PRIMARY KEY (name_key, paper_id)
) WITHOUT ROWID;

CREATE TABLE daily_entries (
    paper_id         TEXT PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
    feed_date        TEXT NOT NULL,
    submitted_at     INTEGER NOT NULL,
    submitter_id     INTEGER REFERENCES users (id),
    organization_id  INTEGER REFERENCES organizations (id)
);
CREATE INDEX daily_entries_date ON daily_entries (feed_date, submitted_at);
CREATE INDEX daily_entries_submitter ON daily_entries (submitter_id);
CREATE INDEX daily_entries_org ON daily_entries (organization_id);

CREATE TABLE votes (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paper_id    TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, paper_id)
) WITHOUT ROWID;
CREATE INDEX votes_paper ON votes (paper_id);

CREATE TABLE state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
