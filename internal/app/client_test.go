package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
)

// hugeUserAgent is a 200 KB User-Agent of two-byte runes after an
// odd-length prefix, so a cut at 512 bytes falls inside a rune.
var hugeUserAgent = "Mozilla/5.0 (" + strings.Repeat("é", 100_000)

// Every way of signing in stores what a person sends as User-Agent capped,
// in the sign-in log and in the session, on each backend: a hostile header
// cannot bloat either table (the passkey sign-in used to store it whole).
func TestUserAgentIsCappedOnEverySignIn(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		huge := cred{userAgent: hugeUserAgent}

		// Passkey.
		pk := w.user("pk@contoso.com")
		k := w.key(goodAAGUID, softkey.FormatPacked)
		w.mustStatus(w.register(k, w.session(pk, true), "Work key"), http.StatusCreated)
		opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, map[string]any{"username": "pk@contoso.com"}), http.StatusOK)
		assertion, err := k.Assert(opts.body, w.origin())
		if err != nil {
			t.Fatal(err)
		}
		w.assertCapped(pk, w.signedIn(w.do("POST", "/api/v1/auth/passkey", huge, assertion), "pk@contoso.com"))

		// Password.
		pw := w.pwUser("pw@contoso.com", "correct horse battery")
		w.assertCapped(pw, w.signedIn(w.do("POST", "/api/v1/auth/password", huge,
			map[string]any{"username": "pw@contoso.com", "password": "correct horse battery"}), "pw@contoso.com"))

		// Password and authenticator app: the pending session and the full one.
		app := w.pwUser("app@contoso.com", "correct horse battery")
		c := w.signedIn(w.passwordSignIn("app@contoso.com", "correct horse battery"), "app@contoso.com")
		sec := w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp", cookie(c), nil), http.StatusOK).json(t)["secret"].(string)
		w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp/verify", cookie(c), map[string]any{"code": w.code(sec)}), http.StatusOK)
		w.clock.Advance(30 * time.Second) // a new code for the sign-in
		r := w.mustStatus(w.do("POST", "/api/v1/auth/password", huge,
			map[string]any{"username": "app@contoso.com", "password": "correct horse battery"}), http.StatusOK)
		pending := sessionCookie(r)
		w.assertSessionCapped(pending)
		full := w.signedIn(w.do("POST", "/api/v1/auth/totp", cred{cookie: pending, userAgent: hugeUserAgent},
			map[string]any{"code": w.code(sec)}), "app@contoso.com")
		w.assertCapped(app, full)

		// Temporary Access Pass.
		tap := w.user("tap@contoso.com")
		pass := w.mustStatus(w.do("POST", "/api/v1/users/"+tap+"/authentication/temporaryAccessPassMethods", bearer(w.admin),
			map[string]any{}), http.StatusCreated).json(t)["temporaryAccessPass"].(string)
		w.assertCapped(tap, w.signedIn(w.do("POST", "/api/v1/auth/tap", huge,
			map[string]any{"username": "tap@contoso.com", "temporaryAccessPass": pass}), "tap@contoso.com"))

		// A refused sign-in is logged capped too.
		wantError(t, w.do("POST", "/api/v1/auth/password", huge,
			map[string]any{"username": "pw@contoso.com", "password": "wrong horse battery"}), http.StatusUnauthorized, "invalidCredentials", "")
		events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{UserID: pw})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			assertCappedUserAgent(t, "sign-in log ("+e.Method+", "+e.Result+")", e.UserAgent)
		}
	})
}

// assertCapped checks the session of cookie c and the user's sign-in log:
// a successful sign-in sent with the huge User-Agent is there, capped.
func (w *world) assertCapped(userID, c string) {
	w.t.Helper()
	w.assertSessionCapped(c)
	events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{UserID: userID})
	if err != nil {
		w.t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.UserAgent == "Go-http-client/1.1" { // the test's other requests
			continue
		}
		assertCappedUserAgent(w.t, "sign-in log ("+e.Method+", "+e.Result+")", e.UserAgent)
		found = found || e.Result == storage.ResultSuccess
	}
	if !found {
		w.t.Fatalf("the sign-in log of %s has no successful sign-in with the huge User-Agent: %+v", userID, events)
	}
}

func (w *world) assertSessionCapped(c string) {
	w.t.Helper()
	s, err := w.store.GetSession(context.Background(), secret.KeyedID(c))
	if err != nil {
		w.t.Fatal(err)
	}
	assertCappedUserAgent(w.t, "session "+strings.Join(s.AuthMethods, "+"), s.UserAgent)
}

func assertCappedUserAgent(t testing.TB, where, got string) {
	t.Helper()
	if len(got) > 512 || len(got) < 500 || !utf8.ValidString(got) || !strings.HasPrefix(hugeUserAgent, got) {
		t.Fatalf("%s stores a User-Agent of %d bytes (valid UTF-8: %v), want the first 500–512 bytes of the %d sent, cut between characters",
			where, len(got), utf8.ValidString(got), len(hugeUserAgent))
	}
}
