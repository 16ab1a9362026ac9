package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
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

// Tokens issued before they carried a time-ordered key (their rows stored
// under their SHA-256 alone) keep working after an upgrade: the opaque
// access token at userinfo, the refresh token rotated once, and that refresh
// token used again revokes what grew from it. New tokens carry the key.
func TestOIDCTokensIssuedBeforeTheKeyStillWork(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		p, fresh := offlineTokens(t, w)
		ctx := p.ctx()
		for _, tok := range []string{fresh.AccessToken, fresh.RefreshToken} {
			if len(tok) != 4+32+1+43 || tok[36] != '_' {
				t.Fatalf("a new token looks like %.40s… (%d characters), want its key and 256 bits", tok, len(tok))
			}
		}
		alice, err := w.store.GetUserByUPN(ctx, "alice@contoso.com")
		if err != nil {
			t.Fatal(err)
		}
		// Two tokens as the version before stored them.
		oldAccess, oldRefresh := secret.New("kwa_"), secret.New("kwr_")
		now := time.Now()
		base := storage.OIDCToken{GrantID: "old-grant", ApplicationID: p.objectID, ClientID: p.appID, UserID: alice.ID,
			Scopes: []string{"openid", "offline_access"}, Audience: []string{p.appID}, AMR: []string{"hwk", "user", "mfa"},
			ACR: "phrh", AuthTime: now.Add(-time.Minute), CreatedAt: now}
		acc, ref := base, base
		acc.ID, acc.Kind, acc.RefreshID, acc.ExpiresAt = secret.HashHex(oldAccess), storage.TokenAccess, secret.HashHex(oldRefresh), now.Add(time.Hour)
		ref.ID, ref.Kind, ref.ExpiresAt = secret.HashHex(oldRefresh), storage.TokenRefresh, now.Add(24*time.Hour)
		if err := w.store.CreateOIDCTokens(ctx, acc, ref); err != nil {
			t.Fatal(err)
		}
		ui, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: oldAccess, TokenType: "Bearer"}))
		if err != nil || ui.Subject != alice.ID {
			t.Fatalf("userinfo with an access token issued before: %+v %v", ui, err)
		}
		next, err := p.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: oldRefresh}).Token()
		if err != nil {
			t.Fatalf("refreshing with a refresh token issued before: %v", err)
		}
		if _, err := p.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: oldRefresh}).Token(); err == nil {
			t.Fatal("a refresh token issued before was accepted twice")
		}
		if _, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(next)); err == nil {
			t.Fatal("the reuse of a rotated refresh token issued before left its successor's access token working")
		}
	})
}

// Refreshes racing with one refresh token: one wins its rotation, and it is
// the one refresh the sign-in log has; the others are refused and log no
// success (the record is stored with the rotation, not when the refresh is
// judged).
func TestRacingRefreshesLogOnlyTheWinner(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		p, tok := offlineTokens(t, w)
		ctx := p.ctx()
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = p.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				oauthErr(t, err, "invalid_grant")
			}
		}
		events, err := w.store.ListSignInEvents(ctx, storage.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		logged := 0
		for _, e := range events {
			if e.Method == "refreshToken" && e.Result == storage.ResultSuccess {
				logged++
			}
		}
		if wins != 1 || logged != 1 {
			t.Fatalf("%d of %d racing refreshes won and the sign-in log has %d successful refreshes; want 1 and 1", wins, n, logged)
		}
	})
}

// offlineTokens signs a user in to a web app (oidcSignedIn) and redeems a
// code for tokens with offline_access: a refresh token too.
func offlineTokens(t *testing.T, w *world) (*rp, *oauth2.Token) {
	t.Helper()
	_, p, br := oidcSignedIn(t, w)
	f := p.start(oauth2.SetAuthURLParam("scope", "openid offline_access"))
	tok, err := p.conf.Exchange(p.ctx(), br.code(t, p, f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	return p, tok
}
