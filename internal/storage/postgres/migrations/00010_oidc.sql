-- OpenID Connect provider (issue 7): app registrations, the provider's
-- signing keys, authorization requests with their codes, and issued tokens.

-- +goose Up
CREATE TABLE applications (
    id                   TEXT PRIMARY KEY,
    app_id               TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    -- lower(display name) || x'1f' || id: unique, ordered, prefix-searchable.
    name_key             TEXT COLLATE "C" NOT NULL UNIQUE,
    web_redirect_uris    TEXT NOT NULL,
    public_redirect_uris TEXT NOT NULL,
    password_credentials TEXT NOT NULL,
    assigned_groups      TEXT NOT NULL,
    groups_claim         BOOLEAN NOT NULL,
    signing_alg          TEXT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE oidc_signing_keys (
    id          TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    public_key  BYTEA NOT NULL,
    private_key BYTEA NOT NULL,
    sealed      BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    sign_from   TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ,
    expires_at  TIMESTAMPTZ
);

CREATE TABLE oidc_auth_requests (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    request         BYTEA NOT NULL,
    user_id         TEXT,
    session_id      TEXT NOT NULL,
    auth_time       TIMESTAMPTZ,
    amr             TEXT NOT NULL,
    acr             TEXT NOT NULL,
    done            BOOLEAN NOT NULL,
    code_hash       BYTEA UNIQUE,
    code_expires_at TIMESTAMPTZ,
    code_used_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_tokens (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    grant_id       TEXT NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    scopes         TEXT NOT NULL,
    audience       TEXT NOT NULL,
    amr            TEXT NOT NULL,
    acr            TEXT NOT NULL,
    auth_time      TIMESTAMPTZ,
    refresh_id     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    rotated_at     TIMESTAMPTZ
);
CREATE INDEX oidc_tokens_grant ON oidc_tokens (grant_id);
CREATE INDEX oidc_tokens_user ON oidc_tokens (user_id, application_id);
CREATE INDEX oidc_tokens_application ON oidc_tokens (application_id);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);

-- +goose Down
DROP TABLE oidc_tokens;
DROP TABLE oidc_auth_requests;
DROP TABLE oidc_signing_keys;
DROP TABLE applications;
