-- The passkey policy's impact preview reads every passkey that can sign in
-- as one string, "user key kind" (issue 9). credentials_facts now holds the
-- kind (backup eligibility, AAGUID, key identifier and model) as the one
-- string the read writes, so SQLite reads it from the index as it is
-- instead of reading four columns and joining them for every key: seven
-- operations of its virtual machine a row instead of eleven or twelve. The read's
-- expression (the SQLite dialect's KeyFactsRow) must name the indexed one
-- exactly, or SQLite would build it again for every key; a test checks
-- that the read is answered from this index alone.

-- +goose Up
DROP INDEX credentials_facts;
CREATE INDEX credentials_facts ON credentials (user_id, id,
    concat_ws(' ', CASE WHEN backup_eligible THEN '1' ELSE '0' END, aaguid, attestation_key_id, model), clone_warning)
    WHERE NOT clone_warning;

-- +goose Down
DROP INDEX credentials_facts;
CREATE INDEX credentials_facts ON credentials (user_id, id, backup_eligible, aaguid, attestation_key_id, model, clone_warning)
    WHERE NOT clone_warning;
