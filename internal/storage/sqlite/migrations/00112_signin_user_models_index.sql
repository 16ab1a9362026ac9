-- A group's key models count its members' successful sign-ins per model
-- from the log (issue 9): sign_in_events_user carries each record's model
-- and result, so that count reads the members' index ranges alone, not a
-- table row per record.

-- +goose Up
DROP INDEX sign_in_events_user;
CREATE INDEX sign_in_events_user ON sign_in_events (user_id, occurred_at, seq, aaguid, result);

-- +goose Down
DROP INDEX sign_in_events_user;
CREATE INDEX sign_in_events_user ON sign_in_events (user_id, occurred_at, seq);
