package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// rp is a relying party as a real app is written: go-oidc for discovery and
// ID token verification, x/oauth2 for the code flow, each request sent to
// the node of the test's choosing (as a load balancer would).
type rp struct {
	t        testing.TB
	w        *world
	appID    string
	objectID string
	secret   string
	conf     oauth2.Config
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	node     int // the node the back channel (token, userinfo) talks to
}

// toNode sends every request for the public origin to node i instead.
type toNode struct {
	w *world
	i *int
}

func (n toNode) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == n.w.public.Host {
		r = r.Clone(r.Context())
		u, _ := url.Parse(n.w.nodes[*n.i].URL)
		r.URL.Host, r.Host = u.Host, n.w.public.Host
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (p *rp) ctx() context.Context {
	return gooidc.ClientContext(context.Background(), &http.Client{Transport: toNode{p.w, &p.node}})
}

// newApp registers an application through the admin API and points a
// relying party at it. body is the POST body without displayName.
func (w *world) newApp(t testing.TB, name string, body map[string]any, secret bool, scopes ...string) *rp {
	t.Helper()
	body["displayName"] = name
	app := w.mustStatus(w.do("POST", "/api/v1/applications", bearer(w.admin), body), http.StatusCreated).json(t)
	p := &rp{t: t, w: w, appID: app["appId"].(string), objectID: app["id"].(string)}
	redirect := ""
	if web, _ := app["web"].(map[string]any)["redirectUris"].([]any); len(web) > 0 {
		redirect = web[0].(string)
	} else {
		redirect = app["publicClient"].(map[string]any)["redirectUris"].([]any)[0].(string)
	}
	if secret {
		pw := w.mustStatus(w.do("POST", "/api/v1/applications/"+p.objectID+"/addPassword", bearer(w.admin),
			map[string]any{"passwordCredential": map[string]any{"displayName": "test"}}), http.StatusOK).json(t)
		p.secret = pw["secretText"].(string)
	}
	var err error
	p.provider, err = gooidc.NewProvider(p.ctx(), w.origin())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	p.verifier = p.provider.Verifier(&gooidc.Config{ClientID: p.appID})
	if len(scopes) == 0 {
		scopes = []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess}
	}
	p.conf = oauth2.Config{ClientID: p.appID, ClientSecret: p.secret, Endpoint: p.provider.Endpoint(),
		RedirectURL: redirect, Scopes: scopes}
	return p
}

// browser is a person's browser: cookies, and redirects followed on
// Keyward's origin but not onto the app's redirect URI.
type browser struct {
	t      testing.TB
	w      *world
	client *http.Client
}

func (w *world) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, w: w}
	b.client = &http.Client{Jar: jar, Transport: toNode{w, new(int)},
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Host != w.public.Host {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	return b
}

// get follows redirects within Keyward and returns the final response.
func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.w.origin() + u
	}
	res, err := b.client.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// post sends JSON on Keyward's API with the browser's cookies.
func (b *browser) post(path string, body []byte) []byte {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.w.origin()+path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		b.t.Fatalf("POST %s: %d %s", path, res.StatusCode, out)
	}
	return out
}

// passkeySignIn signs in with k as the sign-in page's script does.
func (b *browser) passkeySignIn(k *softkey.Authenticator, username string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"username": username})
	opts := b.post("/api/v1/auth/passkey/options", body)
	resp, err := k.Assert(opts, b.w.origin())
	if err != nil {
		b.t.Fatalf("authenticator: %v", err)
	}
	b.post("/api/v1/auth/passkey", resp)
}

// authorize starts a sign-in at the app the way its login button does.
type flow struct {
	verifier, nonce, state string
	url                    string
}

func (p *rp) start(opts ...oauth2.AuthCodeOption) flow {
	f := flow{verifier: oauth2.GenerateVerifier(), nonce: "n-" + oauth2.GenerateVerifier()[:12], state: "s-" + oauth2.GenerateVerifier()[:12]}
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), gooidc.Nonce(f.nonce)}, opts...)
	f.url = p.conf.AuthCodeURL(f.state, opts...)
	return f
}

