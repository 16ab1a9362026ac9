-- Conditional access on Keyward's own surfaces (issue 8): a session
-- remembers which surfaces (app IDs, user actions; each followed by a
-- space) its successful use has been written to the sign-in log for, so a
-- success is logged once per session and surface, not at every request.
-- It is set by a conditional update in the transaction that writes that
-- first log row.

-- +goose Up
ALTER TABLE sessions ADD COLUMN ca_logged TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN ca_logged;
