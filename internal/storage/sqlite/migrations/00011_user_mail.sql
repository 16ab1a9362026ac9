-- The user's mail property (Microsoft Graph's): the address applications
-- get in the OpenID Connect email claim. '' = not set (the UPN is used).

-- +goose Up
ALTER TABLE users ADD COLUMN mail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN mail;
