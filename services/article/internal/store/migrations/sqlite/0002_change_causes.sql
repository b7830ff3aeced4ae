-- Why each change was made (a buzhou.article.v1.ChangeCause) and which
-- top-level article fields it changed (a JSON array of proto names, sorted).
-- Changes written before read as CHANGE_CAUSE_UNSPECIFIED with no paths.
ALTER TABLE changes ADD COLUMN cause INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN changed_paths TEXT NOT NULL DEFAULT '[]';
