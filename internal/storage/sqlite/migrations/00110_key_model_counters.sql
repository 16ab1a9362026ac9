-- The key-models report without a row per passkey or per person (issue 9):
--
-- credential_models counts the passkeys of each model (AAGUID and the name
-- stored at registration): how many, synced, attested, and how many people
-- hold one. credential_holders is a row per model and person with their
-- number of passkeys of it, so a person is counted once, when their first
-- passkey of the model arrives, and taken back with their last. Triggers on
-- credentials keep both (a registration, a deletion — also through a user's
-- — and a change of a passkey's model, type or attestation).
--
-- sign_in_user_days replaces sign_in_user_models: each person's latest UTC
-- day of a successful sign-in with each model, and sign_in_model_days
-- counts per model and day the people whose latest day it is. Distinct
-- people in a period are then a sum over the period's days, and the sign-in
-- trigger moves a person between days only when their latest day changes
-- (once a day at most), not at every sign-in. sign_in_daily keeps the time
-- of its latest record (last_at), so a model's last use is read from the
-- latest day anyone signed in with it.

-- +goose Up
CREATE TABLE credential_holders (
    aaguid   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    passkeys INTEGER NOT NULL,
    PRIMARY KEY (aaguid, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE credential_models (
    aaguid   TEXT NOT NULL,
    model    TEXT NOT NULL,
    shard    INTEGER NOT NULL,
    passkeys INTEGER NOT NULL,
    synced   INTEGER NOT NULL,
    attested INTEGER NOT NULL,
    holders  INTEGER NOT NULL,
    PRIMARY KEY (aaguid, model, shard)
) STRICT, WITHOUT ROWID;

INSERT INTO credential_holders (aaguid, user_id, passkeys)
SELECT aaguid, user_id, COUNT(*) FROM credentials GROUP BY aaguid, user_id;

INSERT INTO credential_models (aaguid, model, shard, passkeys, synced, attested, holders)
SELECT aaguid, model, 0, COUNT(*), SUM(backup_eligible), SUM(attestation_level = 'attested'), 0
FROM credentials GROUP BY aaguid, model;

-- A model's holders are counted in the row of its first name (any row of
-- the model would do: the report adds them up).
UPDATE credential_models SET holders = (SELECT COUNT(*) FROM credential_holders h WHERE h.aaguid = credential_models.aaguid)
WHERE model = (SELECT MIN(m.model) FROM credential_models m WHERE m.aaguid = credential_models.aaguid);

-- +goose StatementBegin
CREATE TRIGGER credentials_models_insert AFTER INSERT ON credentials
BEGIN
    INSERT INTO credential_holders (aaguid, user_id, passkeys) VALUES (NEW.aaguid, NEW.user_id, 1)
    ON CONFLICT (aaguid, user_id) DO UPDATE SET passkeys = passkeys + 1;
    INSERT INTO credential_models (aaguid, model, shard, passkeys, synced, attested, holders)
    VALUES (NEW.aaguid, NEW.model, 0, 1, NEW.backup_eligible, NEW.attestation_level = 'attested',
        ifnull((SELECT passkeys = 1 FROM credential_holders WHERE aaguid = NEW.aaguid AND user_id = NEW.user_id), 0))
    ON CONFLICT (aaguid, model, shard) DO UPDATE SET passkeys = passkeys + 1, synced = synced + excluded.synced,
        attested = attested + excluded.attested, holders = holders + excluded.holders;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER credentials_models_delete AFTER DELETE ON credentials
BEGIN
    UPDATE credential_holders SET passkeys = passkeys - 1 WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id;
    INSERT INTO credential_models (aaguid, model, shard, passkeys, synced, attested, holders)
    VALUES (OLD.aaguid, OLD.model, 0, -1, -OLD.backup_eligible, -(OLD.attestation_level = 'attested'),
        -ifnull((SELECT passkeys = 0 FROM credential_holders WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id), 0))
    ON CONFLICT (aaguid, model, shard) DO UPDATE SET passkeys = passkeys - 1, synced = synced + excluded.synced,
        attested = attested + excluded.attested, holders = holders + excluded.holders;
    DELETE FROM credential_holders WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id AND passkeys = 0;
    DELETE FROM credential_models WHERE aaguid = OLD.aaguid AND model = OLD.model AND shard = 0
        AND passkeys = 0 AND holders = 0;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER credentials_models_update AFTER UPDATE OF aaguid, model, backup_eligible, attestation_level ON credentials
WHEN OLD.aaguid <> NEW.aaguid OR OLD.model <> NEW.model OR OLD.backup_eligible <> NEW.backup_eligible
    OR OLD.attestation_level <> NEW.attestation_level
BEGIN
    UPDATE credential_holders SET passkeys = passkeys - 1 WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id;
    INSERT INTO credential_models (aaguid, model, shard, passkeys, synced, attested, holders)
    VALUES (OLD.aaguid, OLD.model, 0, -1, -OLD.backup_eligible, -(OLD.attestation_level = 'attested'),
        -ifnull((SELECT passkeys = 0 FROM credential_holders WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id), 0))
    ON CONFLICT (aaguid, model, shard) DO UPDATE SET passkeys = passkeys - 1, synced = synced + excluded.synced,
        attested = attested + excluded.attested, holders = holders + excluded.holders;
    DELETE FROM credential_holders WHERE aaguid = OLD.aaguid AND user_id = OLD.user_id AND passkeys = 0;
    INSERT INTO credential_holders (aaguid, user_id, passkeys) VALUES (NEW.aaguid, NEW.user_id, 1)
    ON CONFLICT (aaguid, user_id) DO UPDATE SET passkeys = passkeys + 1;
    INSERT INTO credential_models (aaguid, model, shard, passkeys, synced, attested, holders)
    VALUES (NEW.aaguid, NEW.model, 0, 1, NEW.backup_eligible, NEW.attestation_level = 'attested',
        ifnull((SELECT passkeys = 1 FROM credential_holders WHERE aaguid = NEW.aaguid AND user_id = NEW.user_id), 0))
    ON CONFLICT (aaguid, model, shard) DO UPDATE SET passkeys = passkeys + 1, synced = synced + excluded.synced,
        attested = attested + excluded.attested, holders = holders + excluded.holders;
    DELETE FROM credential_models WHERE aaguid = OLD.aaguid AND model = OLD.model AND shard = 0
        AND passkeys = 0 AND holders = 0;
END;
-- +goose StatementEnd

ALTER TABLE sign_in_daily ADD COLUMN last_at INTEGER;

UPDATE sign_in_daily SET last_at = x.last_at
FROM (SELECT occurred_at / 86400000000 AS day, aaguid, method, passkey_type, result, MAX(occurred_at) AS last_at
      FROM sign_in_events GROUP BY 1, 2, 3, 4, 5) AS x
WHERE sign_in_daily.day = x.day AND sign_in_daily.aaguid = x.aaguid AND sign_in_daily.method = x.method
    AND sign_in_daily.passkey_type = x.passkey_type AND sign_in_daily.result = x.result;

CREATE TABLE sign_in_user_days (
    user_id TEXT NOT NULL,
    aaguid  TEXT NOT NULL,
    day     INTEGER NOT NULL,
    PRIMARY KEY (user_id, aaguid)
) STRICT, WITHOUT ROWID;

CREATE TABLE sign_in_model_days (
    day    INTEGER NOT NULL,
    aaguid TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    people INTEGER NOT NULL,
    PRIMARY KEY (day, aaguid, shard)
) STRICT, WITHOUT ROWID;
-- A model's latest day (its last use): one probe, written only when a
-- person's latest day changes.
CREATE INDEX sign_in_model_days_aaguid ON sign_in_model_days (aaguid, day);

INSERT INTO sign_in_user_days (user_id, aaguid, day)
SELECT user_id, aaguid, last_at / 86400000000 FROM sign_in_user_models;

INSERT INTO sign_in_model_days (day, aaguid, shard, people)
SELECT day, aaguid, 0, COUNT(*) FROM sign_in_user_days GROUP BY day, aaguid;

DROP TRIGGER sign_in_events_rollup;
DROP TABLE sign_in_user_models;

-- +goose StatementBegin
CREATE TRIGGER sign_in_events_rollup AFTER INSERT ON sign_in_events
BEGIN
    INSERT INTO sign_in_daily (day, aaguid, method, passkey_type, result, shard, sign_ins, last_at)
    VALUES (NEW.occurred_at / 86400000000, NEW.aaguid, NEW.method, NEW.passkey_type, NEW.result, 0, 1, NEW.occurred_at)
    ON CONFLICT (day, aaguid, method, passkey_type, result, shard)
    DO UPDATE SET sign_ins = sign_ins + 1, last_at = max(ifnull(last_at, excluded.last_at), excluded.last_at);
END;
-- +goose StatementEnd

-- A successful sign-in on a later day than the person's latest with the
-- model moves them from that day's count (if any) to the new day's; one on
-- the day already stored (the usual case) is a single probe.
-- +goose StatementBegin
CREATE TRIGGER sign_in_events_people AFTER INSERT ON sign_in_events
WHEN NEW.result = 'success' AND NEW.aaguid <> '' AND NEW.user_id <> ''
    AND NOT EXISTS (SELECT 1 FROM sign_in_user_days WHERE user_id = NEW.user_id AND aaguid = NEW.aaguid
        AND day >= NEW.occurred_at / 86400000000)
BEGIN
    UPDATE sign_in_model_days SET people = people - 1
    WHERE aaguid = NEW.aaguid AND shard = 0
        AND day = (SELECT day FROM sign_in_user_days WHERE user_id = NEW.user_id AND aaguid = NEW.aaguid);
    DELETE FROM sign_in_model_days
    WHERE aaguid = NEW.aaguid AND shard = 0 AND people = 0
        AND day = (SELECT day FROM sign_in_user_days WHERE user_id = NEW.user_id AND aaguid = NEW.aaguid);
    INSERT INTO sign_in_model_days (day, aaguid, shard, people)
    VALUES (NEW.occurred_at / 86400000000, NEW.aaguid, 0, 1)
    ON CONFLICT (day, aaguid, shard) DO UPDATE SET people = people + 1;
    INSERT INTO sign_in_user_days (user_id, aaguid, day)
    VALUES (NEW.user_id, NEW.aaguid, NEW.occurred_at / 86400000000)
    ON CONFLICT (user_id, aaguid) DO UPDATE SET day = excluded.day;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER sign_in_events_people;
DROP TRIGGER sign_in_events_rollup;
CREATE TABLE sign_in_user_models (
    user_id TEXT NOT NULL,
    aaguid  TEXT NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, aaguid)
) STRICT, WITHOUT ROWID;
INSERT INTO sign_in_user_models (user_id, aaguid, last_at)
SELECT user_id, aaguid, MAX(occurred_at) FROM sign_in_events
WHERE result = 'success' AND aaguid <> '' AND user_id <> '' GROUP BY user_id, aaguid;
-- +goose StatementBegin
CREATE TRIGGER sign_in_events_rollup AFTER INSERT ON sign_in_events
BEGIN
    INSERT INTO sign_in_daily (day, aaguid, method, passkey_type, result, shard, sign_ins)
    VALUES (NEW.occurred_at / 86400000000, NEW.aaguid, NEW.method, NEW.passkey_type, NEW.result, 0, 1)
    ON CONFLICT (day, aaguid, method, passkey_type, result, shard) DO UPDATE SET sign_ins = sign_ins + 1;
    INSERT INTO sign_in_user_models (user_id, aaguid, last_at)
    SELECT NEW.user_id, NEW.aaguid, NEW.occurred_at
    WHERE NEW.result = 'success' AND NEW.aaguid <> '' AND NEW.user_id <> ''
    ON CONFLICT (user_id, aaguid) DO UPDATE SET last_at = excluded.last_at
    WHERE excluded.last_at > sign_in_user_models.last_at;
END;
-- +goose StatementEnd
DROP TABLE sign_in_model_days;
DROP TABLE sign_in_user_days;
ALTER TABLE sign_in_daily DROP COLUMN last_at;
DROP TRIGGER credentials_models_update;
DROP TRIGGER credentials_models_delete;
DROP TRIGGER credentials_models_insert;
DROP TABLE credential_models;
DROP TABLE credential_holders;
