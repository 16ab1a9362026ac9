package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// Passkey options for a disabled account look exactly like those for an
// unknown one: no credential IDs, nothing that tells the account exists.
func TestPasskeyOptionsDoNotRevealDisabledAccounts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		allowed := func(username string) []any {
			t.Helper()
			m := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, map[string]any{"username": username}), http.StatusOK).json(t)
			pk := m["publicKey"].(map[string]any)
			list, _ := pk["allowCredentials"].([]any)
			return list
		}
		if n := len(allowed("alice@contoso.com")); n != 1 {
			t.Fatalf("enabled account: %d credentials listed, want 1", n)
		}
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+alice, bearer(w.admin), map[string]any{"accountEnabled": false}), http.StatusOK)
		if got := allowed("alice@contoso.com"); len(got) != 0 {
			t.Fatalf("disabled account: options list its credentials %v", got)
		}
		if got := allowed("nobody@contoso.com"); len(got) != 0 {
			t.Fatalf("unknown account: options list %v", got)
		}
		// Its key still cannot sign in without a username.
		wantError(t, w.login(k, ""), http.StatusForbidden, "accountDisabled", "disabled")
	})
}

// The clientData origin must be exactly scheme://host[:port]: go-webauthn
// alone accepts a trailing slash or a path.
func TestCeremonyOriginMustMatchExactly(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		for _, origin := range []string{w.origin() + "/", w.origin() + "/login", w.origin() + "?x=1", strings.ToUpper(w.origin())} {
			t.Run("sign_in_from_"+url.PathEscape(origin), func(t *testing.T) {
				opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
				k.SkipOriginCheck = true
				defer func() { k.SkipOriginCheck = false }()
				resp, err := k.Assert(opts.body, origin)
				if err != nil {
					t.Fatal(err)
				}
				wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusUnauthorized, "verificationFailed",
					"made for the origin \""+origin+"\", but this sign-in service is "+w.origin())
			})
			t.Run("registration_from_"+url.PathEscape(origin), func(t *testing.T) {
				s := w.session(alice, true)
				opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(s), nil), http.StatusOK)
				nk := w.key(goodAAGUID, softkey.FormatPacked)
				nk.SkipOriginCheck = true
				resp, err := nk.Register(opts.body, origin)
				if err != nil {
					t.Fatal(err)
				}
				wantError(t, w.do("POST", "/api/v1/me/passkeys", cookie(s), map[string]any{"publicKeyCredential": json.RawMessage(resp)}),
					http.StatusBadRequest, "verificationFailed", "made for the origin \""+origin+"\"")
			})
		}
		if got := w.counts(alice); got[0] != 1 {
			t.Fatalf("credentials of alice = %v, want only the first one", got)
		}
		w.mustStatus(w.login(k, ""), http.StatusOK)
	})
}
