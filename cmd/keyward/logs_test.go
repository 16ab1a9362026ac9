package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

func TestPolicyDryRunOnSQLite(t *testing.T) {
	ctx := context.Background()
	env := sqliteEnv(t)
	c := cli{t: t, env: env}
	c.ok("migrate")
	c.ok("policy", "passkey", "set", "--state", "enabled")
	st := openTestStore(t, env)
	now := time.Now().UTC()
	for i, who := range []struct{ upn, aaguid, model string }{
		{"ann@x.org", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"},
		{"eve@x.org", "8876631b-d4a0-427f-5773-0ec71c9e0279", "Solo Secp256R1"},
	} {
		u := storage.User{ID: "01960000-0000-7000-8000-00000000000" + string(rune('1'+i)), UserPrincipalName: who.upn,
			DisplayName: who.upn, AccountEnabled: true, IsEmergencyAccess: i == 1, CreatedAt: now, UpdatedAt: now}
		cred := storage.Credential{ID: "01960000-0000-7000-8000-00000000010" + string(rune('1'+i)), UserID: u.ID,
			CredentialID: []byte(who.upn), PublicKey: []byte{0xa0}, AAGUID: who.aaguid, Model: who.model,
			DisplayName: "Key of " + who.upn, AttestationLevel: storage.AttestationNotAttested, CreatedAt: now}
		if err := errors.Join(st.CreateUser(ctx, u), st.CreateCredential(ctx, cred)); err != nil {
			t.Fatal(err)
		}
	}
	before := c.ok("policy", "passkey", "show", "--json")
	out := c.ok("policy", "passkey", "set", "--key-restrictions", "allow", "--aaguid", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "--dry-run")
	for _, want := range []string{"Dry run: nothing was saved.", "1 person would lose passkey sign-in, 1 key would stop working",
		"WARNING: eve@x.org (emergency access) is affected: Solo Secp256R1",
		"eve@x.org  Key of eve@x.org (Solo Secp256R1, AAGUID 8876631b-d4a0-427f-5773-0ec71c9e0279): "} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ann@x.org") {
		t.Errorf("ann keeps her allowed key but is listed:\n%s", out)
	}
	if after := c.ok("policy", "passkey", "show", "--json"); after != before {
		t.Fatalf("--dry-run changed the policy:\n%s\n%s", before, after)
	}
	c.fails("--key-restrictions", "policy", "passkey", "set", "--key-restrictions", "sometimes", "--dry-run")
}

func TestBenchReportsScenarioSeedsAndTimesEveryReport(t *testing.T) {
	c := cli{t: t, env: []string{"KEYWARD_LOG_LEVEL=warn"}}
	var out struct {
		SignIns, Passkeys int
		Timings           []struct {
			Name         string
			Runs         int
			P50Ms, P99Ms float64
		}
	}
	c.json(&out, "bench", "--scenario", "reports", "--signins", "300", "--passkeys", "30", "--repeat", "2")
	if out.SignIns != 300 || out.Passkeys != 30 || len(out.Timings) != 31 {
		t.Fatalf("report %+v", out)
	}
	asked := map[string]bool{}
	for _, tm := range out.Timings {
		asked[tm.Name] = true
	}
	// Issue 9's list: every filter of the sign-in log, the audit log's, both
	// key-models reports, the registration reports under the policy of a
	// new install and under one that does not accept every key, the preview.
	for _, name := range []string{"signIns: one userPrincipalName", "signIns: one app", "signIns: successes",
		"signIns: a day a week ago", "directoryAudits: one initiator", "directoryAudits: one target",
		"directoryAudits: one category", "report: key models, one group", "report: userRegistrationDetails, passwordless",
		"report: usersRegisteredByMethod, restricted", "report: impact preview, allow two models",
		"chart: phishing-resistant share"} {
		if !asked[name] {
			t.Errorf("%q was not asked", name)
		}
	}
	for _, tm := range out.Timings {
		if tm.Runs != 2 || tm.P50Ms <= 0 || tm.P99Ms < tm.P50Ms {
			t.Errorf("timing %+v", tm)
		}
	}
	c.fails("--passkeys (0)", "bench", "--scenario", "reports", "--passkeys", "0")
	c.fails("--sqlite-dir: not with --database-url", "bench", "--scenario", "reports", "--sqlite-dir", t.TempDir(),
		"--database-url", "postgres://127.0.0.1:1/none")
}

