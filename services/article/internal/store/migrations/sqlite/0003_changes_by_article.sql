-- An article's own changes, newest first: a conditional write checks
-- whether what came after the writer's revision were related-id updates
-- only (which do not conflict with an edit).
CREATE INDEX changes_article_idx ON changes (article_id, revision);
