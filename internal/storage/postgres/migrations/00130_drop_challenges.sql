-- The challenges table held each ceremony's state until its finish. Every
-- ceremony now seals its state into the challenge itself and uses it up in
-- used_challenges (migration 00060), so nothing writes or reads the table.

-- +goose Up
DROP TABLE challenges;

-- +goose Down
CREATE TABLE challenges (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    data       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX challenges_expires ON challenges (expires_at);
