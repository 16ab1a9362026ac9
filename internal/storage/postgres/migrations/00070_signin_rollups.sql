-- Daily roll-ups of the sign-in log (issue 9), so the reports that count a
-- period (the key-models report's 7/30/90 days, the charts) read a few rows
-- per day instead of every record of the period.
--
-- A trigger keeps them: it runs inside the statement that inserts the record,
-- so the roll-ups commit with the sign-in or not at all, every writer is
-- covered, and the sign-in path sends no extra statement.

-- +goose Up
-- sign_in_daily counts the records of one UTC day (days since 1970-01-01)
-- by model, method, passkey type and result. shard (the record's seq modulo
-- 16) spreads a day's count over rows so that concurrent sign-ins do not
-- queue on one row lock until their commits.
CREATE TABLE sign_in_daily (
    day          INTEGER NOT NULL,
    aaguid       TEXT NOT NULL,
    method       TEXT NOT NULL,
    passkey_type TEXT NOT NULL,
    result       TEXT NOT NULL,
    shard        INTEGER NOT NULL,
    sign_ins     BIGINT NOT NULL,
    PRIMARY KEY (day, aaguid, method, passkey_type, result, shard)
);
CREATE INDEX sign_in_daily_aaguid ON sign_in_daily (aaguid, result, day, sign_ins);

-- sign_in_user_models is each person's latest successful sign-in with each
-- key model: distinct people over 7, 30 or 90 days cannot be added up from
-- daily distinct counts, but they are the rows whose last_at is in the period.
CREATE TABLE sign_in_user_models (
    user_id TEXT NOT NULL,
    aaguid  TEXT NOT NULL,
    last_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, aaguid)
);
CREATE INDEX sign_in_user_models_aaguid ON sign_in_user_models (aaguid, last_at, user_id);
CREATE INDEX sign_in_user_models_last ON sign_in_user_models (last_at);

INSERT INTO sign_in_daily (day, aaguid, method, passkey_type, result, shard, sign_ins)
SELECT (occurred_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01', aaguid, method, passkey_type, result, 0, COUNT(*)
FROM sign_in_events GROUP BY 1, 2, 3, 4, 5;

INSERT INTO sign_in_user_models (user_id, aaguid, last_at)
SELECT user_id, aaguid, MAX(occurred_at) FROM sign_in_events
WHERE result = 'success' AND aaguid <> '' AND user_id <> '' GROUP BY user_id, aaguid;

-- +goose StatementBegin
CREATE FUNCTION sign_in_events_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sign_in_daily (day, aaguid, method, passkey_type, result, shard, sign_ins)
    VALUES ((NEW.occurred_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01', NEW.aaguid, NEW.method,
        NEW.passkey_type, NEW.result, (NEW.seq % 16)::integer, 1)
    ON CONFLICT (day, aaguid, method, passkey_type, result, shard)
    DO UPDATE SET sign_ins = sign_in_daily.sign_ins + 1;
    IF NEW.result = 'success' AND NEW.aaguid <> '' AND NEW.user_id <> '' THEN
        INSERT INTO sign_in_user_models (user_id, aaguid, last_at)
        VALUES (NEW.user_id, NEW.aaguid, NEW.occurred_at)
        ON CONFLICT (user_id, aaguid) DO UPDATE SET last_at = EXCLUDED.last_at
        WHERE sign_in_user_models.last_at < EXCLUDED.last_at;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sign_in_events_rollup AFTER INSERT ON sign_in_events
    FOR EACH ROW EXECUTE FUNCTION sign_in_events_rollup();

-- +goose Down
DROP TRIGGER sign_in_events_rollup ON sign_in_events;
DROP FUNCTION sign_in_events_rollup();
DROP TABLE sign_in_user_models;
DROP TABLE sign_in_daily;
