package softkey_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

const creationOptions = `{"publicKey":{
	"rp":{"id":"localhost","name":"Keyward"},
	"user":{"id":"dXNlci0x","name":"alice@example.com","displayName":"Alice"},
	"challenge":"Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtMQ",
	"pubKeyCredParams":[{"type":"public-key","alg":-8},{"type":"public-key","alg":-7}],
	"authenticatorSelection":{"residentKey":"required","userVerification":"required"},
	"attestation":"direct",
	"extensions":{"credProps":true}}}`

func b64(t *testing.T, s string) []byte {
	t.Helper()
	if strings.ContainsAny(s, "=+/") {
		t.Errorf("%q is not unpadded base64url", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}

// TestRegistrationResponseHasBrowserShape checks the JSON member by member
// against what PublicKeyCredential.toJSON() gives.
func TestRegistrationResponseHasBrowserShape(t *testing.T) {
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: newCA(t), Transports: []string{"usb", "nfc"}})
	out, err := a.Register([]byte(creationOptions), origin)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ID, RawID, Type, AuthenticatorAttachment string
		Response                                 map[string]json.RawMessage
		ClientExtensionResults                   map[string]map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&resp); err != nil {
		t.Fatal(err)
	}
	if resp.ID != resp.RawID || resp.Type != "public-key" || resp.AuthenticatorAttachment != "cross-platform" {
		t.Errorf("id %q rawId %q type %q attachment %q", resp.ID, resp.RawID, resp.Type, resp.AuthenticatorAttachment)
	}
	id := b64(t, resp.ID)
	if !resp.ClientExtensionResults["credProps"]["rk"] {
		t.Errorf("credProps = %v, want rk true", resp.ClientExtensionResults)
	}

	str := func(k string) string {
		var s string
		if err := json.Unmarshal(resp.Response[k], &s); err != nil {
			t.Fatalf("response.%s: %v", k, err)
		}
		return s
	}
	var cd map[string]any
	if err := json.Unmarshal(b64(t, str("clientDataJSON")), &cd); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "webauthn.create", "challenge": "Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtMQ", "origin": origin, "crossOrigin": false}
	if len(cd) != len(want) {
		t.Errorf("clientDataJSON = %v, want %v", cd, want)
	}
	for k, v := range want {
		if cd[k] != v {
			t.Errorf("clientDataJSON.%s = %v, want %v", k, cd[k], v)
		}
	}

	var att struct {
		Fmt      string          `cbor:"fmt"`
		AttStmt  cbor.RawMessage `cbor:"attStmt"`
		AuthData []byte          `cbor:"authData"`
	}
	if err := cbor.Unmarshal(b64(t, str("attestationObject")), &att); err != nil {
		t.Fatal(err)
	}
	if att.Fmt != "packed" || !bytes.Equal(att.AuthData, b64(t, str("authenticatorData"))) {
		t.Errorf("fmt %q; authenticatorData equals authData: %v", att.Fmt, bytes.Equal(att.AuthData, b64(t, str("authenticatorData"))))
	}
	rpHash := sha256.Sum256([]byte(rpID))
	if !bytes.Equal(att.AuthData[:32], rpHash[:]) || att.AuthData[32] != 0x45 { // UP | UV | AT
		t.Errorf("authData rpIdHash %x flags %#x", att.AuthData[:32], att.AuthData[32])
	}
	if got := att.AuthData[55 : 55+len(id)]; !bytes.Equal(got, id) {
		t.Errorf("attested credential id %x, want %x", got, id)
	}

	var alg int
	if err := json.Unmarshal(resp.Response["publicKeyAlgorithm"], &alg); err != nil || alg != -7 {
		t.Errorf("publicKeyAlgorithm = %s", resp.Response["publicKeyAlgorithm"])
	}
	pub, err := x509.ParsePKIXPublicKey(b64(t, str("publicKey")))
	if err != nil || !a.Credentials()[0].PublicKey.Equal(pub) {
		t.Errorf("publicKey is not the credential's SPKI: %v", err)
	}
	var transports []string
	if err := json.Unmarshal(resp.Response["transports"], &transports); err != nil || !slices.Equal(transports, []string{"usb", "nfc"}) {
		t.Errorf("transports = %s", resp.Response["transports"])
	}
}

