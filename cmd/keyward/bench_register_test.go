package main

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/bench"
)

// registerBench runs --scenario register with the real binary as the
// server: two counted levels over a few users.
func registerBench(extra ...string) []string {
	return append([]string{"bench", "--scenario", "register", "--users", "4", "--concurrency", "1,2", "--count", "12"}, extra...)
}

// Every registration is provisioned, attested against the run's own MDS
// blob (the server trusting its root) and stored; the report holds it to
// the target, and the run leaves nothing behind.
func TestBenchRegisterAttestsEveryKeyAgainstItsOwnBlob(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			args := registerBench("--server-binary", keywardBinary(t))
			env := sqliteEnv(t)
			if db == "postgres" {
				args = append(args, "--database-url", postgresDSN(t))
			}
			var rep bench.RegisterReport
			cli{t: t, env: env}.json(&rep, args...)
			if rep.Server.Kind != "child" || !strings.HasPrefix(rep.Server.Database, db) || rep.AAGUID != bench.RegisterAAGUID.String() {
				t.Errorf("report header %+v", rep)
			}
			if len(rep.Levels) != 2 {
				t.Fatalf("levels %+v", rep.Levels)
			}
			for _, l := range rep.Levels {
				if l.Registrations != 12 || l.Errors != 0 || l.PerSecond <= 0 || l.P50Ms <= 0 || l.P50Ms > l.P99Ms ||
					l.ServerCPUMs == nil || l.ClientCPUMs == nil {
					t.Errorf("concurrency %d: %+v", l.Concurrency, l)
				}
			}
			if rep.Succeeded != 24 || rep.Failed != 0 || len(rep.Targets) != 1 || rep.Targets[0].Status == "not measured" ||
				!strings.Contains(rep.Targets[0].Name, "1000/s") {
				t.Errorf("totals %d/%d, targets %+v", rep.Succeeded, rep.Failed, rep.Targets)
			}
			assertBenchCleanedUp(t, rep.Server.PID, rep.Server.TempDir)
			if db == "postgres" {
				pg := []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"}
				if users := runBinary(t, pg, "user", "list", "--json"); strings.TrimSpace(users) != "[]" {
					t.Errorf("benchmark users left behind: %s", users)
				}
			}
		})
	}
}

func TestBenchRegisterTextAndRefusals(t *testing.T) {
	c := cli{t: t, env: sqliteEnv(t)}
	out := c.ok(registerBench("--server-binary", keywardBinary(t), "--concurrency", "1", "--count", "5")...)
	for _, want := range []string{"Keyward passkey registration benchmark", "REGISTRATIONS/S", "SERVER CPU/REGISTRATION",
		"registrations ≥ 1000/s (SQLite)", "load average"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	r := c.run("bench", "--scenario", "register", "--url", "http://127.0.0.1:1", "--token", "x")
	if r.code == 0 || !strings.Contains(r.stderr, "not with --scenario register") {
		t.Errorf("--url with register: exit %d, %s", r.code, r.stderr)
	}
}
