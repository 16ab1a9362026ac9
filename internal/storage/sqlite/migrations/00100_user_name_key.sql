-- Users are listed by display name too (startswith(displayName,'…') in the
-- admin API), keyset-paged on (name_key, upn_key): name_key is the display
-- name folded as upn_key is. lower() here folds ASCII only; migration 101
-- (Go, sqlstore) folds the other names as Keyward does.

-- +goose Up
ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET name_key = lower(display_name);
CREATE INDEX users_name_key ON users (name_key, upn_key);

-- +goose Down
DROP INDEX users_name_key;
ALTER TABLE users DROP COLUMN name_key;
