package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// patchIfMatch sends a policy PATCH with an If-Match header.
func (w *world) patchIfMatch(etag, body string) reply {
	w.t.Helper()
	return w.sendIfMatch(policyPath, etag, body)
}

// Two admins edit the policy from the same version: the second save is
// refused with 412 and the current policy instead of undoing the first.
func TestPolicyEditsCarryAVersion(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		get := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK)
		etag := get.header.Get("ETag")
		if etag == "" || !strings.HasPrefix(etag, `"`) {
			t.Fatalf("GET ETag = %q, want a strong entity tag", etag)
		}
		first := w.mustStatus(w.patchIfMatch(etag, `{"state":"enabled"}`), http.StatusOK)
		next := first.header.Get("ETag")
		if next == "" || next == etag {
			t.Fatalf("ETag after a change = %q (before %q)", next, etag)
		}
		if got := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).header.Get("ETag"); got != next {
			t.Fatalf("GET ETag = %q, want the PATCH's %q", got, next)
		}

		// The second admin still holds the first ETag.
		updates := len(w.audit("policy.fido2.update"))
		stale := w.patchIfMatch(etag, `{"isSelfServiceRegistrationAllowed":false}`)
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
			body.Current["state"] != "enabled" || body.Current["isSelfServiceRegistrationAllowed"] != true || stale.header.Get("ETag") != next {
			t.Fatalf("412 = %s (ETag %q), want the current policy and ETag %s", stale.body, stale.header.Get("ETag"), next)
		}
		p := w.getPolicy()
		if p["state"] != "enabled" || p["isSelfServiceRegistrationAllowed"] != true || len(w.audit("policy.fido2.update")) != updates {
			t.Fatalf("the stale PATCH changed the policy: %v", p)
		}
		// With the current ETag (or "*", or none at all) the change goes through.
		w.mustStatus(w.patchIfMatch(next, `{"isSelfServiceRegistrationAllowed":false}`), http.StatusOK)
		w.mustStatus(w.patchIfMatch("*", `{"isSelfServiceRegistrationAllowed":true}`), http.StatusOK)
		w.setPolicy(`{"isSelfServiceRegistrationAllowed":false}`)
	})
}

// Admins racing from one version: exactly one save wins, on every backend.
func TestConcurrentPolicyEditsLoseNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		const editors, rounds = 6, 5
		for round := range rounds {
			etag := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).header.Get("ETag")
			statuses := make(chan int, editors)
			var wg sync.WaitGroup
			for i := range editors {
				state := []string{"enabled", "disabled"}[(round+i)%2]
				self := i%2 == 0
				wg.Go(func() {
					statuses <- w.patchIfMatch(etag, fmt.Sprintf(`{"state":%q,"isSelfServiceRegistrationAllowed":%v}`, state, self)).status
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
	})
}

// sendIfMatch sends a PATCH with If-Match as the global admin.
func (w *world) sendIfMatch(path, etag, body string) reply {
	w.t.Helper()
	return w.call(0, "PATCH", path, cred{token: w.admin, ifMatch: etag}, body)
}

// Users and groups, which pages also edit whole, carry a version too.
func TestUserAndGroupEditsCarryAVersion(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		for _, tc := range []struct{ path, first, second, field, want string }{
			{"/api/v1/users/" + w.user("alice@contoso.com"), `{"displayName":"Alice L."}`, `{"accountEnabled":false}`, "displayName", "Alice L."},
			{"/api/v1/groups/" + w.group("Pilots"), `{"description":"first wave"}`, `{"displayName":"Pilots 2"}`, "description", "first wave"},
		} {
			get := w.mustStatus(w.do("GET", tc.path, bearer(w.reader), nil), http.StatusOK)
			etag := get.header.Get("ETag")
			if etag == "" {
				t.Fatalf("GET %s has no ETag", tc.path)
			}
			next := w.mustStatus(w.sendIfMatch(tc.path, etag, tc.first), http.StatusOK).header.Get("ETag")
			if next == "" || next == etag {
				t.Fatalf("ETag after a change = %q (before %q)", next, etag)
			}
			before := w.state()
			stale := w.sendIfMatch(tc.path, etag, tc.second)
			if stale.status != http.StatusPreconditionFailed {
				t.Fatalf("stale PATCH %s: status %d, want 412: %s", tc.path, stale.status, stale.body)
			}
			var body struct {
				Error   struct{ Code, Message string }
				Current map[string]any
			}
			if err := json.Unmarshal(stale.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Error.Code != "preconditionFailed" || body.Current[tc.field] != tc.want || stale.header.Get("ETag") != next {
				t.Fatalf("412 = %s (ETag %q), want the current record and ETag %s", stale.body, stale.header.Get("ETag"), next)
			}
			if after := w.state(); after != before {
				t.Fatalf("the stale PATCH changed the store:\n%s\n%s", before, after)
			}
			w.mustStatus(w.sendIfMatch(tc.path, next, tc.second), http.StatusOK)
		}
	})
}
