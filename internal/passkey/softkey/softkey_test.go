package softkey_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

const (
	rpID   = "localhost"
	origin = "http://localhost:8080"
)

var testAAGUID = uuid.MustParse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")

type user struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return "alice@example.com" }
func (u *user) WebAuthnDisplayName() string                { return "Alice" }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func newUser() *user { return &user{id: []byte("user-handle-alice-0001")} }

func newRP(t testing.TB) *webauthn.WebAuthn {
	t.Helper()
	rp, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Keyward test", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func newCA(t testing.TB, opts ...softkey.CAOption) *softkey.CA {
	t.Helper()
	ca, err := softkey.NewCA("Keyward Test Keys", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// keywardRegistration is what Keyward asks for: direct attestation, a
// discoverable credential and user verification, excluding existing keys.
func keywardRegistration(u *user) []webauthn.RegistrationOption {
	return []webauthn.RegistrationOption{
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired,
		}),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
	}
}

// register runs a registration ceremony; it returns the authenticator's
// error (a browser refusal) or the relying party's.
func register(t testing.TB, rp *webauthn.WebAuthn, u *user, a *softkey.Authenticator, from string, opts ...webauthn.RegistrationOption) (*webauthn.Credential, *protocol.ParsedCredentialCreationData, error) {
	t.Helper()
	if opts == nil {
		opts = keywardRegistration(u)
	}
	creation, session, err := rp.BeginRegistration(u, opts...)
	if err != nil {
		t.Fatal(err)
	}
	options, err := json.Marshal(creation)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Register(options, from)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(resp))
	if err != nil {
		t.Fatalf("go-webauthn cannot parse the registration response: %v\n%s", err, resp)
	}
	cred, err := rp.CreateCredential(u, *session, parsed)
	if err != nil {
		return nil, parsed, err
	}
	u.creds = append(u.creds, *cred)
	return cred, parsed, nil
}

func mustRegister(t testing.TB, rp *webauthn.WebAuthn, u *user, a *softkey.Authenticator) *webauthn.Credential {
	t.Helper()
	cred, _, err := register(t, rp, u, a, origin)
	if err != nil {
		t.Fatalf("registration: %v%s", err, devInfo(err))
	}
	return cred
}

// login runs a sign-in with the user known (allowCredentials).
func login(t testing.TB, rp *webauthn.WebAuthn, u *user, a *softkey.Authenticator, from string, ao softkey.AssertOptions, opts ...webauthn.LoginOption) (*webauthn.Credential, error) {
	t.Helper()
	assertion, session, err := rp.BeginLogin(u, opts...)
	if err != nil {
		t.Fatal(err)
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.AssertWith(options, from, ao)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
	if err != nil {
		t.Fatalf("go-webauthn cannot parse the assertion: %v\n%s", err, resp)
	}
	cred, err := rp.ValidateLogin(u, *session, parsed)
	if err == nil {
		updateCredential(u, cred)
	}
	return cred, err
}

// updateCredential stores what a relying party writes back after sign-in.
func updateCredential(u *user, cred *webauthn.Credential) {
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, cred.ID) {
			u.creds[i] = *cred
		}
	}
}

func devInfo(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return " (" + pe.DevInfo + ")"
	}
	return ""
}

func TestRegistrationVerifiesWithGoWebAuthn(t *testing.T) {
	ca := newCA(t)
	flat := newCA(t, softkey.WithoutIntermediate())
	tests := []struct {
		name       string
		opts       softkey.Options
		wantFormat string
		wantType   string
		wantAAGUID uuid.UUID
		wantX5C    int
		root       *softkey.CA
	}{
		{name: "packed_full_attestation_with_intermediate", opts: softkey.Options{AAGUID: testAAGUID, CA: ca},
			wantFormat: "packed", wantType: "basic_full", wantAAGUID: testAAGUID, wantX5C: 2, root: ca},
		{name: "packed_full_attestation_from_root", opts: softkey.Options{AAGUID: testAAGUID, CA: flat, Attestation: softkey.FormatPacked},
			wantFormat: "packed", wantType: "basic_full", wantAAGUID: testAAGUID, wantX5C: 1, root: flat},
		{name: "packed_self_attestation", opts: softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf},
			wantFormat: "packed", wantType: "basic_surrogate", wantAAGUID: testAAGUID},
		{name: "fido_u2f_attestation_has_zero_aaguid", opts: softkey.Options{AAGUID: testAAGUID, CA: ca, Attestation: softkey.FormatFIDOU2F},
			wantFormat: "fido-u2f", wantType: "basic_full", wantAAGUID: uuid.Nil, wantX5C: 1, root: ca},
		{name: "none_attestation_keeps_aaguid_under_direct", opts: softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatNone},
			wantFormat: "none", wantType: "none", wantAAGUID: testAAGUID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser()
			cred, parsed, err := register(t, newRP(t), u, softkey.New(tt.opts), origin)
			if err != nil {
				t.Fatalf("registration: %v%s", err, devInfo(err))
			}
			if cred.AttestationFormat != tt.wantFormat || cred.AttestationType != tt.wantType {
				t.Errorf("format, type = %q, %q; want %q, %q", cred.AttestationFormat, cred.AttestationType, tt.wantFormat, tt.wantType)
			}
			if got := uuid.UUID(cred.Authenticator.AAGUID); got != tt.wantAAGUID {
				t.Errorf("aaguid = %s, want %s", got, tt.wantAAGUID)
			}
			if !cred.Flags.UserPresent || !cred.Flags.UserVerified {
				t.Errorf("flags = %+v, want UP and UV", cred.Flags)
			}
			x5c := certs(t, parsed.Response.AttestationObject.AttStatement)
			if len(x5c) != tt.wantX5C {
				t.Fatalf("x5c has %d certificates, want %d", len(x5c), tt.wantX5C)
			}
			if tt.root != nil {
				verifyChain(t, x5c, tt.root.Root())
			}
		})
	}
}