// landed returns the query the app's redirect URI received.
func landed(t testing.TB, res *http.Response, redirect string) url.Values {
	t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, strings.Split(redirect, "?")[0]) {
		t.Fatalf("expected a redirect to the app (%s), got %d Location %q", redirect, res.StatusCode, loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// signInAtApp runs the whole browser side: authorize → Keyward's sign-in
// page → passkey → back to the app with a code, without a click in between.
func (p *rp) signInAtApp(b *browser, k *softkey.Authenticator, upn string, f flow) string {
	p.t.Helper()
	res, _ := b.get(f.url)
	if res.Request.URL.Path != "/login" {
		p.t.Fatalf("authorize without a session should end on the sign-in page, ended on %s (%d)", res.Request.URL, res.StatusCode)
	}
	next := res.Request.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/oauth2/continue?") {
		p.t.Fatalf("the sign-in page does not know the pending request: next=%q", next)
	}
	b.passkeySignIn(k, upn)
	res, _ = b.get(next) // what the sign-in page's script does after signing in
	q := landed(p.t, res, p.conf.RedirectURL)
	if q.Get("state") != f.state || q.Get("code") == "" {
		p.t.Fatalf("the app got %v, want a code and state %q", q, f.state)
	}
	return q.Get("code")
}

type idClaims struct {
	Nonce    string   `json:"nonce"`
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
	AuthTime int64    `json:"auth_time"`
	AtHash   string   `json:"at_hash"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	UPN      string   `json:"preferred_username"`
}

func (p *rp) verifyID(tok *oauth2.Token) (*gooidc.IDToken, idClaims) {
	p.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		p.t.Fatal("the token response has no id_token")
	}
	id, err := p.verifier.Verify(p.ctx(), raw)
	if err != nil {
		p.t.Fatalf("the ID token does not verify: %v", err)
	}
	var c idClaims
	if err := id.Claims(&c); err != nil {
		p.t.Fatal(err)
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		p.t.Fatalf("at_hash: %v", err)
	}
	return id, c
}

func oauthErr(t testing.TB, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Fatalf("got %v, want the OAuth error %s", err, code)
	}
}

// TestOIDCCodeFlowConfidentialClient: a web app signs a passkey user in with
// the code flow and PKCE; the code is issued by one node and redeemed on
// another; the ID token verifies with amr/acr/nonce/auth_time; userinfo,
// refresh with rotation, and reuse detection revoking the chain.
func TestOIDCCodeFlowConfidentialClient(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.addNode(w.mdsRootForNodes())
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		signInAt := w.clock.Now()
		p := w.newApp(t, "Grafana", map[string]any{"web": map[string]any{"redirectUris": []string{"https://grafana.example/login/generic_oauth"}}}, true)
		if p.provider.Endpoint().AuthURL != w.origin()+"/oauth2/authorize" {
			t.Fatalf("discovery's endpoints are not on the public URL: %s", p.provider.Endpoint().AuthURL)
		}
		var disc struct {
			ResponseTypes []string `json:"response_types_supported"`
			Grants        []string `json:"grant_types_supported"`
			PKCE          []string `json:"code_challenge_methods_supported"`
			ACR           []string `json:"acr_values_supported"`
			Device        string   `json:"device_authorization_endpoint"`
		}
		if err := p.provider.Claims(&disc); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(disc.ResponseTypes, []string{"code"}) || !slices.Equal(disc.PKCE, []string{"S256"}) ||
			slices.Contains(disc.Grants, "implicit") || disc.Device != "" || !slices.Contains(disc.ACR, "phrh") {
			t.Fatalf("discovery promises what Keyward does not do, or hides what it does: %+v", disc)
		}

		b := w.browser(t)
		f := p.start()
		code := p.signInAtApp(b, k, "alice@contoso.com", f)

		p.node = 1 // the load balancer sends the app's back channel elsewhere
		tok, err := p.conf.Exchange(p.ctx(), code, oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatalf("code exchange on the other node: %v", err)
		}
		id, c := p.verifyID(tok)
		if id.Subject != alice || id.Issuer != w.origin() {
			t.Fatalf("sub %q iss %q, want %q %q", id.Subject, id.Issuer, alice, w.origin())
		}
		if c.Nonce != f.nonce {
			t.Fatalf("nonce %q, want %q", c.Nonce, f.nonce)
		}
		if !slices.Equal(c.AMR, []string{"hwk", "user", "mfa"}) || c.ACR != "phrh" {
			t.Fatalf("a device-bound passkey gave amr %v acr %q, want [hwk user mfa] phrh", c.AMR, c.ACR)
		}
		if d := time.Unix(c.AuthTime, 0).Sub(signInAt); d < -time.Second || d > time.Second {
			t.Fatalf("auth_time %v, the sign-in was at %v", time.Unix(c.AuthTime, 0), signInAt)
		}
		if c.UPN != "alice@contoso.com" || c.Email != "alice@contoso.com" {
			t.Fatalf("profile/email claims: %+v", c)
		}

		ui, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != alice || ui.Email != "alice@contoso.com" {
			t.Fatalf("userinfo: %+v %v", ui, err)
		}

		// Refresh: a new pair; the ID token keeps the sign-in's auth_time, amr and acr.
		p.node = 0
		first := tok.RefreshToken
		if first == "" {
			t.Fatal("offline_access gave no refresh token")
		}
		tok2, err := p.conf.TokenSource(p.ctx(), &oauth2.Token{RefreshToken: first}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.RefreshToken == "" || tok2.RefreshToken == first {
			t.Fatal("the refresh token was not rotated")
		}
		_, c2 := p.verifyID(tok2)
		if c2.AuthTime != c.AuthTime || !slices.Equal(c2.AMR, c.AMR) || c2.ACR != c.ACR {
			t.Fatalf("refresh changed the sign-in facts: %+v, was %+v", c2, c)
		}

		// The rotated token used again: refused, and the whole chain is revoked.
		_, err = p.conf.TokenSource(p.ctx(), &oauth2.Token{RefreshToken: first}).Token()
		oauthErr(t, err, "invalid_grant")
		_, err = p.conf.TokenSource(p.ctx(), &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
		oauthErr(t, err, "invalid_grant")
		if _, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok2)); err == nil {
			t.Fatal("the chain's access token still works after refresh-token reuse")
		}
		// The administrator sees the reuse in the sign-in log: a failed
		// non-interactive sign-in to the app, from the client that sent it.
		var log struct {
			Value []struct {
				UserPrincipalName string `json:"userPrincipalName"`
				AppID             string `json:"appId"`
				AppDisplayName    string `json:"appDisplayName"`
				IsInteractive     bool   `json:"isInteractive"`
				IPAddress         string `json:"ipAddress"`
				Status            struct {
					AdditionalDetails string `json:"additionalDetails"`
					FailureReason     string `json:"failureReason"`
				} `json:"status"`
			} `json:"value"`
		}
		if err := json.Unmarshal(w.mustStatus(w.do("GET", "/api/v1/auditLogs/signIns?$top=1", bearer(w.admin), nil), http.StatusOK).body, &log); err != nil {
			t.Fatal(err)
		}
		if len(log.Value) != 1 {
			t.Fatalf("sign-in log: %+v", log.Value)
		}
		if got := log.Value[0]; got.UserPrincipalName != "alice@contoso.com" || got.AppID != p.appID || got.AppDisplayName != "Grafana" ||
			got.IsInteractive || got.IPAddress != "127.0.0.1" || got.Status.AdditionalDetails != "refreshTokenReused" ||
			!strings.Contains(got.Status.FailureReason, "used again") {
			t.Fatalf("the reused refresh token in the sign-in log: %+v", got)
		}
	})
}

// TestOIDCCodeFlowPublicClient: a public client (no secret) must use PKCE,
// and its loopback redirect URI matches any port (RFC 8252 §7.3). A synced
// passkey gives swk and phr. A second authorization with the session goes
// straight back to the app.
func TestOIDCCodeFlowPublicClient(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatNone, func(o *softkey.Options) { o.BackupEligible, o.BackupState = true, true })
		registered(t, w, k)
		p := w.newApp(t, "CLI", map[string]any{"publicClient": map[string]any{"redirectUris": []string{"http://127.0.0.1/callback"}}}, false,
			gooidc.ScopeOpenID, "profile")
		p.conf.RedirectURL = "http://127.0.0.1:53682/callback"
		b := w.browser(t)
		f := p.start()
		code := p.signInAtApp(b, k, "alice@contoso.com", f)
		tok, err := p.conf.Exchange(p.ctx(), code, oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		_, c := p.verifyID(tok)
		if !slices.Equal(c.AMR, []string{"swk", "user", "mfa"}) || c.ACR != "phr" {
			t.Fatalf("a synced passkey gave amr %v acr %q", c.AMR, c.ACR)
		}
		if tok.RefreshToken != "" {
			t.Fatal("a refresh token without offline_access")
		}

		// Signed in already: straight back to the app, in the authorization's
		// own answer (the hand-off and the callback run within it), with a
		// code that works.
		f2 := p.start()
		res, _ := b.get(f2.url)
		q := landed(t, res, p.conf.RedirectURL)
		if q.Get("code") == "" || q.Get("state") != f2.state {
			t.Fatalf("with a session the app got %v", q)
		}
		if res.Request.URL.Path != "/oauth2/authorize" {
			t.Fatalf("with a session the code came from %s, not from the authorization's answer", res.Request.URL.Path)
		}
		// A code is 256 random bits, like every secret Keyward hands out.
		if c := q.Get("code"); !strings.HasPrefix(c, "kwc_") || len(c) != 4+43 || c == code {
			t.Fatalf("codes %q and %q: want kwc_ and 43 base64url characters, each its own", code, c)
		}
		tok, err = p.conf.Exchange(p.ctx(), q.Get("code"), oauth2.VerifierOption(f2.verifier))
		if err != nil {
			t.Fatalf("exchanging the code of an authorization with a session: %v", err)
		}
		if _, c2 := p.verifyID(tok); c2.AuthTime != c.AuthTime || !slices.Equal(c2.AMR, c.AMR) || c2.Nonce != f2.nonce {
			t.Fatalf("the session's second app sign-in: %+v, the first: %+v", c2, c)
		}

		// Without PKCE a public client is refused, at the app (the redirect URI is registered).
		res, _ = b.get(p.conf.AuthCodeURL("st"))
		if q := landed(t, res, p.conf.RedirectURL); q.Get("error") != "invalid_request" {
			t.Fatalf("no PKCE: %v", q)
		}
		// plain PKCE is refused too.
		res, _ = b.get(p.conf.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqr"),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if q := landed(t, res, p.conf.RedirectURL); q.Get("error") != "invalid_request" {
			t.Fatalf("plain PKCE: %v", q)
		}
	})
}

// TestOIDCRefusals: what an app or an attacker can get wrong.
func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		redirect := "https://app.example/cb"
		p := w.newApp(t, "App", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
		b := w.browser(t)

		t.Run("unknown_client_gets_a_page_not_a_redirect", func(t *testing.T) {
			bad := p.conf
			bad.ClientID = "00000000-0000-0000-0000-000000000000"
			res, body := b.get(bad.AuthCodeURL("s", oauth2.S256ChallengeOption("v")))
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" ||
				!strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "not registered") {
				t.Fatalf("%d %q %s", res.StatusCode, res.Header.Get("Location"), body)
			}
		})
		t.Run("unregistered_redirect_uri_gets_a_page_not_a_redirect", func(t *testing.T) {
			bad := p.conf
			bad.RedirectURL = "https://evil.example/cb"
			res, body := b.get(bad.AuthCodeURL("s", oauth2.S256ChallengeOption("v")))
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(body, "redirect_uri") {
				t.Fatalf("%d %q %s", res.StatusCode, res.Header.Get("Location"), body)
			}
		})

		f := p.start()
		code := p.signInAtApp(b, k, "alice@contoso.com", f)
		// A failed check uses the code up (RFC 6749 §10.5; docs/design.md,
		// OIDC): the right request after it is refused, and the tokens
		// stored when the code was redeemed are revoked.
		noTokensLeft := func(t *testing.T) {
			t.Helper()
			if n, err := w.store.RevokeUserOIDCTokens(context.Background(), alice, p.objectID); err != nil || n != 0 {
				t.Fatalf("%d tokens of a failed exchange were left (%v)", n, err)
			}
		}
		t.Run("wrong_secret_is_invalid_client", func(t *testing.T) {
			bad := p.conf
			bad.ClientSecret = "kwcs_wrong"
			bad.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // no second try with the secret in the body
			_, err := bad.Exchange(p.ctx(), code, oauth2.VerifierOption(f.verifier))
			oauthErr(t, err, "invalid_client")
			_, err = p.conf.Exchange(p.ctx(), code, oauth2.VerifierOption(f.verifier))
			oauthErr(t, err, "invalid_grant")
			noTokensLeft(t)
		})
		t.Run("wrong_verifier_is_invalid_grant", func(t *testing.T) {
			f2 := p.start()
			code2 := p.signInAtApp(w.browser(t), k, "alice@contoso.com", f2)
			_, err := p.conf.Exchange(p.ctx(), code2, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			oauthErr(t, err, "invalid_grant")
			_, err = p.conf.Exchange(p.ctx(), code2, oauth2.VerifierOption(f2.verifier))
			oauthErr(t, err, "invalid_grant")
			noTokensLeft(t)
		})
		t.Run("another_apps_code_is_invalid_grant", func(t *testing.T) {
			other := w.newApp(t, "Other app", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
			f5 := p.start()
			code5 := p.signInAtApp(w.browser(t), k, "alice@contoso.com", f5)
			_, err := other.conf.Exchange(p.ctx(), code5, oauth2.VerifierOption(f5.verifier))
			oauthErr(t, err, "invalid_grant")
			noTokensLeft(t)
		})
		t.Run("code_reuse_is_invalid_grant_and_revokes_its_tokens", func(t *testing.T) {
			f3 := p.start()
			code3 := p.signInAtApp(w.browser(t), k, "alice@contoso.com", f3)
			tok, err := p.conf.Exchange(p.ctx(), code3, oauth2.VerifierOption(f3.verifier))
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.conf.Exchange(p.ctx(), code3, oauth2.VerifierOption(f3.verifier))
			oauthErr(t, err, "invalid_grant")
			if _, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok)); err == nil {
				t.Fatal("the access token of a reused code still works")
			}
			_, err = p.conf.TokenSource(p.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			oauthErr(t, err, "invalid_grant")
		})
		t.Run("a_code_older_than_60_seconds_is_invalid_grant", func(t *testing.T) {
			f4 := p.start()
			code4 := p.signInAtApp(w.browser(t), k, "alice@contoso.com", f4)
			w.clock.Advance(61 * time.Second)
			_, err := p.conf.Exchange(p.ctx(), code4, oauth2.VerifierOption(f4.verifier))
			oauthErr(t, err, "invalid_grant")
		})
		t.Run("client_credentials", func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: p.appID, ClientSecret: p.secret, TokenURL: p.provider.Endpoint().TokenURL}
			tok, err := cc.Token(p.ctx())
			if err != nil || tok.AccessToken == "" {
				t.Fatalf("client credentials: %v", err)
			}
			// The app's own token, no user's: active, its subject the app.
			if status, got := p.backChannel("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}); status != http.StatusOK ||
				got["active"] != true || got["sub"] != p.appID || got["client_id"] != p.appID {
				t.Fatalf("introspection of the app's own token: %d %v", status, got)
			}
			cc.ClientSecret = "kwcs_nope"
			_, err = cc.Token(p.ctx())
			oauthErr(t, err, "invalid_client")
		})
	})
}

// jwtHeader decodes a compact JWS's protected header.
func jwtHeader(jws string) ([]byte, error) {
	h, _, _ := strings.Cut(jws, ".")
	return base64.RawURLEncoding.DecodeString(h)
}
