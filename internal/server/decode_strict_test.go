package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// registrationResponse is a software authenticator's packed attestation,
// as PublicKeyCredential.toJSON() gives it.
func registrationResponse(t *testing.T) string {
	t.Helper()
	ca, err := softkey.NewCA("decodeStrict")
	if err != nil {
		t.Fatal(err)
	}
	k := softkey.New(softkey.Options{AAGUID: uuid.New(), Attestation: softkey.FormatPacked, CA: ca})
	opts := `{"publicKey":{"rp":{"id":"localhost","name":"Keyward"},"user":{"id":"AAAAAAAAAAAAAAAAAAAAAA","name":"u","displayName":"u"},` +
		`"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","pubKeyCredParams":[{"type":"public-key","alg":-7}],` +
		`"attestation":"direct","extensions":{"credProps":true}}}`
	cred, err := k.Register([]byte(opts), "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	return string(cred)
}

// TestDecodeStrict: the registration bodies of the documented shape take
// the one-pass decoding (provisioning's, and self-service's with the key
// wanted), with what encoding/json would have read; anything it is not sure
// of is left to the encoding/json path and its messages.
func TestDecodeStrict(t *testing.T) {
	cred := registrationResponse(t)
	body := `{"displayName":"Front desk key","publicKeyCredential":` + cred + `}`

	var p decodedRegistrationBody
	if !decodeStrict([]byte(body), &p) || p.PublicKeyCredential == nil {
		t.Fatalf("a provisioning body of the documented shape was not decoded in one pass")
	}
	var want struct {
		ID       string `json:"id"`
		Response struct {
			AttestationObject string   `json:"attestationObject"`
			Transports        []string `json:"transports"`
		} `json:"response"`
		ClientExtensionResults map[string]any `json:"clientExtensionResults"`
	}
	if err := json.Unmarshal([]byte(cred), &want); err != nil {
		t.Fatal(err)
	}
	got := p.PublicKeyCredential
	if p.DisplayName != "Front desk key" || got.ID != want.ID || got.Response.AttestationObject == nil ||
		*got.Response.AttestationObject != want.Response.AttestationObject ||
		strings.Join(got.Response.Transports, ",") != strings.Join(want.Response.Transports, ",") ||
		got.ClientExtensionResults.CredProps == nil || got.ClientExtensionResults.CredProps.RK == nil {
		t.Fatalf("decoded %+v, want what encoding/json reads: %+v", got, want)
	}

	var s struct {
		decodedRegistrationBody
		wantedKey
	}
	self := `{"displayName":"My key","deviceBound":true,"models":["` + uuid.NewString() + `"],"publicKeyCredential":` + cred + `}`
	if !decodeStrict([]byte(self), &s) || s.PublicKeyCredential == nil || !s.DeviceBound || len(s.Models) != 1 || s.DisplayName != "My key" {
		t.Fatalf("a self-service body of the documented shape was not decoded in one pass: %+v", s)
	}

	for name, b := range map[string]string{
		"an unknown member":              `{"displayName":"k","note":"x","publicKeyCredential":` + cred + `}`,
		"an unknown credential member":   `{"displayName":"k","publicKeyCredential":` + strings.Replace(cred, `{`, `{"future":1,`, 1) + `}`,
		"a member named by case only":    `{"DisplayName":"k","publicKeyCredential":` + cred + `}`,
		"a duplicate member":             `{"displayName":"k","displayName":"l","publicKeyCredential":` + cred + `}`,
		"a second value":                 `{"displayName":"k","publicKeyCredential":` + cred + `} {}`,
		"a number for a string":          `{"displayName":7,"publicKeyCredential":` + cred + `}`,
		"an algorithm that is not whole": `{"displayName":"k","publicKeyCredential":` + strings.Replace(cred, `"publicKeyAlgorithm":-7`, `"publicKeyAlgorithm":-7e0`, 1) + `}`,
		"invalid UTF-8":                  `{"displayName":"k` + "\xff" + `","publicKeyCredential":` + cred + `}`,
	} {
		var d decodedRegistrationBody
		if decodeStrict([]byte(b), &d) {
			t.Errorf("%s: decoded in one pass, want it left to encoding/json", name)
		}
	}
}
