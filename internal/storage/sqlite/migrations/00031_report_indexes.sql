-- The key-models report counts a model's successful sign-ins and distinct
-- users in a time range: with result in the index it reads the index alone.

-- +goose Up
DROP INDEX sign_in_events_aaguid;
CREATE INDEX sign_in_events_aaguid ON sign_in_events (aaguid, occurred_at, seq, user_id, result);

-- +goose Down
DROP INDEX sign_in_events_aaguid;
CREATE INDEX sign_in_events_aaguid ON sign_in_events (aaguid, occurred_at, seq, user_id);
