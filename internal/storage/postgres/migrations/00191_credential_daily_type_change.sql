-- A passkey whose type changes (UpdateCredential can set backup_eligible,
-- e.g. when its record is replaced) moves between the passkey-registrations
-- chart's device-bound and synced counts of its day: 00073 only kept
-- registrations and deletions. The device-bound row is always changed first,
-- so two passkeys changing type in opposite directions lock their day's two
-- rows in one order.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION credentials_daily_type() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d integer := (NEW.created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01';
BEGIN
    INSERT INTO credential_daily (day, synced, shard, passkeys)
    VALUES (d, FALSE, abs(hashtext(NEW.id)) % 16, CASE WHEN NEW.backup_eligible THEN -1 ELSE 1 END)
    ON CONFLICT (day, synced, shard) DO UPDATE SET passkeys = credential_daily.passkeys + EXCLUDED.passkeys;
    INSERT INTO credential_daily (day, synced, shard, passkeys)
    VALUES (d, TRUE, abs(hashtext(NEW.id)) % 16, CASE WHEN NEW.backup_eligible THEN 1 ELSE -1 END)
    ON CONFLICT (day, synced, shard) DO UPDATE SET passkeys = credential_daily.passkeys + EXCLUDED.passkeys;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER credentials_daily_type AFTER UPDATE OF backup_eligible ON credentials
    FOR EACH ROW WHEN (OLD.backup_eligible <> NEW.backup_eligible) EXECUTE FUNCTION credentials_daily_type();

-- +goose Down
DROP TRIGGER credentials_daily_type ON credentials;
DROP FUNCTION credentials_daily_type();
