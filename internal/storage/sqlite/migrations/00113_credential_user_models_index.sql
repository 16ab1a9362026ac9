-- A group's key models count its members' passkeys per model (issue 9):
-- credentials_user_models carries what the count reads, so it is a search
-- of the index per member, not a table row per passkey. A sign-in changes
-- none of these columns, so it does not write this index.

-- +goose Up
CREATE INDEX credentials_user_models ON credentials (user_id, aaguid, model, backup_eligible, attestation_level);

-- +goose Down
DROP INDEX credentials_user_models;
