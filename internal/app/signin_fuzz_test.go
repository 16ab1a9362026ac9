package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// FuzzSignInEndpoints throws arbitrary bodies at the sign-in, setup and
// security-info endpoints. Whatever arrives, nothing answers 5xx, nobody is
// signed in, and no user or method appears.
func FuzzSignInEndpoints(f *testing.F) {
	w := newWorld(f, storagetest.NewSQLite(f))
	user := w.pwUser("fuzz@contoso.com", "correct horse battery")
	sess := w.session(user, true)
	for _, seed := range []string{
		`{"username":"fuzz@contoso.com","password":"wrong password"}`,
		`{"username":"fuzz@contoso.com","temporaryAccessPass":"ABCDEFGHJKMNPQRS"}`,
		`{"code":"123456"}`, `{"token":"kwsetup_x","userPrincipalName":"a@b.c","displayName":"A","password":"x"}`,
		`{"username":null}`, `[]`, `{"password":{"a":1}}`, "\x00", `{"username":"` + strings.Repeat("é", 300) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	handler := w.apps[0].Handler()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/api/v1/auth/methods", "/api/v1/auth/password", "/api/v1/auth/tap",
			"/api/v1/auth/totp", "/api/v1/setup", "/api/v1/me/authenticatorApp/verify"} {
			req := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.AddCookie(&http.Cookie{Name: "keyward_session", Value: sess})
			req.Header.Set(session.CSRFHeader, session.CSRFToken(secret.KeyedID(sess)))
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code >= 500 || (rec.Code < 400 && path != "/api/v1/auth/methods") {
				t.Fatalf("%s: status %d for %q: %s", path, rec.Code, body, rec.Body)
			}
		}
		if n, err := w.store.CountUsers(ctx); err != nil || n != 1 {
			t.Fatalf("fuzz input changed the users: %d, %v", n, err)
		}
		events, err := w.store.ListSignInEvents(ctx, storage.EventFilter{UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Result == storage.ResultSuccess {
				t.Fatalf("fuzz input signed the user in: %+v", e)
			}
		}
	})
}
