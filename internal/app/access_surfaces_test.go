package app_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

// Keyward's own surfaces are applications: "phishing-resistant MFA for
// administrators" guards the admin API used with a session (not API
// tokens), and registering a method can require a strength of its own.
func TestConditionalAccessOnKeywardSurfaces(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		admin := w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), map[string]any{
			"userPrincipalName": "admin@contoso.com", "displayName": "Admin", "adminRole": "global-admin"}), http.StatusCreated).json(t)["id"].(string)
		w.enableForAll()
		k := w.key(goodAAGUID, softkey.FormatPacked)
		w.mustStatus(w.register(k, w.session(admin, true), "Admin key"), http.StatusCreated)

		w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), `{"displayName":"Phishing-resistant MFA for administrators","state":"enabled",
			"conditions":{"users":{"includeRoles":["62e90394-69f5-4237-9190-012177145e10"]},"applications":{"includeApplications":["`+access.AppAdmin+`"]}},
			"grantControls":{"authenticationStrength":{"id":"`+access.StrengthPhishingResistant+`"}}}`), http.StatusCreated)

		pwCode := w.session(admin, true)
		r := w.mustStatus(w.do("GET", "/api/v1/users", cookie(pwCode), nil), http.StatusForbidden)
		if code, msg := r.err(t); code != "stepUpRequired" || !strings.Contains(msg, "Phishing-resistant MFA") {
			t.Fatalf("admin API with password + code: %s %s", code, msg)
		}
		// My security info is another application: the policy does not apply there.
		w.mustStatus(w.do("GET", "/api/v1/me", cookie(pwCode), nil), http.StatusOK)
		// API tokens are not sessions.
		w.mustStatus(w.do("GET", "/api/v1/users", bearer(w.reader), nil), http.StatusOK)
		// A passkey session passes.
		passkey := w.signedIn(w.login(k, "admin@contoso.com"), "admin@contoso.com")
		w.mustStatus(w.do("GET", "/api/v1/users", cookie(passkey), nil), http.StatusOK)

		// Registering security info from outside the office is blocked.
		loc := w.mustStatus(w.do("POST", caLocations, bearer(w.admin), `{"displayName":"Office","ipRanges":[{"cidrAddress":"203.0.113.0/24"}]}`), http.StatusCreated).json(t)["id"].(string)
		w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), fmt.Sprintf(`{"displayName":"Register only at the office","state":"enabled",
			"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeUserActions":["urn:user:registersecurityinfo"]},
				"locations":{"includeLocations":["All"],"excludeLocations":[%q]}},
			"grantControls":{"builtInControls":["block"]}}`, loc)), http.StatusCreated)
		r = w.register(w.key(goodAAGUID, softkey.FormatPacked), passkey, "Second key")
		if r.status != http.StatusForbidden {
			t.Fatalf("registering from outside the office: %d %s", r.status, r.body)
		}
		if code, msg := r.err(t); code != "conditionalAccessBlocked" || !strings.Contains(msg, "Register only at the office") {
			t.Fatalf("registering: %s %s", code, msg)
		}
		// Reading My security info is not registering.
		w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(passkey), nil), http.StatusOK)
		// Nor does the step-up page offer to register a key the policy would refuse:
		// it says what is needed, why not, and whom to ask.
		r = w.do("GET", "/login/step-up?acr=phr&next=%2F&models="+unknownAAGUID, cookie(passkey), nil)
		if body := string(r.body); r.status != http.StatusForbidden || !strings.Contains(body, "Register only at the office") ||
			!strings.Contains(body, "Ask an administrator") || strings.Contains(body, "stepup-register") {
			t.Fatalf("step-up page where registering is blocked: %d %.800s", r.status, body)
		}

		// The sign-in log: every refusal, and each session's first successful
		// use of a surface a policy applied to, however many requests it made.
		w.mustStatus(w.do("GET", "/api/v1/users", cookie(passkey), nil), http.StatusOK)
		w.mustStatus(w.do("GET", "/api/v1/me", cookie(pwCode), nil), http.StatusOK)
		events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{UserID: admin})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(events) - 1; i >= 0; i-- { // oldest first
			e := events[i]
			if e.AppID == "" {
				continue
			}
			line := fmt.Sprintf("%s %s %s %s %s", e.AppDisplayName, e.Method, e.Result, e.FailureCode, e.ConditionalAccessStatus)
			for _, p := range e.AppliedConditionalAccessPolicies {
				line += " [" + p.DisplayName + ": " + p.Result + "]"
			}
			if e.AppID == access.AppAdmin && e.IP == "" {
				t.Errorf("a surface's record without the client address: %+v", e)
			}
			got = append(got, line)
		}
		// (My security info's uses, which no policy applied to, add nothing.)
		want := []string{
			"Keyward admin session failure stepUpRequired failure [Phishing-resistant MFA for administrators: failure]",
			"Keyward admin session success  success [Phishing-resistant MFA for administrators: success]",
			"My security info session failure conditionalAccessBlocked failure [Phishing-resistant MFA for administrators: notApplied] [Register only at the office: failure]",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sign-in log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
