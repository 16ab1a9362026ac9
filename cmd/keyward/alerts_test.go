package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/alerts"
)

func TestAlertsTestCommand(t *testing.T) {
	var got atomic.Value
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e alerts.Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got.Store(e)
	}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()

	env := sqliteEnv(t)
	c := cli{t: t, env: env}
	c.fails("no webhooks are configured", "alerts", "test")

	c = cli{t: t, env: append(env, "KEYWARD_ALERT_WEBHOOKS="+ok.URL)}
	out := c.ok("alerts", "test")
	if !strings.Contains(out, "delivered") {
		t.Fatalf("alerts test:\n%s", out)
	}
	if e, _ := got.Load().(alerts.Event); e.Type != alerts.KindTest || !strings.Contains(e.Message, "cli") {
		t.Fatalf("the webhook got %+v", e)
	}

	c = cli{t: t, env: append(env, "KEYWARD_ALERT_WEBHOOKS="+ok.URL+","+down.URL)}
	r := c.run("alerts", "test")
	if r.code != 1 || !strings.Contains(r.stdout, "503") || !strings.Contains(r.stderr, "1 of 2 webhooks") {
		t.Fatalf("with a webhook down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
