-- The key-models report without a row per passkey or per person (issue 9):
--
-- credential_models counts the passkeys of each model (AAGUID and the name
-- stored at registration): how many, synced, attested, and how many people
-- hold one. credential_holders is a row per model and person with their
-- number of passkeys of it, so a person is counted once, when their first
-- passkey of the model arrives, and taken back with their last; its row lock
-- orders racing registrations and deletions of one person's keys of one
-- model. A trigger on credentials keeps both (a registration, a deletion —
-- also through a user's — and a change of a passkey's model, type or
-- attestation). shard (from the passkey's ID) spreads a model's counts over
-- 16 rows so concurrent registrations do not queue on one row lock.
--
-- sign_in_user_days replaces sign_in_user_models: each person's latest UTC
-- day of a successful sign-in with each model, and sign_in_model_days
-- counts per model and day the people whose latest day it is (sharded by
-- the person, so a person's move between days touches their own shard's
-- rows). Distinct people in a period are a sum over the period's days, and
-- the sign-in trigger moves a person between days only when their latest
-- day changes (once a day at most), not at every sign-in. sign_in_daily
-- keeps the time of its latest record (last_at), so a model's last use is
-- read from the latest day anyone signed in with it.

-- +goose Up
CREATE TABLE credential_holders (
    aaguid   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    passkeys BIGINT NOT NULL,
    PRIMARY KEY (aaguid, user_id)
);

CREATE TABLE credential_models (
    aaguid   TEXT NOT NULL,
    model    TEXT NOT NULL,
    shard    INTEGER NOT NULL,
    passkeys BIGINT NOT NULL,
    synced   BIGINT NOT NULL,
    attested BIGINT NOT NULL,
    holders  BIGINT NOT NULL,
    PRIMARY KEY (aaguid, model, shard)
);

LOCK TABLE credentials IN SHARE MODE;

INSERT INTO credential_holders (aaguid, user_id, passkeys)
SELECT aaguid, user_id, COUNT(*) FROM credentials GROUP BY aaguid, user_id;

INSERT INTO credential_models (aaguid, model, shard, passkeys, synced, attested, holders)
SELECT aaguid, model, abs(hashtext(id)) % 16, COUNT(*), COUNT(*) FILTER (WHERE backup_eligible),
    COUNT(*) FILTER (WHERE attestation_level = 'attested'), 0
FROM credentials GROUP BY 1, 2, 3;

-- A model's holders are counted in one row of its first name (any row of
-- the model would do: the report adds them up).
INSERT INTO credential_models (aaguid, model, shard, passkeys, synced, attested, holders)
SELECT h.aaguid, (SELECT MIN(m.model) FROM credential_models m WHERE m.aaguid = h.aaguid), 0, 0, 0, 0, COUNT(*)
FROM credential_holders h GROUP BY h.aaguid
ON CONFLICT (aaguid, model, shard) DO UPDATE SET holders = EXCLUDED.holders;

-- +goose StatementBegin
CREATE FUNCTION credentials_models() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE credential_holders SET passkeys = passkeys - 1
        WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id RETURNING passkeys INTO n;
        IF n = 0 THEN
            DELETE FROM credential_holders WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id;
        END IF;
        INSERT INTO credential_models AS m (aaguid, model, shard, passkeys, synced, attested, holders)
        VALUES (OLD.aaguid, OLD.model, abs(hashtext(OLD.id)) % 16, -1, -OLD.backup_eligible::integer,
            -(OLD.attestation_level = 'attested')::integer, CASE WHEN n = 0 THEN -1 ELSE 0 END)
        ON CONFLICT (aaguid, model, shard) DO UPDATE SET passkeys = m.passkeys - 1,
            synced = m.synced + EXCLUDED.synced, attested = m.attested + EXCLUDED.attested,
            holders = m.holders + EXCLUDED.holders;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO credential_holders AS h (aaguid, user_id, passkeys) VALUES (NEW.aaguid, NEW.user_id, 1)
        ON CONFLICT (aaguid, user_id) DO UPDATE SET passkeys = h.passkeys + 1 RETURNING passkeys INTO n;
        INSERT INTO credential_models AS m (aaguid, model, shard, passkeys, synced, attested, holders)
        VALUES (NEW.aaguid, NEW.model, abs(hashtext(NEW.id)) % 16, 1, NEW.backup_eligible::integer,
            (NEW.attestation_level = 'attested')::integer, CASE WHEN n = 1 THEN 1 ELSE 0 END)
        ON CONFLICT (aaguid, model, shard) DO UPDATE SET passkeys = m.passkeys + 1,
            synced = m.synced + EXCLUDED.synced, attested = m.attested + EXCLUDED.attested,
            holders = m.holders + EXCLUDED.holders;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER credentials_models AFTER INSERT OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION credentials_models();
