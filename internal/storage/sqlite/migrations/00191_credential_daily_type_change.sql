-- A passkey whose type changes (UpdateCredential can set backup_eligible,
-- e.g. when its record is replaced) moves between the passkey-registrations
-- chart's device-bound and synced counts of its day: 00073 only kept
-- registrations and deletions.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER credentials_daily_type AFTER UPDATE OF backup_eligible ON credentials
WHEN OLD.backup_eligible <> NEW.backup_eligible
BEGIN
    UPDATE credential_daily SET passkeys = passkeys - 1
    WHERE day = OLD.created_at / 86400000000 AND synced = OLD.backup_eligible AND shard = 0;
    INSERT INTO credential_daily (day, synced, shard, passkeys)
    VALUES (NEW.created_at / 86400000000, NEW.backup_eligible, 0, 1)
    ON CONFLICT (day, synced, shard) DO UPDATE SET passkeys = passkeys + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER credentials_daily_type;
