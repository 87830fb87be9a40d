-- Accounts' sessions and the community's comments (SQLite).

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,
    paper_id    TEXT NOT NULL REFERENCES papers (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    parent_id   INTEGER REFERENCES comments (id),
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER,
    deleted     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX comments_paper ON comments (paper_id, id);
