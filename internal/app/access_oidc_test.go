package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

// caPolicy creates a policy requiring strength for one app through the API.
func (w *world) caPolicy(name, state, appID, strength string) string {
	w.t.Helper()
	return w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), fmt.Sprintf(`{"displayName":%q,"state":%q,
		"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":[%q]}},
		"grantControls":{"authenticationStrength":{"id":%q}}}`, name, state, appID, strength)), http.StatusCreated).json(w.t)["id"].(string)
}

// A policy requiring Phishing-resistant MFA for an app makes a password +
// authenticator-app session step up to a passkey before a code is issued; a
// strength allowing one key model refuses another; report-only records
// without blocking; a policy made later stops the refresh.
func TestConditionalAccessAtOIDCSignIn(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		const pw = "correct horse battery"
		bob := w.pwUser("bob@contoso.com", pw)
		w.enableForAll()
		sec := w.addApp(w.session(bob, true))
		k := w.key(goodAAGUID, softkey.FormatPacked)
		w.mustStatus(w.register(k, w.session(bob, true), "Work key"), http.StatusCreated)

		redirect := "https://app.example/cb"
		wiki := w.newApp(t, "Wiki", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
		payroll := w.newApp(t, "Payroll", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
		chat := w.newApp(t, "Chat", map[string]any{"web": map[string]any{"redirectUris": []string{redirect}}}, true)
		w.caPolicy("Phishing-resistant MFA for the wiki", access.StateEnabled, wiki.appID, access.StrengthPhishingResistant)
		onlyOther := w.mustStatus(w.do("POST", caStrengths, bearer(w.admin), `{"displayName":"Only the other model","allowedCombinations":["fido2"],
			"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["`+onlyModelKey+`"]}]}`), http.StatusCreated).json(t)["id"].(string)
		w.caPolicy("Other model for payroll", access.StateEnabled, payroll.appID, onlyOther)
		w.caPolicy("Trying phishing-resistant for chat", access.StateReportOnly, chat.appID, access.StrengthPhishingResistant)

		b := w.browser(t)
		b.passwordSignIn("bob@contoso.com", pw)
		code, _ := json.Marshal(map[string]any{"code": w.code(sec)})
		b.post("/api/v1/auth/totp", code)

		// Report-only: the password + code session gets its code.
		f := chat.start()
		res, _ := b.get(f.url)
		if q := landed(t, res, redirect); q.Get("code") == "" {
			t.Fatalf("report-only policy blocked: %v", q)
		}

		// The wiki: no code for password + code; any passkey meets the
		// strength, so the passkey step-up page asks for one.
		f = wiki.start(oauth2.AccessTypeOffline)
		res, body := b.get(f.url)
		next := wantStepUp(t, res, body, "phr", http.StatusOK)
		b.stepUp(k, "phr")
		res, _ = b.get(next)
		q := landed(t, res, redirect)
		tok, err := wiki.conf.Exchange(wiki.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, c := wiki.verifyID(tok); !slices.Contains(c.AMR, "hwk") || !strings.HasPrefix(c.ACR, "phr") {
			t.Fatalf("after the step-up: amr %v acr %q", c.AMR, c.ACR)
		}

		// Payroll allows only another key model: the step-up page names it
		// in words, and bob, who has no key of that model, is told so.
		// bob may register one: having signed in with a second factor just
		// now, the page offers to set up a key of that model.
		res, body = b.get(payroll.start().url)
		wantStepUp(t, res, body, "phr", http.StatusOK)
		if !strings.Contains(body, "passkey of model YubiKey 5 Series") || strings.Contains(body, `id="stepup-passkey"`) ||
			!strings.Contains(body, `id="stepup-register"`) || !strings.Contains(body, "only YubiKey 5 Series is accepted here") {
			t.Fatalf("step-up without a key of the model: %.600s", body)
		}
		if got := res.Request.URL.Query().Get("models"); got != onlyModelKey {
			t.Fatalf("step-up models %q, want %q", got, onlyModelKey)
		}
		// A step-up link naming something that is not a key model changes nothing.
		for _, bad := range []string{"nope", onlyModelKey + ",", strings.Repeat(onlyModelKey+",", 200) + onlyModelKey} {
			res, body = b.get("/login/step-up?acr=phr&next=%2F&models=" + bad)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "This link is incomplete") {
				t.Fatalf("step-up page with models %.60q: %d %.300s", bad, res.StatusCode, body)
			}
		}
		// With a key of that model registered, the step-up offers only it
		// and payroll gets its code.
		// The page's registration names the models: a key of another model
		// is refused before it is stored, one of that model is kept.
		bobSession := w.session(bob, true)
		other := w.key(goodAAGUID, softkey.FormatNone)
		r := w.registerWanted(other, bobSession, []string{onlyModelKey})
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "notAcceptedModel") || !strings.Contains(string(r.body), "YubiKey 5 Series") {
			t.Fatalf("registering another model for the step-up: %d %s", r.status, r.body)
		}
		if creds, err := w.store.ListUserCredentials(context.Background(), bob); err != nil || len(creds) != 1 {
			t.Fatalf("bob's passkeys after a refused registration: %v %d", err, len(creds))
		}
		yk := w.key(onlyModelKey, softkey.FormatNone)
		w.mustStatus(w.registerWanted(yk, bobSession, []string{onlyModelKey}), http.StatusCreated)
		f = payroll.start()
		res, body = b.get(f.url)
		next = wantStepUp(t, res, body, "phr", http.StatusOK)
		if !strings.Contains(body, "passkey of model YubiKey 5 Series") {
			t.Fatalf("step-up page does not name the model: %.600s", body)
		}
		opts, _ := json.Marshal(map[string]any{"acr": "phr", "models": []string{onlyModelKey}})
		if allowed := allowedCredentials(t, b.post("/api/v1/auth/passkey/step-up/options", opts)); len(allowed) != 1 {
			t.Fatalf("step-up options allow %d keys, want only the YubiKey", len(allowed))
		}
		b.stepUpModels(yk, "phr", []string{onlyModelKey})
		res, _ = b.get(next)
		q = landed(t, res, redirect)
		if _, err := payroll.conf.Exchange(payroll.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); err != nil {
			t.Fatal(err)
		}

		// A refresh is asked again and logged as a non-interactive sign-in,
		// from the address and User-Agent of the client that sent it.
		tok, err = wiki.conf.TokenSource(wiki.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		var log struct {
			Value []struct {
				AppID                            string `json:"appId"`
				IsInteractive                    bool   `json:"isInteractive"`
				IPAddress                        string `json:"ipAddress"`
				UserAgent                        string `json:"userAgent"`
				ConditionalAccessStatus          string `json:"conditionalAccessStatus"`
				AppliedConditionalAccessPolicies []struct {
					DisplayName, Result string
				} `json:"appliedConditionalAccessPolicies"`
			} `json:"value"`
		}
		if err := json.Unmarshal(w.mustStatus(w.do("GET", "/api/v1/auditLogs/signIns?$top=1", bearer(w.admin), nil), http.StatusOK).body, &log); err != nil {
			t.Fatal(err)
		}
		if len(log.Value) != 1 || log.Value[0].AppID != wiki.appID || log.Value[0].IsInteractive || log.Value[0].ConditionalAccessStatus != "success" ||
			len(log.Value[0].AppliedConditionalAccessPolicies) != 3 || log.Value[0].IPAddress != "127.0.0.1" ||
			!strings.HasPrefix(log.Value[0].UserAgent, "Go-http-client/") {
			t.Fatalf("the refresh in the sign-in log: %+v", log.Value)
		}

		// A policy blocking the wiki, made after the tokens were issued, stops the refresh.
		w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), fmt.Sprintf(`{"displayName":"Wiki closed","state":"enabled",
			"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":[%q]}},
			"grantControls":{"builtInControls":["block"]}}`, wiki.appID)), http.StatusCreated)
		_, err = wiki.conf.TokenSource(wiki.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		oauthErr(t, err, "invalid_grant")
		res, body = b.get(wiki.start().url)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Wiki closed") {
			t.Fatalf("blocked app: %d %s", res.StatusCode, body)
		}

		// The sign-in log has each sign-in to an app with what conditional access made of it.
		events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{UserID: bob})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(events) - 1; i >= 0; i-- { // oldest first
			e := events[i]
			if e.AppID == "" || e.AppID == access.AppMySecurityInfo { // Keyward's own surfaces: TestConditionalAccessOnKeywardSurfaces
				continue
			}
			line := e.AppDisplayName + " " + e.Result + " " + e.ConditionalAccessStatus + " " + e.AuthenticationRequirement
			if e.Method != "session" {
				line = e.Method + ": " + line
			}
			for _, p := range e.AppliedConditionalAccessPolicies {
				line += " [" + p.DisplayName + ": " + p.Result + "]"
			}
			got = append(got, line)
		}
		want := []string{
			"Chat success notApplied singleFactorAuthentication [Other model for payroll: notApplied] [Phishing-resistant MFA for the wiki: notApplied] [Trying phishing-resistant for chat: reportOnlyInterrupted]",
			"Wiki failure failure multiFactorAuthentication [Other model for payroll: notApplied] [Phishing-resistant MFA for the wiki: failure] [Trying phishing-resistant for chat: reportOnlyNotApplied]",
			"Wiki success success multiFactorAuthentication [Other model for payroll: notApplied] [Phishing-resistant MFA for the wiki: success] [Trying phishing-resistant for chat: reportOnlyNotApplied]",
			"Payroll failure failure multiFactorAuthentication [Other model for payroll: failure] [Phishing-resistant MFA for the wiki: notApplied] [Trying phishing-resistant for chat: reportOnlyNotApplied]",
			"Payroll failure failure multiFactorAuthentication [Other model for payroll: failure] [Phishing-resistant MFA for the wiki: notApplied] [Trying phishing-resistant for chat: reportOnlyNotApplied]",
			"Payroll success success multiFactorAuthentication [Other model for payroll: success] [Phishing-resistant MFA for the wiki: notApplied] [Trying phishing-resistant for chat: reportOnlyNotApplied]",
			"refreshToken: Wiki success success multiFactorAuthentication [Other model for payroll: notApplied] [Phishing-resistant MFA for the wiki: success] [Trying phishing-resistant for chat: reportOnlyNotApplied]",
			"refreshToken: Wiki failure failure multiFactorAuthentication [Other model for payroll: notApplied] [Phishing-resistant MFA for the wiki: success] [Trying phishing-resistant for chat: reportOnlyNotApplied] [Wiki closed: failure]",
			"Wiki failure failure multiFactorAuthentication [Other model for payroll: notApplied] [Phishing-resistant MFA for the wiki: success] [Trying phishing-resistant for chat: reportOnlyNotApplied] [Wiki closed: failure]",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sign-in log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// stepUpModels is browser.stepUp restricted to key models, as the step-up
// page does for a strength that allows only some.
func (b *browser) stepUpModels(k *softkey.Authenticator, acr string, models []string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"acr": acr, "models": models})
	opts := b.post("/api/v1/auth/passkey/step-up/options", body)
	resp, err := k.Assert(opts, b.w.origin())
	if err != nil {
		b.t.Fatalf("authenticator: %v", err)
	}
	b.post("/api/v1/auth/passkey", resp)
}

// allowedCredentials returns the credential IDs passkey options allow.
func allowedCredentials(t *testing.T, opts []byte) []any {
	t.Helper()
	var o struct {
		PublicKey struct {
			AllowCredentials []any `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	return o.PublicKey.AllowCredentials
}
