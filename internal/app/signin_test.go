package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
)

const invalidCredentials = "that username and password don't match"

// pwUser creates a user with a password through the admin API.
func (w *world) pwUser(upn, password string) string {
	w.t.Helper()
	return w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), map[string]any{
		"userPrincipalName": upn, "displayName": strings.Split(upn, "@")[0],
		"passwordProfile": map[string]any{"password": password},
	}), http.StatusCreated).json(w.t)["id"].(string)
}

func (w *world) passwordSignIn(username, password string) reply {
	w.t.Helper()
	return w.do("POST", "/api/v1/auth/password", cred{}, map[string]any{"username": username, "password": password})
}

// signedIn checks a reply is a completed sign-in of upn and returns its cookie.
func (w *world) signedIn(r reply, upn string) string {
	w.t.Helper()
	m := w.mustStatus(r, http.StatusOK).json(w.t)
	user, _ := m["user"].(map[string]any)
	if m["status"] != "signedIn" || user["userPrincipalName"] != upn {
		w.t.Fatalf("sign-in reply = %s, want signedIn as %s", r.body, upn)
	}
	c := sessionCookie(r)
	if c == "" {
		w.t.Fatal("a sign-in set no session cookie")
	}
	return c
}

// me reads /api/v1/me with a session cookie.
func (w *world) me(c string) map[string]any {
	w.t.Helper()
	return w.mustStatus(w.do("GET", "/api/v1/me", cookie(c), nil), http.StatusOK).json(w.t)
}

func amrOf(m map[string]any) []string {
	var out []string
	for _, v := range m["authenticationMethods"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// code is the authenticator app's current code.
func (w *world) code(sec string) string {
	w.t.Helper()
	c, err := mfa.TOTPCode(sec, w.clock.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// addApp adds an authenticator app in My security info with the session c,
// which makes c multi-factor, and returns the app's secret.
func (w *world) addApp(c string) string {
	w.t.Helper()
	sec := w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp", cookie(c), nil), http.StatusOK).json(w.t)["secret"].(string)
	w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp/verify", cookie(c), map[string]any{"code": w.code(sec)}), http.StatusOK)
	w.clock.Advance(30 * time.Second) // a code is used once: the next sign-in needs the next one
	return sec
}

// mfaSignIn signs in with a password and the authenticator app's code.
func (w *world) mfaSignIn(upn, password, appSecret string) string {
	w.t.Helper()
	pending := sessionCookie(w.mustStatus(w.passwordSignIn(upn, password), http.StatusOK))
	c := w.signedIn(w.do("POST", "/api/v1/auth/totp", cred{cookie: pending, noCSRF: true}, map[string]any{"code": w.code(appSecret)}), upn)
	w.clock.Advance(30 * time.Second)
	return c
}

func TestPasswordSignInSingleFactor(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.pwUser("alice@contoso.com", "correct horse battery")
		c := w.signedIn(w.passwordSignIn("Alice@Contoso.com", "correct horse battery"), "alice@contoso.com")
		me := w.me(c)
		if !slices.Equal(amrOf(me), []string{"pwd"}) || me["mfaRecent"] != false || me["adminRole"] != "" || me["csrfToken"] == "" {
			t.Fatalf("me = %v", me)
		}
		// A single-factor session may not add a passkey.
		w.enableForAll()
		wantError(t, w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(c), nil), http.StatusForbidden, "mfaRequired", "")
		events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{Limit: 10})
		if err != nil || len(events) != 1 || events[0].Method != "password" || events[0].Result != storage.ResultSuccess {
			t.Fatalf("sign-in log = %+v, %v", events, err)
		}
	})
}

