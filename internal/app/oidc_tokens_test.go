package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// backChannel posts form to one of the provider's endpoints with the app's
// client secret, on the app's node, and returns the status and JSON body.
func (p *rp) backChannel(path string, form url.Values) (int, map[string]any) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.w.origin()+path, strings.NewReader(form.Encode()))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.appID), url.QueryEscape(p.secret))
	res, err := (&http.Client{Transport: toNode{p.w, &p.node}}).Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// An app's access tokens are opaque unless it asks for JWTs
// (accessTokenType). Either kind works at userinfo on any node and at
// introspection for its own app only, and stops at once when revoked.
func TestOIDCAccessTokenTypes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.addNode(w.mdsRootForNodes())
		_, p, br := oidcSignedIn(t, w)
		other := w.newApp(t, "Other", map[string]any{"web": map[string]any{"redirectUris": []string{"https://other.example/cb"}}}, true)
		app := w.mustStatus(w.do("GET", "/api/v1/applications/"+p.objectID, bearer(w.admin), nil), http.StatusOK).json(t)
		if app["accessTokenType"] != "opaque" {
			t.Fatalf("a new app's accessTokenType is %v, want opaque", app["accessTokenType"])
		}
		exchange := func() *oauth2.Token {
			t.Helper()
			f := p.start()
			tok, err := p.conf.Exchange(p.ctx(), br.code(t, p, f), oauth2.VerifierOption(f.verifier))
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		introspect := func(p *rp, token string) map[string]any {
			t.Helper()
			status, body := p.backChannel("/oauth2/introspect", url.Values{"token": {token}})
			if status != http.StatusOK {
				t.Fatalf("introspection: %d %v", status, body)
			}
			return body
		}
		works := func(what string, tok *oauth2.Token, sub string) {
			t.Helper()
			p.node = 1 // another node than the one that issued it
			ui, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok))
			if err != nil || ui.Subject != sub {
				t.Fatalf("userinfo with %s: %+v %v, want subject %s", what, ui, err, sub)
			}
			got := introspect(p, tok.AccessToken)
			if got["active"] != true || got["sub"] != sub || got["client_id"] != p.appID {
				t.Fatalf("introspection of %s by its app: %v", what, got)
			}
			if got := introspect(other, tok.AccessToken); got["active"] != false {
				t.Fatalf("introspection of %s by another app: %v, want inactive", what, got)
			}
			if status, body := p.backChannel("/oauth2/revoke", url.Values{"token": {tok.AccessToken}}); status != http.StatusOK {
				t.Fatalf("revoking %s: %d %v", what, status, body)
			}
			if _, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok)); err == nil {
				t.Fatalf("userinfo accepted %s after it was revoked", what)
			}
			if got := introspect(p, tok.AccessToken); got["active"] != false {
				t.Fatalf("introspection of %s after it was revoked: %v", what, got)
			}
			p.node = 0
		}

		opaque := exchange()
		id, _ := p.verifyID(opaque) // at_hash covers the opaque token too
		if !strings.HasPrefix(opaque.AccessToken, "kwa_") || strings.Contains(opaque.AccessToken, ".") {
			t.Fatalf("an opaque access token looks like %.20s…", opaque.AccessToken)
		}
		works("an opaque access token", opaque, id.Subject)

		// Bad input: refused, and nothing changes.
		w.mustStatus(w.do("PATCH", "/api/v1/applications/"+p.objectID, bearer(w.admin), map[string]any{"accessTokenType": "JWT "}), http.StatusBadRequest)
		app = w.mustStatus(w.do("GET", "/api/v1/applications/"+p.objectID, bearer(w.admin), nil), http.StatusOK).json(t)
		if app["accessTokenType"] != "opaque" {
			t.Fatalf("a refused change left accessTokenType %v", app["accessTokenType"])
		}
		app = w.mustStatus(w.do("PATCH", "/api/v1/applications/"+p.objectID, bearer(w.admin), map[string]any{"accessTokenType": "jwt"}), http.StatusOK).json(t)
		if app["accessTokenType"] != "jwt" {
			t.Fatalf("accessTokenType after asking for jwt: %v", app["accessTokenType"])
		}
		jwt := exchange()
		id, _ = p.verifyID(jwt)
		at, err := p.provider.Verifier(&gooidc.Config{ClientID: p.appID}).Verify(p.ctx(), jwt.AccessToken)
		if err != nil {
			t.Fatalf("the JWT access token does not verify with the published keys: %v", err)
		}
		if at.Subject != id.Subject {
			t.Fatalf("the JWT access token's sub is %q, want %q", at.Subject, id.Subject)
		}
		works("a JWT access token", jwt, id.Subject)
	})
}
