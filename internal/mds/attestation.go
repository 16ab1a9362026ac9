package mds

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

var (
	oidFIDOGenCeAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}
	oidSubjectAltName  = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// CheckAttestation decides whether a key is attested in Keyward's sense
// (docs/design.md): its AAGUID is in MDS, no status report in effect marks the
// model untrustworthy, and its attestation certificate chain (x5c: the
// attestation certificate, then any intermediates, as the attestation
// statement carries them) verifies at now to an attestation root MDS lists
// for that AAGUID. The caller must already have verified the attestation
// statement itself with go-webauthn. When not attested, reason says why in
// plain words. This is WebAuthn Level 2 §7.1 steps 20 and 21 with the FIDO
// Metadata Service as the trusted source: the trust anchors are the entry's
// attestationRootCertificates, and an entry whose status reports are
// undesired (FIDO MDS 3.0, the AuthenticatorStatus enum) is not trustworthy.
func (b *Blob) CheckAttestation(aaguid string, x5c []*x509.Certificate, now time.Time) (attested bool, reason string) {
	if b == nil {
		return false, "no FIDO Metadata Service blob is loaded, so no key can be verified as genuine"
	}
	u, err := uuid.Parse(strings.TrimSpace(aaguid))
	if err != nil {
		return false, fmt.Sprintf("%q is not an AAGUID", aaguid)
	}
	var e *Entry
	if u == uuid.Nil {
		// A U2F key: its model is named by its attestation certificate.
		if len(x5c) == 0 || x5c[0] == nil {
			return false, "the key did not say which model it is (its AAGUID is all zeros and it sent no attestation certificate), so it cannot be looked up in the FIDO Metadata Service"
		}
		keyID := KeyIdentifier(x5c[0])
		if e = b.byKeyID[keyID]; e == nil {
			return false, fmt.Sprintf("the key did not say which model it is (its AAGUID is all zeros), and its attestation certificate (key identifier %s) is not in the FIDO Metadata Service", keyID)
		}
	} else {
		var ok bool
		if e, ok = b.byAAGUID[u.String()]; !ok {
			return false, fmt.Sprintf("AAGUID %s is not in the FIDO Metadata Service", u)
		}
	}
	if bad, why := e.undesiredFor(now, x5c); bad {
		return false, why
	}
	if len(x5c) == 0 || x5c[0] == nil {
		return false, "the key sent no attestation certificate (self or none attestation)"
	}
	if !e.attestationTypeListed() {
		return false, fmt.Sprintf("the key sent an attestation certificate, but the FIDO Metadata Service lists this model's attestation as %s only",
			strings.Join(e.AttestationTypes, ", "))
	}
	if len(e.AttestationRoots) == 0 {
		return false, "the FIDO Metadata Service lists no attestation root certificate for this model"
	}
	leaf := x5c[0]
	// WebAuthn Level 2 §8.2.1: an attestation certificate's
	// id-fido-gen-ce-aaguid extension must match the AAGUID in authData.
	if other, ok := certAAGUID(leaf); ok && other != u {
		return false, fmt.Sprintf("the attestation certificate is for AAGUID %s, not %s", other, u)
	}
	if err := e.verifyChain(leaf, x5c[1:], now); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func (e *Entry) verifyChain(leaf *x509.Certificate, intermediates []*x509.Certificate, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		if c != nil {
			inter.AddCert(c)
		}
	}
	_, err := withoutTPMSubjectAltName(leaf).Verify(x509.VerifyOptions{
		Roots: e.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return nil
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		return fmt.Errorf("the attestation certificate is outside its validity period (%s to %s)",
			leaf.NotBefore.UTC().Format(time.DateOnly), leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	return errors.New("the attestation certificate does not chain to the vendor root listed in the FIDO Metadata Service")
}

// withoutTPMSubjectAltName: a TPM attestation identity key certificate has an
// empty subject and a critical subjectAltName holding TPM directory names,
// which crypto/x509 leaves "unhandled" and so refuses. go-webauthn's TPM
// verifier has checked that extension already, as it does before its own MDS
// chain check (tpmParseAIKAttCA); here it only stands in the way.
func withoutTPMSubjectAltName(c *x509.Certificate) *x509.Certificate {
	keep := c.UnhandledCriticalExtensions[:0:0]
	for _, oid := range c.UnhandledCriticalExtensions {
		if !oid.Equal(oidSubjectAltName) {
			keep = append(keep, oid)
		}
	}
	if len(keep) == len(c.UnhandledCriticalExtensions) {
		return c
	}
	out := *c
	out.UnhandledCriticalExtensions = keep
	return &out
}

// certAAGUID reads the id-fido-gen-ce-aaguid extension, when present.
func certAAGUID(c *x509.Certificate) (uuid.UUID, bool) {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidFIDOGenCeAAGUID) {
			continue
		}
		var raw []byte
		if rest, err := asn1.Unmarshal(ext.Value, &raw); err != nil || len(rest) != 0 || len(raw) != 16 {
			return uuid.Nil, false
		}
		u, err := uuid.FromBytes(bytes.Clone(raw))
		return u, err == nil
	}
	return uuid.Nil, false
}
