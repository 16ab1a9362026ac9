-- Each application's access token format: "opaque" (a random token the
-- database knows by its SHA-256, as refresh tokens) or "jwt" (signed like ID
-- tokens). Apps registered before keep the JWT access tokens they were
-- getting; new ones are opaque unless asked otherwise (docs/oidc.md).

-- +goose Up
ALTER TABLE applications ADD COLUMN access_token_type TEXT NOT NULL DEFAULT 'jwt';

-- +goose Down
ALTER TABLE applications DROP COLUMN access_token_type;
