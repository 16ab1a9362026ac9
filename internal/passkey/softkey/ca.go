package softkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"
)

// OIDFIDOGenCEAAGUID is id-fido-gen-ce-aaguid, the certificate extension that
// names the authenticator model an attestation certificate speaks for.
var OIDFIDOGenCEAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// CA is a test attestation PKI: a root, usually an intermediate, and the
// attestation certificates it issues. Its root is what an MDS entry for a
// test authenticator lists under attestationRootCertificates.
type CA struct {
	name      string
	notBefore time.Time
	notAfter  time.Time

	root    *x509.Certificate
	rootKey *ecdsa.PrivateKey

	// issuer signs attestation certificates: the intermediate, or the root
	// when the CA has no intermediate.
	intermediate *x509.Certificate
	issuer       *x509.Certificate
	issuerKey    *ecdsa.PrivateKey
}

// CAOption changes how NewCA builds the CA.
type CAOption func(*caConfig)

type caConfig struct {
	intermediate        bool
	notBefore, notAfter time.Time
}

// WithoutIntermediate makes the root issue attestation certificates itself,
// so x5c holds only the attestation certificate.
func WithoutIntermediate() CAOption {
	return func(c *caConfig) { c.intermediate = false }
}

// WithValidity sets the validity period of every certificate of the CA,
// including the attestation certificates it issues later: a period in the past
// makes expired attestation certificates, for refusal tests.
func WithValidity(notBefore, notAfter time.Time) CAOption {
	return func(c *caConfig) { c.notBefore, c.notAfter = notBefore, notAfter }
}

// NewCA makes a root and an intermediate named after name (the vendor's legal
// name, as it appears in the subject's O attribute).
func NewCA(name string, opts ...CAOption) (*CA, error) {
	if name == "" {
		return nil, errors.New("softkey: CA name is empty")
	}
	now := time.Now()
	cfg := caConfig{intermediate: true, notBefore: now.Add(-time.Hour), notAfter: now.AddDate(20, 0, 0)}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.notAfter.After(cfg.notBefore) {
		return nil, fmt.Errorf("softkey: CA %q: validity ends (%s) before it starts (%s)", name, cfg.notAfter, cfg.notBefore)
	}
	ca := &CA{name: name, notBefore: cfg.notBefore, notAfter: cfg.notAfter}

	var err error
	if ca.rootKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("softkey: root key: %w", err)
	}
	rootTmpl := ca.template(pkix.Name{Country: []string{"US"}, Organization: []string{name}, CommonName: name + " Attestation Root CA"})
	rootTmpl.IsCA = true
	rootTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	if ca.root, err = ca.sign(rootTmpl, nil, ca.rootKey, &ca.rootKey.PublicKey); err != nil {
		return nil, fmt.Errorf("softkey: root certificate: %w", err)
	}
	ca.issuer, ca.issuerKey = ca.root, ca.rootKey
	if !cfg.intermediate {
		return ca, nil
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("softkey: intermediate key: %w", err)
	}
	tmpl := ca.template(pkix.Name{Country: []string{"US"}, Organization: []string{name}, CommonName: name + " Attestation CA 1"})
	tmpl.IsCA = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	if ca.intermediate, err = ca.sign(tmpl, ca.root, ca.rootKey, &key.PublicKey); err != nil {
		return nil, fmt.Errorf("softkey: intermediate certificate: %w", err)
	}
	ca.issuer, ca.issuerKey = ca.intermediate, key
	return ca, nil
}

// Name is the vendor name the CA was made with.
func (ca *CA) Name() string { return ca.name }

// Root is the self-signed root certificate.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// Intermediate is the certificate between root and attestation certificates,
// or nil for a CA made WithoutIntermediate.
func (ca *CA) Intermediate() *x509.Certificate { return ca.intermediate }

// RootPEM is the root certificate in PEM form.
func (ca *CA) RootPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw}))
}

// IssueAttestationCert issues an attestation certificate meeting the packed
// format's requirements (WebAuthn §8.2.1): version 3; subject C, O, OU
// "Authenticator Attestation" and CN; basic constraints CA=false; and, unless
// aaguid is uuid.Nil, the non-critical id-fido-gen-ce-aaguid extension holding
// the AAGUID as an OCTET STRING. chain is what follows the leaf in x5c (the
// intermediate, if any); the root is never part of it.
func (ca *CA) IssueAttestationCert(aaguid uuid.UUID) (leaf *x509.Certificate, key *ecdsa.PrivateKey, chain []*x509.Certificate, err error) {
	if leaf, key, err = ca.issueAttestation(aaguid, ca.issuer, ca.issuerKey); err != nil {
		return nil, nil, nil, err
	}
	if ca.intermediate != nil {
		chain = []*x509.Certificate{ca.intermediate}
	}
	return leaf, key, chain, nil
}

// issueU2FCert issues from the root, as U2F vendors do: a fido-u2f x5c holds
// exactly one certificate, so there is no room for an intermediate.
func (ca *CA) issueU2FCert() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	return ca.issueAttestation(uuid.Nil, ca.root, ca.rootKey)
}

func (ca *CA) issueAttestation(aaguid uuid.UUID, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey) (leaf *x509.Certificate, key *ecdsa.PrivateKey, err error) {
	if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, nil, fmt.Errorf("softkey: attestation key: %w", err)
	}
	tmpl := ca.template(pkix.Name{
		Country:            []string{"US"},
		Organization:       []string{ca.name},
		OrganizationalUnit: []string{"Authenticator Attestation"},
		CommonName:         ca.name + " Authenticator",
	})
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if aaguid != uuid.Nil {
		value, err := asn1.Marshal(aaguid[:])
		if err != nil {
			return nil, nil, fmt.Errorf("softkey: aaguid extension: %w", err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: OIDFIDOGenCEAAGUID, Value: value}}
	}
	if leaf, err = ca.sign(tmpl, issuer, issuerKey, &key.PublicKey); err != nil {
		return nil, nil, fmt.Errorf("softkey: attestation certificate: %w", err)
	}
	return leaf, key, nil
}

func (ca *CA) template(subject pkix.Name) *x509.Certificate {
	return &x509.Certificate{
		Subject:               subject,
		NotBefore:             ca.notBefore,
		NotAfter:              ca.notAfter,
		BasicConstraintsValid: true,
	}
}

// sign creates the certificate; a nil parent means self-signed.
func (ca *CA) sign(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, pub *ecdsa.PublicKey) (*x509.Certificate, error) {
	// A positive 128-bit serial: RFC 5280 allows 20 octets and Go refuses negative ones.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
