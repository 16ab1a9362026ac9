-- Keyward schema, SQLite dialect. Times are unix microseconds (UTC); keys
-- ending in _key are lower-cased copies that make uniqueness and ordering
-- case-insensitive; []string fields are JSON text.

-- +goose Up
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    upn                 TEXT NOT NULL,
    upn_key             TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    account_enabled     INTEGER NOT NULL,
    is_emergency_access INTEGER NOT NULL,
    password_hash       TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE security_groups (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    name_key     TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
    group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id, group_id);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

CREATE TABLE one_time_tokens (
    purpose    TEXT NOT NULL,
    hash       BLOB NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (purpose, hash)
) STRICT, WITHOUT ROWID;
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_methods TEXT NOT NULL,
    mfa_at       INTEGER,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE challenges (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- No index on expires_at: the table only holds ceremonies in flight, so the
-- periodic cleanup scans it cheaply, while an index would cost a page write
-- on both writes of every sign-in.

CREATE TABLE credentials (
    id                        TEXT PRIMARY KEY,
    user_id                   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id             BLOB NOT NULL UNIQUE,
    public_key                BLOB NOT NULL,
    aaguid                    TEXT NOT NULL,
    model                     TEXT NOT NULL,
    display_name              TEXT NOT NULL,
    attestation_format        TEXT NOT NULL,
    attestation_type          TEXT NOT NULL,
    attestation_level         TEXT NOT NULL,
    attestation_cert_subjects TEXT NOT NULL,
    transports                TEXT NOT NULL,
    user_verified             INTEGER NOT NULL,
    backup_eligible           INTEGER NOT NULL,
    backup_state              INTEGER NOT NULL,
    sign_count                INTEGER NOT NULL,
    clone_warning             INTEGER NOT NULL,
    created_at                INTEGER NOT NULL,
    last_used_at              INTEGER
) STRICT;
CREATE INDEX credentials_user ON credentials (user_id, created_at);

-- seq orders events of the same instant by insertion; events outlive their
-- user, so user_id is not a foreign key.
CREATE TABLE sign_in_events (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL,
    occurred_at    INTEGER NOT NULL,
    user_id        TEXT NOT NULL,
    upn            TEXT NOT NULL,
    method         TEXT NOT NULL,
    credential_id  TEXT NOT NULL,
    aaguid         TEXT NOT NULL,
    model          TEXT NOT NULL,
    result         TEXT NOT NULL,
    failure_reason TEXT NOT NULL,
    ip             TEXT NOT NULL,
    user_agent     TEXT NOT NULL
) STRICT;
CREATE INDEX sign_in_events_time ON sign_in_events (occurred_at, seq);
CREATE INDEX sign_in_events_user ON sign_in_events (user_id, occurred_at, seq);

CREATE TABLE policies (
    name       TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    details     BLOB NOT NULL
) STRICT;
CREATE INDEX audit_events_time ON audit_events (occurred_at, seq);
CREATE INDEX audit_events_target ON audit_events (target, occurred_at, seq);

CREATE TABLE mds_blobs (
    number      INTEGER PRIMARY KEY,
    next_update INTEGER NOT NULL,
    raw         BLOB NOT NULL,
    source      TEXT NOT NULL,
    imported_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE mds_blobs;
DROP TABLE audit_events;
DROP TABLE policies;
DROP TABLE sign_in_events;
DROP TABLE credentials;
DROP TABLE challenges;
DROP TABLE sessions;
DROP TABLE one_time_tokens;
DROP TABLE api_tokens;
DROP TABLE memberships;
DROP TABLE security_groups;
DROP TABLE users;
