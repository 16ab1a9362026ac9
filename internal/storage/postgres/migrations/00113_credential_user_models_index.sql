-- A group's key models count its members' passkeys per model (issue 9):
-- credentials_user_models carries what the count reads, so the plan is an
-- index-only scan per member (without it the planner preferred reading every
-- passkey for a 1,000-member group). A sign-in changes none of these
-- columns, so its update of the passkey stays a heap-only one.

-- +goose Up
CREATE INDEX credentials_user_models ON credentials (user_id) INCLUDE (aaguid, model, backup_eligible, attestation_level);

-- +goose Down
DROP INDEX credentials_user_models;
