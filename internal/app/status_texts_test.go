package app_test

import (
	"cmp"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

// The status texts of My security info and the admin user page come from
// the account's real state, one state at a time.
func TestStatusTextsFollowTheAccount(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		methods := func(c string) map[string]any {
			t.Helper()
			return w.mustStatus(w.do("GET", "/api/v1/me/methods", cookie(c), nil), http.StatusOK).json(t)
		}
		passwordStatus := func(c string) string {
			t.Helper()
			return methods(c)["password"].(map[string]any)["status"].(string)
		}

		t.Run("password_alone_says_it_has_no_second_factor", func(t *testing.T) {
			id := w.pwUser("pat@contoso.com", "correct horse battery")
			if got := passwordStatus(w.session(id, false)); got != "Used alone, without a second factor: add a passkey or an authenticator app" {
				t.Fatalf("password status = %q", got)
			}
		})
		t.Run("password_with_an_app_says_so", func(t *testing.T) {
			w.pwUser("ann@contoso.com", "correct horse battery")
			c := w.signedIn(w.passwordSignIn("ann@contoso.com", "correct horse battery"), "ann@contoso.com")
			w.addApp(c)
			if got := passwordStatus(c); got != "Used together with a code from your authenticator app" {
				t.Fatalf("password status = %q", got)
			}
		})
		t.Run("password_and_passkey_without_app", func(t *testing.T) {
			w.enableForAll()
			defer w.setPolicy(`{"state":"disabled"}`)
			id := w.pwUser("kim@contoso.com", "correct horse battery")
			w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPackedSelf), w.session(id, true), "Key"), http.StatusCreated)
			if got := passwordStatus(w.session(id, false)); got != "Used alone, without a second factor: add an authenticator app to protect it" {
				t.Fatalf("password status = %q", got)
			}
		})
		t.Run("no_password_no_status_and_the_admin_sees_none", func(t *testing.T) {
			id := w.user("nopw@contoso.com")
			m := methods(w.session(id, true))
			if pw := m["password"].(map[string]any); pw["set"] != false || pw["status"] != "" {
				t.Fatalf("password = %v, want none", pw)
			}
			got := w.mustStatus(w.do("GET", "/api/v1/users/"+id+"/authentication/passwordMethods", bearer(w.reader), nil), http.StatusOK).json(t)
			if v := got["value"].([]any); len(v) != 0 {
				t.Fatalf("passwordMethods = %v, want none", v)
			}
			pw := w.pwUser("haspw@contoso.com", "correct horse battery")
			got = w.mustStatus(w.do("GET", "/api/v1/users/"+pw+"/authentication/passwordMethods", bearer(w.reader), nil), http.StatusOK).json(t)
			if v := got["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != "28c10230-6103-485e-b985-444c60001490" || v[0].(map[string]any)["password"] != nil {
				t.Fatalf("passwordMethods = %v, want Graph's one password method without the password", v)
			}
		})
		t.Run("passkeys_off_tells_a_policy_admin_to_turn_them_on_and_others_to_ask", func(t *testing.T) {
			w.setPolicy(`{"state":"disabled"}`)
			for _, tc := range []struct {
				role      string
				canTurnOn bool
				says      string
			}{
				{storage.RoleGlobalAdmin, true, "as an administrator you can turn them on in the admin center"},
				{storage.RolePrivilegedAuthenticationAdmin, true, "as an administrator you can turn them on"},
				{storage.RoleReader, false, "ask an administrator to turn them on"},
				{"", false, "ask an administrator to turn them on"},
			} {
				id := w.pwUser("role-"+strings.ReplaceAll(cmp.Or(tc.role, "none"), "-", "")+"@contoso.com", "correct horse battery")
				if tc.role != "" {
					w.mustStatus(w.do("PATCH", "/api/v1/users/"+id, bearer(w.admin), map[string]any{"adminRole": tc.role}), http.StatusOK)
				}
				can := methods(w.session(id, true))["canAdd"].(map[string]any)
				if can["passkey"] != false || can["passkeyCanTurnOn"] != tc.canTurnOn || !strings.Contains(can["passkeyReason"].(string), tc.says) {
					t.Errorf("role %q: canAdd = %v, want passkeyCanTurnOn %v and a reason saying %q", tc.role, can, tc.canTurnOn, tc.says)
				}
			}
		})
	})
}
