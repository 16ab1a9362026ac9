package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// A related origin (WebAuthn Level 3 §5.11) is listed at
// /.well-known/webauthn and accepted as the origin of a ceremony, exactly
// as written; any other origin is still refused, naming what is accepted.
func TestRelatedOriginsAreListedAndAccepted(t *testing.T) {
	const related = "https://login.fabrikam.test"
	public, _ := url.Parse("https://id.contoso.test")
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			w := newWorldWith(t, b.New(t), func(o *app.Options) { o.RelatedOrigins = []string{related} }, public)

			r := w.mustStatus(w.do("GET", "/.well-known/webauthn", cred{}, nil), http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var doc struct {
				Origins []string `json:"origins"`
			}
			if err := json.Unmarshal(r.body, &doc); err != nil || len(doc.Origins) != 1 || doc.Origins[0] != related {
				t.Fatalf("/.well-known/webauthn = %s (%v)", r.body, err)
			}

			k := w.key(goodAAGUID, softkey.FormatPacked)
			k.SkipOriginCheck = true // the software key is not a browser: it signs any origin it is given
			alice := w.user("alice@contoso.com")
			w.enableForAll()
			s := w.session(alice, true)
			opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(s), nil), http.StatusOK)
			resp, err := k.Register(opts.body, related)
			if err != nil {
				t.Fatal(err)
			}
			w.mustStatus(w.do("POST", "/api/v1/me/passkeys", cookie(s), map[string]any{
				"displayName": "from Fabrikam", "publicKeyCredential": json.RawMessage(resp)}), http.StatusCreated)

			signIn := func(origin string) reply {
				opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
				resp, err := k.Assert(opts.body, origin)
				if err != nil {
					t.Fatal(err)
				}
				return w.do("POST", "/api/v1/auth/passkey", cred{}, resp)
			}
			w.mustStatus(signIn(related), http.StatusOK)
			w.mustStatus(signIn(w.origin()), http.StatusOK)
			for _, other := range []string{"https://login.fabrikam.test:8443", "https://evil.test", related + "/"} {
				wantError(t, signIn(other), http.StatusUnauthorized, "verificationFailed",
					"made for the origin \""+other+"\", but this sign-in service is https://id.contoso.test (related origins: "+related+")")
			}
		})
	}
}

func TestNoRelatedOriginsNoWellKnown(t *testing.T) {
	w := newWorld(t, storagetest.NewSQLite(t))
	wantError(t, w.do("GET", "/.well-known/webauthn", cred{}, nil), http.StatusNotFound, "notFound", "no related origins")
}
