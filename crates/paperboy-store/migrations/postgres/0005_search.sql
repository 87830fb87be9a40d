-- The search index catches up from the store by keyset on (modified_at, id).
CREATE INDEX IF NOT EXISTS papers_modified_id ON papers (modified_at, id);
