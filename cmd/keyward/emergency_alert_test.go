package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/alerts"
)

func TestEmergencyAlertOutlivesARestartOnSQLite(t *testing.T) {
	testEmergencyAlertRestart(t, sqliteEnv(t))
}

func TestEmergencyAlertOutlivesARestartOnPostgres(t *testing.T) {
	testEmergencyAlertRestart(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// testEmergencyAlertRestart: the real binary. An emergency-access account,
// excluded from the one policy, signs in; the webhook is down, so the alert
// waits in the database; keyward stops, the webhook comes back, keyward
// starts again and delivers the alert — nothing was lost in the restart; a
// failed sign-in after it reaches the webhook too.
func testEmergencyAlertRestart(t *testing.T, env []string) {
	var mu sync.Mutex
	down, attempts := true, 0
	var got []alerts.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if down {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		var e alerts.Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got = append(got, e)
	}))
	defer hook.Close()
	env = append(env, "KEYWARD_ALERT_WEBHOOKS="+hook.URL)

	const pw = "correct horse battery staple"
	c := cli{t: t, env: env}
	c.input(pw+"\n").ok("user", "add", "--upn", "breakglass@contoso.com", "--display-name", "Break glass", "--emergency-access", "--password-stdin")
	var bg struct {
		ID string `json:"id"`
	}
	c.json(&bg, "user", "show", "breakglass@contoso.com")
	c.input(`{"displayName":"Block the rest","state":"enabled","conditions":{"users":{"includeUsers":["All"],"excludeUsers":["`+bg.ID+`"]},`+
		`"applications":{"includeApplications":["All"]}},"grantControls":{"builtInControls":["mfa"]}}`).ok("access", "policy", "add", "--from-file", "-")

	serveEnv := append(env[:len(env):len(env)], "KEYWARD_LOG_LEVEL=info") // serve logs "listening" at info
	n := startServe(t, serveEnv)
	n.waitReady()
	resp, err := http.Post(n.url("/api/v1/auth/password"), "application/json",
		strings.NewReader(`{"username":"breakglass@contoso.com","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emergency sign-in: %d", resp.StatusCode)
	}
	waitUntil(t, "a first delivery attempt", func() bool { mu.Lock(); defer mu.Unlock(); return attempts > 0 })
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	mu.Lock()
	down = false
	mu.Unlock()

	n = startServe(t, serveEnv)
	waitUntil(t, "the alert after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 0 })
	mu.Lock()
	if len(got) != 1 || got[0].Type != alerts.KindEmergencySignIn || got[0].UserPrincipalName != "breakglass@contoso.com" || got[0].Result != "success" {
		mu.Unlock()
		t.Fatalf("the webhook got %+v", got)
	}
	mu.Unlock()

	// With the webhook up, a failed emergency sign-in is alerted too.
	n.waitReady()
	resp, err = http.Post(n.url("/api/v1/auth/password"), "application/json",
		strings.NewReader(`{"username":"breakglass@contoso.com","password":"wrong password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("a wrong password signed the emergency account in")
	}
	waitUntil(t, "the failed sign-in's alert", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[1].Type != alerts.KindEmergencySignIn || got[1].UserPrincipalName != "breakglass@contoso.com" || got[1].Result != "failure" {
		t.Fatalf("the webhook got %+v", got)
	}
}

// waitUntil polls cond for up to waitFor (a retry waits its backoff, 10 s).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", waitFor, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
