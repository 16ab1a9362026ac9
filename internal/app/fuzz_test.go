package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// FuzzPasskeyEndpoints throws arbitrary bodies at the endpoints that parse
// WebAuthn responses (base64url, client data JSON, CBOR attestation objects
// and authenticator data). Whatever arrives, the answer is a 4xx JSON error
// and nothing is stored.
func FuzzPasskeyEndpoints(f *testing.F) {
	w := newFuzzWorld(f)
	k := w.key(goodAAGUID, softkey.FormatPacked)
	opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(w.fuzzSession), nil), http.StatusOK)
	reg, err := k.Register(opts.body, w.origin())
	if err != nil {
		f.Fatal(err)
	}
	// A real response, used once so that as a seed it is a replay.
	w.mustStatus(w.do("POST", "/api/v1/me/passkeys", cookie(w.fuzzSession), map[string]any{"publicKeyCredential": json.RawMessage(reg)}), http.StatusCreated)
	creds, err := w.store.ListUserCredentials(context.Background(), w.fuzzUser)
	if err != nil || len(creds) != 1 {
		f.Fatal(creds, err)
	}
	if err := w.store.DeleteCredential(context.Background(), creds[0].ID); err != nil {
		f.Fatal(err)
	}
	f.Add(reg)
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"AA"}}`))
	f.Add([]byte(`null`))
	handler := w.apps[0].Handler()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []struct{ path, body string }{
			{"/api/v1/auth/passkey", string(body)},
			{"/api/v1/me/passkeys", `{"publicKeyCredential":` + string(body) + `}`},
		} {
			req := httptest.NewRequest("POST", target.path, strings.NewReader(target.body))
			req.Header.Set("Content-Type", "application/json")
			req.AddCookie(&http.Cookie{Name: "keyward_session", Value: w.fuzzSession})
			req.Header.Set(session.CSRFHeader, session.CSRFToken(secret.KeyedID(w.fuzzSession)))
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code < 400 || rec.Code >= 500 {
				t.Fatalf("%s: status %d for %q: %s", target.path, rec.Code, body, rec.Body)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s: not a JSON error: %s", target.path, rec.Body)
			}
		}
		creds, err := w.store.ListUserCredentials(ctx, w.fuzzUser)
		if err != nil || len(creds) != 0 {
			t.Fatalf("fuzz input stored a credential: %v %v", creds, err)
		}
		if ev, _ := w.store.ListSignInEvents(ctx, storage.EventFilter{UserID: w.fuzzUser}); len(ev) != 0 {
			t.Fatalf("fuzz input signed the user in: %+v", ev)
		}
	})
}

// newFuzzWorld is a world on SQLite with a signed-in user who may add passkeys.
func newFuzzWorld(f *testing.F) *world {
	w := newWorld(f, storagetest.NewSQLite(f))
	w.fuzzUser = w.user("fuzz@contoso.com")
	w.enableForAll()
	w.fuzzSession = w.session(w.fuzzUser, true)
	return w
}
