-- Every registration writes an entry in each index of credentials; two of
-- them no longer serve a read (issue 11). credentials_type and
-- credentials_created were for the registration report's counts and the
-- registrations chart, which now read registration_counts and
-- credential_daily, kept by triggers. Checked with EXPLAIN (generic plans,
-- sequential scans off) on every statement the storage conformance suite
-- sends: no plan reads either. credentials_aaguid stays here: the planner
-- starts some of the registration report's counts from a model's keys
-- (SQLite's migration 00230 drops it, where those searches go through
-- credentials_user_models).

-- +goose Up
DROP INDEX credentials_type;
DROP INDEX credentials_created;

-- +goose Down
CREATE INDEX credentials_created ON credentials (created_at, backup_eligible);
CREATE INDEX credentials_type ON credentials (backup_eligible, user_id);
