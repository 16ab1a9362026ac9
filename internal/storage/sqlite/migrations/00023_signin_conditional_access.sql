-- Conditional access in the sign-in log (issue 8): the application signed
-- in to and what conditional access made of it, as Graph's signIn shows them.

-- +goose Up
ALTER TABLE sign_in_events ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sign_in_events ADD COLUMN app_display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE sign_in_events ADD COLUMN ca_status TEXT NOT NULL DEFAULT '';
-- JSON: [{id, displayName, enforcedGrantControls, result}]
ALTER TABLE sign_in_events ADD COLUMN ca_policies TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sign_in_events ADD COLUMN auth_requirement TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sign_in_events DROP COLUMN auth_requirement;
ALTER TABLE sign_in_events DROP COLUMN ca_policies;
ALTER TABLE sign_in_events DROP COLUMN ca_status;
ALTER TABLE sign_in_events DROP COLUMN app_display_name;
ALTER TABLE sign_in_events DROP COLUMN app_id;