func TestAssertionResponseHasBrowserShape(t *testing.T) {
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf, BackupEligible: true, BackupState: true})
	if _, err := a.Register([]byte(creationOptions), origin); err != nil {
		t.Fatal(err)
	}
	// The bare request options object, without the publicKey wrapper.
	out, err := a.Assert([]byte(`{"challenge":"YWJj","rpId":"localhost","userVerification":"required"}`), origin)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ID, RawID, Type string
		Response        struct{ ClientDataJSON, AuthenticatorData, Signature, UserHandle string }
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b64(t, resp.Response.UserHandle), []byte("user-1")) {
		t.Errorf("userHandle = %q", resp.Response.UserHandle)
	}
	ad := b64(t, resp.Response.AuthenticatorData)
	if len(ad) != 37 || ad[32] != 0x1d || !bytes.Equal(ad[33:], []byte{0, 0, 0, 1}) { // UP | UV | BE | BS, counter 1
		t.Errorf("authenticatorData flags %#x counter %x", ad[32], ad[33:])
	}
	b64(t, resp.Response.Signature)
	if !strings.Contains(string(b64(t, resp.Response.ClientDataJSON)), `"type":"webauthn.get","challenge":"YWJj"`) {
		t.Errorf("clientDataJSON = %s", b64(t, resp.Response.ClientDataJSON))
	}
}

func TestBrowserRefusals(t *testing.T) {
	opts := func(replace ...string) []byte {
		return []byte(strings.NewReplacer(replace...).Replace(creationOptions))
	}
	tests := []struct {
		name    string
		options []byte
		origin  string
		assert  bool
		a       *softkey.Authenticator
		want    error
	}{
		{name: "options_not_json", options: []byte("{"), want: softkey.ErrType},
		{name: "challenge_missing", options: opts(`"challenge":"Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtMQ",`, ""), want: softkey.ErrType},
		{name: "challenge_not_base64url", options: opts(`Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtMQ`, `not base64!`), want: softkey.ErrType},
		{name: "user_id_missing", options: opts(`"id":"dXNlci0x",`, ""), want: softkey.ErrType},
		{name: "no_es256", options: opts(`{"type":"public-key","alg":-7}`, `{"type":"public-key","alg":-257}`), want: softkey.ErrNotSupported},
		{name: "rp_id_not_origin_domain", options: opts(`"id":"localhost"`, `"id":"example.com"`), want: softkey.ErrSecurity},
		{name: "insecure_origin", origin: "http://keyward.example", options: opts(`"id":"localhost"`, `"id":"keyward.example"`), want: softkey.ErrSecurity},
		{name: "platform_wanted", options: opts(`"residentKey"`, `"authenticatorAttachment":"platform","residentKey"`), want: softkey.ErrNotAllowed},
		{name: "no_discoverable_credential", assert: true, options: []byte(`{"publicKey":{"challenge":"YWJj","rpId":"localhost"}}`), want: softkey.ErrNotAllowed},
		{name: "allowed_credential_unknown", assert: true, options: []byte(`{"publicKey":{"challenge":"YWJj","allowCredentials":[{"type":"public-key","id":"AAAA"}]}}`), want: softkey.ErrNotAllowed},
		{name: "assert_challenge_missing", assert: true, options: []byte(`{"publicKey":{"rpId":"localhost"}}`), want: softkey.ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			if a == nil {
				a = softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
			}
			from := origin
			if tt.origin != "" {
				from = tt.origin
			}
			var err error
			if tt.assert {
				_, err = a.Assert(tt.options, from)
			} else {
				_, err = a.Register(tt.options, from)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if n := len(a.Credentials()); n != 0 {
				t.Errorf("refusal stored %d credentials", n)
			}
		})
	}
}

