-- The expiry sweeps of sessions and password reset links read an index instead of every row;
-- papers_modified is covered by papers_modified_id (modified_at, id), its prefix.

CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX password_resets_expires ON password_resets (expires_at);
DROP INDEX IF EXISTS papers_modified;