func certs(t *testing.T, stmt map[string]any) []*x509.Certificate {
	t.Helper()
	raw, _ := stmt["x5c"].([]any)
	var out []*x509.Certificate
	for _, r := range raw {
		c, err := x509.ParseCertificate(r.([]byte))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func verifyChain(t *testing.T, x5c []*x509.Certificate, root *x509.Certificate) {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range x5c[1:] {
		inter.AddCert(c)
	}
	_, err := x5c[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		t.Errorf("x5c does not chain to the CA root: %v", err)
	}
}

func TestAttestationConveyanceNoneStripsAttestationAndAAGUID(t *testing.T) {
	for _, conveyance := range []protocol.ConveyancePreference{protocol.PreferNoAttestation, protocol.PreferIndirectAttestation} {
		t.Run(string(conveyance), func(t *testing.T) {
			u := newUser()
			a := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: newCA(t)})
			cred, _, err := register(t, newRP(t), u, a, origin, webauthn.WithConveyancePreference(conveyance))
			if err != nil {
				t.Fatalf("registration: %v%s", err, devInfo(err))
			}
			if cred.AttestationFormat != "none" || uuid.UUID(cred.Authenticator.AAGUID) != uuid.Nil {
				t.Errorf("format %q, aaguid %x; want none and zero", cred.AttestationFormat, cred.Authenticator.AAGUID)
			}
			if got := a.Credentials()[0].AAGUID; got != testAAGUID {
				t.Errorf("stored credential aaguid = %s, want the authenticator's %s", got, testAAGUID)
			}
		})
	}
}

func TestSignInWithAllowCredentialsIncrementsCounter(t *testing.T) {
	rp, u := newRP(t), newUser()
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: newCA(t)})
	reg := mustRegister(t, rp, u, a)
	if reg.Authenticator.SignCount != 0 {
		t.Fatalf("registration sign count = %d, want 0", reg.Authenticator.SignCount)
	}
	for want := uint32(1); want <= 3; want++ {
		cred, err := login(t, rp, u, a, origin, softkey.AssertOptions{}, webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			t.Fatalf("sign-in %d: %v%s", want, err, devInfo(err))
		}
		if cred.Authenticator.SignCount != want || cred.Authenticator.CloneWarning {
			t.Errorf("sign count %d (clone warning %v), want %d", cred.Authenticator.SignCount, cred.Authenticator.CloneWarning, want)
		}
	}
	if got := a.Credentials()[0].SignCount; got != 3 {
		t.Errorf("authenticator's counter = %d, want 3", got)
	}
}

func TestDiscoverableSignInReturnsUserHandle(t *testing.T) {
	rp, u := newRP(t), newUser()
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	mustRegister(t, rp, u, a)

	assertion, session, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		t.Fatal(err)
	}
	options, _ := json.Marshal(assertion)
	resp, err := a.Assert(options, origin)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(resp))
	if err != nil {
		t.Fatal(err)
	}
	var handle []byte
	_, err = rp.ValidateDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
		handle = userHandle
		return u, nil
	}, *session, parsed)
	if err != nil {
		t.Fatalf("discoverable sign-in: %v%s", err, devInfo(err))
	}
	if !bytes.Equal(handle, u.id) {
		t.Errorf("user handle = %q, want %q", handle, u.id)
	}
}

func TestBackupFlagsRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		be, bs bool
	}{
		{name: "device_bound", be: false, bs: false},
		{name: "synced_not_yet_backed_up", be: true, bs: false},
		{name: "synced_and_backed_up", be: true, bs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, u := newRP(t), newUser()
			a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatNone, BackupEligible: tt.be, BackupState: tt.bs})
			reg := mustRegister(t, rp, u, a)
			if reg.Flags.BackupEligible != tt.be || reg.Flags.BackupState != tt.bs {
				t.Errorf("registered BE, BS = %v, %v; want %v, %v", reg.Flags.BackupEligible, reg.Flags.BackupState, tt.be, tt.bs)
			}
			cred, err := login(t, rp, u, a, origin, softkey.AssertOptions{})
			if err != nil {
				t.Fatalf("sign-in: %v%s", err, devInfo(err))
			}
			if cred.Flags.BackupEligible != tt.be || cred.Flags.BackupState != tt.bs {
				t.Errorf("sign-in BE, BS = %v, %v; want %v, %v", cred.Flags.BackupEligible, cred.Flags.BackupState, tt.be, tt.bs)
			}
		})
	}
}