func TestPasswordFailuresLookAlike(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.pwUser("alice@contoso.com", "correct horse battery")
		disabled := w.pwUser("dave@contoso.com", "correct horse battery")
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+disabled, bearer(w.admin), map[string]any{"accountEnabled": false}), http.StatusOK)
		w.user("nopass@contoso.com")
		for name, c := range map[string][2]string{
			"wrong_password":   {"alice@contoso.com", "correct horse batteryy"},
			"unknown_user":     {"nobody@contoso.com", "correct horse battery"},
			"disabled_account": {"dave@contoso.com", "correct horse battery"},
			"no_password_set":  {"nopass@contoso.com", "correct horse battery"},
			"overlong":         {"alice@contoso.com", strings.Repeat("x", 2000)},
		} {
			t.Run(name, func(t *testing.T) {
				wantError(t, w.passwordSignIn(c[0], c[1]), http.StatusUnauthorized, "invalidCredentials", invalidCredentials)
			})
		}
		for _, body := range []string{`{}`, `{"username":"alice@contoso.com"}`, `{"username":"a","password":"b","x":1}`, `[1]`} {
			if r := w.do("POST", "/api/v1/auth/password", cred{}, body); r.status != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400: %s", body, r.status, r.body)
			}
		}
		events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{Limit: 100})
		if err != nil || len(events) != 5 {
			t.Fatalf("sign-in log has %d events (%v), want the 5 failures", len(events), err)
		}
	})
}

func TestPasswordWithAuthenticatorApp(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		w.pwUser("alice@contoso.com", "correct horse battery")
		c := w.signedIn(w.passwordSignIn("alice@contoso.com", "correct horse battery"), "alice@contoso.com")

		e := w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp", cookie(c), nil), http.StatusOK).json(t)
		sec := e["secret"].(string)
		if !strings.HasPrefix(e["otpauthUri"].(string), "otpauth://totp/Keyward:alice@contoso.com?") ||
			!strings.HasPrefix(e["qrCode"].(string), "data:image/png;base64,") {
			t.Fatalf("enrollment = %v", e)
		}
		m := w.mustStatus(w.do("GET", "/api/v1/me/methods", cookie(c), nil), http.StatusOK).json(t)
		if m["authenticatorApp"] != nil {
			t.Fatalf("an unconfirmed app is listed: %v", m)
		}
		wrong := "000000"
		if w.code(sec) == wrong {
			wrong = "111111"
		}
		wantError(t, w.do("POST", "/api/v1/me/authenticatorApp/verify", cookie(c), map[string]any{"code": wrong}), http.StatusUnauthorized, "invalidCode", "wrong or was already used")
		used := w.code(sec)
		v := w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp/verify", cookie(c), map[string]any{"code": used}), http.StatusOK).json(t)
		if v["status"] != "confirmed" || v["mfaRecent"] != true {
			t.Fatalf("verify = %v", v)
		}
		// Proving the app just now makes the session multi-factor: a passkey may be added.
		if me := w.me(c); !slices.Equal(amrOf(me), []string{"pwd", "otp", "mfa"}) || me["mfaRecent"] != true {
			t.Fatalf("me after verify = %v", me)
		}
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), c, "Work key"), http.StatusCreated)
		wantError(t, w.do("POST", "/api/v1/me/authenticatorApp", cookie(c), nil), http.StatusConflict, "authenticatorAppExists", "delete it first")
		w.mustStatus(w.do("POST", "/api/v1/auth/signout", cookie(c), nil), http.StatusNoContent)

		// Password now only opens a pending session, which authenticates nothing.
		r := w.mustStatus(w.passwordSignIn("alice@contoso.com", "correct horse battery"), http.StatusOK)
		if m := r.json(t); m["status"] != "secondFactorRequired" || m["methods"].([]any)[0] != "totp" || m["user"] != nil {
			t.Fatalf("password step = %s", r.body)
		}
		pending := sessionCookie(r)
		wantError(t, w.do("GET", "/api/v1/me", cookie(pending), nil), http.StatusUnauthorized, "unauthenticated", "sign in")
		wantError(t, w.do("GET", "/api/v1/me/passkeys", cookie(pending), nil), http.StatusUnauthorized, "unauthenticated", "")
		wantError(t, w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(pending), nil), http.StatusUnauthorized, "unauthenticated", "")
		wantError(t, w.do("POST", "/api/v1/me/authenticatorApp", cookie(pending), nil), http.StatusUnauthorized, "unauthenticated", "")

		// The code used to confirm the app cannot be used again.
		wantError(t, w.do("POST", "/api/v1/auth/totp", cookie(pending), map[string]any{"code": used}), http.StatusUnauthorized, "invalidCode", "already used")
		wantError(t, w.do("POST", "/api/v1/auth/totp", cookie(pending), map[string]any{"code": "12345"}), http.StatusBadRequest, "invalidRequest", "6 digits")
		w.clock.Advance(30 * time.Second)
		next := w.code(sec)
		full := w.signedIn(w.do("POST", "/api/v1/auth/totp", cred{cookie: pending, noCSRF: true}, map[string]any{"code": next}), "alice@contoso.com")
		if full == pending {
			t.Fatal("the TOTP step kept the pending session's cookie")
		}
		if me := w.me(full); !slices.Equal(amrOf(me), []string{"pwd", "otp", "mfa"}) || me["mfaRecent"] != true {
			t.Fatalf("me = %v", me)
		}
		wantError(t, w.do("POST", "/api/v1/auth/totp", cookie(pending), map[string]any{"code": next}), http.StatusUnauthorized, "signInExpired", "")
		wantError(t, w.do("POST", "/api/v1/auth/totp", cred{}, map[string]any{"code": next}), http.StatusUnauthorized, "signInExpired", "")

		// The same code is refused on the next sign-in too: single use across sessions.
		r = w.mustStatus(w.passwordSignIn("alice@contoso.com", "correct horse battery"), http.StatusOK)
		wantError(t, w.do("POST", "/api/v1/auth/totp", cookie(sessionCookie(r)), map[string]any{"code": next}), http.StatusUnauthorized, "invalidCode", "")

		// Pending sign-ins expire after 10 minutes.
		w.clock.Advance(11 * time.Minute)
		wantError(t, w.do("POST", "/api/v1/auth/totp", cookie(sessionCookie(r)), map[string]any{"code": w.code(sec)}), http.StatusUnauthorized, "signInExpired", "")

		// Deleting the app returns to single-factor password sign-in.
		w.mustStatus(w.do("DELETE", "/api/v1/me/authenticatorApp", cookie(full), nil), http.StatusNoContent)
		w.signedIn(w.passwordSignIn("alice@contoso.com", "correct horse battery"), "alice@contoso.com")
	})
}

