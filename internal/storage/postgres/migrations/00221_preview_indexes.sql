-- The passkey policy's impact preview reads what the policy judges of every
-- passkey that can sign in, in its owner's order (issue 9):
-- credentials_facts carries exactly those columns, so the read can be an
-- index-only scan in the order the preview wants. users_privileged finds the
-- global administrators and emergency accounts (the preview and the
-- policy's lockout guard) without reading every user. A sign-in changes
-- none of these columns, so its update of the passkey stays a heap-only
-- one; building them reads each table once (about a second at 100,000
-- passkeys, writes to the table waiting meanwhile).

-- +goose Up
CREATE INDEX credentials_facts ON credentials (user_id, id) INCLUDE (backup_eligible, aaguid, attestation_key_id, model)
    WHERE NOT clone_warning;
CREATE INDEX users_privileged ON users (id) WHERE admin_role = 'global-admin' OR is_emergency_access;

-- +goose Down
DROP INDEX users_privileged;
DROP INDEX credentials_facts;
