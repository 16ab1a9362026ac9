package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

// Two admins edit the Temporary Access Pass policy from the same version:
// the second save is refused with 412 and the current policy instead of
// undoing the first.
func TestTAPPolicyEditsCarryAVersion(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		etag := w.mustStatus(w.do("GET", tapPolicyPath, bearer(w.reader), nil), http.StatusOK).header.Get("ETag")
		if etag == "" || !strings.HasPrefix(etag, `"`) {
			t.Fatalf("GET ETag = %q, want a strong entity tag", etag)
		}
		first := w.mustStatus(w.sendIfMatch(tapPolicyPath, etag, `{"defaultLifetimeInMinutes":120}`), http.StatusOK)
		next := first.header.Get("ETag")
		if next == "" || next == etag {
			t.Fatalf("ETag after a change = %q (before %q)", next, etag)
		}
		if got := w.mustStatus(w.do("GET", tapPolicyPath, bearer(w.reader), nil), http.StatusOK).header.Get("ETag"); got != next {
			t.Fatalf("GET ETag = %q, want the PATCH's %q", got, next)
		}

		// The second admin still holds the first ETag.
		updates := len(w.audit("policy.temporaryAccessPass.update"))
		before := w.state()
		stale := w.sendIfMatch(tapPolicyPath, etag, `{"defaultLength":20}`)
		if stale.status != http.StatusPreconditionFailed {
			t.Fatalf("stale PATCH: status %d, want 412: %s", stale.status, stale.body)
		}
		var body struct {
			Error   struct{ Code, Message string }
			Current map[string]any
		}
		if err := json.Unmarshal(stale.body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Error.Code != "preconditionFailed" || !strings.Contains(body.Error.Message, "changed by someone else") ||
			body.Current["defaultLifetimeInMinutes"] != 120.0 || body.Current["defaultLength"] != 16.0 || stale.header.Get("ETag") != next {
			t.Fatalf("412 = %s (ETag %q), want the current policy and ETag %s", stale.body, stale.header.Get("ETag"), next)
		}
		if after := w.state(); after != before || len(w.audit("policy.temporaryAccessPass.update")) != updates {
			t.Fatalf("the stale PATCH changed the store:\n%s\n%s", before, after)
		}
		// With the current ETag (or "*", or none at all) the change goes through.
		w.mustStatus(w.sendIfMatch(tapPolicyPath, next, `{"defaultLength":20}`), http.StatusOK)
		w.mustStatus(w.sendIfMatch(tapPolicyPath, "*", `{"defaultLength":24}`), http.StatusOK)
		if c := w.mustStatus(w.do("PATCH", tapPolicyPath, bearer(w.admin), `{"defaultLength":12}`), http.StatusOK).json(t); c["defaultLength"] != 12.0 {
			t.Fatalf("a PATCH without If-Match: %v", c)
		}
	})
}

// Admins racing from one version of the Temporary Access Pass policy:
// exactly one save wins, on every backend (the version is checked on the
// locked row inside the writing transaction).
func TestConcurrentTAPPolicyEditsLoseNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		const editors, rounds = 6, 4
		for round := range rounds {
			etag := w.mustStatus(w.do("GET", tapPolicyPath, bearer(w.reader), nil), http.StatusOK).header.Get("ETag")
			statuses := make(chan int, editors)
			var wg sync.WaitGroup
			for i := range editors {
				wg.Go(func() {
					statuses <- w.sendIfMatch(tapPolicyPath, etag, fmt.Sprintf(`{"defaultLength":%d}`, 10+round*editors+i)).status
				})
			}
			wg.Wait()
			close(statuses)
			won := 0
			for s := range statuses {
				switch s {
				case http.StatusOK:
					won++
				case http.StatusPreconditionFailed:
				default:
					t.Fatalf("round %d: status %d", round, s)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d editors of one version saved, want exactly 1", round, won)
			}
		}
		if n := len(w.audit("policy.temporaryAccessPass.update")); n != rounds {
			t.Fatalf("%d changes audited, want %d (one a round)", n, rounds)
		}
	})
}
