// Package mdstest builds what tests need to exercise FIDO Metadata Service
// code without the internet: a private MDS PKI (root, intermediate, signer),
// real MDS3 blobs (JWTs with an x5c header) with chosen entries and statuses,
// CRLs, and attestation CAs whose leaf certificates carry the FIDO AAGUID
// extension. Keys are ECDSA P-256 unless an option says otherwise.
package mdstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// PKI is a private MDS trust chain: Root → Intermediate → Signer, the
// certificate whose key signs blobs. Blobs carry [Signer, Intermediate] in x5c,
// as the production MDS does.
type PKI struct {
	Root, Intermediate, Signer          *x509.Certificate
	RootKey, IntermediateKey, SignerKey crypto.Signer
	method                              jwt.SigningMethod
}

type pkiConfig struct {
	crlURL              string
	expiredIntermediate bool
	rsa                 bool
}

// PKIOption changes how NewPKI builds the chain.
type PKIOption func(*pkiConfig)

// WithCRL puts a CRL distribution point (url) in the signer and the
// intermediate certificates; serve PKI.CRL there, or nothing to make it unreachable.
func WithCRL(url string) PKIOption { return func(c *pkiConfig) { c.crlURL = url } }

// WithExpiredIntermediate makes the intermediate certificate expire a day ago
// (it was valid for the two years before), as an old offline blob would have.
func WithExpiredIntermediate() PKIOption { return func(c *pkiConfig) { c.expiredIntermediate = true } }

// WithRSA makes the signer an RSA 2048 key, so blobs are RS256 like production's.
func WithRSA() PKIOption { return func(c *pkiConfig) { c.rsa = true } }

// NewPKI creates a root CA, an intermediate CA and a signing certificate.
func NewPKI(opts ...PKIOption) (*PKI, error) {
	var cfg pkiConfig
	for _, o := range opts {
		o(&cfg)
	}
	now := time.Now()
	p := &PKI{method: jwt.SigningMethodES256}
	var err error
	if p.RootKey, err = newECKey(); err != nil {
		return nil, err
	}
	root := caTemplate("Keyward Test MDS Root", now.Add(-3*365*24*time.Hour), now.Add(20*365*24*time.Hour))
	if p.Root, err = issue(root, root, p.RootKey, p.RootKey); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if p.IntermediateKey, err = newECKey(); err != nil {
		return nil, err
	}
	inter := caTemplate("Keyward Test MDS Intermediate", now.Add(-2*365*24*time.Hour), now.Add(5*365*24*time.Hour))
	if cfg.expiredIntermediate {
		inter.NotAfter = now.Add(-24 * time.Hour)
	}
	addCRL(inter, cfg.crlURL)
	if p.Intermediate, err = issue(inter, p.Root, p.IntermediateKey, p.RootKey); err != nil {
		return nil, fmt.Errorf("intermediate: %w", err)
	}
	if cfg.rsa {
		if p.SignerKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
		p.method = jwt.SigningMethodRS256
	} else if p.SignerKey, err = newECKey(); err != nil {
		return nil, err
	}
	signer := leafTemplate("mds.keyward.test", now.Add(-365*24*time.Hour), now.Add(365*24*time.Hour))
	signer.KeyUsage = x509.KeyUsageDigitalSignature
	addCRL(signer, cfg.crlURL)
	if p.Signer, err = issue(signer, p.Intermediate, p.SignerKey, p.IntermediateKey); err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return p, nil
}

func addCRL(t *x509.Certificate, url string) {
	if url != "" {
		t.CRLDistributionPoints = []string{url}
	}
}

// RootPEM is the root certificate in PEM form (what --root CERT reads).
func (p *PKI) RootPEM() string { return CertPEM(p.Root) }

// RootBase64 is the root as base64 DER (the form of metadata.ProductionMDSRoot).
func (p *PKI) RootBase64() string { return base64.StdEncoding.EncodeToString(p.Root.Raw) }

// CRL returns a DER CRL issued by the intermediate that revokes the given certificates.
func (p *PKI) CRL(revoked ...*x509.Certificate) ([]byte, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)})
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, p.Intermediate, p.IntermediateKey)
}

