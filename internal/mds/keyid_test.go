package mds

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/mds/mdstest"
)

// The vector is a certificate made by OpenSSL with
// subjectKeyIdentifier=hash, which is RFC 5280's method 1 — the SHA-1 that
// MDS3 calls the attestation certificate key identifier.
func TestKeyIdentifierIsRFC5280Method1(t *testing.T) {
	raw, err := os.ReadFile("testdata/keyid-vector.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	const want = "ccb3d886a4ae22de888562585e074c3bfbb3a8b6" // openssl x509 -ext subjectKeyIdentifier
	if got := KeyIdentifier(c); got != want || hex.EncodeToString(c.SubjectKeyId) != want {
		t.Fatalf("KeyIdentifier = %s, want %s (SubjectKeyId %x)", got, want, c.SubjectKeyId)
	}
	if KeyIdentifier(nil) != "" || KeyIdentifier(&x509.Certificate{RawSubjectPublicKeyInfo: []byte{0x30, 0x01}}) != "" {
		t.Fatal("an unreadable certificate has a key identifier")
	}
}

// A U2F key (zero AAGUID) is looked up by its attestation certificate's key
// identifier: it gets the model, the status reports and the chain check of
// the entry that lists it, and its attestation type is compared with the
// entry's attestationTypes.
func TestU2FKeysAreIdentifiedByKeyIdentifier(t *testing.T) {
	const zero = "00000000-0000-0000-0000-000000000000"
	vendor := newCA(t, "Vendor U2F Root")
	stranger := newCA(t, "Someone Else's Root")
	good, revoked, surrogate, unknown := issue(t, vendor, ""), issue(t, vendor, ""), issue(t, vendor, ""), issue(t, vendor, "")
	foreign := issue(t, stranger, "")
	b := parseBlob(t, mdstest.Payload{Number: 1, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{
		{Description: "Old U2F Key", KeyIdentifiers: []string{strings.ToUpper(KeyIdentifier(good)), KeyIdentifier(foreign)},
			Statuses: []string{"FIDO_CERTIFIED"}, AttestationRootPEMs: []string{vendor.CertPEM()}},
		{Description: "Leaky U2F Key", KeyIdentifiers: []string{KeyIdentifier(revoked)}, Statuses: []string{"REVOKED"},
			AttestationRootPEMs: []string{vendor.CertPEM()}},
		{Description: "Surrogate U2F Key", KeyIdentifiers: []string{KeyIdentifier(surrogate)}, AttestationTypes: []string{"basic_surrogate"},
			AttestationRootPEMs: []string{vendor.CertPEM()}},
	}})
	e, keyID, ok := b.Identify(zero, []*x509.Certificate{good})
	if !ok || e.Description != "Old U2F Key" || keyID != KeyIdentifier(good) {
		t.Fatalf("Identify = %v %q %v", e.Description, keyID, ok)
	}
	if _, _, ok := b.Identify(zero, nil); ok {
		t.Fatal("a zero-AAGUID key without a certificate was identified")
	}
	now := time.Now()
	for _, tc := range []struct {
		name   string
		x5c    []*x509.Certificate
		reason string // "" = attested
	}{
		{"listed_key_identifier_chains_to_the_root", []*x509.Certificate{good}, ""},
		{"revoked_model", []*x509.Certificate{revoked}, "reports this model (Leaky U2F Key) as REVOKED"},
		{"attestation_type_not_listed", []*x509.Certificate{surrogate}, "lists this model's attestation as basic_surrogate only"},
		{"key_identifier_not_in_mds", []*x509.Certificate{unknown}, "its attestation certificate (key identifier " + KeyIdentifier(unknown) + ") is not in the FIDO Metadata Service"},
		{"listed_but_another_vendors_root", []*x509.Certificate{foreign}, "does not chain to the vendor root"},
		{"none_attestation", nil, "its AAGUID is all zeros and it sent no attestation certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := b.CheckAttestation(zero, tc.x5c, now)
			if tc.reason == "" && !ok {
				t.Fatalf("not attested: %s", reason)
			}
			if tc.reason != "" && (ok || !strings.Contains(reason, tc.reason)) {
				t.Fatalf("attested=%v reason=%q, want %q", ok, reason, tc.reason)
			}
		})
	}
}
