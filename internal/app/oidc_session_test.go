package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// wantLogin checks the browser ended on the sign-in page, knowing the
// request, and whether it was told to ask again despite a session.
func wantLogin(t *testing.T, res *http.Response, fresh bool) string {
	t.Helper()
	if res.Request.URL.Path != "/login" {
		t.Fatalf("expected the sign-in page, ended on %s (%d)", res.Request.URL, res.StatusCode)
	}
	q := res.Request.URL.Query()
	if (q.Get("prompt") == "login") != fresh {
		t.Fatalf("sign-in page %s: prompt=login %v, want %v", res.Request.URL, q.Get("prompt") == "login", fresh)
	}
	return q.Get("next")
}

func (b *browser) passwordSignIn(upn, password string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"username": upn, "password": password})
	b.post("/api/v1/auth/password", body)
}

// TestOIDCSessionRules: prompt=none, prompt=login, max_age and acr_values
// decide between going straight back and asking to sign in (again).
func TestOIDCSessionRules(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		registered(t, w, k)
		redirect := "https://app.example/cb"
		p := w.newApp(t, "App", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
		b := w.browser(t)

		// prompt=none without a session: login_required at the app, no page.
		res, _ := b.get(p.start(oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := landed(t, res, redirect); q.Get("error") != "login_required" {
			t.Fatalf("prompt=none without a session: %v", q)
		}

		f := p.start()
		p.signInAtApp(b, k, "alice@contoso.com", f)

		// prompt=none with a session: a code, no page.
		res, _ = b.get(p.start(oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := landed(t, res, redirect); q.Get("code") == "" {
			t.Fatalf("prompt=none with a session: %v", q)
		}

		// prompt=login: sign in again, and auth_time is the new sign-in.
		w.clock.Advance(2 * time.Minute)
		f = p.start(oauth2.SetAuthURLParam("prompt", "login"))
		res, _ = b.get(f.url)
		next := wantLogin(t, res, true)
		b.passkeySignIn(k, "alice@contoso.com")
		res, _ = b.get(next)
		q := landed(t, res, redirect)
		tok, err := p.conf.Exchange(p.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		_, c := p.verifyID(tok)
		if got := time.Unix(c.AuthTime, 0); got.Before(w.clock.Now().Add(-time.Second)) {
			t.Fatalf("auth_time %v is the old sign-in, not the one prompt=login asked for (%v)", got, w.clock.Now())
		}

		// max_age: a sign-in older than that asks again; a recent one does not.
		w.clock.Advance(10 * time.Minute)
		res, _ = b.get(p.start(oauth2.SetAuthURLParam("max_age", "300")).url)
		wantLogin(t, res, true)
		res, _ = b.get(p.start(oauth2.SetAuthURLParam("max_age", "3600")).url)
		if q := landed(t, res, redirect); q.Get("code") == "" {
			t.Fatalf("max_age met: %v", q)
		}

		// A password sign-in: amr pwd, Keyward's single-factor acr; an app
		// asking for a phishing-resistant sign-in sends it to the step-up.
		w.pwUser("bob@contoso.com", "correct horse battery")
		bob := w.browser(t)
		bob.passwordSignIn("bob@contoso.com", "correct horse battery")
		f = p.start()
		res, _ = bob.get(f.url)
		tok, err = p.conf.Exchange(p.ctx(), landed(t, res, redirect).Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, c := p.verifyID(tok); !slices.Equal(c.AMR, []string{"pwd"}) || c.ACR != "urn:keyward:acr:sfa" {
			t.Fatalf("password sign-in: amr %v acr %q", c.AMR, c.ACR)
		}
		// (bob has no passkey: the step-up page offers to set one up after a
		// fresh multi-factor sign-in; TestOIDCStepUp has the rest)
		res, body := bob.get(p.start(oauth2.SetAuthURLParam("acr_values", "phr")).url)
		wantStepUp(t, res, body, "phr", http.StatusOK)
		if !strings.Contains(body, `id="stepup-reauth"`) {
			t.Fatalf("the step-up page for bob: %.600s", body)
		}
	})
}

// TestOIDCEndSession: RP-initiated logout ends the Keyward session and
// returns only to a registered URI.
func TestOIDCEndSession(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		registered(t, w, k)
		redirect := "https://app.example/cb"
		p := w.newApp(t, "App", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
		b := w.browser(t)
		f := p.start()
		tok, err := p.conf.Exchange(p.ctx(), p.signInAtApp(b, k, "alice@contoso.com", f), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, _ := tok.Extra("id_token").(string)
		var disc struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := p.provider.Claims(&disc); err != nil || disc.EndSession != w.origin()+"/oauth2/logout" {
			t.Fatalf("end_session_endpoint %q (%v)", disc.EndSession, err)
		}
		bad := disc.EndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode()
		res, _ := b.get(bad)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Fatalf("an unregistered post_logout_redirect_uri: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		res, _ = b.get(p.start(oauth2.SetAuthURLParam("prompt", "none")).url)
		if landed(t, res, redirect).Get("code") == "" {
			t.Fatal("the refused logout ended the session")
		}
		good := disc.EndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {redirect}, "state": {"bye"}}.Encode()
		res, _ = b.get(good)
		if q := landed(t, res, redirect); q.Get("state") != "bye" {
			t.Fatalf("logout went back with %v", q)
		}
		res, _ = b.get(p.start(oauth2.SetAuthURLParam("prompt", "none")).url)
		if q := landed(t, res, redirect); q.Get("error") != "login_required" {
			t.Fatalf("after logout the session still works: %v", q)
		}
	})
}

// TestOIDCAccessEnds: assignment, disabling a user and deleting an app
// take effect on tokens at once; an app may choose RS256.
func TestOIDCAccessEnds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		staff := w.group("Staff")
		redirect := "https://hr.example/cb"
		p := w.newApp(t, "HR", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}},
			"assignedGroups": []string{staff}, "tokenSigningAlgorithm": "RS256"}, true)
		b := w.browser(t)

		f := p.start()
		res, _ := b.get(f.url)
		next := wantLogin(t, res, false)
		b.passkeySignIn(k, "alice@contoso.com")
		res, body := b.get(next)
		if res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" || !strings.Contains(body, "not assigned to HR") {
			t.Fatalf("an unassigned user: %d %q %.300s", res.StatusCode, res.Header.Get("Location"), body)
		}
		w.mustStatus(w.do("POST", "/api/v1/groups/"+staff+"/members", bearer(w.admin), map[string]any{"id": alice}), http.StatusNoContent)
		f = p.start()
		res, _ = b.get(f.url)
		tok, err := p.conf.Exchange(p.ctx(), landed(t, res, redirect).Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, _ := tok.Extra("id_token").(string)
		var hdr struct{ Alg string }
		if raw, err := jwtHeader(idt); err != nil || json.Unmarshal(raw, &hdr) != nil || hdr.Alg != "RS256" {
			t.Fatalf("an RS256 app got an ID token signed with %q", hdr.Alg)
		}
		p.verifyID(tok)

		// Disabling the user stops the refresh token and the access token at once.
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+alice, bearer(w.admin), map[string]any{"accountEnabled": false}), http.StatusOK)
		_, err = p.conf.TokenSource(p.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		oauthErr(t, err, "invalid_grant")
		if _, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("userinfo answers for a disabled user")
		}
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+alice, bearer(w.admin), map[string]any{"accountEnabled": true}), http.StatusOK)

		// Deleting the app stops its tokens.
		b2 := w.browser(t)
		f = p.start()
		tok, err = p.conf.Exchange(p.ctx(), p.signInAtApp(b2, k, "alice@contoso.com", f), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("userinfo before the delete: %v", err)
		}
		w.mustStatus(w.do("DELETE", "/api/v1/applications/"+p.objectID, bearer(w.admin), nil), http.StatusNoContent)
		if _, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("an access token of a deleted app still works")
		}
		_, err = p.conf.TokenSource(p.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err == nil {
			t.Fatal("a refresh token of a deleted app still works")
		}
	})
}
