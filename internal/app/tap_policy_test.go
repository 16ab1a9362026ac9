package app_test

import (
	"net/http"
	"testing"
)

const tapPolicyPath = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass"

// The Temporary Access Pass method policy sets the defaults and limits of
// the passes administrators issue.
func TestTAPMethodPolicy(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		get := func() map[string]any {
			t.Helper()
			return w.mustStatus(w.do("GET", tapPolicyPath, bearer(w.reader), nil), http.StatusOK).json(t)
		}
		if c := get(); c["defaultLifetimeInMinutes"] != 60.0 || c["minimumLifetimeInMinutes"] != 10.0 || c["maximumLifetimeInMinutes"] != 43200.0 ||
			c["isUsableOnce"] != false || c["defaultLength"] != 16.0 || c["@odata.type"] != "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration" {
			t.Fatalf("defaults = %v", c)
		}
		for body, says := range map[string]string{
			`{"defaultLifetimeInMinutes":5}`:                                 "defaultLifetimeInMinutes: must be from 10",
			`{"minimumLifetimeInMinutes":120,"defaultLifetimeInMinutes":60}`: "must lie from the minimum to the maximum (120 to 43200), not 60",
			`{"defaultLength":7}`:                                            "defaultLength: must be from 8 to 48",
			`{"defaultLength":"16"}`:                                         "defaultLength: must be a whole number",
			`{"isUsableOnce":null}`:                                          "isUsableOnce: must be true or false",
			`{"colour":"blue"}`:                                              `"colour" is not a field`,
			`[]`:                                                             "must be a JSON object",
		} {
			wantError(t, w.do("PATCH", tapPolicyPath, bearer(w.admin), body), http.StatusBadRequest, "invalidRequest", says)
		}
		if c := get(); c["defaultLifetimeInMinutes"] != 60.0 {
			t.Fatalf("a refused change changed the policy: %v", c)
		}
		w.mustStatus(w.do("PATCH", tapPolicyPath, bearer(w.reader), `{"isUsableOnce":true}`), http.StatusForbidden)

		c := w.mustStatus(w.do("PATCH", tapPolicyPath, bearer(w.admin),
			`{"minimumLifetimeInMinutes":60,"defaultLifetimeInMinutes":120,"maximumLifetimeInMinutes":480,"isUsableOnce":true,"defaultLength":10}`), http.StatusOK).json(t)
		if c["defaultLifetimeInMinutes"] != 120.0 || c["isUsableOnce"] != true || c["defaultLength"] != 10.0 {
			t.Fatalf("after the change: %v", c)
		}
		// A pass issued with nothing asked follows the policy's defaults.
		id := w.user("tia@contoso.com")
		p := w.issueTAP(id, nil)
		if p["lifetimeInMinutes"] != 120.0 || p["isUsableOnce"] != true || len(p["temporaryAccessPass"].(string)) != 10 {
			t.Fatalf("pass = %v, want 120 minutes, one-time, 10 characters", p)
		}
		w.signedIn(w.tapSignIn("tia@contoso.com", p["temporaryAccessPass"].(string)), "tia@contoso.com")
		// Asking outside the limits is refused, naming them.
		wantError(t, w.do("POST", tapPath(id), bearer(w.admin), map[string]any{"lifetimeInMinutes": 30}), http.StatusBadRequest, "invalidRequest", "from 60 to 480")
		wantError(t, w.do("POST", tapPath(id), bearer(w.admin), map[string]any{"lifetimeInMinutes": 481}), http.StatusBadRequest, "invalidRequest", "from 60 to 480")
		if p := w.issueTAP(id, map[string]any{"isUsableOnce": false, "lifetimeInMinutes": 480}); p["isUsableOnce"] != false || p["lifetimeInMinutes"] != 480.0 {
			t.Fatalf("an explicit request within the limits: %v", p)
		}
	})
}
