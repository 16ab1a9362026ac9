package mds

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"

	"github.com/keyward/keyward/internal/mds/mdstest"
)

const (
	aaguidYubi  = "ee882879-721c-4913-9775-3dfcce97072a"
	aaguidOther = "11111111-2222-4333-8444-555555555555"
	aaguidBad   = "22222222-2222-4333-8444-555555555555"
)

func newPKI(t testing.TB, opts ...mdstest.PKIOption) *mdstest.PKI {
	t.Helper()
	p, err := mdstest.NewPKI(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sign(t testing.TB, p *mdstest.PKI, payload mdstest.Payload) []byte {
	t.Helper()
	raw, err := p.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newCA(t testing.TB, name string) *mdstest.AttestationCA {
	t.Helper()
	ca, err := mdstest.NewAttestationCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// nextMonth is a nextUpdate date a month ahead, at midnight UTC as MDS writes it.
func nextMonth() time.Time {
	return time.Now().UTC().AddDate(0, 1, 0).Truncate(24 * time.Hour)
}

// simplePayload has one good entry (YubiKey) and one revoked (Other).
func simplePayload(number int, ca *mdstest.AttestationCA) mdstest.Payload {
	return mdstest.Payload{Number: number, NextUpdate: nextMonth(), Entries: []mdstest.EntryOptions{
		{AAGUID: aaguidYubi, Description: "YubiKey 5 NFC", Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{ca.CertPEM()}},
		{AAGUID: aaguidBad, Description: "Leaky Key", Statuses: []string{"FIDO_CERTIFIED", "REVOKED"}, AttestationRootPEMs: []string{ca.CertPEM()}},
	}}
}

func TestParseGoodBlob(t *testing.T) {
	pki := newPKI(t)
	ca := newCA(t, "Yubico Test Root")
	want := simplePayload(42, ca)
	b, err := Parse(sign(t, pki, want), Options{Roots: []string{pki.RootPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 42 || !b.NextUpdate.Equal(want.NextUpdate) || b.Entries != 2 || len(b.Warnings) != 0 {
		t.Errorf("blob %+v", b)
	}
	if !strings.Contains(b.Signer, "mds.keyward.test") || !strings.Contains(b.LegalHeader, "mdstest") {
		t.Errorf("signer %q legal header %q", b.Signer, b.LegalHeader)
	}
	e, ok := b.Lookup("{" + strings.ToUpper(aaguidYubi) + "}")
	if !ok {
		t.Fatalf("YubiKey entry not found; have %v", b.AAGUIDs())
	}
	if e.AAGUID != aaguidYubi || e.Description != "YubiKey 5 NFC" || len(e.Statuses) != 1 || e.Statuses[0].Status != "FIDO_CERTIFIED_L1" {
		t.Errorf("entry %+v", e)
	}
	if len(e.AttestationRoots) != 1 || !e.AttestationRoots[0].Equal(ca.Cert) {
		t.Errorf("attestation roots %v", e.AttestationRoots)
	}
	if got := b.AAGUIDs(); len(got) != 2 || got[0] != aaguidBad || got[1] != aaguidYubi {
		t.Errorf("AAGUIDs %v", got)
	}
	if _, ok := b.Lookup(aaguidOther); ok {
		t.Error("found an AAGUID that is not in the blob")
	}
}

func TestParseAcceptsRootForms(t *testing.T) {
	pki := newPKI(t)
	other := newPKI(t)
	raw := sign(t, pki, simplePayload(1, newCA(t, "CA")))
	tests := map[string][]string{
		"pem_root":                        {pki.RootPEM()},
		"base64_der_root":                 {pki.RootBase64()},
		"base64_with_surrounding_space":   {"\n " + pki.RootBase64() + "\n"},
		"second_of_several_roots_matches": {other.RootPEM(), pki.RootBase64()},
		"pem_bundle_with_several_certs":   {other.RootPEM() + pki.RootPEM()},
	}
	for name, roots := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(raw, Options{Roots: roots}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseAcceptsRS256Blob(t *testing.T) {
	pki := newPKI(t, mdstest.WithRSA())
	raw := sign(t, pki, simplePayload(1, newCA(t, "CA")))
	if !strings.Contains(string(raw[:60]), "eyJhbGciOiJSUzI1NiIs") {
		t.Fatalf("not an RS256 header: %.60s", raw)
	}
	if _, err := Parse(raw, Options{Roots: []string{pki.RootPEM()}}); err != nil {
		t.Error(err)
	}
}

// tamper changes one part of a JWT.
func tamper(raw []byte, part int, fn func(string) string) []byte {
	parts := strings.Split(string(raw), ".")
	parts[part] = fn(parts[part])
	return []byte(strings.Join(parts, "."))
}

func reencode(seg string, fn func(string) string) string {
	b, _ := base64.RawURLEncoding.DecodeString(seg)
	return base64.RawURLEncoding.EncodeToString([]byte(fn(string(b))))
}

func TestParseRefuses(t *testing.T) {
	pki := newPKI(t)
	other := newPKI(t)
	good := sign(t, pki, simplePayload(7, newCA(t, "CA")))
	roots := []string{pki.RootPEM()}
	tests := []struct {
		name  string
		raw   []byte
		roots []string
		want  string
	}{
		{"wrong_root", good, []string{other.RootPEM()}, "does not chain to the trusted MDS root"},
		{"production_root_refuses_test_blob", good, nil, "does not chain to the trusted MDS root"},
		{"tampered_payload", tamper(good, 1, func(s string) string {
			return reencode(s, func(p string) string { return strings.Replace(p, `"no":7`, `"no":8`, 1) })
		}), roots, "does not verify"},
		{"tampered_signature", tamper(good, 2, func(s string) string {
			// Another first character, always: a signature that begins with
			// "A" would otherwise come through unchanged (1 run in 64).
			if s[0] == 'A' {
				return "B" + s[1:]
			}
			return "A" + s[1:]
		}), roots, "does not verify"},
		{"signed_by_another_key_with_this_chain", tamper(good, 2, func(string) string {
			return strings.Split(string(sign(t, other, simplePayload(7, newCA(t, "CA")))), ".")[2]
		}), roots, "does not verify"},
		{"empty_input", nil, roots, "not a JWT"},
		{"not_a_jwt", []byte("hello world"), roots, "not a JWT: expected three base64url parts"},
		{"header_not_base64url", tamper(good, 0, func(string) string { return "!!!" }), roots, "header is not base64url"},
		{"header_not_json", tamper(good, 0, func(string) string { return base64.RawURLEncoding.EncodeToString([]byte("nope")) }), roots, "header is not a JSON object"},
		{"x5u_header", tamper(good, 0, func(s string) string {
			return reencode(s, func(h string) string { return strings.Replace(h, "{", `{"x5u":"https://evil.test/chain",`, 1) })
		}), roots, "x5u"},
		{"x5c_not_base64", tamper(good, 0, func(s string) string {
			return reencode(s, func(h string) string { return strings.Replace(h, `"x5c":["`, `"x5c":["%%`, 1) })
		}), roots, "x5c certificate 0 is not base64"},
		{"x5c_not_a_certificate", tamper(good, 0, func(s string) string {
			return reencode(s, func(h string) string { return strings.Replace(h, `"x5c":["`, `"x5c":["AAAA`, 1) })
		}), roots, "x5c certificate 0 cannot be read"},
		{"no_x5c_and_not_signed_by_root", tamper(good, 0, func(s string) string {
			return reencode(s, func(string) string { return `{"alg":"ES256","typ":"JWT"}` })
		}), roots, "no x5c certificate chain"},
		{"root_option_not_a_certificate", good, []string{"not base64!"}, "MDS root 1: not PEM and not base64 DER"},
		{"root_option_pem_without_certificate", good, []string{"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "holds no CERTIFICATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(tt.raw, Options{Roots: tt.roots})
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestParseAcceptsWithWarnings(t *testing.T) {
	unreachable := "http://127.0.0.1:1/mds.crl" // nothing listens on port 1
	tests := []struct {
		name    string
		opts    []mdstest.PKIOption
		now     time.Time
		skipRev bool
		want    []string // one warning containing each
	}{
		{"expired_intermediate", []mdstest.PKIOption{mdstest.WithExpiredIntermediate()}, time.Time{}, false,
			[]string{`"CN=Keyward Test MDS Intermediate,O=Keyward Test" expired on`}},
		{"unreachable_crl", []mdstest.PKIOption{mdstest.WithCRL(unreachable)}, time.Time{}, false,
			[]string{`could not check whether the MDS signing chain certificate "CN=mds.keyward.test,O=Keyward Test" is revoked`,
				`"CN=Keyward Test MDS Intermediate,O=Keyward Test" is revoked (`}},
		{"signer_expired_by_the_clock", nil, time.Now().AddDate(2, 0, 0), false,
			[]string{`"CN=mds.keyward.test,O=Keyward Test" expired on`}},
		{"clock_before_the_chain", nil, time.Now().AddDate(-5, 0, 0), false,
			[]string{`"CN=mds.keyward.test,O=Keyward Test" is not valid until`, `"CN=Keyward Test MDS Intermediate,O=Keyward Test" is not valid until`,
				`"CN=Keyward Test MDS Root,O=Keyward Test" is not valid until`}},
		{"skipped_revocation_gives_no_crl_warning", []mdstest.PKIOption{mdstest.WithCRL(unreachable)}, time.Time{}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki := newPKI(t, tt.opts...)
			opts := Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: tt.skipRev}
			if !tt.now.IsZero() {
				opts.Now = func() time.Time { return tt.now }
			}
			b, err := Parse(sign(t, pki, simplePayload(3, newCA(t, "CA"))), opts)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if b.Number != 3 || b.Entries != 2 {
				t.Errorf("blob %+v", b)
			}
			if len(b.Warnings) != len(tt.want) {
				t.Errorf("warnings %q, want %d", b.Warnings, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.Join(b.Warnings, "\n"), w) {
					t.Errorf("no warning says %q: %q", w, b.Warnings)
				}
			}
		})
	}
}

// crlServer serves the CRL that crl() returns at the time of the request.
func crlServer(t *testing.T, crl func() []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(crl())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestParseChecksCRL(t *testing.T) {
	t.Run("reachable_crl_without_the_signer_gives_no_warning", func(t *testing.T) {
		var pki *mdstest.PKI
		srv := crlServer(t, func() []byte { crl, _ := pki.CRL(); return crl })
		pki = newPKI(t, mdstest.WithCRL(srv.URL+"/good.crl"))
		b, err := Parse(sign(t, pki, simplePayload(1, newCA(t, "CA"))), Options{Roots: []string{pki.RootPEM()}})
		if err != nil || len(b.Warnings) != 0 {
			t.Errorf("got %v, warnings %q", err, b.Warnings)
		}
	})
	t.Run("revoked_signer_is_refused", func(t *testing.T) {
		var pki *mdstest.PKI
		srv := crlServer(t, func() []byte { crl, _ := pki.CRL(pki.Signer); return crl })
		pki = newPKI(t, mdstest.WithCRL(srv.URL+"/revoked.crl"))
		_, err := Parse(sign(t, pki, simplePayload(1, newCA(t, "CA"))), Options{Roots: []string{pki.RootPEM()}})
		if err == nil || !strings.Contains(err.Error(), `"CN=mds.keyward.test,O=Keyward Test" is revoked by its issuer`) {
			t.Errorf("got %v", err)
		}
	})
}

func TestParseSkipsUnreadableEntriesWithWarning(t *testing.T) {
	pki := newPKI(t)
	p := simplePayload(5, newCA(t, "CA"))
	p.Entries = append(p.Entries, mdstest.EntryOptions{AAGUID: "not-a-uuid", Description: "Broken"})
	b, err := Parse(sign(t, pki, p), Options{Roots: []string{pki.RootPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Entries != 2 || len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "1 entries could not be read") {
		t.Errorf("entries %d warnings %q", b.Entries, b.Warnings)
	}
	if _, ok := b.Lookup(aaguidYubi); !ok {
		t.Error("good entry lost")
	}
}

// The go-webauthn decoder behaviours for which Parse checks the chain and the
// CRLs itself instead of through Decoder.DecodeBytes. If one of these tests
// fails after a library upgrade, revisit Parse's doc comment.
func TestLibraryDecoderBehaviour(t *testing.T) {
	decode := func(t *testing.T, pki *mdstest.PKI) error {
		dec, err := metadata.NewDecoder(metadata.WithRootCertificate(pki.RootBase64()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = dec.DecodeBytes(sign(t, pki, simplePayload(1, newCA(t, "CA"))))
		return err
	}
	t.Run("reports_an_expired_intermediate_as_revoked", func(t *testing.T) {
		err := decode(t, newPKI(t, mdstest.WithExpiredIntermediate()))
		if err == nil || !strings.Contains(err.Error(), "revocation") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("passes_silently_when_a_crl_is_unreachable", func(t *testing.T) {
		if err := decode(t, newPKI(t, mdstest.WithCRL("http://127.0.0.1:1/x.crl"))); err != nil {
			t.Errorf("got %v", err)
		}
	})
}

// A background parse pauses between entries and reads the same blob; a bad
// blob is refused the same way.
func TestParseInTheBackgroundReadsTheSameBlob(t *testing.T) {
	pki := newPKI(t)
	ca := newCA(t, "Vendor")
	p := mdstest.Payload{Number: 9, NextUpdate: nextMonth()}
	for i := range 300 {
		p.Entries = append(p.Entries, mdstest.EntryOptions{AAGUID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i+1),
			Description: fmt.Sprintf("Model %d", i+1), AttestationRootPEMs: []string{ca.CertPEM()}})
	}
	raw := sign(t, pki, p)
	fg, err := Parse(raw, Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	bg, err := Parse(raw, Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true, Background: true})
	if err != nil {
		t.Fatal(err)
	}
	if bg.Number != 9 || bg.Entries != 300 || !slices.Equal(bg.AAGUIDs(), fg.AAGUIDs()) {
		t.Fatalf("background parse: number %d, %d entries; foreground: %d entries", bg.Number, bg.Entries, fg.Entries)
	}
	if e, ok := bg.Lookup("0000012c-0000-4000-8000-000000000000"); !ok || e.Description != "Model 300" {
		t.Fatalf("entry 300 = %+v, %v", e, ok)
	}
	if _, err := Parse(raw[:len(raw)-4], Options{Roots: []string{pki.RootPEM()}, Background: true}); err == nil {
		t.Fatal("a background parse accepted a blob whose signature was cut")
	}
}
