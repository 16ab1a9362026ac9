package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// stepUp does what the step-up page's script does: options for the
// signed-in user and the strength asked for, the key's answer, sign-in.
func (b *browser) stepUp(k *softkey.Authenticator, acr string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"acr": acr})
	opts := b.post("/api/v1/auth/passkey/step-up/options", body)
	resp, err := k.Assert(opts, b.w.origin())
	if err != nil {
		b.t.Fatalf("authenticator: %v", err)
	}
	b.post("/api/v1/auth/passkey", resp)
}

// wantStepUp checks the browser ended on the step-up page for acr, and
// returns where the page goes on to.
func wantStepUp(t *testing.T, res *http.Response, body, acr string, status int) string {
	t.Helper()
	q := res.Request.URL.Query()
	if res.Request.URL.Path != "/login/step-up" || q.Get("acr") != acr || res.StatusCode != status {
		t.Fatalf("expected the step-up page for %s (%d), ended on %s (%d): %.300s", acr, status, res.Request.URL, res.StatusCode, body)
	}
	if !strings.HasPrefix(q.Get("next"), "/oauth2/continue?id=") {
		t.Fatalf("the step-up page does not go back to the request: next=%q", q.Get("next"))
	}
	return q.Get("next")
}

// TestOIDCStepUp: an app asking for phr or phrh of a user signed in with a
// password sends them to the passkey step-up, which lists only keys strong
// enough and returns to the app with a session that says what was
// satisfied; a user without such a key gets a page saying what they need.
func TestOIDCStepUp(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		const pw = "correct horse battery"
		redirect := "https://payroll.example/cb"
		p := w.newApp(t, "Payroll", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
		w.enableForAll()
		carol := w.pwUser("carol@contoso.com", pw)
		security := w.key(goodAAGUID, softkey.FormatPacked)
		w.mustStatus(w.register(security, w.session(carol, true), "Security key"), http.StatusCreated)
		dave := w.pwUser("dave@contoso.com", pw)
		synced := w.key(goodAAGUID, softkey.FormatNone, func(o *softkey.Options) { o.BackupEligible, o.BackupState = true, true })
		w.mustStatus(w.register(synced, w.session(dave, true), "Phone"), http.StatusCreated)
		w.pwUser("erin@contoso.com", pw)

		exchange := func(f flow, res *http.Response) idClaims {
			t.Helper()
			tok, err := p.conf.Exchange(p.ctx(), landed(t, res, redirect).Get("code"), oauth2.VerifierOption(f.verifier))
			if err != nil {
				t.Fatal(err)
			}
			_, c := p.verifyID(tok)
			return c
		}

		t.Run("password_session_steps_up_to_a_security_key", func(t *testing.T) {
			b := w.browser(t)
			b.passwordSignIn("carol@contoso.com", pw)
			// prompt=none cannot show the step-up: interaction_required at the app.
			res, _ := b.get(p.start(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("acr_values", "phrh")).url)
			if q := landed(t, res, redirect); q.Get("error") != "interaction_required" {
				t.Fatalf("prompt=none needing a step-up: %v", q)
			}
			f := p.start(oauth2.SetAuthURLParam("acr_values", "phrh"))
			res, body := b.get(f.url)
			next := wantStepUp(t, res, body, "phrh", http.StatusOK)
			if !strings.Contains(body, "carol@contoso.com") || !strings.Contains(body, "security key") {
				t.Fatalf("the step-up page does not say who or what: %.500s", body)
			}
			b.stepUp(security, "phrh")
			res, _ = b.get(next)
			c := exchange(f, res)
			if !slices.Equal(c.AMR, []string{"hwk", "user", "mfa"}) || c.ACR != "phrh" {
				t.Fatalf("after the step-up amr %v acr %q, want [hwk user mfa] phrh", c.AMR, c.ACR)
			}
			// The stronger session now does for the next request without a page.
			f = p.start(oauth2.SetAuthURLParam("acr_values", "phrh"))
			res, _ = b.get(f.url)
			if c := exchange(f, res); c.ACR != "phrh" {
				t.Fatalf("a second request after the step-up: acr %q", c.ACR)
			}
		})

		t.Run("a_synced_passkey_meets_phr_but_not_phrh", func(t *testing.T) {
			b := w.browser(t)
			b.passwordSignIn("dave@contoso.com", pw)
			res, body := b.get(p.start(oauth2.SetAuthURLParam("acr_values", "phrh")).url)
			// Dave may register a security key: after a fresh multi-factor
			// sign-in (his session is password only), the page sets one up.
			wantStepUp(t, res, body, "phrh", http.StatusOK)
			if !strings.Contains(body, "a security key or another device-bound passkey") || !strings.Contains(body, `id="stepup-reauth"`) ||
				!strings.Contains(body, "prompt=login") || strings.Contains(body, `id="stepup-passkey"`) {
				t.Fatalf("a user with only a synced passkey asked for phrh: %.600s", body)
			}
			// The API refuses to start a ceremony no key of theirs can finish.
			req, _ := http.NewRequest("POST", w.origin()+"/api/v1/auth/passkey/step-up/options", strings.NewReader(`{"acr":"phrh"}`))
			req.Header.Set("Content-Type", "application/json")
			r, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusConflict {
				t.Fatalf("step-up options without a suitable key: %d, want 409", r.StatusCode)
			}

			f := p.start(oauth2.SetAuthURLParam("acr_values", "phr"))
			res, body = b.get(f.url)
			next := wantStepUp(t, res, body, "phr", http.StatusOK)
			b.stepUp(synced, "phr")
			res, _ = b.get(next)
			if c := exchange(f, res); !slices.Equal(c.AMR, []string{"swk", "user", "mfa"}) || c.ACR != "phr" {
				t.Fatalf("after a synced step-up amr %v acr %q", c.AMR, c.ACR)
			}
		})

		t.Run("a_user_without_a_passkey_is_told_what_they_need", func(t *testing.T) {
			b := w.browser(t)
			b.passwordSignIn("erin@contoso.com", pw)
			res, body := b.get(p.start(oauth2.SetAuthURLParam("acr_values", "phr")).url)
			wantStepUp(t, res, body, "phr", http.StatusOK)
			if !strings.Contains(body, "your account has none yet") || !strings.Contains(body, `id="stepup-reauth"`) {
				t.Fatalf("a user without a passkey who may add one: %.600s", body)
			}
			// Without self-service registration, a block page says what and whom to ask.
			w.setPolicy(`{"isSelfServiceRegistrationAllowed":false}`)
			defer w.setPolicy(`{"isSelfServiceRegistrationAllowed":true}`)
			res, body = b.get(p.start(oauth2.SetAuthURLParam("acr_values", "phr")).url)
			wantStepUp(t, res, body, "phr", http.StatusForbidden)
			if !strings.Contains(body, "You need a passkey") || !strings.Contains(body, "self-service passkey registration is turned off") ||
				!strings.Contains(body, "Ask an administrator") || strings.Contains(body, "stepup-reauth") {
				t.Fatalf("a user without a passkey who may not add one: %.600s", body)
			}
		})

		t.Run("step_up_options_need_a_session_and_a_passkey_strength", func(t *testing.T) {
			r := w.do("POST", "/api/v1/auth/passkey/step-up/options", cred{}, map[string]any{"acr": "phr"})
			if r.status != http.StatusUnauthorized {
				t.Fatalf("without a session: %d %s", r.status, r.body)
			}
			r = w.do("POST", "/api/v1/auth/passkey/step-up/options", cookie(w.session(carol, false)), map[string]any{"acr": "urn:keyward:acr:mfa"})
			if r.status != http.StatusBadRequest {
				t.Fatalf("a strength a passkey step-up is not for: %d %s", r.status, r.body)
			}
			for _, models := range [][]string{{"not-a-model"}, slices.Repeat([]string{"ee882879-721c-4913-9775-3dfcce97072a"}, 201)} {
				r = w.do("POST", "/api/v1/auth/passkey/step-up/options", cookie(w.session(carol, false)), map[string]any{"acr": "phr", "models": models})
				if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "models") {
					t.Fatalf("step-up options with models %.60v: %d %s", models, r.status, r.body)
				}
			}
		})
	})
}
