// Package softkey is a software FIDO2 authenticator, with the browser around
// it, for tests, fuzz seeds and benchmarks. It answers the options JSON a
// relying party sends with the JSON a browser's PublicKeyCredential.toJSON()
// gives: real ES256 keys, real CBOR (fxamacker/cbor, CTAP2 canonical form) and
// real attestation — packed with a certificate chain from a test CA, packed
// self attestation, fido-u2f or none — so go-webauthn verifies the responses
// exactly as it verifies a security key's.
//
// Knobs make the responses a broken or hostile client would send: another RP
// ID's hash, no user verification, a chosen sign counter, any origin.
package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"
)

// Attestation statement formats an Authenticator can produce.
const (
	FormatPacked     = "packed"      // full (basic) attestation: x5c = [leaf, intermediate…] from CA
	FormatPackedSelf = "packed-self" // packed self attestation, signed with the credential key
	FormatFIDOU2F    = "fido-u2f"    // a U2F key's attestation: x5c = [leaf], zero AAGUID
	FormatNone       = "none"
)

// Authenticator is one software authenticator with its credential store.
// Make it with New (a struct literal works too, but then UserVerification
// starts false). Exported fields may be changed between ceremonies, not
// during one. Its methods are safe for concurrent use.
type Authenticator struct {
	AAGUID uuid.UUID
	// Attestation is one of the Format constants; "" means FormatPacked when
	// CA is set and FormatPackedSelf otherwise.
	Attestation string
	CA          *CA
	// UserVerification sets the UV flag. The authenticator does not refuse a
	// ceremony that requires UV when this is false: it answers with UV=0, so
	// the relying party's own check can be tested.
	UserVerification bool
	BackupEligible   bool
	BackupState      bool
	Transports       []string
	// Attachment is "cross-platform" (default) or "platform".
	Attachment string

	// RPIDHashOverride, when set, is hashed into authenticator data instead of
	// the RP ID: a response signed for another relying party.
	RPIDHashOverride string
	// SkipOriginCheck lets the browser use any origin with any RP ID, as a
	// compromised client could; by default a mismatch is ErrSecurity.
	SkipOriginCheck bool
	// NoUserPresence clears the UP flag, as a password manager does when it
	// creates a passkey without asking (WebAuthn Level 3 conditional
	// create). The relying party decides whether to accept it.
	NoUserPresence bool
	// NoSignCount makes assertions report a signature counter of 0, as
	// synced passkeys do: the counter is not kept, so clients may use one
	// credential at the same time without it looking cloned.
	NoSignCount bool

	mu    sync.Mutex
	creds []*credential

	attMu   sync.Mutex
	attKeys map[attestationID]*attestationKey
}

// attestationID names a batch attestation certificate: a model (AAGUID)
// and whether it is a U2F certificate, which carries no AAGUID.
type attestationID struct {
	aaguid uuid.UUID
	u2f    bool
}

type attestationKey struct {
	key *ecdsa.PrivateKey
	x5c [][]byte // leaf first
}

// Options configure New.
type Options struct {
	AAGUID      uuid.UUID
	Attestation string // see Authenticator.Attestation
	CA          *CA
	// NoUserVerification makes an authenticator without PIN or biometrics
	// (UV flag off); by default it verifies the user.
	NoUserVerification bool
	BackupEligible     bool
	BackupState        bool
	Transports         []string // default ["usb"], or ["internal"] for a platform authenticator
	Attachment         string   // default "cross-platform"
}

// New makes an authenticator with an empty credential store.
func New(opts Options) *Authenticator {
	a := &Authenticator{
		AAGUID:           opts.AAGUID,
		Attestation:      opts.Attestation,
		CA:               opts.CA,
		UserVerification: !opts.NoUserVerification,
		BackupEligible:   opts.BackupEligible,
		BackupState:      opts.BackupState,
		Attachment:       opts.Attachment,
	}
	a.Attachment = a.attachment()
	a.Transports = a.transports(opts.Transports)
	return a
}

// attachment and transports apply the defaults, also for an Authenticator
// built as a struct literal rather than with New.
func (a *Authenticator) attachment() string {
	if a.Attachment == "" {
		return "cross-platform"
	}
	return a.Attachment
}

func (a *Authenticator) transports(t []string) []string {
	switch {
	case len(t) > 0:
		return slices.Clone(t)
	case a.attachment() == "platform":
		return []string{"internal"}
	default:
		return []string{"usb"}
	}
}

