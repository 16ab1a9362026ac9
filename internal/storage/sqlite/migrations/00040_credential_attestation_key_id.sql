-- A U2F key sends the all-zero AAGUID; the FIDO Metadata Service names its
-- model by the key identifier of its attestation certificate (MDS3
-- attestationCertificateKeyIdentifiers: the hex SHA-1 of the certificate's
-- public key). Stored so the model's later status reports reach these keys.
-- '' = not a U2F key, or no attestation certificate.

-- +goose Up
ALTER TABLE credentials ADD COLUMN attestation_key_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE credentials DROP COLUMN attestation_key_id;
