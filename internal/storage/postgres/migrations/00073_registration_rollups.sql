-- The passkey-registrations chart counts the passkeys that exist per UTC day
-- of registration and type: a roll-up kept by a trigger on credentials (a
-- registration adds one, a deletion, also through a user's, takes it back),
-- backfilled from the passkeys already stored. Registrations do not change
-- created_at or backup_eligible afterwards. shard (from the credential's ID)
-- spreads a day over 16 rows, so concurrent registrations do not queue on
-- one row lock until they commit.

-- +goose Up
CREATE TABLE credential_daily (
    day      INTEGER NOT NULL,
    synced   BOOLEAN NOT NULL,
    shard    INTEGER NOT NULL,
    passkeys BIGINT NOT NULL,
    PRIMARY KEY (day, synced, shard)
);

INSERT INTO credential_daily (day, synced, shard, passkeys)
SELECT (created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01', backup_eligible, 0, COUNT(*)
FROM credentials GROUP BY 1, 2;

-- +goose StatementBegin
CREATE FUNCTION credentials_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO credential_daily (day, synced, shard, passkeys)
        VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01', NEW.backup_eligible,
            abs(hashtext(NEW.id)) % 16, 1)
        ON CONFLICT (day, synced, shard) DO UPDATE SET passkeys = credential_daily.passkeys + 1;
    ELSE
        -- The backfilled count is in shard 0; any shard of the day will do,
        -- since the chart adds them up.
        INSERT INTO credential_daily (day, synced, shard, passkeys)
        VALUES ((OLD.created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01', OLD.backup_eligible,
            abs(hashtext(OLD.id)) % 16, -1)
        ON CONFLICT (day, synced, shard) DO UPDATE SET passkeys = credential_daily.passkeys - 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER credentials_daily AFTER INSERT OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION credentials_daily();

-- +goose Down
DROP TRIGGER credentials_daily ON credentials;
DROP FUNCTION credentials_daily();
DROP TABLE credential_daily;
