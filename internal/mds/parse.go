package mds

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/x/revoke"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Options control how a blob is verified.
type Options struct {
	// Roots are the trusted MDS roots, base64 DER (like
	// metadata.ProductionMDSRoot) or PEM. Empty means the production root.
	Roots []string
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
	// SkipRevocationCheck skips fetching CRLs. Service sets it when it
	// re-reads a blob it verified at import, so that a node loading the
	// shared blob never waits on the network in a user's request.
	SkipRevocationCheck bool
	// Background makes the parse give way to the process's other work
	// (pacer): it yields between pieces of work well under a millisecond
	// each and pauses for backgroundRest after each backgroundSlice, from
	// the scans of the token through the signature's hash to the last
	// entry. Service sets it when it reads a blob no request waits for, so
	// that on a machine with few cores sign-ins keep their CPU during a
	// refresh (issue 11); the parse takes about sixteen times as long.
	Background bool
}

// The background parse's rhythm: a sixteenth of a core at most. A quarter
// (a 3 ms rest) still lifted the p99 of sign-ins during a refresh to 1.5–2.1
// times the p99 without at concurrency 2 on a 2-core machine; a separate
// process burning a quarter of a core does the same, a twentieth does not
// (docs/performance.md). Nothing waits for the background parse, so it may
// take seconds.
const (
	backgroundSlice = time.Millisecond
	backgroundRest  = 15 * time.Millisecond
)

// pacer gives way to other work during a background parse
// (Options.Background). Parse calls step between its pieces of work, each
// well under a millisecond of CPU: a few scans of the token, each slice of
// the signature's hash, each entry read and filed. At every step a
// goroutine waiting for a processor gets it first (runtime.Gosched), so a
// sign-in waits at most one piece for the parse, not the runtime's 10 ms
// preemption; and after each backgroundSlice the parse sleeps
// backgroundRest, which keeps its share of a core at a sixteenth.
type pacer struct {
	on    bool
	since time.Time
}

