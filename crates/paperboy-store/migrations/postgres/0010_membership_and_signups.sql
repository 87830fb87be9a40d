-- Organization membership needs an administrator's approval or an invitation; a sign-up
-- waits until its address is confirmed (PostgreSQL).

-- 'active': a member. 'requested': asked to join, waiting for an administrator.
-- 'invited': an administrator asked them, waiting for their answer.
ALTER TABLE org_members ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'requested', 'invited'));
-- Until now anyone could join any organization, so no plain membership was ever approved:
-- each becomes a request its administrators approve (or deny) in one click. Administrators
-- made the organization (or were made administrators by one) and stay as they are.
UPDATE org_members SET status = 'requested' WHERE role = 'member';
CREATE INDEX org_members_pending ON org_members (org_id, status) WHERE status <> 'active';

-- A sign-up waiting for the link mailed to its address: only the SHA-256 of the token is kept.
CREATE TABLE pending_signups (
    token_hash     TEXT PRIMARY KEY,
    username       TEXT NOT NULL,
    fullname       TEXT NOT NULL,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_signups_expires ON pending_signups (expires_at);
