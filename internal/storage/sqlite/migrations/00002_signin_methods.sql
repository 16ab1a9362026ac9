-- Sign-in methods besides passkeys (issue 4): admin roles for people,
-- sessions that still owe a second factor, authenticator apps (TOTP),
-- Temporary Access Passes, and rate-limit counters shared by every node.

-- +goose Up
ALTER TABLE users ADD COLUMN admin_role TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN second_factor_pending INTEGER NOT NULL DEFAULT 0;

-- At most one authenticator app per user: the user ID is the key.
CREATE TABLE totp_methods (
    user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         TEXT NOT NULL,
    confirmed      INTEGER NOT NULL,
    last_used_step INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
) STRICT, WITHOUT ROWID;

CREATE TABLE temporary_access_passes (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash           BLOB NOT NULL UNIQUE,
    is_usable_once INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    start_at       INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    created_by     TEXT NOT NULL
) STRICT;
CREATE INDEX temporary_access_passes_user ON temporary_access_passes (user_id, created_at);
CREATE INDEX temporary_access_passes_expires ON temporary_access_passes (expires_at);

-- One row per counter and fixed window; window_us is the window's length,
-- so one name may be counted over windows of different lengths.
CREATE TABLE rate_limits (
    name         TEXT NOT NULL,
    window_us    INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (name, window_us, window_start)
) STRICT, WITHOUT ROWID;
CREATE INDEX rate_limits_expires ON rate_limits (expires_at);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE temporary_access_passes;
DROP TABLE totp_methods;
ALTER TABLE sessions DROP COLUMN second_factor_pending;
ALTER TABLE users DROP COLUMN admin_role;