func TestSignInRateLimits(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.pwUser("alice@contoso.com", "correct horse battery")
		for i := range 10 {
			wantError(t, w.passwordSignIn("alice@contoso.com", "wrong password "+itoa(i)), http.StatusUnauthorized, "invalidCredentials", "")
		}
		r := w.passwordSignIn("alice@contoso.com", "correct horse battery")
		wantError(t, r, http.StatusTooManyRequests, "tooManyAttempts", "for this account; try again after")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// The account's counter is shared by the other methods, and names are case-insensitive.
		wantError(t, w.do("POST", "/api/v1/auth/tap", cred{}, map[string]any{"username": "ALICE@contoso.com", "temporaryAccessPass": "x"}),
			http.StatusTooManyRequests, "tooManyAttempts", "")
		w.clock.Advance(15 * time.Minute)
		w.signedIn(w.passwordSignIn("alice@contoso.com", "correct horse battery"), "alice@contoso.com")

		// Per address: 50 failures, whatever the names, block the address.
		for i := range 50 {
			wantError(t, w.passwordSignIn("guess"+itoa(i)+"@contoso.com", "correct horse battery"), http.StatusUnauthorized, "invalidCredentials", "")
		}
		wantError(t, w.passwordSignIn("alice@contoso.com", "correct horse battery"), http.StatusTooManyRequests, "tooManyAttempts", "from your network address")
	})
}