CREATE TRIGGER credentials_models_update AFTER UPDATE OF aaguid, model, backup_eligible, attestation_level ON credentials
    FOR EACH ROW WHEN (OLD.aaguid <> NEW.aaguid OR OLD.model <> NEW.model
        OR OLD.backup_eligible <> NEW.backup_eligible OR OLD.attestation_level <> NEW.attestation_level)
    EXECUTE FUNCTION credentials_models();

LOCK TABLE sign_in_events IN SHARE MODE;

ALTER TABLE sign_in_daily ADD COLUMN last_at TIMESTAMPTZ;

UPDATE sign_in_daily d SET last_at = x.last_at
FROM (SELECT (occurred_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' AS day, aaguid, method, passkey_type, result,
          MAX(occurred_at) AS last_at
      FROM sign_in_events GROUP BY 1, 2, 3, 4, 5) AS x
WHERE d.day = x.day AND d.aaguid = x.aaguid AND d.method = x.method AND d.passkey_type = x.passkey_type
    AND d.result = x.result;

-- prev_day is the day the last change moved the person from (NULL when it
-- added them), for the trigger to read back.
CREATE TABLE sign_in_user_days (
    user_id  TEXT NOT NULL,
    aaguid   TEXT NOT NULL,
    day      INTEGER NOT NULL,
    prev_day INTEGER,
    PRIMARY KEY (user_id, aaguid)
);

CREATE TABLE sign_in_model_days (
    day    INTEGER NOT NULL,
    aaguid TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    people BIGINT NOT NULL,
    PRIMARY KEY (day, aaguid, shard)
);
-- A model's latest day (its last use): one probe, written only when a
-- person's latest day changes.
CREATE INDEX sign_in_model_days_aaguid ON sign_in_model_days (aaguid, day);

INSERT INTO sign_in_user_days (user_id, aaguid, day)
SELECT user_id, aaguid, (last_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' FROM sign_in_user_models;

INSERT INTO sign_in_model_days (day, aaguid, shard, people)
SELECT day, aaguid, abs(hashtext(user_id)) % 16, COUNT(*) FROM sign_in_user_days GROUP BY 1, 2, 3;

DROP TRIGGER sign_in_events_rollup ON sign_in_events;
DROP FUNCTION sign_in_events_rollup();
DROP TABLE sign_in_user_models;

-- +goose StatementBegin
CREATE FUNCTION sign_in_events_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d integer := (NEW.occurred_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01';
    s integer;
    prev integer;
BEGIN
    INSERT INTO sign_in_daily AS x (day, aaguid, method, passkey_type, result, shard, sign_ins, last_at)
    VALUES (d, NEW.aaguid, NEW.method, NEW.passkey_type, NEW.result, (NEW.seq % 16)::integer, 1, NEW.occurred_at)
    ON CONFLICT (day, aaguid, method, passkey_type, result, shard)
    DO UPDATE SET sign_ins = x.sign_ins + 1, last_at = GREATEST(x.last_at, EXCLUDED.last_at);
    -- A sign-in on the day already stored (the usual case) changes nothing
    -- and is one read: no row lock. Days only move forward, so a committed
    -- day at or after this one stays so.
    IF NEW.result = 'success' AND NEW.aaguid <> '' AND NEW.user_id <> '' AND NOT EXISTS (
        SELECT 1 FROM sign_in_user_days WHERE user_id = NEW.user_id AND aaguid = NEW.aaguid AND day >= d) THEN
        -- Moves the person's latest day forward (or adds them).
        INSERT INTO sign_in_user_days AS u (user_id, aaguid, day) VALUES (NEW.user_id, NEW.aaguid, d)
        ON CONFLICT (user_id, aaguid) DO UPDATE SET day = EXCLUDED.day, prev_day = u.day
        WHERE u.day < EXCLUDED.day
        RETURNING prev_day INTO prev;
        IF FOUND THEN
            s := abs(hashtext(NEW.user_id)) % 16;
            IF prev IS NOT NULL THEN
                UPDATE sign_in_model_days SET people = people - 1 WHERE day = prev AND aaguid = NEW.aaguid AND shard = s;
                DELETE FROM sign_in_model_days WHERE day = prev AND aaguid = NEW.aaguid AND shard = s AND people <= 0;
            END IF;
            INSERT INTO sign_in_model_days AS m (day, aaguid, shard, people) VALUES (d, NEW.aaguid, s, 1)
            ON CONFLICT (day, aaguid, shard) DO UPDATE SET people = m.people + 1;
        END IF;
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
CREATE TABLE sign_in_user_models (
    user_id TEXT NOT NULL,
    aaguid  TEXT NOT NULL,
    last_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, aaguid)
);
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
DROP TABLE sign_in_model_days;
DROP TABLE sign_in_user_days;
ALTER TABLE sign_in_daily DROP COLUMN last_at;
DROP TRIGGER credentials_models_update ON credentials;
DROP TRIGGER credentials_models ON credentials;
DROP FUNCTION credentials_models();
DROP TABLE credential_models;
DROP TABLE credential_holders;
