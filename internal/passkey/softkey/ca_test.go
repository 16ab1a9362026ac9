package softkey_test

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

func timeAgo(days int) time.Time { return time.Now().AddDate(0, 0, -days) }

func TestAttestationCertificateMeetsPackedRequirements(t *testing.T) {
	ca := newCA(t)
	leaf, key, chain, err := ca.IssueAttestationCert(testAAGUID)
	if err != nil {
		t.Fatal(err)
	}
	if key == nil || !key.PublicKey.Equal(leaf.PublicKey) {
		t.Error("returned key does not match the certificate")
	}
	if leaf.Version != 3 {
		t.Errorf("version %d, want 3", leaf.Version)
	}
	s := leaf.Subject
	if len(s.Country) != 1 || s.Country[0] != "US" || len(s.Organization) != 1 || s.Organization[0] != ca.Name() ||
		len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != "Authenticator Attestation" || s.CommonName == "" {
		t.Errorf("subject %q does not have C, O, OU=Authenticator Attestation and CN", s)
	}
	if !leaf.BasicConstraintsValid || leaf.IsCA {
		t.Error("basic constraints must be present with CA=false")
	}
	var found bool
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(softkey.OIDFIDOGenCEAAGUID) {
			continue
		}
		found = true
		var value []byte
		if rest, err := asn1.Unmarshal(ext.Value, &value); err != nil || len(rest) != 0 {
			t.Fatalf("aaguid extension is not one OCTET STRING: %v", err)
		}
		if ext.Critical || uuid.UUID(value) != testAAGUID {
			t.Errorf("aaguid extension critical=%v value=%x, want non-critical %s", ext.Critical, value, testAAGUID)
		}
	}
	if !found {
		t.Error("no id-fido-gen-ce-aaguid extension")
	}
	if len(chain) != 1 || chain[0] != ca.Intermediate() {
		t.Fatalf("chain = %v, want the intermediate", chain)
	}
	verifyChain(t, append([]*x509.Certificate{leaf}, chain...), ca.Root())
}

func TestU2FStyleCertificateHasNoAAGUIDExtension(t *testing.T) {
	leaf, _, _, err := newCA(t).IssueAttestationCert(uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range leaf.Extensions {
		if ext.Id.Equal(softkey.OIDFIDOGenCEAAGUID) {
			t.Error("certificate for uuid.Nil carries an AAGUID extension")
		}
	}
}

func TestCAWithoutIntermediateIssuesFromRoot(t *testing.T) {
	ca := newCA(t, softkey.WithoutIntermediate())
	leaf, _, chain, err := ca.IssueAttestationCert(testAAGUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 0 || ca.Intermediate() != nil {
		t.Fatalf("chain %v, intermediate %v; want none", chain, ca.Intermediate())
	}
	if err := leaf.CheckSignatureFrom(ca.Root()); err != nil {
		t.Errorf("leaf not signed by root: %v", err)
	}
}

func TestRootPEMIsTheRoot(t *testing.T) {
	ca := newCA(t)
	block, rest := pem.Decode([]byte(ca.RootPEM()))
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("RootPEM is not one CERTIFICATE block: %q", ca.RootPEM())
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Equal(ca.Root()) || !cert.IsCA {
		t.Error("RootPEM is not the CA's root certificate")
	}
}

func TestNewCARejectsBadInput(t *testing.T) {
	if _, err := softkey.NewCA(""); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := softkey.NewCA("x", softkey.WithValidity(timeAgo(1), timeAgo(2))); err == nil {
		t.Error("validity ending before it starts accepted")
	}
}