func TestSignOutEndsTheSessionServerSide(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.pwUser("alice@contoso.com", "correct horse battery")
		c := w.signedIn(w.passwordSignIn("alice@contoso.com", "correct horse battery"), "alice@contoso.com")
		wantError(t, w.do("POST", "/api/v1/auth/signout", cred{cookie: c, noCSRF: true}, nil), http.StatusForbidden, "csrfTokenInvalid", "")
		r := w.mustStatus(w.do("POST", "/api/v1/auth/signout", cookie(c), nil), http.StatusNoContent)
		if !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("sign-out did not clear the cookie: %q", r.header.Get("Set-Cookie"))
		}
		if _, err := w.store.GetSession(context.Background(), secret.KeyedID(c)); err == nil {
			t.Fatal("the session still exists after sign-out")
		}
		wantError(t, w.do("GET", "/api/v1/me", cookie(c), nil), http.StatusUnauthorized, "unauthenticated", "")
		// Signing in again while holding a session ends the old one.
		c1 := w.signedIn(w.passwordSignIn("alice@contoso.com", "correct horse battery"), "alice@contoso.com")
		w.signedIn(w.do("POST", "/api/v1/auth/password", cred{cookie: c1, noCSRF: true},
			map[string]any{"username": "alice@contoso.com", "password": "correct horse battery"}), "alice@contoso.com")
		wantError(t, w.do("GET", "/api/v1/me", cookie(c1), nil), http.StatusUnauthorized, "unauthenticated", "")
	})
}

func TestAdminRolesForPeople(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		reader := w.pwUser("rita@contoso.com", "correct horse battery")
		helpdesk := w.pwUser("hal@contoso.com", "correct horse battery")
		u := w.mustStatus(w.do("PATCH", "/api/v1/users/"+reader, bearer(w.admin), map[string]any{"adminRole": "reader"}), http.StatusOK)
		if u.json(t)["adminRole"] != "reader" || strings.Contains(string(u.body), "argon2") || strings.Contains(string(u.body), "password") {
			t.Fatalf("user JSON = %s", u.body)
		}
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+helpdesk, bearer(w.admin), map[string]any{"adminRole": "authentication-admin"}), http.StatusOK)
		wantError(t, w.do("PATCH", "/api/v1/users/"+reader, bearer(w.admin), map[string]any{"adminRole": "root"}), http.StatusBadRequest, "invalidRequest", "not a role")

		// Admin work needs a multi-factor session: each adds an authenticator app first.
		rc := w.signedIn(w.passwordSignIn("rita@contoso.com", "correct horse battery"), "rita@contoso.com")
		ritaApp := w.addApp(rc)
		if w.me(rc)["adminRole"] != "reader" {
			t.Fatal("me does not show the admin role")
		}
		w.mustStatus(w.do("GET", "/api/v1/users", cookie(rc), nil), http.StatusOK)
		wantError(t, w.do("POST", "/api/v1/users", cookie(rc), map[string]any{"userPrincipalName": "x@contoso.com", "displayName": "X"}),
			http.StatusForbidden, "forbidden", `user "rita@contoso.com" has the role reader`)

		// Only a global admin sets roles; an authentication admin issues passes.
		hc := w.signedIn(w.passwordSignIn("hal@contoso.com", "correct horse battery"), "hal@contoso.com")
		w.addApp(hc)
		wantError(t, w.do("PATCH", "/api/v1/users/"+helpdesk, cookie(hc), map[string]any{"adminRole": "global-admin"}), http.StatusForbidden, "forbidden", "")
		w.mustStatus(w.do("POST", "/api/v1/users/"+reader+"/authentication/temporaryAccessPassMethods", cookie(hc), map[string]any{}), http.StatusCreated)
		wantError(t, w.do("POST", "/api/v1/users/"+reader+"/authentication/temporaryAccessPassMethods", cookie(rc), map[string]any{}), http.StatusForbidden, "forbidden", "")
		w.mustStatus(w.do("GET", "/api/v1/users/"+reader+"/authentication/temporaryAccessPassMethods", cookie(rc), nil), http.StatusOK)

		// A global admin resets a password; the old one stops working, and so
		// does every session it opened.
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+reader, bearer(w.admin), map[string]any{"passwordProfile": map[string]any{"password": "a brand new secret"}}), http.StatusOK)
		wantError(t, w.do("GET", "/api/v1/users", cookie(rc), nil), http.StatusUnauthorized, "unauthenticated", "")
		wantError(t, w.passwordSignIn("rita@contoso.com", "correct horse battery"), http.StatusUnauthorized, "invalidCredentials", "")
		rc = w.mfaSignIn("rita@contoso.com", "a brand new secret", ritaApp)
		wantError(t, w.do("PATCH", "/api/v1/users/"+reader, bearer(w.admin), map[string]any{"passwordProfile": map[string]any{"password": "short"}}), http.StatusBadRequest, "invalidRequest", "at least 8")
		wantError(t, w.do("PATCH", "/api/v1/users/"+reader, bearer(w.admin), map[string]any{"passwordProfile": map[string]any{}}), http.StatusBadRequest, "invalidRequest", "password")

		// A role taken away applies to the live session at once.
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+reader, bearer(w.admin), map[string]any{"adminRole": ""}), http.StatusOK)
		wantError(t, w.do("GET", "/api/v1/users", cookie(rc), nil), http.StatusForbidden, "forbidden", "has no admin role")
	})
}

