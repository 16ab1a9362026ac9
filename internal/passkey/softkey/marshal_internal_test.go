package softkey

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestRegistrationResponseJSON holds the registration response's own
// encoder to json.Marshal's bytes, with and without credProps, for every
// attachment and transport list, and with text a JSON encoder must escape in
// the members it does not write itself.
func TestRegistrationResponseJSON(t *testing.T) {
	for _, r := range []registrationResponse{
		{ID: "AQID", RawID: "AQID", Type: "public-key", AuthenticatorAttachment: "cross-platform",
			Response: attestationResponse{ClientDataJSON: "eyJ0", AttestationObject: "o2NmbXRk-_", Transports: []string{"usb"},
				PublicKeyAlgorithm: -7, PublicKey: "MFkw", AuthenticatorData: "SZYN"},
			ClientExtensionResults: map[string]any{}},
		{ID: "", RawID: "", Type: "public-key", AuthenticatorAttachment: "platform",
			Response:               attestationResponse{Transports: []string{"internal", "hybrid"}, PublicKeyAlgorithm: -257},
			ClientExtensionResults: map[string]any{"credProps": map[string]bool{"rk": true}}},
		{Type: `a"<b>&\`, AuthenticatorAttachment: "\u2028\x01",
			Response:               attestationResponse{Transports: nil},
			ClientExtensionResults: nil},
	} {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("marshal:\n got %s\nwant %s", got, want)
		}
	}
}
