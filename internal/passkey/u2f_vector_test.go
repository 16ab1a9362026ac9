package passkey_test

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/passkey/testvectors"
	"github.com/keyward/keyward/internal/policy"
)

// A real U2F key's registration (Yubico, fido-u2f, zero AAGUID) is found in
// a test MDS blob by its attestation certificate key identifier: it gets
// the entry's model name, and the entry's verdicts apply to it — its
// status reports, and the chain check against the entry's roots (the test
// entry lists another root, so it is not attested).
func TestU2FRegistrationVectorIsLookedUpByKeyIdentifier(t *testing.T) {
	vectors, err := testvectors.LoadRegistrations()
	if err != nil {
		t.Fatal(err)
	}
	var v testvectors.Vector
	for _, c := range vectors {
		if c.Name == "fido-u2f-yubico" {
			v = c
		}
	}
	if v.Name == "" {
		t.Fatal("vector fido-u2f-yubico missing")
	}
	if v.WantError(time.Now()) != "" {
		t.Skipf("the vector's certificate no longer verifies today: %s", v.WantError(time.Now()))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(v.Response)
	if err != nil {
		t.Fatal(err)
	}
	x5c, _ := parsed.Response.AttestationObject.AttStatement["x5c"].([]any)
	if len(x5c) == 0 {
		t.Fatal("the vector has no attestation certificate")
	}
	der, _ := x5c[0].([]byte)
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyID := mds.KeyIdentifier(leaf)

	pki, err := mdstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	otherRoot, err := mdstest.NewAttestationCA("Not Yubico's root")
	if err != nil {
		t.Fatal(err)
	}
	blob := func(statuses ...string) *mds.Blob {
		t.Helper()
		raw, err := pki.Sign(mdstest.Payload{Number: 1, NextUpdate: time.Now().Add(30 * 24 * time.Hour), Entries: []mdstest.EntryOptions{
			{Description: "Yubico U2F key (test entry)", KeyIdentifiers: []string{keyID}, Statuses: statuses,
				AttestationRootPEMs: []string{otherRoot.CertPEM()}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := mds.Parse(raw, mds.Options{Roots: []string{pki.RootPEM()}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	inspect := func(b *mds.Blob) passkey.InspectResult {
		t.Helper()
		res, err := passkey.Inspect(passkey.InspectInput{Response: v.Response, Challenge: v.Challenge, Origin: v.Origin,
			RPID: v.RPID, Profile: policy.DefaultProfile(), Metadata: b, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := inspect(blob("FIDO_CERTIFIED"))
	if res.Format != "fido-u2f" || res.AAGUID != "00000000-0000-0000-0000-000000000000" || res.Model != "Yubico U2F key (test entry)" {
		t.Fatalf("format %s, AAGUID %s, model %q: want the entry found by key identifier %s", res.Format, res.AAGUID, res.Model, keyID)
	}
	if res.AttestationLevel != "notAttested" {
		t.Fatalf("attested against a root the entry does not list: %+v", res)
	}
	e, ok := mds.EntryOf(blob("FIDO_CERTIFIED", "REVOKED"), res.AAGUID, keyID)
	if !ok {
		t.Fatal("the entry is not found by the key identifier")
	}
	if bad, why := e.Undesired(time.Now()); !bad || !strings.Contains(why, "REVOKED") {
		t.Fatalf("a revoked entry found by key identifier: undesired=%v %q", bad, why)
	}
	// Under an allow list the key is refused as a U2F key, by its model name.
	p := policy.DefaultProfile()
	p.KeyRestrictions = policy.KeyRestrictions{IsEnforced: true, EnforcementType: policy.EnforcementAllow, AAGUIDs: []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}}
	res, err = passkey.Inspect(passkey.InspectInput{Response: v.Response, Challenge: v.Challenge, Origin: v.Origin,
		RPID: v.RPID, Profile: p, Metadata: blob("FIDO_CERTIFIED"), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != "refused" || !strings.Contains(strings.Join(res.Reasons, " "), "this key (Yubico U2F key (test entry)) is an older U2F security key that has no AAGUID") {
		t.Fatalf("under an allow list: %s %v", res.Verdict, res.Reasons)
	}
}
