package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/session"
)

func TestConditionalAccessStepUpOnTheBinaryOnSQLite(t *testing.T) {
	testConditionalAccessStepUp(t, []string{"KEYWARD_DATA_DIR=" + t.TempDir()})
}

func TestConditionalAccessStepUpOnTheBinaryOnPostgres(t *testing.T) {
	testConditionalAccessStepUp(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t)})
}

// publicHost is where users reach keyward by default (public_url): the
// test's HTTP clients send what is meant for it to the binary's address.
const publicHost = "localhost:8080"

type toBinary struct{ addr string }

func (b toBinary) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == publicHost {
		r = r.Clone(r.Context())
		r.URL.Host = b.addr
		r.Host = publicHost
	}
	return http.DefaultTransport.RoundTrip(r)
}

// binaryRP is an app as one is written: go-oidc discovery and ID token
// verification, x/oauth2 for the code flow with PKCE.
type binaryRP struct {
	t        *testing.T
	ctx      context.Context
	appID    string
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

// binaryFlow is one authorize: its PKCE verifier and the URL the app's
// login button sends the browser to.
type binaryFlow struct{ verifier, state, url string }

func (p *binaryRP) start() binaryFlow {
	f := binaryFlow{verifier: oauth2.GenerateVerifier(), state: "s-" + oauth2.GenerateVerifier()[:12]}
	f.url = p.conf.AuthCodeURL(f.state, oauth2.S256ChallengeOption(f.verifier), gooidc.Nonce("n-"+f.state))
	return f
}

// exchange redeems code and verifies the ID token, returning its acr and amr.
func (p *binaryRP) exchange(f binaryFlow, code string) (acr string, amr []string) {
	p.t.Helper()
	tok, err := p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		p.t.Fatalf("token exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := p.verifier.Verify(p.ctx, raw)
	if err != nil {
		p.t.Fatalf("the ID token does not verify: %v", err)
	}
	var c struct {
		ACR   string   `json:"acr"`
		AMR   []string `json:"amr"`
		Nonce string   `json:"nonce"`
	}
	if err := id.Claims(&c); err != nil {
		p.t.Fatal(err)
	}
	if c.Nonce != "n-"+f.state {
		p.t.Fatalf("ID token nonce %q, want %q", c.Nonce, "n-"+f.state)
	}
	return c.ACR, c.AMR
}

// testConditionalAccessStepUp: the compiled binary, a real go-oidc client.
// A policy requiring Phishing-resistant MFA for an app makes a password +
// authenticator-app session step up to a passkey before the code is issued;
// a custom strength allowing only one key model refuses another model;
// report-only records its verdict in the sign-in log without blocking.
func testConditionalAccessStepUp(t *testing.T, env []string) {
	const (
		pw       = "correct horse battery staple"
		upn      = "bob@contoso.com"
		redirect = "https://app.example/cb"
		bobModel = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
		yubiKey  = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	)
	ctx := t.Context()
	tok := strings.TrimSpace(runBinary(t, env, "token", "create", "--name", "ops", "--role", "global-admin"))
	n := startServe(t, env)
	n.waitReady()
	admin := opsClient(n, tok, nil)
	if _, err := admin.EnablePasskeys(ctx); err != nil {
		t.Fatal(err)
	}

	hc := func(jar http.CookieJar) *http.Client {
		return &http.Client{Jar: jar, Transport: toBinary{n.addr}, Timeout: waitFor,
			CheckRedirect: func(r *http.Request, _ []*http.Request) error {
				if r.URL.Host != publicHost {
					return http.ErrUseLastResponse // the app's redirect URI: the app reads it
				}
				return nil
			}}
	}
	adminHTTP := hc(nil)
	// call sends a JSON request to keyward's public origin.
	call := func(c *http.Client, method, path, body string, hdr map[string]string) (int, []byte, *http.Response) {
		t.Helper()
		if strings.HasPrefix(path, "/") {
			path = "http://" + publicHost + path
		}
		req, err := http.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data, resp
	}
	asAdmin := map[string]string{"Authorization": "Bearer " + tok}
	must := func(want int, method, path, body string, hdr map[string]string, c *http.Client) map[string]any {
		t.Helper()
		if c == nil {
			c = adminHTTP
		}
		status, data, _ := call(c, method, path, body, hdr)
		if status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, data)
		}
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return m
	}

	// Bob: a password, a passkey provisioned by an administrator, and an
	// authenticator app he adds in My security info.
	bob := must(http.StatusCreated, "POST", "/api/v1/users", `{"userPrincipalName":"`+upn+`","displayName":"Bob","passwordProfile":{"password":"`+pw+`"}}`, asAdmin, nil)["id"].(string)
	key := softkey.New(softkey.Options{AAGUID: uuid.MustParse(bobModel), Attestation: softkey.FormatPackedSelf})
	if err := admin.Provision(ctx, bob, key); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := hc(jar)
	signInWithKey := func(path, body string) {
		t.Helper()
		status, opts, _ := call(browser, "POST", path, body, nil)
		if status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, status, opts)
		}
		assertion, err := key.Assert(opts, admin.Origin)
		if err != nil {
			t.Fatalf("authenticator: %v", err)
		}
		must(http.StatusOK, "POST", "/api/v1/auth/passkey", string(assertion), nil, browser)
	}
	signInWithKey("/api/v1/auth/passkey/options", `{"username":"`+upn+`"}`)
	csrf := map[string]string{session.CSRFHeader: must(http.StatusOK, "GET", "/api/v1/me", "", nil, browser)["csrfToken"].(string)}
	secret := must(http.StatusOK, "POST", "/api/v1/me/authenticatorApp", "", csrf, browser)["secret"].(string)
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	must(http.StatusOK, "POST", "/api/v1/me/authenticatorApp/verify", `{"code":"`+code(time.Now())+`"}`, csrf, browser)

	// Three apps, registered through the admin API, and their policies.
	newApp := func(name string) *binaryRP {
		t.Helper()
		a := must(http.StatusCreated, "POST", "/api/v1/applications", `{"displayName":"`+name+`","web":{"redirectUris":["`+redirect+`"]}}`, asAdmin, nil)
		sec := must(http.StatusOK, "POST", "/api/v1/applications/"+a["id"].(string)+"/addPassword", `{"passwordCredential":{"displayName":"test"}}`, asAdmin, nil)
		p := &binaryRP{t: t, appID: a["appId"].(string), ctx: gooidc.ClientContext(ctx, adminHTTP)}
		provider, err := gooidc.NewProvider(p.ctx, "http://"+publicHost)
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		p.verifier = provider.Verifier(&gooidc.Config{ClientID: p.appID})
		p.conf = oauth2.Config{ClientID: p.appID, ClientSecret: sec["secretText"].(string), Endpoint: provider.Endpoint(),
			RedirectURL: redirect, Scopes: []string{gooidc.ScopeOpenID, "profile"}}
		return p
	}
	wiki, payroll, chat := newApp("Wiki"), newApp("Payroll"), newApp("Chat")
	policy := func(name, state, appID, strength string) {
		t.Helper()
		must(http.StatusCreated, "POST", "/api/v1/identity/conditionalAccess/policies", `{"displayName":"`+name+`","state":"`+state+`",
			"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["`+appID+`"]}},
			"grantControls":{"authenticationStrength":{"id":"`+strength+`"}}}`, asAdmin, nil)
	}
	policy("Phishing-resistant MFA for the wiki", access.StateEnabled, wiki.appID, access.StrengthPhishingResistant)
	onlyYubiKey := must(http.StatusCreated, "POST", "/api/v1/identity/conditionalAccess/authenticationStrength/policies",
		`{"displayName":"Only one key model","allowedCombinations":["fido2"],
		"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["`+yubiKey+`"]}]}`, asAdmin, nil)["id"].(string)
	policy("One key model for payroll", access.StateEnabled, payroll.appID, onlyYubiKey)
	policy("Trying phishing-resistant for chat", access.StateReportOnly, chat.appID, access.StrengthPhishingResistant)

	jar, _ = cookiejar.New(nil)
	browser = hc(jar) // a fresh browser, signed in nowhere

	// authorize follows the browser through keyward; it returns the code
	// the app received, or "" and the page the browser ended on.
	authorize := func(f binaryFlow) (string, *http.Response, string) {
		t.Helper()
		status, body, res := call(browser, "GET", f.url, "", nil)
		if status == http.StatusFound || status == http.StatusSeeOther {
			loc, err := url.Parse(res.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), redirect) || loc.Query().Get("state") != f.state {
				t.Fatalf("authorize redirected to %q", res.Header.Get("Location"))
			}
			return loc.Query().Get("code"), res, string(body)
		}
		return "", res, string(body)
	}
	wantStepUp := func(res *http.Response, body string) string {
		t.Helper()
		q := res.Request.URL.Query()
		if res.Request.URL.Path != "/login/step-up" || res.StatusCode != http.StatusOK || q.Get("acr") != "phr" ||
			!strings.HasPrefix(q.Get("next"), "/oauth2/continue?id=") {
			t.Fatalf("expected the passkey step-up page, ended on %s (%d): %.400s", res.Request.URL, res.StatusCode, body)
		}
		return q.Get("next")
	}

	// The wiki: its sign-in page; bob signs in there with the password and
	// the app's next code; the authorize that goes on issues no code for
	// that but sends him to the passkey step-up.
	f := wiki.start()
	c, res, body := authorize(f)
	next := res.Request.URL.Query().Get("next")
	if c != "" || res.Request.URL.Path != "/login" || !strings.HasPrefix(next, "/oauth2/continue?") {
		t.Fatalf("authorize without a session should end on the sign-in page, ended on %s (%d): %.300s", res.Request.URL, res.StatusCode, body)
	}
	must(http.StatusOK, "POST", "/api/v1/auth/password", `{"username":"`+upn+`","password":"`+pw+`"}`, nil, browser)
	must(http.StatusOK, "POST", "/api/v1/auth/totp", `{"code":"`+code(time.Now().Add(30*time.Second))+`"}`, nil, browser)
	_, data, res := call(browser, "GET", next, "", nil)
	if res.StatusCode == http.StatusFound || res.StatusCode == http.StatusSeeOther {
		t.Fatalf("the wiki issued a code to a password + authenticator-app session: %q", res.Header.Get("Location"))
	}
	next = wantStepUp(res, string(data))

	// Report-only: the password + code session gets its code at chat.
	cf := chat.start()
	c, res, body = authorize(cf)
	if c == "" {
		t.Fatalf("the report-only policy blocked chat: ended on %s (%d): %.300s", res.Request.URL, res.StatusCode, body)
	}
	chat.exchange(cf, c)

	// The step-up page's passkey, then the wiki's code.
	signInWithKey("/api/v1/auth/passkey/step-up/options", `{"acr":"phr"}`)
	_, _, res = call(browser, "GET", next, "", nil)
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("after the step-up the wiki got %d %q, want a code", res.StatusCode, res.Header.Get("Location"))
	}
	acr, amr := wiki.exchange(f, loc.Query().Get("code"))
	if acr != "phrh" || !slices.ContainsFunc(amr, func(m string) bool { return m == "hwk" || m == "swk" }) {
		t.Fatalf("after the step-up: acr %q amr %v", acr, amr)
	}

	// Report-only again, now with a passkey in the session: still a code.
	f = chat.start()
	if c, res, body = authorize(f); c == "" {
		t.Fatalf("chat after the step-up: ended on %s (%d): %.300s", res.Request.URL, res.StatusCode, body)
	}

	// Payroll accepts only another key model: bob's passkey, phishing-
	// resistant as it is, gets no code; the step-up page names the model
	// and its options allow none of bob's keys.
	c, res, body = authorize(payroll.start())
	if c != "" {
		t.Fatal("payroll issued a code to a session whose passkey is of a model its strength does not allow")
	}
	wantStepUp(res, body)
	if got := res.Request.URL.Query().Get("models"); got != yubiKey {
		t.Fatalf("step-up models %q, want %q", got, yubiKey)
	}
	if strings.Contains(body, `id="stepup-passkey"`) {
		t.Fatalf("the step-up page offers bob's passkey of another model: %.600s", body)
	}
	// Asked for a key of that model, the step-up refuses: bob has none.
	status, data, _ := call(browser, "POST", "/api/v1/auth/passkey/step-up/options", `{"acr":"phr","models":["`+yubiKey+`"]}`, nil)
	if status != http.StatusConflict || !strings.Contains(string(data), `"code":"noSuitablePasskey"`) {
		t.Fatalf("step-up options for a model bob has no key of: %d %s", status, data)
	}

	// The sign-in log has what conditional access made of each.
	var log struct {
		Value []struct {
			AppID                            string `json:"appId"`
			ConditionalAccessStatus          string `json:"conditionalAccessStatus"`
			AppliedConditionalAccessPolicies []struct {
				DisplayName string `json:"displayName"`
				Result      string `json:"result"`
			} `json:"appliedConditionalAccessPolicies"`
		} `json:"value"`
	}
	status, data, _ = call(adminHTTP, "GET", "/api/v1/auditLogs/signIns", "", asAdmin)
	if status != http.StatusOK || json.Unmarshal(data, &log) != nil {
		t.Fatalf("sign-in log: %d %s", status, data)
	}
	var got []string
	for i := len(log.Value) - 1; i >= 0; i-- { // oldest first
		e := log.Value[i]
		name := map[string]string{wiki.appID: "Wiki", payroll.appID: "Payroll", chat.appID: "Chat"}[e.AppID]
		if name == "" {
			continue // Keyward's own surfaces
		}
		line := name + " " + e.ConditionalAccessStatus
		for _, p := range e.AppliedConditionalAccessPolicies {
			if p.Result != "notApplied" && p.Result != "reportOnlyNotApplied" {
				line += " [" + p.DisplayName + ": " + p.Result + "]"
			}
		}
		got = append(got, line)
	}
	want := []string{
		"Wiki failure [Phishing-resistant MFA for the wiki: failure]",
		"Chat notApplied [Trying phishing-resistant for chat: reportOnlyInterrupted]",
		"Wiki success [Phishing-resistant MFA for the wiki: success]",
		"Chat notApplied [Trying phishing-resistant for chat: reportOnlySuccess]",
		"Payroll failure [One key model for payroll: failure]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sign-in log:\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), data)
	}
}
