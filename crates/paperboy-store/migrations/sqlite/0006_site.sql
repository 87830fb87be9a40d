-- Organizations' members, authorship claims, moderation of comments, password resets (SQLite).

CREATE TABLE org_members (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    joined_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE INDEX org_members_user ON org_members (user_id);

-- A user says "this author name is me"; an administrator confirms or rejects. At most one
-- confirmed claimant per author name.
CREATE TABLE author_claims (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name_key    TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'rejected')),
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER,
    decided_by  INTEGER REFERENCES users (id),
    UNIQUE (user_id, name_key)
);
CREATE INDEX author_claims_name ON author_claims (name_key);
CREATE INDEX author_claims_status ON author_claims (status, id);
CREATE UNIQUE INDEX author_claims_one_confirmed ON author_claims (name_key) WHERE status = 'confirmed';

ALTER TABLE comments ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;

CREATE INDEX papers_hidden ON papers (id) WHERE hidden = 1;
CREATE INDEX users_suspended ON users (id) WHERE suspended = 1;

-- Single-use password reset links: only the SHA-256 of the token is kept.
CREATE TABLE password_resets (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX password_resets_user ON password_resets (user_id);
