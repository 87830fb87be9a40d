-- A comment's HTML is rendered once, when it is written or edited, and stored with the version
-- of the renderer that made it; pages serve it as is. NULL (or an older version) is re-rendered
-- by `paperboy rerender-comments` and by the server's background pass (PostgreSQL).

ALTER TABLE comments ADD COLUMN body_html TEXT;
ALTER TABLE comments ADD COLUMN html_version INTEGER NOT NULL DEFAULT 0;