func (p *pacer) step() {
	if !p.on {
		return
	}
	if time.Since(p.since) < backgroundSlice {
		runtime.Gosched()
		return
	}
	time.Sleep(backgroundRest)
	p.since = time.Now()
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// rootCerts decodes the configured roots.
func (o Options) rootCerts() ([]*x509.Certificate, error) {
	in := o.Roots
	if len(in) == 0 {
		in = []string{metadata.ProductionMDSRoot}
	}
	var out []*x509.Certificate
	for i, s := range in {
		certs, err := decodeCerts(s)
		if err != nil {
			return nil, fmt.Errorf("MDS root %d: %w", i+1, err)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// PEMCertificates reads every CERTIFICATE block of PEM data (other blocks
// are skipped); a block that is not a certificate is named by its number.
func PEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be read: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
}

// decodeCerts reads one or more PEM certificates, or one base64 DER certificate.
func decodeCerts(s string) ([]*x509.Certificate, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		out, err := PEMCertificates([]byte(s))
		if err == nil && len(out) == 0 {
			err = errors.New("the PEM text holds no CERTIFICATE block")
		}
		return out, err
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not PEM and not base64 DER: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate: %w", err)
	}
	return []*x509.Certificate{c}, nil
}

// Parse verifies an MDS3 blob and reads its entries, following FIDO MDS 3.0
// §3.2 (Metadata BLOB object processing rules): the signing chain comes from
// the JWT header's x5c (without x5c, the trust anchor itself is the signer),
// must chain to the trusted root and not be revoked, and the signature must
// verify. That a blob is newer than the stored one is checked when it is
// stored (Service.store).
//
// A blob is refused when it is not a JWT, its signing chain does not lead to
// one of the trusted roots, a chain certificate is revoked, its signature
// does not verify, or its payload is not an MDS3 payload in JSON. Two
// problems only produce Warnings, because an offline installation must keep
// working with a good blob and an operator must see why: a chain certificate
// outside its validity period (the chain must still verify at some moment
// when all its certificates were valid), and a CRL that cannot be fetched.
//
// The chain is checked with crypto/x509 at opts.Now and the CRLs with
// go-webauthn/x/revoke (go-webauthn's Decoder.DecodeBytes, which does both,
// uses the wall clock, reports an expired intermediate as "revoked" and
// passes silently when a CRL is unreachable). The signature is verified as
// golang-jwt's signing method for the header's alg verifies it, with the key
// of the chain checked, the signing input hashed in place (verifySignature);
// only then is the payload read, as a stream (readPayload),
// each entry converted by go-webauthn's EntryJSON.Parse. Entries that cannot
// be read are skipped with a warning.
func Parse(raw []byte, opts Options) (*Blob, error) {
	// The token is read in place, not copied (6 MB of garbage a refresh):
	// raw is not changed while Parse runs, and nothing Parse returns
	// refers to it (the entries are decoded from the payload into memory of
	// their own).
	pace := &pacer{on: opts.Background, since: time.Now()}
	trimmed := bytes.TrimSpace(raw)
	token := unsafe.String(unsafe.SliceData(trimmed), len(trimmed))
	jws, err := splitJWS(token)
	if err != nil {
		return nil, err
	}
	pace.step() // after two scans of the token for its dots
	hdr, err := readHeader(jws.header)
	if err != nil {
		return nil, err
	}
	roots, err := opts.rootCerts()
	if err != nil {
		return nil, err
	}
	now := opts.now()
	ch, err := verifyChain(jws, hdr, roots, now, pace)
	if err != nil {
		return nil, err
	}
	if !opts.SkipRevocationCheck {
		w, err := checkRevocation(hdr.x5c, now)
		if err != nil {
			return nil, err
		}
		ch.warnings = append(ch.warnings, w...)
	}
	pace.step()
	if err := verifySignature(jws, hdr.alg, ch.signer, pace); err != nil {
		return nil, err
	}
	payload := jws.payloadReader()
	pace.step() // after two scans of the payload for line breaks
	return readBlob(payload, ch, pace)
}

// jws is a JWS in compact serialization: header.payload.signature, each
// base64url.
type jws struct {
	token                      string
	header, payload, signature string
}

func splitJWS(token string) (jws, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return jws{}, fmt.Errorf("the MDS blob is not a JWT: expected three base64url parts separated by dots, found %d", len(parts))
	}
	return jws{token: token, header: parts[0], payload: parts[1], signature: parts[2]}, nil
}

// signingInput is what the signature covers: header.payload, as sent.
func (j jws) signingInput() string { return j.token[:len(j.header)+1+len(j.payload)] }

// payloadReader decodes the payload's base64url as it is read.
func (j jws) payloadReader() io.Reader {
	if strings.IndexByte(j.payload, '\n') >= 0 || strings.IndexByte(j.payload, '\r') >= 0 {
		// base64.NewDecoder leaves out line breaks, as base64's Decode
		// does; blocks of the text cut at fixed places would not line up.
		return &base64Reader{r: base64.NewDecoder(base64.RawURLEncoding, strings.NewReader(j.payload))}
	}
	return &base64Reader{r: &base64Blocks{text: j.payload}}
}

// base64Blocks decodes base64url text without line breaks straight into the
// reader's buffer, whole blocks of 4 characters at a time. base64.NewDecoder
// copies the text into a buffer of its own and looks through it for line
// breaks before it decodes: a sixth of a 6 MB blob's parse (issue 11).
type base64Blocks struct {
	text    string // what is left to decode
	pending []byte // decoded, not yet read (a Read of fewer than 3 bytes)
	done    int    // characters decoded, for the offset of an error
	small   [3]byte
}

func (b *base64Blocks) Read(p []byte) (int, error) {
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	if len(b.text) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	chars := min(len(b.text), max(len(p)/3, 1)*4)
	src := b.text[:chars]
	dst := p
	if base64.RawURLEncoding.DecodedLen(chars) > len(p) {
		dst = b.small[:]
	}
	// The text is only read: Decode does not write to src.
	n, err := base64.RawURLEncoding.Decode(dst, unsafe.Slice(unsafe.StringData(src), len(src)))
	if e, ok := errors.AsType[base64.CorruptInputError](err); ok {
		return 0, base64.CorruptInputError(int64(b.done) + int64(e))
	}
	if err != nil {
		return 0, err
	}
	b.text, b.done = b.text[chars:], b.done+chars
	if &dst[0] != &p[0] {
		c := copy(p, dst[:n])
		b.pending = dst[c:n]
		return c, nil
	}
	return n, nil
}

// base64Reader says that a decoding error is the payload's base64url.
type base64Reader struct{ r io.Reader }

func (b *base64Reader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if _, ok := errors.AsType[base64.CorruptInputError](err); ok {
		err = fmt.Errorf("the MDS blob's payload is not base64url: %w", err)
	}
	return n, err
}

// header is what Parse reads of the JWT header.
type header struct {
	alg string
	x5c []*x509.Certificate // nil when absent
}

// readHeader reads the JWT header: its alg and x5c certificates.
func readHeader(seg string) (header, error) {
	hb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return header{}, fmt.Errorf("the MDS blob is not a JWT: its header is not base64url: %w", err)
	}
	var hdr struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
		X5U *string  `json:"x5u"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return header{}, fmt.Errorf("the MDS blob is not a JWT: its header is not a JSON object with an x5c list of strings: %w", err)
	}
	if hdr.X5U != nil {
		return header{}, errors.New("the MDS blob's header names its chain by URL (x5u), which MDS3 blobs do not do; refusing to fetch it")
	}
	if !slices.Contains(signingMethods, hdr.Alg) {
		return header{}, fmt.Errorf("the MDS blob's header names the signing algorithm %q; MDS3 blobs are signed with one of %s",
			hdr.Alg, strings.Join(signingMethods, ", "))
	}
	out := header{alg: hdr.Alg}
	for i, s := range hdr.X5C {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return header{}, fmt.Errorf("the MDS blob's x5c certificate %d is not base64: %w", i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return header{}, fmt.Errorf("the MDS blob's x5c certificate %d cannot be read: %w", i, err)
		}
		out.x5c = append(out.x5c, c)
	}
	return out, nil
}

// chain is a signing chain that leads to a trusted root.
type chain struct {
	root, signer *x509.Certificate
	warnings     []string
}

// verifyChain finds the trusted root x5c leads to. Without x5c the root
// itself must be the signer (FIDO MDS 3.0 §3.2: the trust anchor is then the
// signing certificate chain), so its key must verify token.
func verifyChain(j jws, hdr header, roots []*x509.Certificate, now time.Time, pace *pacer) (chain, error) {
	x5c := hdr.x5c
	if len(x5c) == 0 {
		for _, r := range roots {
			if err := verifySignature(j, hdr.alg, r, pace); err == nil {
				return chain{root: r, signer: r, warnings: validityWarnings([]*x509.Certificate{r}, now)}, nil
			}
		}
		return chain{}, errors.New("the MDS blob has no x5c certificate chain and is not signed by a trusted MDS root's own key")
	}
	leaf := x5c[0]
	inter := x509.NewCertPool()
	for _, c := range x5c[1:] {
		inter.AddCert(c)
	}
	var firstErr error
	for _, r := range roots {
		rp := x509.NewCertPool()
		rp.AddCert(r)
		opts := x509.VerifyOptions{Roots: rp, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		_, err := leaf.Verify(opts)
		if err == nil {
			return chain{root: r, signer: leaf}, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		// Was time the only problem? Verify again at the last moment when
		// every certificate involved was valid, if there is one.
		all := append(append([]*x509.Certificate{}, x5c...), r)
		if at, ok := commonValidity(all); ok {
			opts.CurrentTime = at
			if _, err := leaf.Verify(opts); err == nil {
				return chain{root: r, signer: leaf, warnings: validityWarnings(all, now)}, nil
			}
		}
	}
	return chain{}, fmt.Errorf("the MDS blob's signing certificate %q does not chain to the trusted MDS root (%s): %w",
		leaf.Subject.String(), subjects(roots), firstErr)
}

// commonValidity returns the end of the period in which all certs are valid.
func commonValidity(certs []*x509.Certificate) (time.Time, bool) {
	lo, hi := certs[0].NotBefore, certs[0].NotAfter
	for _, c := range certs[1:] {
		if c.NotBefore.After(lo) {
			lo = c.NotBefore
		}
		if c.NotAfter.Before(hi) {
			hi = c.NotAfter
		}
	}
	return hi, !lo.After(hi)
}

func validityWarnings(certs []*x509.Certificate, now time.Time) []string {
	var w []string
	for _, c := range certs {
		switch {
		case now.After(c.NotAfter):
			w = append(w, fmt.Sprintf("the MDS signing chain certificate %q expired on %s; the blob is used because its signature chains to the trusted root, but get a current blob",
				c.Subject.String(), c.NotAfter.UTC().Format(time.DateOnly)))
		case now.Before(c.NotBefore):
			w = append(w, fmt.Sprintf("the MDS signing chain certificate %q is not valid until %s; check this machine's clock",
				c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339)))
		}
	}
	if len(w) == 0 {
		w = append(w, "the MDS signing chain verifies only at an earlier time; get a current blob")
	}
	return w
}

// checkRevocation fetches the CRLs of the signing chain (not the root). A
// revoked certificate refuses the blob; a CRL that cannot be fetched is a
// warning. The revoke package uses the wall clock and its own HTTP client.
func checkRevocation(x5c []*x509.Certificate, now time.Time) ([]string, error) {
	var warnings []string
	for _, c := range x5c {
		if len(c.CRLDistributionPoints) == 0 && len(c.OCSPServer) == 0 {
			continue
		}
		if now.After(c.NotAfter) || now.Before(c.NotBefore) {
			continue // already a validity warning; its CRL may no longer list it
		}
		revoked, ok, err := revoke.VerifyCertificateError(c)
		switch {
		case revoked && ok && err == nil:
			return nil, fmt.Errorf("the MDS signing chain certificate %q is revoked by its issuer (CRL %s); the blob is refused",
				c.Subject.String(), strings.Join(c.CRLDistributionPoints, ", "))
		case !ok || err != nil:
			why := "no answer"
			if err != nil {
				why = err.Error()
			}
			warnings = append(warnings, fmt.Sprintf("could not check whether the MDS signing chain certificate %q is revoked (%s); the blob is used because its signature chains to the trusted root",
				c.Subject.String(), strings.TrimSpace(why)))
		}
	}
	return warnings, nil
}

var signingMethods = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// hashSlice is how much of the signing input verifySignature hashes between
// two of the pacer's steps: 64 KiB, tens of microseconds of SHA-256.
const hashSlice = 64 << 10

// verifySignature checks the JWS signature with signer's key by the signing
// method golang-jwt has for alg (one of signingMethods). It does not read
// the payload.
//
// For golang-jwt's ECDSA, RSA and RSA-PSS methods the hash and what is
// checked against it are taken from the method (its Hash, KeySize and PSS
// options) and done as its Verify does them, except that the signing input
// is hashed where it lies, in slices of hashSlice with a pacer step after
// each: Verify takes the input as a string and copies it into a []byte before
// hashing it (5.9 MB of garbage for the production blob) and hashes it in one
// uninterrupted run of a few milliseconds (issue 11). FuzzVerifySignature
// holds the outcome to golang-jwt's Verify. Any other method is left to its
// own Verify.
func verifySignature(j jws, alg string, signer *x509.Certificate, pace *pacer) error {
	fail := func(err error) error {
		return fmt.Errorf("the MDS blob's signature does not verify with its signing certificate %q: %w", signer.Subject.String(), err)
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil || !slices.Contains(signingMethods, alg) {
		return fail(fmt.Errorf("unknown signing algorithm %q", alg))
	}
	sig, err := jwt.NewParser().DecodeSegment(j.signature)
	if err != nil {
		return fail(fmt.Errorf("the signature is not base64url: %w", err))
	}
	check, hash, err := digestVerifier(method, sig, signer.PublicKey)
	if err != nil {
		return fail(err)
	}
	if check == nil {
		err = method.Verify(j.signingInput(), sig, signer.PublicKey)
	} else {
		err = check(hashPaced(hash, j.signingInput(), pace))
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// digestVerifier returns what golang-jwt's method does with the signing
// input's hash, for the methods whose Verify is known (ECDSA, RSA, RSA-PSS),
// and which hash to take; nil for any other method. The checks that come
// before the hash in those Verify methods (the key's type, an ECDSA
// signature's length, the hash's availability) are made here, with the same
// errors.
func digestVerifier(method jwt.SigningMethod, sig []byte, key any) (func(digest []byte) error, crypto.Hash, error) {
	switch m := method.(type) {
	case *jwt.SigningMethodECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return nil, 0, fmt.Errorf("ECDSA verify expects *ecdsa.PublicKey: %w", jwt.ErrInvalidKeyType)
		}
		if len(sig) != 2*m.KeySize {
			return nil, 0, jwt.ErrECDSAVerification
		}
		r := new(big.Int).SetBytes(sig[:m.KeySize])
		s := new(big.Int).SetBytes(sig[m.KeySize:])
		if !m.Hash.Available() {
			return nil, 0, jwt.ErrHashUnavailable
		}
		return func(digest []byte) error {
			if ecdsa.Verify(k, digest, r, s) {
				return nil
			}
			return jwt.ErrECDSAVerification
		}, m.Hash, nil
	case *jwt.SigningMethodRSAPSS:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, 0, fmt.Errorf("RSA-PSS verify expects *rsa.PublicKey: %w", jwt.ErrInvalidKeyType)
		}
		if !m.Hash.Available() {
			return nil, 0, jwt.ErrHashUnavailable
		}
		opts := m.Options
		if m.VerifyOptions != nil {
			opts = m.VerifyOptions
		}
		return func(digest []byte) error { return rsa.VerifyPSS(k, m.Hash, digest, sig, opts) }, m.Hash, nil
	case *jwt.SigningMethodRSA:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, 0, fmt.Errorf("RSA verify expects *rsa.PublicKey: %w", jwt.ErrInvalidKeyType)
		}
		if !m.Hash.Available() {
			return nil, 0, jwt.ErrHashUnavailable
		}
		return func(digest []byte) error { return rsa.VerifyPKCS1v15(k, m.Hash, digest, sig) }, m.Hash, nil
	}
	return nil, 0, nil
}

// hashPaced returns the hash of input, taken in slices of hashSlice with a
// pacer step after each. The hash reads the input's bytes where they lie: a
// hash.Hash, as an io.Writer, neither changes nor keeps what it is given.
func hashPaced(hash crypto.Hash, input string, pace *pacer) []byte {
	h := hash.New()
	for len(input) > 0 {
		n := min(len(input), hashSlice)
		h.Write(unsafe.Slice(unsafe.StringData(input), n))
		input = input[n:]
		pace.step()
	}
	return h.Sum(nil)
}

func subjects(certs []*x509.Certificate) string {
	s := make([]string, len(certs))
	for i, c := range certs {
		s[i] = fmt.Sprintf("%q", c.Subject.String())
	}
	return strings.Join(s, ", ")
}

// readBlob reads a verified blob's payload into a Blob, one entry at a time.
func readBlob(payload io.Reader, ch chain, pace *pacer) (*Blob, error) {
	b := &Blob{
		Warnings: ch.warnings,
		Signer:   ch.signer.Subject.String(),
		byAAGUID: make(map[string]*Entry, 512),
		byKeyID:  make(map[string]*Entry),
	}
	var unparsed []error
	var roots rootSets
	head, err := readPayload(payload, func(_ int, ej *metadata.EntryJSON, decodeErr error) error {
		pace.step()
		if decodeErr != nil {
			unparsed = append(unparsed, decodeErr)
			return nil
		}
		m, err := ej.Parse()
		if err != nil {
			unparsed = append(unparsed, err)
			return nil
		}
		b.Entries++
		b.add(m, &roots)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the MDS blob: %w", err)
	}
	// go-webauthn's conversion of the payload's own fields (no entries).
	parsed, err := metadata.PayloadJSON{LegalHeader: head.LegalHeader, Number: head.Number, NextUpdate: head.NextUpdate}.Parse()
	if err != nil {
		return nil, fmt.Errorf("reading the MDS blob: %w", err)
	}
	b.Number, b.NextUpdate, b.LegalHeader = parsed.Number, parsed.NextUpdate, parsed.LegalHeader
	if len(unparsed) > 0 {
		b.Warnings = append(b.Warnings, unparsedWarning(unparsed))
	}
	return b, nil
}

// add files one entry read by go-webauthn under its AAGUID, or under its
// attestation key identifiers (U2F), its roots shared with the entries filed
// before it through roots.
func (b *Blob) add(m metadata.Entry, roots *rootSets) {
	if m.AaGUID == uuid.Nil {
		// U2F entries are keyed by attestation certificate key
		// identifier; UAF entries (by AAID) are not for WebAuthn.
		if len(m.AttestationCertificateKeyIdentifiers) > 0 {
			e := newEntry(m, roots)
			for _, id := range e.KeyIdentifiers {
				if _, dup := b.byKeyID[id]; dup {
					b.Warnings = append(b.Warnings, fmt.Sprintf("attestation key identifier %s appears in more than one entry; the first is used", id))
					continue
				}
				b.byKeyID[id] = e
			}
		}
		return
	}
	if _, dup := b.byAAGUID[m.AaGUID.String()]; dup {
		b.Warnings = append(b.Warnings, fmt.Sprintf("AAGUID %s appears in more than one entry; the first is used", m.AaGUID))
		return
	}
	b.byAAGUID[m.AaGUID.String()] = newEntry(m, roots)
}

func unparsedWarning(bad []error) string {
	const show = 3
	var parts []string
	for i, e := range bad {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(bad)-show))
			break
		}
		parts = append(parts, e.Error())
	}
	return fmt.Sprintf("%d entries could not be read and are ignored: %s", len(bad), strings.Join(parts, "; "))
}
