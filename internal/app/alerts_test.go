package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/keyward/keyward/internal/alerts"
	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// hook is a test webhook server that can be told to fail.
type hook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	down bool
	got  []alerts.Event
	sigs []string
	body [][]byte
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.down {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var e alerts.Event
		if err := json.Unmarshal(b, &e); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		h.got, h.sigs, h.body = append(h.got, e), append(h.sigs, r.Header.Get(alerts.SignatureHeader)), append(h.body, b)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) events() []alerts.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// An emergency account excluded from every policy signs in (and fails once);
// both raise an alert that reaches the webhook, signed, even though the node
// that queued them stopped before sending and the webhook was down at first.
func TestEmergencyAccessAlerts(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHook(t)
			h.down = true
			w := newWorldWith(t, b.New(t), func(o *app.Options) {
				o.AlertWebhooks = []alerts.Webhook{{URL: h.srv.URL, Secret: "s3cret"}}
			})
			ctx := context.Background()
			const pw = "correct horse battery staple"
			bg := w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), map[string]any{
				"userPrincipalName": "breakglass@contoso.com", "displayName": "Break glass", "isEmergencyAccess": true,
				"passwordProfile": map[string]any{"password": pw}}), http.StatusCreated).json(t)["id"].(string)
			w.user("alice@contoso.com")
			// Excluded from the policy, so it saves without force.
			w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), fmt.Sprintf(`{"displayName":"MFA for everyone","state":"enabled",
				"conditions":{"users":{"includeUsers":["All"],"excludeUsers":[%q]},"applications":{"includeApplications":["All"]}},
				"grantControls":{"builtInControls":["mfa"]}}`, bg)), http.StatusCreated)

			if r := w.passwordSignIn("breakglass@contoso.com", pw); r.status != http.StatusOK {
				t.Fatalf("emergency sign-in: %d %s", r.status, r.body)
			}
			w.clock.Advance(time.Second)
			if r := w.passwordSignIn("breakglass@contoso.com", "wrong"); r.status == http.StatusOK {
				t.Fatal("a wrong password signed in")
			}
			w.passwordSignIn("alice@contoso.com", "nope") // not an emergency account: no alert

			first := w.apps[0]
			if n, err := first.Alerts.Scan(ctx); err != nil || n != 2 {
				t.Fatalf("scan: %d new, %v", n, err)
			}
			if n, err := first.Alerts.Scan(ctx); err != nil || n != 0 {
				t.Fatalf("second scan: %d new, %v (each sign-in alerts once)", n, err)
			}
			if got := counted(t, first.Alerts.SignIns, "success") + counted(t, first.Alerts.SignIns, "failure"); got != 2 {
				t.Fatalf("counter = %v", got)
			}
			// The first node stops here; another starts on the same database.
			second := w.addNode(w.mdsRootForNodes())
			if n, err := second.Alerts.Deliver(ctx); err != nil || n != 0 {
				t.Fatalf("deliver to a webhook that is down: %d, %v", n, err)
			}
			h.mu.Lock()
			h.down = false
			h.mu.Unlock()
			if n, _ := second.Alerts.Deliver(ctx); n != 0 {
				t.Fatal("a failed delivery was retried before its backoff")
			}
			w.clock.Advance(alerts.Backoff(1))
			if n, err := second.Alerts.Deliver(ctx); err != nil || n != 2 {
				t.Fatalf("retry: %d delivered, %v", n, err)
			}
			got := h.events()
			if len(got) != 2 || got[0].Type != alerts.KindEmergencySignIn || got[0].UserPrincipalName != "breakglass@contoso.com" {
				t.Fatalf("webhook got %+v", got)
			}
			results := []string{got[0].Result, got[1].Result}
			slices.Sort(results)
			if !slices.Equal(results, []string{"failure", "success"}) {
				t.Fatalf("results %v", results)
			}
			for i, sig := range h.sigs {
				if sig != alerts.Sign("s3cret", h.body[i]) {
					t.Fatalf("signature %q does not match the body", sig)
				}
			}
			if n, _ := second.Alerts.Deliver(ctx); n != 0 {
				t.Fatal("a delivered alert was sent again")
			}
		})
	}
}

func counted(t *testing.T, c *prometheus.CounterVec, label string) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.WithLabelValues(label).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
