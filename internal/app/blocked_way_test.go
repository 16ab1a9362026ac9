package app_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// A key whose model the organisation stops accepting: the refusal names the
// model in words and gives the account's way forward, which depends on the
// account's other methods.
func TestBlockedKeyShowsTheWayForward(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		// Three accounts, each with a key of the model about to be blocked.
		only := w.user("only@contoso.com")
		kOnly := w.key(goodAAGUID, softkey.FormatPackedSelf)
		w.mustStatus(w.register(kOnly, w.session(only, true), "Work key"), http.StatusCreated)

		two := w.user("two@contoso.com")
		kTwo := w.key(goodAAGUID, softkey.FormatPackedSelf)
		w.mustStatus(w.register(kTwo, w.session(two, true), "Work key"), http.StatusCreated)
		w.mustStatus(w.register(w.key(unknownAAGUID, softkey.FormatPackedSelf), w.session(two, true), "Backup key"), http.StatusCreated)

		pw := w.pwUser("pw@contoso.com", "correct horse battery")
		kPw := w.key(goodAAGUID, softkey.FormatPackedSelf)
		w.mustStatus(w.register(kPw, w.session(pw, true), "Work key"), http.StatusCreated)

		w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + goodAAGUID + `"]}`)
		defer w.resetProfile()
		model := fmt.Sprintf("your organisation no longer accepts this key model, %s (AAGUID %s)", goodModel, goodAAGUID)
		for _, tc := range []struct {
			name    string
			key     *softkey.Authenticator
			upn     string
			advice  string
			methods []any
		}{
			{"no_other_method_asks_for_a_pass", kOnly, "only@contoso.com",
				"ask your administrator for a Temporary Access Pass, then register a passkey or security key your organisation accepts", []any{}},
			{"another_accepted_passkey_is_named", kTwo, "two@contoso.com",
				`sign in with another of your passkeys ("Backup key") instead`, []any{"passkey"}},
			{"a_password_is_offered", kPw, "pw@contoso.com",
				"sign in with your password instead, then register", []any{"password"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, username := range []string{tc.upn, ""} { // named and discoverable sign-in alike
					r := w.login(tc.key, username)
					wantError(t, r, http.StatusForbidden, "keyRestricted", model)
					_, msg := r.err(t)
					if !strings.Contains(msg, tc.advice) || strings.Contains(msg, "use a different security key") {
						t.Fatalf("refusal %q, want it to say %q", msg, tc.advice)
					}
					instead := r.json(t)["error"].(map[string]any)["signInInstead"].(map[string]any)
					if instead["username"] != tc.upn || !reflect.DeepEqual(instead["methods"], tc.methods) {
						t.Fatalf("signInInstead = %v, want %s with %v", instead, tc.upn, tc.methods)
					}
				}
			})
		}
		t.Run("a_flagged_backup_key_is_not_offered", func(t *testing.T) {
			w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + goodAAGUID + `","` + unknownAAGUID + `"]}`)
			r := w.login(kTwo, "")
			_, msg := r.err(t)
			if !strings.Contains(msg, "ask your administrator for a Temporary Access Pass") {
				t.Fatalf("with every key blocked the refusal says %q", msg)
			}
		})
	})
}
