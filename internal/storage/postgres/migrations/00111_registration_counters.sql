-- usersRegisteredByMethod without a row per user (issue 9): registration_counts
-- keeps how many users there are and how many registered each method,
-- moved by triggers on users, totp_methods and credentials when a person
-- gains their first or loses their last of a kind (credential_users counts
-- each person's passkeys by type for that; its row lock orders one person's
-- racing registrations and deletions). shard (from the user's ID) spreads
-- each count over 16 rows so concurrent changes do not queue on one row
-- lock. Two partial indexes find the few people the count of
-- passwordless-capable users must look at one by one: disabled accounts and
-- holders of a key flagged as a possible clone.

-- +goose Up
CREATE TABLE registration_counts (
    method TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    users  BIGINT NOT NULL,
    PRIMARY KEY (method, shard)
);

CREATE TABLE credential_users (
    user_id      TEXT NOT NULL PRIMARY KEY,
    device_bound BIGINT NOT NULL,
    synced       BIGINT NOT NULL
);

CREATE INDEX users_disabled ON users (id) WHERE NOT account_enabled;
CREATE INDEX credentials_clone ON credentials (user_id) WHERE clone_warning;

LOCK TABLE users, credentials, totp_methods IN SHARE MODE;

INSERT INTO credential_users (user_id, device_bound, synced)
SELECT user_id, COUNT(*) FILTER (WHERE NOT backup_eligible), COUNT(*) FILTER (WHERE backup_eligible)
FROM credentials GROUP BY user_id;

INSERT INTO registration_counts (method, shard, users)
SELECT 'users', 0, COUNT(*) FROM users
UNION ALL SELECT 'password', 0, COUNT(*) FROM users WHERE password_hash <> ''
UNION ALL SELECT 'softwareOath', 0, COUNT(*) FROM totp_methods WHERE confirmed
UNION ALL SELECT 'passkey', 0, COUNT(*) FROM credential_users
UNION ALL SELECT 'passKeyDeviceBound', 0, COUNT(*) FROM credential_users WHERE device_bound > 0
UNION ALL SELECT 'passKeySynced', 0, COUNT(*) FROM credential_users WHERE synced > 0;

-- +goose StatementBegin
CREATE FUNCTION registration_count(m text, user_id text, delta integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO registration_counts AS r (method, shard, users) VALUES (m, abs(hashtext(user_id)) % 16, delta)
    ON CONFLICT (method, shard) DO UPDATE SET users = r.users + EXCLUDED.users
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION users_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM registration_count('users', NEW.id, 1);
        IF NEW.password_hash <> '' THEN
            PERFORM registration_count('password', NEW.id, 1);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM registration_count('users', OLD.id, -1);
        IF OLD.password_hash <> '' THEN
            PERFORM registration_count('password', OLD.id, -1);
        END IF;
    ELSE
        PERFORM registration_count('password', NEW.id, CASE WHEN NEW.password_hash <> '' THEN 1 ELSE -1 END);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_counts AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION users_counts();
CREATE TRIGGER users_counts_password AFTER UPDATE OF password_hash ON users
    FOR EACH ROW WHEN ((OLD.password_hash = '') <> (NEW.password_hash = '')) EXECUTE FUNCTION users_counts();

-- +goose StatementBegin
CREATE FUNCTION totp_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM registration_count('softwareOath', NEW.user_id, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM registration_count('softwareOath', OLD.user_id, -1);
    ELSE
        PERFORM registration_count('softwareOath', NEW.user_id, CASE WHEN NEW.confirmed THEN 1 ELSE -1 END);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER totp_counts_insert AFTER INSERT ON totp_methods
    FOR EACH ROW WHEN (NEW.confirmed) EXECUTE FUNCTION totp_counts();
CREATE TRIGGER totp_counts_delete AFTER DELETE ON totp_methods
    FOR EACH ROW WHEN (OLD.confirmed) EXECUTE FUNCTION totp_counts();
CREATE TRIGGER totp_counts_update AFTER UPDATE OF confirmed ON totp_methods
    FOR EACH ROW WHEN (OLD.confirmed <> NEW.confirmed) EXECUTE FUNCTION totp_counts();

-- A person's first passkey, first of a type, last of a type and last
-- passkey move the counts; the person's row says which it is.
-- +goose StatementBegin
CREATE FUNCTION credentials_users() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d bigint;
    s bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE credential_users SET device_bound = device_bound - (NOT OLD.backup_eligible)::integer,
            synced = synced - OLD.backup_eligible::integer
        WHERE user_id = OLD.user_id RETURNING device_bound, synced INTO d, s;
        IF FOUND THEN
            IF NOT OLD.backup_eligible AND d = 0 THEN
                PERFORM registration_count('passKeyDeviceBound', OLD.user_id, -1);
            END IF;
            IF OLD.backup_eligible AND s = 0 THEN
                PERFORM registration_count('passKeySynced', OLD.user_id, -1);
            END IF;
            IF d + s = 0 THEN
                PERFORM registration_count('passkey', OLD.user_id, -1);
                DELETE FROM credential_users WHERE user_id = OLD.user_id;
            END IF;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO credential_users AS c (user_id, device_bound, synced)
        VALUES (NEW.user_id, (NOT NEW.backup_eligible)::integer, NEW.backup_eligible::integer)
        ON CONFLICT (user_id) DO UPDATE SET device_bound = c.device_bound + EXCLUDED.device_bound,
            synced = c.synced + EXCLUDED.synced
        RETURNING device_bound, synced INTO d, s;
        IF NOT NEW.backup_eligible AND d = 1 THEN
            PERFORM registration_count('passKeyDeviceBound', NEW.user_id, 1);
        END IF;
        IF NEW.backup_eligible AND s = 1 THEN
            PERFORM registration_count('passKeySynced', NEW.user_id, 1);
        END IF;
        IF d + s = 1 THEN
            PERFORM registration_count('passkey', NEW.user_id, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER credentials_users AFTER INSERT OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION credentials_users();
CREATE TRIGGER credentials_users_type AFTER UPDATE OF backup_eligible ON credentials
    FOR EACH ROW WHEN (OLD.backup_eligible <> NEW.backup_eligible) EXECUTE FUNCTION credentials_users();

-- +goose Down
DROP TRIGGER credentials_users_type ON credentials;
DROP TRIGGER credentials_users ON credentials;
DROP FUNCTION credentials_users();
DROP TRIGGER totp_counts_update ON totp_methods;
DROP TRIGGER totp_counts_delete ON totp_methods;
DROP TRIGGER totp_counts_insert ON totp_methods;
DROP FUNCTION totp_counts();
DROP TRIGGER users_counts_password ON users;
DROP TRIGGER users_counts ON users;
DROP FUNCTION users_counts();
DROP FUNCTION registration_count(text, text, integer);
DROP INDEX credentials_clone;
DROP INDEX users_disabled;
DROP TABLE credential_users;
DROP TABLE registration_counts;
