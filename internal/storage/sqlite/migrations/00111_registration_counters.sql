-- usersRegisteredByMethod without a row per user (issue 9): registration_counts
-- keeps how many users there are and how many registered each method,
-- moved by triggers on users, totp_methods and credentials when a person
-- gains their first or loses their last of a kind (credential_users counts
-- each person's passkeys by type for that). Two partial indexes find the
-- few people the count of passwordless-capable users must look at one by
-- one: disabled accounts and holders of a key flagged as a possible clone.

-- +goose Up
CREATE TABLE registration_counts (
    method TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    users  INTEGER NOT NULL,
    PRIMARY KEY (method, shard)
) STRICT, WITHOUT ROWID;

CREATE TABLE credential_users (
    user_id      TEXT NOT NULL PRIMARY KEY,
    device_bound INTEGER NOT NULL,
    synced       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX users_disabled ON users (id) WHERE NOT account_enabled;
CREATE INDEX credentials_clone ON credentials (user_id) WHERE clone_warning;

INSERT INTO credential_users (user_id, device_bound, synced)
SELECT user_id, SUM(1 - backup_eligible), SUM(backup_eligible) FROM credentials GROUP BY user_id;

INSERT INTO registration_counts (method, shard, users)
SELECT 'users', 0, COUNT(*) FROM users
UNION ALL SELECT 'password', 0, COUNT(*) FROM users WHERE password_hash <> ''
UNION ALL SELECT 'softwareOath', 0, COUNT(*) FROM totp_methods WHERE confirmed
UNION ALL SELECT 'passkey', 0, COUNT(*) FROM credential_users
UNION ALL SELECT 'passKeyDeviceBound', 0, COUNT(*) FROM credential_users WHERE device_bound > 0
UNION ALL SELECT 'passKeySynced', 0, COUNT(*) FROM credential_users WHERE synced > 0;

-- +goose StatementBegin
CREATE TRIGGER users_counts_insert AFTER INSERT ON users
BEGIN
    UPDATE registration_counts SET users = users + 1 WHERE method = 'users' AND shard = 0;
    UPDATE registration_counts SET users = users + 1 WHERE method = 'password' AND shard = 0 AND NEW.password_hash <> '';
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_counts_delete AFTER DELETE ON users
BEGIN
    UPDATE registration_counts SET users = users - 1 WHERE method = 'users' AND shard = 0;
    UPDATE registration_counts SET users = users - 1 WHERE method = 'password' AND shard = 0 AND OLD.password_hash <> '';
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_counts_password AFTER UPDATE OF password_hash ON users
WHEN (OLD.password_hash = '') <> (NEW.password_hash = '')
BEGIN
    UPDATE registration_counts SET users = users + CASE WHEN NEW.password_hash <> '' THEN 1 ELSE -1 END
    WHERE method = 'password' AND shard = 0;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER totp_counts_insert AFTER INSERT ON totp_methods WHEN NEW.confirmed
BEGIN
    UPDATE registration_counts SET users = users + 1 WHERE method = 'softwareOath' AND shard = 0;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER totp_counts_delete AFTER DELETE ON totp_methods WHEN OLD.confirmed
BEGIN
    UPDATE registration_counts SET users = users - 1 WHERE method = 'softwareOath' AND shard = 0;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER totp_counts_update AFTER UPDATE OF confirmed ON totp_methods WHEN OLD.confirmed <> NEW.confirmed
BEGIN
    UPDATE registration_counts SET users = users + CASE WHEN NEW.confirmed THEN 1 ELSE -1 END
    WHERE method = 'softwareOath' AND shard = 0;
END;
-- +goose StatementEnd

-- A person's first passkey, first of a type, last of a type and last
-- passkey move the counts; the person's row says which it is.
-- +goose StatementBegin
CREATE TRIGGER credentials_users_insert AFTER INSERT ON credentials
BEGIN
    INSERT INTO credential_users (user_id, device_bound, synced)
    VALUES (NEW.user_id, 1 - NEW.backup_eligible, NEW.backup_eligible)
    ON CONFLICT (user_id) DO UPDATE SET device_bound = device_bound + excluded.device_bound,
        synced = synced + excluded.synced;
    UPDATE registration_counts SET users = users + 1 WHERE shard = 0 AND (
        (method = 'passkey' AND (SELECT device_bound + synced FROM credential_users WHERE user_id = NEW.user_id) = 1)
        OR (method = 'passKeyDeviceBound' AND NOT NEW.backup_eligible
            AND (SELECT device_bound FROM credential_users WHERE user_id = NEW.user_id) = 1)
        OR (method = 'passKeySynced' AND NEW.backup_eligible
            AND (SELECT synced FROM credential_users WHERE user_id = NEW.user_id) = 1));
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER credentials_users_delete AFTER DELETE ON credentials
BEGIN
    UPDATE credential_users SET device_bound = device_bound - (1 - OLD.backup_eligible), synced = synced - OLD.backup_eligible
    WHERE user_id = OLD.user_id;
    UPDATE registration_counts SET users = users - 1 WHERE shard = 0 AND (
        (method = 'passkey' AND (SELECT device_bound + synced FROM credential_users WHERE user_id = OLD.user_id) = 0)
        OR (method = 'passKeyDeviceBound' AND NOT OLD.backup_eligible
            AND (SELECT device_bound FROM credential_users WHERE user_id = OLD.user_id) = 0)
        OR (method = 'passKeySynced' AND OLD.backup_eligible
            AND (SELECT synced FROM credential_users WHERE user_id = OLD.user_id) = 0));
    DELETE FROM credential_users WHERE user_id = OLD.user_id AND device_bound = 0 AND synced = 0;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER credentials_users_type AFTER UPDATE OF backup_eligible ON credentials
WHEN OLD.backup_eligible <> NEW.backup_eligible
BEGIN
    UPDATE credential_users SET device_bound = device_bound - (1 - OLD.backup_eligible) + (1 - NEW.backup_eligible),
        synced = synced - OLD.backup_eligible + NEW.backup_eligible
    WHERE user_id = NEW.user_id;
    -- One type gains what the other loses: each count moves when its side
    -- went from 0 to 1 or from 1 to 0.
    UPDATE registration_counts SET users = users + CASE WHEN NEW.backup_eligible THEN 1 ELSE -1 END
    WHERE shard = 0 AND method = 'passKeySynced'
        AND (SELECT synced FROM credential_users WHERE user_id = NEW.user_id) = NEW.backup_eligible;
    UPDATE registration_counts SET users = users + CASE WHEN NEW.backup_eligible THEN -1 ELSE 1 END
    WHERE shard = 0 AND method = 'passKeyDeviceBound'
        AND (SELECT device_bound FROM credential_users WHERE user_id = NEW.user_id) = 1 - NEW.backup_eligible;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER credentials_users_type;
DROP TRIGGER credentials_users_delete;
DROP TRIGGER credentials_users_insert;
DROP TRIGGER totp_counts_update;
DROP TRIGGER totp_counts_delete;
DROP TRIGGER totp_counts_insert;
DROP TRIGGER users_counts_password;
DROP TRIGGER users_counts_delete;
DROP TRIGGER users_counts_insert;
DROP INDEX credentials_clone;
DROP INDEX users_disabled;
DROP TABLE credential_users;
DROP TABLE registration_counts;