func TestPackedAttestationWithoutCAIsAnError(t *testing.T) {
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPacked})
	if _, err := a.Register([]byte(creationOptions), origin); err == nil || !strings.Contains(err.Error(), "needs a CA") {
		t.Fatalf("error %v, want one saying packed needs a CA", err)
	}
	a.Attestation = "tpm"
	if _, err := a.Register([]byte(creationOptions), origin); err == nil || !strings.Contains(err.Error(), "unknown attestation format") {
		t.Fatalf("error %v, want unknown format", err)
	}
}

func TestSkipOriginCheckSignsForAnyOrigin(t *testing.T) {
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	a.SkipOriginCheck = true
	out, err := a.Register([]byte(creationOptions), "https://keyward.evil.example")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Response struct{ ClientDataJSON string }
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if cd := b64(t, resp.Response.ClientDataJSON); !bytes.Contains(cd, []byte(`"origin":"https://keyward.evil.example"`)) {
		t.Errorf("clientDataJSON = %s", cd)
	}
	if got := a.Credentials()[0].RPID; got != "localhost" {
		t.Errorf("credential RP ID %q, want localhost", got)
	}
}

func TestAssertWithPicksTheNamedCredential(t *testing.T) {
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	for _, userID := range []string{"dXNlci0x", "dXNlci0y"} {
		if _, err := a.Register([]byte(strings.Replace(creationOptions, "dXNlci0x", userID, 1)), origin); err != nil {
			t.Fatal(err)
		}
	}
	creds := a.Credentials()
	request := []byte(`{"publicKey":{"challenge":"YWJj","rpId":"localhost"}}`)
	for _, c := range []softkey.Credential{creds[0], creds[1]} {
		out, err := a.AssertWith(request, origin, softkey.AssertOptions{CredentialID: c.ID, OmitUserHandle: true})
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			RawID    string
			Response map[string]string
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b64(t, resp.RawID), c.ID) {
			t.Errorf("asserted with %s, want %x", resp.RawID, c.ID)
		}
		if _, ok := resp.Response["userHandle"]; ok {
			t.Error("userHandle present despite OmitUserHandle")
		}
	}
	// Without a choice the newest discoverable credential answers.
	out, err := a.Assert(request, origin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(base64.RawURLEncoding.EncodeToString(creds[1].ID))) {
		t.Error("default choice is not the newest credential")
	}
	if err := a.RemoveCredential(creds[1].ID); err != nil || len(a.Credentials()) != 1 {
		t.Fatalf("RemoveCredential: %v, %d left", err, len(a.Credentials()))
	}
}

func TestStructLiteralAuthenticatorUsesDefaults(t *testing.T) {
	a := &softkey.Authenticator{AAGUID: testAAGUID, Attestation: softkey.FormatNone}
	out, err := a.Register([]byte(creationOptions), origin)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		AuthenticatorAttachment string
		Response                struct{ Transports []string }
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.AuthenticatorAttachment != "cross-platform" || !slices.Equal(resp.Response.Transports, []string{"usb"}) {
		t.Errorf("attachment %q transports %v, want cross-platform [usb]", resp.AuthenticatorAttachment, resp.Response.Transports)
	}
}

func TestDiscoverableCredentialReplacesTheSameUsersOld(t *testing.T) {
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	nonDiscoverable := strings.Replace(creationOptions, `"residentKey":"required"`, `"residentKey":"discouraged"`, 1)
	for _, options := range []string{nonDiscoverable, creationOptions, creationOptions} {
		if _, err := a.Register([]byte(options), origin); err != nil {
			t.Fatal(err)
		}
	}
	creds := a.Credentials()
	if len(creds) != 2 || creds[0].Discoverable || !creds[1].Discoverable {
		t.Fatalf("credentials %+v, want the non-discoverable one and the newest discoverable one", creds)
	}
}
