-- +goose Up
-- Assurance (issue 15): how strongly, and when, the holder of a session or
-- family authenticated. aal 0 is a row written before this migration.
-- amr holds RFC 8176 values separated by spaces; times are Unix ms (0: none).
ALTER TABLE sessions ADD COLUMN aal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN aal2_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN aal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE families ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN aal2_time INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE families DROP COLUMN aal2_time;
ALTER TABLE families DROP COLUMN auth_time;
ALTER TABLE families DROP COLUMN amr;
ALTER TABLE families DROP COLUMN aal;
ALTER TABLE sessions DROP COLUMN aal2_time;
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN aal;
