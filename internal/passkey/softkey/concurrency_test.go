package softkey_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

func TestCredPropsReportedWhenRequested(t *testing.T) {
	u := newUser()
	opts := append(keywardRegistration(u), webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	_, parsed, err := register(t, newRP(t), u, a, origin, opts...)
	if err != nil {
		t.Fatalf("registration: %v%s", err, devInfo(err))
	}
	raw, _ := json.Marshal(parsed.ClientExtensionResults)
	if !bytes.Contains(raw, []byte(`"rk":true`)) {
		t.Errorf("client extension results = %s, want credProps rk true", raw)
	}
}

// TestConcurrentAssertionsCountEveryUse runs sign-ins in parallel (as the
// benchmarks do) and expects every one to be counted once.
func TestConcurrentAssertionsCountEveryUse(t *testing.T) {
	rp, u := newRP(t), newUser()
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	mustRegister(t, rp, u, a)
	assertion, _, err := rp.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	options, _ := json.Marshal(assertion)

	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := a.Assert(options, origin); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := a.Credentials()[0].SignCount; got != workers*each {
		t.Errorf("sign count %d, want %d", got, workers*each)
	}
}

// BenchmarkAssert measures the software authenticator alone, so that a
// sign-in benchmark can subtract the client's share.
func BenchmarkAssert(b *testing.B) {
	rp, u := newRP(b), newUser()
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	mustRegister(b, rp, u, a)
	assertion, _, err := rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		b.Fatal(err)
	}
	options, _ := json.Marshal(assertion)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Assert(options, origin); err != nil {
			b.Fatal(err)
		}
	}
}