// Payload is the content of a blob.
type Payload struct {
	Number      int
	NextUpdate  time.Time // written as a date
	LegalHeader string    // a default is used when empty
	Entries     []EntryOptions
}

// EntryOptions describes one FIDO2 entry of a blob.
type EntryOptions struct {
	AAGUID      string
	Description string
	// Statuses are status report codes (REVOKED, FIDO_CERTIFIED_L1, ...) without dates.
	Statuses []string
	// StatusReports are appended after Statuses, for tests that need dates.
	StatusReports []metadata.StatusReportJSON
	// AttestationRootPEMs are the model's attestation trust anchors.
	AttestationRootPEMs []string
	// Icon is a data: URL; real entries carry icons of a few KB.
	Icon string
	// KeyIdentifiers make a U2F entry (leave AAGUID ""): the hex key
	// identifiers of its attestation certificates (mds.KeyIdentifier).
	KeyIdentifiers []string
	// AttestationTypes default to basic_full.
	AttestationTypes []string
}

// Sign builds the MDS3 payload with go-webauthn's JSON types and signs it
// with golang-jwt, putting [signer, intermediate] in the x5c header.
func (p *PKI) Sign(payload Payload) ([]byte, error) {
	raw, err := PayloadJSON(payload)
	if err != nil {
		return nil, err
	}
	var claims jwt.MapClaims
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, err
	}
	token := jwt.NewWithClaims(p.method, claims)
	token.Header["x5c"] = []string{
		base64.StdEncoding.EncodeToString(p.Signer.Raw),
		base64.StdEncoding.EncodeToString(p.Intermediate.Raw),
	}
	s, err := token.SignedString(p.SignerKey)
	if err != nil {
		return nil, fmt.Errorf("signing the blob: %w", err)
	}
	return []byte(s), nil
}

// PayloadJSON builds the JSON text of a payload, as Sign signs it.
func PayloadJSON(payload Payload) ([]byte, error) {
	body := metadata.PayloadJSON{
		LegalHeader: payload.LegalHeader,
		Number:      payload.Number,
		NextUpdate:  payload.NextUpdate.UTC().Format(time.DateOnly),
		Entries:     make([]metadata.EntryJSON, 0, len(payload.Entries)),
	}
	if body.LegalHeader == "" {
		body.LegalHeader = "Test blob built by Keyward's mdstest package; not from the FIDO Alliance."
	}
	for _, e := range payload.Entries {
		entry, err := entryJSON(e)
		if err != nil {
			return nil, err
		}
		body.Entries = append(body.Entries, entry)
	}
	return json.Marshal(body)
}

