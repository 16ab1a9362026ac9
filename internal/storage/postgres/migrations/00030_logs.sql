-- Logs and reports (issue 9): what Graph's signIn and directoryAudit need
-- besides what the logs already held, and indexes so that filtered pages
-- (newest first, keyset-paged on occurred_at, seq) and the reports read an
-- index range instead of the whole log.

-- +goose Up
-- upn_key is the UPN lower-cased, as users.upn_key: the filter on a UPN is
-- case-insensitive and compared byte-wise, the same on every dialect.
ALTER TABLE sign_in_events ADD COLUMN upn_key TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE sign_in_events SET upn_key = lower(upn);
-- failure_code is the refusal's stable code (the API's additionalDetails).
ALTER TABLE sign_in_events ADD COLUMN failure_code TEXT NOT NULL DEFAULT '';
-- passkey_type: deviceBound | synced for a passkey sign-in, '' otherwise.
ALTER TABLE sign_in_events ADD COLUMN passkey_type TEXT NOT NULL DEFAULT '';
ALTER TABLE sign_in_events ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
CREATE INDEX sign_in_events_upn ON sign_in_events (upn_key, occurred_at, seq);
CREATE INDEX sign_in_events_result ON sign_in_events (result, occurred_at, seq);
-- user_id last: the key-models report counts sign-ins and distinct users of
-- a model in a time range from this index alone.
CREATE INDEX sign_in_events_aaguid ON sign_in_events (aaguid, occurred_at, seq, user_id);

ALTER TABLE audit_events ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_actor ON audit_events (actor, occurred_at, seq);
CREATE INDEX audit_events_action ON audit_events (action, occurred_at, seq);

-- The reports group passkeys by model.
CREATE INDEX credentials_aaguid ON credentials (aaguid, user_id);

-- +goose Down
DROP INDEX credentials_aaguid;
DROP INDEX audit_events_action;
DROP INDEX audit_events_actor;
ALTER TABLE audit_events DROP COLUMN correlation_id;
DROP INDEX sign_in_events_aaguid;
DROP INDEX sign_in_events_result;
DROP INDEX sign_in_events_upn;
ALTER TABLE sign_in_events DROP COLUMN correlation_id;
ALTER TABLE sign_in_events DROP COLUMN passkey_type;
ALTER TABLE sign_in_events DROP COLUMN failure_code;
ALTER TABLE sign_in_events DROP COLUMN upn_key;
