-- Conditional access (issue 8): a session remembers the model (AAGUID) of
-- the passkey it signed in with, so a strength restricted to some key
-- models can be judged at every later request.

-- +goose Up
ALTER TABLE sessions ADD COLUMN aaguid TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN aaguid;
