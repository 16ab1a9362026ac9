-- Every registration writes an entry in each index of credentials; three of
-- them no longer serve a read here (issue 11). credentials_type and
-- credentials_created were for the registration report's counts and the
-- registrations chart, which now read registration_counts and
-- credential_daily, kept by triggers. credentials_aaguid (aaguid, user_id)
-- served only "this person holds a key of these models", which
-- credentials_user_models (user_id, aaguid, …) answers with one search of
-- the person's few keys. Checked with EXPLAIN QUERY PLAN on every statement
-- the storage conformance suite sends: no plan read the first two, and the
-- four that read credentials_aaguid search credentials_user_models instead.
-- PostgreSQL keeps credentials_aaguid (its planner starts some of those
-- reports from a model's keys).

-- +goose Up
DROP INDEX credentials_type;
DROP INDEX credentials_created;
DROP INDEX credentials_aaguid;

-- +goose Down
CREATE INDEX credentials_aaguid ON credentials (aaguid, user_id);
CREATE INDEX credentials_created ON credentials (created_at, backup_eligible);
CREATE INDEX credentials_type ON credentials (backup_eligible, user_id);
