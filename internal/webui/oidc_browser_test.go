package webui_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// relyingParty is a small web app that signs its users in with Keyward,
// written the usual way: go-oidc and x/oauth2, PKCE, state and nonce in
// cookies, the ID token verified on the way back.
// opts are added to its authorization requests (acr_values, for one).
func relyingParty(t *testing.T, issuer string, register func(redirect string) (clientID, secret string), opts ...oauth2.AuthCodeOption) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	clientID, clientSecret := register(base + "/callback")
	provider, err := gooidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: base + "/callback", Scopes: []string{gooidc.ScopeOpenID, "profile"}}
	verifier := provider.Verifier(&gooidc.Config{ClientID: clientID})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("who"); err == nil {
			fmt.Fprintf(w, `<!doctype html><title>Payroll</title><p id="who">%s</p>`, html.EscapeString(strings.ReplaceAll(c.Value, "_", " ")))
			return
		}
		state, nonce, pkce := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		for name, v := range map[string]string{"state": state, "nonce": nonce, "pkce": pkce} {
			http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/", HttpOnly: true})
		}
		http.Redirect(w, r, conf.AuthCodeURL(state, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkce), gooidc.Nonce(nonce)}, opts...)...), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		cookie := func(n string) string { c, _ := r.Cookie(n); return c.Value }
		if r.URL.Query().Get("state") != cookie("state") {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(cookie("pkce")))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		id, err := verifier.Verify(r.Context(), raw)
		if err != nil || id.Nonce != cookie("nonce") {
			http.Error(w, fmt.Sprintf("id token: %v", err), http.StatusBadGateway)
			return
		}
		var c struct {
			Name string   `json:"name"`
			AMR  []string `json:"amr"`
			ACR  string   `json:"acr"`
		}
		_ = id.Claims(&c)
		who := fmt.Sprintf("Signed in as %s with %s (%s)", c.Name, strings.Join(c.AMR, "+"), c.ACR)
		http.SetCookie(w, &http.Cookie{Name: "who", Value: strings.ReplaceAll(who, " ", "_"), Path: "/"})
		http.Redirect(w, r, "/", http.StatusFound)
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserSignInToAnApp: an app's sign-in goes to Keyward, the user
// signs in with a passkey (Chromium's virtual authenticator) and lands back
// at the app, signed in, without another click.
func TestBrowserSignInToAnApp(t *testing.T) {
	app, alex := alexWithAKeyAndAnApp(t)
	// The app sends Alex to Keyward; a passkey, and Alex is back, signed in.
	alex.step(t, "open the app", chromedp.Navigate(app.URL+"/"))
	alex.waitPath(t, "/login")
	alex.screenshot(t, "login-for-an-app")
	alex.fill(t, "#username", alexUPN)
	alex.click(t, "#username-next")
	alex.click(t, "#passkey-for-user")
	alex.waitFor(t, "the app's page", `location.origin === `+fmt.Sprintf("%q", app.URL)+` && document.querySelector("#who") !== null`)
	if got := alex.text(t, "#who"); got != "Signed in as Alex Wilber with hwk+user+mfa (phrh)" {
		alex.fail(t, "the app says %q", got)
	}

	// Signed in to Keyward already: the next app sign-in needs no page at all.
	if _, err := chromedp.Call(alex.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "who", URL: app.URL}); err != nil {
		t.Fatalf("sign out of the app: %v", err)
	}
	alex.step(t, "open the app again", chromedp.Navigate(app.URL+"/"))
	alex.waitFor(t, "the app's page", `document.querySelector("#who") !== null`)
}

// alexWithAKeyAndAnApp starts Keyward, a Payroll app registered with it
// (opts added to the app's authorization requests), and a browser tab in
// which Alex has registered a security key in My security info and signed
// out again.
func alexWithAKeyAndAnApp(t *testing.T, opts ...oauth2.AuthCodeOption) (*httptest.Server, *tab) {
	t.Helper()
	app, alex, _, _, _ := alexWithAKeyAndAnAppIn(t, opts...)
	return app, alex
}

