package mds

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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
	key := chainKey(leaf, intermediates)
	if e.chains.valid(key, now) {
		return nil
	}
	chain, err := e.verifyChainUncached(leaf, intermediates, now)
	if err != nil {
		return err
	}
	e.chains.add(key, chain)
	return nil
}

// verifyChainUncached checks every signature of the chain from leaf
// through intermediates to one of the entry's roots at now, and returns
// the chain it built.
func (e *Entry) verifyChainUncached(leaf *x509.Certificate, intermediates []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		if c != nil {
			inter.AddCert(c)
		}
	}
	chains, err := withoutTPMSubjectAltName(leaf).Verify(x509.VerifyOptions{
		Roots: e.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return chains[0], nil
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		return nil, fmt.Errorf("the attestation certificate is outside its validity period (%s to %s)",
			leaf.NotBefore.UTC().Format(time.DateOnly), leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	return nil, errors.New("the attestation certificate does not chain to the vendor root listed in the FIDO Metadata Service")
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

// maxVerifiedChains bounds the chains one entry remembers: a model's units
// share a few batch certificates, so a model sending more is not a model
// worth remembering (each one is verified, as without the cache).
const maxVerifiedChains = 256

// verifiedChains are the attestation chains (leaf and intermediates, by
// their bytes) that verified against an entry's roots, each with the time
// window in which every certificate of the chain it built is valid. Within
// that window the same bytes against the same roots verify the same way,
// so the signatures need not be checked again.
type verifiedChains struct {
	m sync.Map // [sha256.Size]byte → validWindow
	n atomic.Int64
}

type validWindow struct{ notBefore, notAfter time.Time }

// chainKey is the SHA-256 of the leaf's and each intermediate's DER, each
// preceded by its length.
func chainKey(leaf *x509.Certificate, intermediates []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, c := range append([]*x509.Certificate{leaf}, intermediates...) {
		if c == nil {
			continue
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (v *verifiedChains) valid(key [sha256.Size]byte, now time.Time) bool {
	if v == nil { // an Entry not made by Parse
		return false
	}
	w, ok := v.m.Load(key)
	if !ok {
		return false
	}
	win := w.(validWindow)
	// x509's own test: valid from NotBefore to NotAfter, both included.
	return !now.Before(win.notBefore) && !now.After(win.notAfter)
}

func (v *verifiedChains) add(key [sha256.Size]byte, chain []*x509.Certificate) {
	if v == nil || len(chain) == 0 || v.n.Load() >= maxVerifiedChains {
		return
	}
	win := validWindow{notBefore: chain[0].NotBefore, notAfter: chain[0].NotAfter}
	for _, c := range chain[1:] {
		if c.NotBefore.After(win.notBefore) {
			win.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(win.notAfter) {
			win.notAfter = c.NotAfter
		}
	}
	if _, loaded := v.m.LoadOrStore(key, win); !loaded {
		v.n.Add(1)
	}
}
