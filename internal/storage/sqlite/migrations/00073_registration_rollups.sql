-- The passkey-registrations chart counts the passkeys that exist per UTC day
-- of registration and type: a roll-up kept by triggers on credentials (a
-- registration adds one, a deletion, also through a user's, takes it back),
-- backfilled from the passkeys already stored. Registrations do not change
-- created_at or backup_eligible afterwards.

-- +goose Up
CREATE TABLE credential_daily (
    day      INTEGER NOT NULL,
    synced   INTEGER NOT NULL,
    shard    INTEGER NOT NULL,
    passkeys INTEGER NOT NULL,
    PRIMARY KEY (day, synced, shard)
) STRICT, WITHOUT ROWID;

INSERT INTO credential_daily (day, synced, shard, passkeys)
SELECT created_at / 86400000000, backup_eligible, 0, COUNT(*) FROM credentials GROUP BY 1, 2;

-- +goose StatementBegin
CREATE TRIGGER credentials_daily_insert AFTER INSERT ON credentials
BEGIN
    INSERT INTO credential_daily (day, synced, shard, passkeys)
    VALUES (NEW.created_at / 86400000000, NEW.backup_eligible, 0, 1)
    ON CONFLICT (day, synced, shard) DO UPDATE SET passkeys = passkeys + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER credentials_daily_delete AFTER DELETE ON credentials
BEGIN
    UPDATE credential_daily SET passkeys = passkeys - 1
    WHERE day = OLD.created_at / 86400000000 AND synced = OLD.backup_eligible AND shard = 0;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER credentials_daily_delete;
DROP TRIGGER credentials_daily_insert;
DROP TABLE credential_daily;
