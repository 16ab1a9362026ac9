-- Sealed sign-in challenges: the options step seals the ceremony's state
-- under one of these keys and hands it to the client instead of writing it;
-- every node reads the same keys, so any node opens what another sealed. A
-- key is kept until the last challenge it can have sealed has expired.
-- used_challenges makes each sealed challenge single use: the finishing
-- transaction inserts its ID, and a second insert finds it (a replay). Rows
-- are swept once the challenge has expired anyway.

-- +goose Up
CREATE TABLE challenge_keys (
    id         TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE used_challenges (
    id         TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX used_challenges_expires ON used_challenges (expires_at);

-- +goose Down
DROP TABLE used_challenges;
DROP TABLE challenge_keys;
