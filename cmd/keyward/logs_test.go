package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

func TestLogsOnSQLite(t *testing.T) { testLogs(t, sqliteEnv(t)) }
func TestLogsOnPostgres(t *testing.T) {
	testLogs(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

func testLogs(t *testing.T, env []string) {
	ctx := context.Background()
	c := cli{t: t, env: env}
	c.ok("migrate")
	st := openTestStore(t, env)
	now := time.Now().UTC()
	ages := []time.Duration{400 * 24 * time.Hour, 10 * 24 * time.Hour, 2 * 24 * time.Hour, time.Hour}
	for i, age := range ages {
		e := storage.SignInEvent{ID: "signin-" + string(rune('a'+i)), Time: now.Add(-age), UserPrincipalName: "ann@x.org",
			Method: "password", Result: storage.ResultSuccess}
		if err := st.RecordSignIn(ctx, storage.SignInRecord{Event: e}); err != nil {
			t.Fatal(err)
		}
		e2 := storage.AuditEvent{ID: "audit-" + string(rune('a'+i)), Time: now.Add(-age),
			Actor: "cli", Action: "user.update", Target: "user:u1", Details: []byte(`{"displayName":"Ann"}`)}
		if err := st.Audited(ctx, func(context.Context) ([]storage.AuditEvent, error) { return []storage.AuditEvent{e2}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(out, field string) []string {
		t.Helper()
		var got []string
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %q is not a JSON object: %v", line, err)
			}
			if m[field] == nil {
				t.Fatalf("line %q has no %s", line, field)
			}
			got = append(got, m["id"].(string))
		}
		return got
	}

	t.Run("export_writes_json_lines_newest_first", func(t *testing.T) {
		if got := strings.Join(ids(c.ok("logs", "export", "--kind", "signins"), "createdDateTime"), ","); got != "signin-d,signin-c,signin-b,signin-a" {
			t.Fatalf("sign-ins exported: %s", got)
		}
		if got := strings.Join(ids(c.ok("logs", "export", "--kind", "audits", "--since", "3d"), "activityDisplayName"), ","); got != "audit-d,audit-c" {
			t.Fatalf("audit records of the last 3 days: %s", got)
		}
		since := now.Add(-11 * 24 * time.Hour).Format(time.RFC3339)
		if got := len(ids(c.ok("logs", "export", "--kind", "signins", "--since", since), "status")); got != 3 {
			t.Fatalf("sign-ins since %s: %d", since, got)
		}
	})
	t.Run("bad_arguments_fail_and_print_nothing", func(t *testing.T) {
		c.fails("--kind must be signins or audits", "logs", "export", "--kind", "everything")
		c.fails(`--since "yesterday"`, "logs", "export", "--kind", "signins", "--since", "yesterday")
		c.fails(`--since "-3d"`, "logs", "export", "--kind", "signins", "--since", "-3d")
		c.fails(`required flag(s) "kind" not set`, "logs", "export")
	})
	t.Run("the_cleanup_sweep_keeps_each_log_for_its_retention", func(t *testing.T) {
		a := &app{now: func() time.Time { return now }, logger: newLogger(io.Discard, "error", "text")}
		a.cfg.SignInLogRetention, a.cfg.AuditLogRetention = 30*24*time.Hour, 5*24*time.Hour
		a.cleanup(ctx, st)
		if got := strings.Join(ids(c.ok("logs", "export", "--kind", "signins"), "id"), ","); got != "signin-d,signin-c,signin-b" {
			t.Fatalf("sign-ins kept for 30 days: %s", got)
		}
		if got := strings.Join(ids(c.ok("logs", "export", "--kind", "audits"), "id"), ","); got != "audit-d,audit-c" {
			t.Fatalf("audit records kept for 5 days: %s", got)
		}
	})
}