func TestSignInOptions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		alice := w.user("alice@contoso.com")
		bob := w.pwUser("bob@contoso.com", "correct horse battery")
		g := w.group("Key users", alice, bob)
		w.setPolicy(`{"state":"enabled","includeTargets":[{"targetType":"group","id":"` + g + `"}]}`)
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), w.session(alice, true), "A"), http.StatusCreated)
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), w.session(bob, true), "B"), http.StatusCreated)
		w.pwUser("carol@contoso.com", "correct horse battery")

		options := func(name string) string {
			t.Helper()
			return strings.TrimSpace(string(w.mustStatus(w.do("POST", "/api/v1/auth/methods", cred{}, map[string]any{"username": name}), http.StatusOK).body))
		}
		unknown := `{"passkey":false,"password":true,"temporaryAccessPass":true}`
		for name, want := range map[string]string{
			"alice@contoso.com":  `{"passkey":true,"password":false,"temporaryAccessPass":true}`,
			"BOB@contoso.com":    `{"passkey":true,"password":true,"temporaryAccessPass":true}`,
			"carol@contoso.com":  unknown,
			"nobody@contoso.com": unknown,
			"":                   unknown,
		} {
			if got := options(name); got != want {
				t.Errorf("options for %q = %s, want %s", name, got, want)
			}
		}
		// Out of the policy's groups, the passkey option disappears.
		w.mustStatus(w.do("DELETE", "/api/v1/groups/"+g+"/members/"+bob, bearer(w.admin), nil), http.StatusNoContent)
		if got := options("bob@contoso.com"); got != unknown {
			t.Fatalf("options for bob outside the group = %s", got)
		}
		m := w.mustStatus(w.do("GET", "/api/v1/me/methods", cookie(w.session(bob, true)), nil), http.StatusOK).json(t)
		can := m["canAdd"].(map[string]any)
		if can["passkey"] != false || !strings.Contains(can["passkeyReason"].(string), "not turned on for your account") ||
			m["password"].(map[string]any)["set"] != true || len(m["passkeys"].([]any)) != 1 || can["authenticatorApp"] != true {
			t.Fatalf("methods = %v", m)
		}
	})
}

// Disabling an account signs its person out everywhere: enabling it again
// does not bring the old sessions back.
func TestDisablingAUserEndsTheirSessions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		id := w.pwUser("dora@contoso.com", "correct horse battery")
		c := w.signedIn(w.passwordSignIn("dora@contoso.com", "correct horse battery"), "dora@contoso.com")
		w.mustStatus(w.do("GET", "/api/v1/me", cookie(c), nil), http.StatusOK)
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+id, bearer(w.admin), map[string]any{"accountEnabled": false}), http.StatusOK)
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+id, bearer(w.admin), map[string]any{"accountEnabled": true}), http.StatusOK)
		wantError(t, w.do("GET", "/api/v1/me", cookie(c), nil), http.StatusUnauthorized, "unauthenticated", "")
		w.signedIn(w.passwordSignIn("dora@contoso.com", "correct horse battery"), "dora@contoso.com")
	})
}
