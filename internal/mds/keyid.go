package mds

import (
	"crypto/sha1" // the key identifier MDS3 defines is SHA-1; it names, it does not protect
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"slices"
	"strings"
)

// KeyIdentifier is the attestation certificate key identifier by which MDS3
// names a U2F authenticator (attestationCertificateKeyIdentifiers): the
// lower-case hex SHA-1 of the certificate's subjectPublicKey bits (RFC 5280
// §4.2.1.2, method 1). "" when the certificate's key cannot be read.
func KeyIdentifier(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) != 0 {
		return ""
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return hex.EncodeToString(sum[:])
}

// LookupKeyID finds the entry that lists an attestation certificate key
// identifier (hex, any case).
func (b *Blob) LookupKeyID(keyID string) (Entry, bool) {
	if b == nil || keyID == "" {
		return Entry{}, false
	}
	e, ok := b.byKeyID[strings.ToLower(strings.TrimSpace(keyID))]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Identify finds a key's model: by AAGUID, or, for a key that sends the
// all-zero AAGUID (U2F), by the key identifier of its attestation
// certificate x5c[0]. keyID is the identifier looked up ("" when the AAGUID
// named the model or there is no certificate).
func (b *Blob) Identify(aaguid string, x5c []*x509.Certificate) (e Entry, keyID string, ok bool) {
	if isZeroAAGUID(aaguid) {
		if len(x5c) == 0 {
			return Entry{}, "", false
		}
		keyID = KeyIdentifier(x5c[0])
		e, ok = b.LookupKeyID(keyID)
		return e, keyID, ok
	}
	e, ok = b.Lookup(aaguid)
	return e, "", ok
}

// EntryOf finds the model of a registered key: by its AAGUID, or, for a
// zero-AAGUID key, by its stored attestation key identifier.
func EntryOf(b *Blob, aaguid, keyID string) (Entry, bool) {
	if isZeroAAGUID(aaguid) {
		return b.LookupKeyID(keyID)
	}
	return b.Lookup(aaguid)
}

// certificateAttestationTypes are the MDS attestationTypes under which a key
// sends an attestation certificate chain; a verifier cannot tell basic_full
// from attca, and anonca is a CA's certificate too.
var certificateAttestationTypes = []string{"basic_full", "attca", "anonca"}

// attestationTypeListed compares a key that sent a certificate chain with
// the entry's attestationTypes. An entry that lists none is not judged.
func (e Entry) attestationTypeListed() bool {
	if len(e.AttestationTypes) == 0 {
		return true
	}
	for _, t := range e.AttestationTypes {
		if slices.Contains(certificateAttestationTypes, t) {
			return true
		}
	}
	return false
}
