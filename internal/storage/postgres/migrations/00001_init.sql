-- Keyward schema, PostgreSQL dialect. Keys ending in _key are lower-cased
-- copies that make uniqueness and ordering case-insensitive; they use the "C"
-- collation so ordering is byte-wise, as on SQLite. []string fields are JSON
-- text, so both backends store the same thing.

-- +goose Up
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    upn                 TEXT NOT NULL,
    upn_key             TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    account_enabled     BOOLEAN NOT NULL,
    is_emergency_access BOOLEAN NOT NULL,
    password_hash       TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE security_groups (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    name_key     TEXT COLLATE "C" NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, group_id);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    secret_hash BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

CREATE TABLE one_time_tokens (
    purpose    TEXT NOT NULL,
    hash       BYTEA NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (purpose, hash)
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_methods TEXT NOT NULL,
    mfa_at       TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE challenges (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    data       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX challenges_expires ON challenges (expires_at);

CREATE TABLE credentials (
    id                        TEXT PRIMARY KEY,
    user_id                   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id             BYTEA NOT NULL UNIQUE,
    public_key                BYTEA NOT NULL,
    aaguid                    TEXT NOT NULL,
    model                     TEXT NOT NULL,
    display_name              TEXT NOT NULL,
    attestation_format        TEXT NOT NULL,
    attestation_type          TEXT NOT NULL,
    attestation_level         TEXT NOT NULL,
    attestation_cert_subjects TEXT NOT NULL,
    transports                TEXT NOT NULL,
    user_verified             BOOLEAN NOT NULL,
    backup_eligible           BOOLEAN NOT NULL,
    backup_state              BOOLEAN NOT NULL,
    sign_count                BIGINT NOT NULL,
    clone_warning             BOOLEAN NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL,
    last_used_at              TIMESTAMPTZ
);
CREATE INDEX credentials_user ON credentials (user_id, created_at);

-- seq orders events of the same instant by insertion; events outlive their
-- user, so user_id is not a foreign key.
CREATE TABLE sign_in_events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
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
);
CREATE INDEX sign_in_events_time ON sign_in_events (occurred_at, seq);
CREATE INDEX sign_in_events_user ON sign_in_events (user_id, occurred_at, seq);

CREATE TABLE policies (
    name       TEXT PRIMARY KEY,
    data       BYTEA NOT NULL,
    version    BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE audit_events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    details     BYTEA NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (occurred_at, seq);
CREATE INDEX audit_events_target ON audit_events (target, occurred_at, seq);

CREATE TABLE mds_blobs (
    number      BIGINT PRIMARY KEY,
    next_update TIMESTAMPTZ NOT NULL,
    raw         BYTEA NOT NULL,
    source      TEXT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL
);

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
