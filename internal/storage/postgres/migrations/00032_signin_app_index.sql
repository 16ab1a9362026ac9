-- The sign-in log's filter on the application (appId eq '…') reads an index
-- range in the log's order, like its other filters.

-- +goose Up
CREATE INDEX sign_in_events_app ON sign_in_events (app_id, occurred_at, seq);

-- +goose Down
DROP INDEX sign_in_events_app;
