package passkey_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/passkey/testvectors"
	"github.com/keyward/keyward/internal/policy"
)

// FuzzInspect feeds arbitrary registration responses through the whole
// offline judgement (JSON, base64url, client data, CBOR attestation object,
// x5c certificates, go-webauthn verification, policy). It must answer with a
// result or a 400 error, never panic. The HTTP endpoints share this parsing;
// internal/app's FuzzPasskeyEndpoints checks them end to end. (Each new
// interesting input is minimised for up to -fuzzminimizetime, 60 s by
// default, during which the exec counter stands still.)
func FuzzInspect(f *testing.F) {
	vectors, err := testvectors.LoadRegistrations()
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vectors {
		f.Add([]byte(v.Response), v.Challenge)
	}
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`), "AA")
	f.Fuzz(func(t *testing.T, body []byte, challenge string) {
		res, err := passkey.Inspect(passkey.InspectInput{
			Response: body, Challenge: challenge, Origin: "https://example.com", RPID: "example.com",
			Profile: policy.DefaultProfile(), Now: time.Now(),
		})
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Message == "" {
				t.Fatalf("error %v is not a 400 with a message", err)
			}
			return
		}
		if res.Verdict != "allowed" && res.Verdict != "refused" {
			t.Fatalf("verdict %q", res.Verdict)
		}
	})
}
