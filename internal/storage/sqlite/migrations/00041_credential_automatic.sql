-- A passkey the browser created without asking (WebAuthn Level 3 conditional
-- create) right after a password sign-in: an automatic upgrade. Stored so
-- My security info can say so and administrators can tell them apart.

-- +goose Up
ALTER TABLE credentials ADD COLUMN automatic INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE credentials DROP COLUMN automatic;
