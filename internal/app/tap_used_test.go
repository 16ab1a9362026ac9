package app_test

import (
	"net/http"
	"testing"
	"time"
)

// A one-time pass that was used says when; before use it says nothing.
func TestUsedPassShowsWhen(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		id := w.user("una@contoso.com")
		pass := w.issueTAP(id, map[string]any{"isUsableOnce": true})["temporaryAccessPass"].(string)
		list := func() map[string]any {
			t.Helper()
			return w.mustStatus(w.do("GET", tapPath(id), bearer(w.reader), nil), http.StatusOK).json(t)["value"].([]any)[0].(map[string]any)
		}
		if got := list(); got["lastUsedDateTime"] != nil || got["methodUsabilityReason"] != "EnabledByPolicy" {
			t.Fatalf("before use: %v", got)
		}
		w.clock.Advance(3 * time.Minute)
		usedAt := w.clock.Now().UTC()
		w.signedIn(w.tapSignIn("una@contoso.com", pass[:4]+"-"+pass[4:8]+"-"+pass[8:12]+"-"+pass[12:]), "una@contoso.com") // grouped, as the page shows it
		got := list()
		at, err := time.Parse(time.RFC3339Nano, got["lastUsedDateTime"].(string))
		if err != nil || !at.Equal(usedAt) || got["methodUsabilityReason"] != "OneTimeUsed" {
			t.Fatalf("after use: %v (want lastUsedDateTime %s)", got, usedAt)
		}
	})
}