// A database kept with --sqlite-dir is asked again without seeding, and
// --only asks only the questions named, each ask timed on its own.
func TestBenchReportsScenarioKeepsItsDatabaseAndAsksChosenQuestions(t *testing.T) {
	c := cli{t: t, env: []string{"KEYWARD_LOG_LEVEL=warn"}}
	dir := t.TempDir()
	type report struct {
		Passkeys int
		Timings  []struct {
			Name string
			Asks []struct{ Ms, CPUMs float64 }
		}
	}
	for range 2 {
		var out report
		c.json(&out, "bench", "--scenario", "reports", "--signins", "50", "--passkeys", "20", "--repeat", "3",
			"--sqlite-dir", dir, "--only", "impact preview")
		if len(out.Timings) != 1 || out.Timings[0].Name != "report: impact preview, allow two models" || len(out.Timings[0].Asks) != 3 {
			t.Fatalf("report %+v", out)
		}
	}
	c.fails("not the 30 of --passkeys", "bench", "--scenario", "reports", "--passkeys", "30", "--sqlite-dir", dir)
	c.fails(`no question's name contains "nothing"`, "bench", "--scenario", "reports", "--passkeys", "20", "--sqlite-dir", dir,
		"--only", "nothing")
	c.fails("--concurrency: not with --scenario reports", "bench", "--scenario", "reports", "--concurrency", "4")
	c.fails(`--scenario must be signin`, "bench", "--scenario", "everything")
}

// More keys stop working than the dry run lists: it says how many more and
// counts them per model.
func TestPolicyDryRunSaysHowManyMoreOnSQLite(t *testing.T) {
	ctx := context.Background()
	env := sqliteEnv(t)
	c := cli{t: t, env: env}
	c.ok("migrate")
	c.ok("policy", "passkey", "set", "--state", "enabled")
	st := openTestStore(t, env)
	now := time.Now().UTC()
	var users []storage.UserImport
	for i := range 150 {
		u := storage.User{ID: fmt.Sprintf("01960000-0000-7000-8000-%012d", i), UserPrincipalName: fmt.Sprintf("user%03d@x.org", i),
			DisplayName: fmt.Sprintf("User %d", i), AccountEnabled: true, CreatedAt: now, UpdatedAt: now}
		users = append(users, storage.UserImport{User: u, Credentials: []storage.Credential{{
			ID: fmt.Sprintf("01960000-0000-7000-9000-%012d", i), UserID: u.ID, CredentialID: []byte(u.ID), PublicKey: []byte{0xa0},
			AAGUID: "8876631b-d4a0-427f-5773-0ec71c9e0279", Model: "Solo Secp256R1", DisplayName: "Key",
			AttestationLevel: storage.AttestationNotAttested, CreatedAt: now}}})
	}
	if err := st.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
		return []storage.AuditEvent{{Time: now, Actor: "cli", Action: "test.seed", Target: "test"}}, st.ImportUsers(ctx, users)
	}); err != nil {
		t.Fatal(err)
	}
	out := c.ok("policy", "passkey", "set", "--key-restrictions", "allow", "--aaguid", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "--dry-run")
	for _, want := range []string{"150 people would lose passkey sign-in, 150 keys would stop working",
		"… and 50 more", "Solo Secp256R1 (AAGUID 8876631b-d4a0-427f-5773-0ec71c9e0279): 150 keys of 150 people"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "@x.org  Key"); n != 100 {
		t.Errorf("%d keys listed, want the first 100:\n%s", n, out)
	}
}