// alexWithAKeyAndAnAppIn is alexWithAKeyAndAnApp that also returns the
// Keyward, Alex's user ID and the app's app ID.
func alexWithAKeyAndAnAppIn(t *testing.T, opts ...oauth2.AuthCodeOption) (*httptest.Server, *tab, *keyward, string, string) {
	t.Helper()
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}
	alexID := k.user(t, alexUPN, "Alex Wilber", alexPassword, "")
	var appID string
	app := relyingParty(t, k.url, func(redirect string) (string, string) {
		web := []string{redirect}
		a, err := k.app.Apps.Create(ctx, "test", oidc.AppInput{DisplayName: ptr("Payroll"), WebRedirectURIs: &web})
		if err != nil {
			t.Fatal(err)
		}
		_, text, err := k.app.Apps.AddPassword(ctx, "test", a.ID, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		appID = a.AppID
		return a.AppID, text
	}, opts...)

	b := startBrowser(t, chromium)
	alex := b.newTab(t, "alex", k.url, webauthn.AuthenticatorTransportUsb)
	// Alex registers a security key in My security info, in a session that
	// proved multi-factor a moment ago (the rule for adding a key).
	sess := secret.New("kws_")
	now := k.clock.Now()
	if err := k.store.CreateSession(ctx, storage.Session{ID: secret.HashHex(sess), UserID: alexID,
		AuthMethods: []string{"pwd", "otp", "mfa"}, MFAAt: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(alex.ctx, network.SetCookie, network.SetCookieParams{Name: session.DefaultCookieName,
		Value: sess, URL: k.url, HTTPOnly: ptr(true)}); err != nil {
		t.Fatalf("set the session cookie: %v", err)
	}
	alex.open(t, "/my/security-info")
	alex.click(t, "#add-method")
	alex.choose(t, "#method-choice", "passkey")
	alex.click(t, `#add-choose [type="submit"]`)
	alex.click(t, "#kind-usb")
	alex.click(t, "#passkey-create")
	alex.waitFor(t, "the name step", `document.querySelector("#add-passkey-name").checkVisibility()`)
	alex.fill(t, "#passkey-name", "Alex's key")
	alex.click(t, "#passkey-name-save")
	alex.waitText(t, "#methods-table", "Alex's key")
	signOut(t, alex)

	return app, alex, k, alexID, appID
}

// TestBrowserConditionalAccessStepUp: a conditional access policy requires
// Phishing-resistant MFA for Payroll. Alex, signed in with a password and an
// authenticator app, opens Payroll: Keyward shows the passkey step-up page,
// Alex uses the security key and lands back at Payroll signed in with it.
func TestBrowserConditionalAccessStepUp(t *testing.T) {
	app, alex, k, alexID, appID := alexWithAKeyAndAnAppIn(t)
	ctx := context.Background()
	if _, err := k.app.Access.Create(ctx, authz.CLI(), storage.AccessPolicy, []byte(fmt.Sprintf(`{"displayName":"Payroll needs a passkey",
		"state":"enabled","conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":[%q]}},
		"grantControls":{"authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}`, appID)), conditionalaccess.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// A session from a password and an authenticator-app code.
	sess := secret.New("kws_")
	now := k.clock.Now()
	if err := k.store.CreateSession(ctx, storage.Session{ID: secret.HashHex(sess), UserID: alexID,
		AuthMethods: []string{"pwd", "otp", "mfa"}, MFAAt: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(alex.ctx, network.SetCookie, network.SetCookieParams{Name: session.DefaultCookieName,
		Value: sess, URL: k.url, HTTPOnly: ptr(true)}); err != nil {
		t.Fatalf("set the session cookie: %v", err)
	}

	alex.step(t, "open the app", chromedp.Navigate(app.URL+"/"))
	alex.waitPath(t, "/login/step-up")
	if got := alex.text(t, "#stepup-subtitle"); !strings.Contains(got, "passkey or security key") {
		alex.fail(t, "the step-up page says %q", got)
	}
	alex.click(t, "#stepup-passkey")
	alex.waitFor(t, "the app's page", `location.origin === `+fmt.Sprintf("%q", app.URL)+` && document.querySelector("#who") !== null`)
	if got := alex.text(t, "#who"); got != "Signed in as Alex Wilber with hwk+user+mfa (phrh)" {
		alex.fail(t, "the app says %q", got)
	}
}

// TestBrowserStepUpForAnApp: Alex, signed in with a password, opens an app
// that asks for a phishing-resistant sign-in (acr_values=phr): Keyward shows
// the step-up page, Alex uses the security key (the virtual authenticator),
// and lands back at the app with a sign-in that says so.
func TestBrowserStepUpForAnApp(t *testing.T) {
	app, alex := alexWithAKeyAndAnApp(t, oauth2.SetAuthURLParam("acr_values", "phr"))
	signInWithPassword(t, alex, alexUPN, alexPassword, "/my/security-info")

	alex.step(t, "open the app", chromedp.Navigate(app.URL+"/"))
	alex.waitPath(t, "/login/step-up")
	alex.checkLabels(t)
	if got := alex.text(t, "#stepup-subtitle"); !strings.Contains(got, "passkey or security key") {
		alex.fail(t, "the step-up page says %q", got)
	}
	alex.screenshot(t, "step-up-for-an-app")
	alex.click(t, "#stepup-passkey")
	alex.waitFor(t, "the app's page", `location.origin === `+fmt.Sprintf("%q", app.URL)+` && document.querySelector("#who") !== null`)
	if got := alex.text(t, "#who"); got != "Signed in as Alex Wilber with hwk+user+mfa (phrh)" {
		alex.fail(t, "the app says %q", got)
	}
}

func ptr[T any](v T) *T { return &v }
