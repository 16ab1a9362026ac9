-- Emergency-access alerts (issue 8): a durable queue of webhook deliveries.
-- Alerts are found by scanning the sign-in log (the sign-in path writes
-- nothing more); each is stored once by the sign-in event's ID, with one
-- delivery per webhook, retried with backoff until it is delivered.

-- +goose Up
CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE alert_deliveries (
    id              TEXT PRIMARY KEY,
    alert_id        TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    delivered_at    INTEGER,
    gave_up         INTEGER NOT NULL,
    last_error      TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);

-- How far the sign-in log has been scanned for emergency-account sign-ins.
CREATE TABLE alert_scan (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    mark INTEGER
) STRICT, WITHOUT ROWID;
INSERT INTO alert_scan (id, mark) VALUES (1, NULL);

-- +goose Down
DROP TABLE alert_scan;
DROP TABLE alert_deliveries;
DROP TABLE alerts;
