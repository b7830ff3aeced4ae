-- Why each change was made (a buzhou.article.v1.ChangeCause) and which
-- top-level article fields it changed (proto names, sorted). Changes written
-- before read as CHANGE_CAUSE_UNSPECIFIED with no paths. A constant default
-- adds the columns without rewriting the table.
ALTER TABLE changes ADD COLUMN cause smallint NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN changed_paths text[] NOT NULL DEFAULT '{}';
