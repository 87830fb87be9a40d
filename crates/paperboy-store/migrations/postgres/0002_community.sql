-- Accounts' sessions and the community's comments (PostgreSQL).

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE comments (
    id          BIGSERIAL PRIMARY KEY,
    paper_id    TEXT NOT NULL REFERENCES papers (id),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    parent_id   BIGINT REFERENCES comments (id),
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    edited_at   TIMESTAMPTZ,
    deleted     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX comments_paper ON comments (paper_id, id);