// SignPayloadText signs payload, the JWT's payload segment exactly as given
// (normally base64url of the payload JSON, but any text), with the header
// Sign writes, so that tests can hand a verified signature over a payload
// that is not a valid MDS3 payload.
func (p *PKI) SignPayloadText(payload string) ([]byte, error) {
	hdr, err := json.Marshal(map[string]any{"alg": p.method.Alg(), "typ": "JWT", "x5c": []string{
		base64.StdEncoding.EncodeToString(p.Signer.Raw),
		base64.StdEncoding.EncodeToString(p.Intermediate.Raw),
	}})
	if err != nil {
		return nil, err
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + payload
	sig, err := p.method.Sign(input, p.SignerKey)
	if err != nil {
		return nil, fmt.Errorf("signing the blob: %w", err)
	}
	return []byte(input + "." + base64.RawURLEncoding.EncodeToString(sig)), nil
}

func entryJSON(e EntryOptions) (metadata.EntryJSON, error) {
	roots := make([]string, 0, len(e.AttestationRootPEMs))
	for _, p := range e.AttestationRootPEMs {
		block, _ := pem.Decode([]byte(p))
		if block == nil {
			return metadata.EntryJSON{}, fmt.Errorf("entry %s: attestation root is not PEM", e.AAGUID)
		}
		roots = append(roots, base64.StdEncoding.EncodeToString(block.Bytes))
	}
	var reports []metadata.StatusReportJSON
	for _, s := range e.Statuses {
		reports = append(reports, metadata.StatusReportJSON{Status: metadata.AuthenticatorStatus(s)})
	}
	reports = append(reports, e.StatusReports...)
	family := "fido2"
	if len(e.KeyIdentifiers) > 0 {
		family = "u2f"
	}
	types := []metadata.AuthenticatorAttestationType{metadata.BasicFull}
	if len(e.AttestationTypes) > 0 {
		types = types[:0]
		for _, t := range e.AttestationTypes {
			types = append(types, metadata.AuthenticatorAttestationType(t))
		}
	}
	return metadata.EntryJSON{
		AaGUID:                               e.AAGUID,
		AttestationCertificateKeyIdentifiers: e.KeyIdentifiers,
		MetadataStatement: metadata.StatementJSON{
			AaGUID:                               e.AAGUID,
			AttestationCertificateKeyIdentifiers: e.KeyIdentifiers,
			Description:                          e.Description,
			AuthenticatorVersion:                 1,
			ProtocolFamily:                       family,
			Schema:                               3,
			Upv:                                  []metadata.Version{{Major: 1, Minor: 1}},
			AttestationTypes:                     types,
			AttestationRootCertificates:          roots,
			Icon:                                 e.Icon,
		},
		StatusReports:          reports,
		TimeOfLastStatusChange: "2024-01-01",
	}, nil
}

// AttestationCA is an authenticator vendor's attestation CA: a self-signed
// root (NewAttestationCA) or an intermediate below one (NewIntermediate).
type AttestationCA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewAttestationCA creates a self-signed attestation root named name.
func NewAttestationCA(name string) (*AttestationCA, error) {
	key, err := newECKey()
	if err != nil {
		return nil, err
	}
	tmpl := caTemplate(name, time.Now().Add(-365*24*time.Hour), time.Now().Add(20*365*24*time.Hour))
	cert, err := issue(tmpl, tmpl, key, key)
	if err != nil {
		return nil, err
	}
	return &AttestationCA{Cert: cert, Key: key}, nil
}

// NewIntermediate creates a CA certified by ca, for chains of three.
func (ca *AttestationCA) NewIntermediate(name string) (*AttestationCA, error) {
	key, err := newECKey()
	if err != nil {
		return nil, err
	}
	tmpl := caTemplate(name, time.Now().Add(-365*24*time.Hour), time.Now().Add(15*365*24*time.Hour))
	cert, err := issue(tmpl, ca.Cert, key, ca.Key)
	if err != nil {
		return nil, err
	}
	return &AttestationCA{Cert: cert, Key: key}, nil
}

// CertPEM is the CA certificate in PEM form, for EntryOptions.AttestationRootPEMs.
func (ca *AttestationCA) CertPEM() string { return CertPEM(ca.Cert) }

// OIDFIDOGenCeAAGUID is the extension that names the AAGUID in a packed attestation certificate.
var OIDFIDOGenCeAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// Issue creates an attestation certificate for aaguid (with the
// id-fido-gen-ce-aaguid extension, as packed attestation requires; none when
// aaguid is "") and its private key. It is valid from an hour ago for ten years.
func (ca *AttestationCA) Issue(aaguid string, extra ...pkix.Extension) (*x509.Certificate, crypto.Signer, error) {
	key, err := newECKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := leafTemplate("Keyward Test Authenticator", time.Now().Add(-time.Hour), time.Now().Add(10*365*24*time.Hour))
	tmpl.Subject.OrganizationalUnit = []string{"Authenticator Attestation"}
	tmpl.Subject.Country = []string{"SE"}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, extra...)
	if aaguid != "" {
		ext, err := aaguidExtension(aaguid)
		if err != nil {
			return nil, nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	cert, err := issue(tmpl, ca.Cert, key, ca.Key)
	return cert, key, err
}

func aaguidExtension(aaguid string) (pkix.Extension, error) {
	u, err := uuid.Parse(aaguid)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("AAGUID %q: %w", aaguid, err)
	}
	val, err := asn1.Marshal(u[:])
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDFIDOGenCeAAGUID, Value: val}, nil
}

// CertPEM encodes a certificate as PEM.
func CertPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func newECKey() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

func caTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"Keyward Test"}},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
}

func leafTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"Keyward Test"}},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
	}
}

func issue(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
