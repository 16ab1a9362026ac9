-- The registration report counts people per method with counting queries
-- over indexes (issue 9): passkey holders by type, accounts with a
-- password; the passkey-registrations chart reads a range of creation times.

-- +goose Up
CREATE INDEX credentials_type ON credentials (backup_eligible, user_id);
CREATE INDEX credentials_created ON credentials (created_at, backup_eligible);
CREATE INDEX users_password ON users (id) WHERE password_hash <> '';

-- +goose Down
DROP INDEX users_password;
DROP INDEX credentials_created;
DROP INDEX credentials_type;
