-- The counters kept by triggers on credentials (credential_daily, the key
-- models and their holders) are sharded by the passkey's ID, so a statement
-- that deletes several passkeys (a person's, through ON DELETE CASCADE)
-- locks several counter rows in the order it meets the passkeys; two such
-- deletions, or one and a registration, could lock the same rows in
-- opposite orders and PostgreSQL would abort one as a deadlock. A
-- transaction-level advisory lock taken before the rows orders them: a
-- deletion holds it alone, registrations and model changes (one row each,
-- whose triggers lock in one fixed order) share it. Sign-ins, which update
-- none of the counted columns, do not take it.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION credentials_counter_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_advisory_xact_lock(hashtext('keyward.credential_counters'));
    ELSE
        PERFORM pg_advisory_xact_lock_shared(hashtext('keyward.credential_counters'));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER credentials_counter_lock BEFORE INSERT OR DELETE OR UPDATE OF aaguid, model, backup_eligible, attestation_level, created_at
    ON credentials FOR EACH STATEMENT EXECUTE FUNCTION credentials_counter_lock();

-- +goose Down
DROP TRIGGER credentials_counter_lock ON credentials;
DROP FUNCTION credentials_counter_lock();