func TestRelyingPartyRefusesBadRegistrations(t *testing.T) {
	tests := []struct {
		name    string
		tweak   func(a *softkey.Authenticator)
		from    string
		wantErr string
	}{
		{name: "wrong_origin", from: "http://localhost:9999", wantErr: "Error validating origin"},
		{name: "wrong_rp_id_hash", tweak: func(a *softkey.Authenticator) { a.RPIDHashOverride = "evil.example" }, wantErr: "RP Hash mismatch"},
		{name: "no_user_verification_when_required", tweak: func(a *softkey.Authenticator) { a.UserVerification = false }, wantErr: "User verification required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: newCA(t)})
			if tt.tweak != nil {
				tt.tweak(a)
			}
			from := origin
			if tt.from != "" {
				from = tt.from
			}
			_, _, err := register(t, newRP(t), newUser(), a, from)
			if err == nil {
				t.Fatal("the relying party accepted the registration")
			}
			if msg := err.Error() + devInfo(err); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q, want one containing %q", msg, tt.wantErr)
			}
		})
	}
}

func TestRelyingPartyRefusesBadAssertions(t *testing.T) {
	tests := []struct {
		name    string
		tweak   func(a *softkey.Authenticator)
		ao      softkey.AssertOptions
		from    string
		wantErr string
	}{
		{name: "wrong_origin", from: "http://localhost:9999", wantErr: "Error validating origin"},
		{name: "wrong_rp_id_hash", tweak: func(a *softkey.Authenticator) { a.RPIDHashOverride = "evil.example" }, wantErr: "RP Hash mismatch"},
		{name: "no_user_verification_when_required", ao: softkey.AssertOptions{NoUserVerification: true}, wantErr: "User verification required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, u := newRP(t), newUser()
			a := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: newCA(t)})
			mustRegister(t, rp, u, a)
			if tt.tweak != nil {
				tt.tweak(a)
			}
			from := origin
			if tt.from != "" {
				from = tt.from
			}
			_, err := login(t, rp, u, a, from, tt.ao, webauthn.WithUserVerification(protocol.VerificationRequired))
			if err == nil {
				t.Fatal("the relying party accepted the assertion")
			}
			if msg := err.Error() + devInfo(err); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q, want one containing %q", msg, tt.wantErr)
			}
		})
	}
}

func TestCounterRegressionRaisesCloneWarning(t *testing.T) {
	rp, u := newRP(t), newUser()
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, Attestation: softkey.FormatPackedSelf})
	reg := mustRegister(t, rp, u, a)
	if err := a.SetSignCount(reg.ID, 41); err != nil {
		t.Fatal(err)
	}
	if cred, err := login(t, rp, u, a, origin, softkey.AssertOptions{}); err != nil || cred.Authenticator.SignCount != 42 {
		t.Fatalf("sign-in after SetSignCount(41): count %v, err %v", cred, err)
	}
	if err := a.SetSignCount(reg.ID, 9); err != nil {
		t.Fatal(err)
	}
	cred, err := login(t, rp, u, a, origin, softkey.AssertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !cred.Authenticator.CloneWarning {
		t.Error("counter went from 42 to 10 and go-webauthn raised no clone warning")
	}
	if err := a.SetSignCount([]byte("nope"), 1); !errors.Is(err, softkey.ErrUnknownCredential) {
		t.Errorf("SetSignCount on an unknown credential: %v", err)
	}
}

func TestExcludeCredentialsIsHonoured(t *testing.T) {
	rp, u := newRP(t), newUser()
	ca := newCA(t)
	first := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: ca})
	mustRegister(t, rp, u, first)

	_, _, err := register(t, rp, u, first, origin)
	if !errors.Is(err, softkey.ErrInvalidState) {
		t.Fatalf("second registration on the same key: %v, want InvalidStateError", err)
	}
	if n := len(first.Credentials()); n != 1 {
		t.Errorf("refused registration stored a credential: %d credentials", n)
	}
	second := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: ca})
	mustRegister(t, rp, u, second)
	if len(u.creds) != 2 {
		t.Errorf("user has %d credentials, want 2", len(u.creds))
	}
}

func TestExpiredAttestationCertificateIsRefused(t *testing.T) {
	ca := newCA(t, softkey.WithValidity(timeAgo(3*365), timeAgo(365)))
	a := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: ca})
	_, _, err := register(t, newRP(t), newUser(), a, origin)
	if err == nil || !strings.Contains(err.Error()+devInfo(err), "no longer valid") {
		t.Fatalf("registration with an expired attestation certificate: %v%s", err, devInfo(err))
	}
}