// Credential describes a stored credential.
type Credential struct {
	ID             []byte
	RPID           string
	UserHandle     []byte
	UserName       string
	Discoverable   bool
	SignCount      uint32
	AAGUID         uuid.UUID // the authenticator's, even when a response zeroed it
	BackupEligible bool
	PublicKey      *ecdsa.PublicKey
}

type credential struct {
	Credential
	key *ecdsa.PrivateKey
}

// Credentials lists the stored credentials, oldest first.
func (a *Authenticator) Credentials() []Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Credential, len(a.creds))
	for i, c := range a.creds {
		out[i] = c.Credential
		out[i].ID = slices.Clone(c.ID)
		out[i].UserHandle = slices.Clone(c.UserHandle)
	}
	return out
}

// SetSignCount sets a credential's counter; the next assertion reports n+1.
func (a *Authenticator) SetSignCount(credID []byte, n uint32) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.creds {
		if bytes.Equal(c.ID, credID) {
			c.SignCount = n
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownCredential, encode(credID))
}

// RemoveCredential forgets a credential, as a user deleting it on the key.
func (a *Authenticator) RemoveCredential(credID []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, c := range a.creds {
		if bytes.Equal(c.ID, credID) {
			a.creds = slices.Delete(a.creds, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownCredential, encode(credID))
}

func (a *Authenticator) format() string {
	switch {
	case a.Attestation != "":
		return a.Attestation
	case a.CA != nil:
		return FormatPacked
	default:
		return FormatPackedSelf
	}
}

func (a *Authenticator) rpIDHash(rpID string) [32]byte {
	if a.RPIDHashOverride != "" {
		rpID = a.RPIDHashOverride
	}
	return sha256.Sum256([]byte(rpID))
}

func (a *Authenticator) flags(uv bool, backupEligible bool) byte {
	f := byte(flagUP)
	if a.NoUserPresence {
		f = 0
	}
	if uv {
		f |= flagUV
	}
	if backupEligible {
		f |= flagBE
		if a.BackupState {
			f |= flagBS
		}
	}
	return f
}

// attestation returns the authenticator's batch attestation key and x5c,
// issued on first use: a real model carries one certificate in all its units.
func (a *Authenticator) attestation(format string) (*attestationKey, error) {
	if a.CA == nil {
		return nil, fmt.Errorf("softkey: %s attestation needs a CA", format)
	}
	id := attestationID{aaguid: a.AAGUID, u2f: format == FormatFIDOU2F}
	a.attMu.Lock()
	defer a.attMu.Unlock()
	if k, ok := a.attKeys[id]; ok {
		return k, nil
	}
	var k *attestationKey
	if id.u2f {
		leaf, key, err := a.CA.issueU2FCert()
		if err != nil {
			return nil, err
		}
		k = &attestationKey{key: key, x5c: [][]byte{leaf.Raw}}
	} else {
		leaf, key, chain, err := a.CA.IssueAttestationCert(id.aaguid)
		if err != nil {
			return nil, err
		}
		k = &attestationKey{key: key, x5c: [][]byte{leaf.Raw}}
		for _, c := range chain {
			k.x5c = append(k.x5c, c.Raw)
		}
	}
	if a.attKeys == nil {
		a.attKeys = map[attestationID]*attestationKey{}
	}
	a.attKeys[id] = k
	return k, nil
}

// AttestationCertificate is the batch attestation certificate the
// authenticator sends under format (packed or fido-u2f), issued on first
// use — so a test can list it (or its key identifier) in an MDS blob before
// the key registers.
func (a *Authenticator) AttestationCertificate(format string) (*x509.Certificate, error) {
	k, err := a.attestation(format)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(k.x5c[0])
}

func newCredentialKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("softkey: credential key: %w", err)
	}
	return key, nil
}

// AddCredential stores a discoverable credential made elsewhere, with its
// private key: a passkey a benchmark derived from a seed and stored in the
// relying party's database directly. c.PublicKey is set from key; c.RPID,
// c.ID and c.UserHandle are required.
func (a *Authenticator) AddCredential(c Credential, key *ecdsa.PrivateKey) error {
	if c.RPID == "" || len(c.ID) == 0 || len(c.UserHandle) == 0 || key == nil {
		return fmt.Errorf("softkey: a credential needs an RP ID, an ID, a user handle and a key")
	}
	c.ID, c.UserHandle = slices.Clone(c.ID), slices.Clone(c.UserHandle)
	c.PublicKey, c.Discoverable = &key.PublicKey, true
	a.store(&credential{Credential: c, key: key})
	return nil
}

// COSEKey is an ES256 public key as the COSE_Key a relying party stores.
func COSEKey(pub *ecdsa.PublicKey) ([]byte, error) { return coseKey(pub) }
