-- Every sign-in record wrote an entry in each of the log's six indexes
-- (issue 11). Three of them answer a filter on a value that most records do
-- not have, and now hold only the records that have it:
--   sign_in_events_result, the filter on failures: a filter on successes,
--     nearly every record, is read from the time index as fast;
--   sign_in_events_app, the filter on an application: a sign-in to Keyward
--     itself (every passkey or password sign-in) has no app;
--   sign_in_events_aaguid, the filter on a passkey model: a password, a
--     token refresh or a sign-in to an app with a session has none. Its
--     trailing user_id and result served the key-models report before it
--     read the daily roll-ups (migration 00070); no query reads them now.
-- ListSignIns repeats each condition beside its filter, as both databases
-- use a partial index only for a query whose WHERE states its condition.
-- A passkey sign-in now writes four index entries, not six.

-- +goose Up
DROP INDEX sign_in_events_result;
CREATE INDEX sign_in_events_result ON sign_in_events (result, occurred_at, seq) WHERE result <> 'success';
DROP INDEX sign_in_events_app;
CREATE INDEX sign_in_events_app ON sign_in_events (app_id, occurred_at, seq) WHERE app_id <> '';
DROP INDEX sign_in_events_aaguid;
CREATE INDEX sign_in_events_aaguid ON sign_in_events (aaguid, occurred_at, seq) WHERE aaguid <> '';

-- +goose Down
DROP INDEX sign_in_events_aaguid;
CREATE INDEX sign_in_events_aaguid ON sign_in_events (aaguid, occurred_at, seq, user_id, result);
DROP INDEX sign_in_events_app;
CREATE INDEX sign_in_events_app ON sign_in_events (app_id, occurred_at, seq);
DROP INDEX sign_in_events_result;
CREATE INDEX sign_in_events_result ON sign_in_events (result, occurred_at, seq);
