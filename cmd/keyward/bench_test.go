package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/bench"
)

// tinyBench are settings that exercise every part of keyward bench in a
// second or two: two levels, a few users, counted sign-ins.
var tinyBench = []string{"--users", "3", "--concurrency", "1,2", "--count", "20", "--bare-duration", "200ms"}

// benchArgs runs the real binary as the server, as `keyward bench` does
// with its own binary outside tests.
func benchArgs(t *testing.T, extra ...string) []string {
	return append(append([]string{"bench", "--server-binary", keywardBinary(t)}, tinyBench...), extra...)
}

func TestBenchAgainstItsOwnServerReportsEverySignIn(t *testing.T) {
	env := sqliteEnv(t) // bench must ignore KEYWARD_DATA_DIR: nothing may appear there
	c := cli{t: t, env: env}
	var rep bench.Report
	c.json(&rep, benchArgs(t)...)

	if rep.Server.Kind != "child" || rep.Server.Database != "sqlite" || rep.Server.PID <= 0 ||
		!strings.HasPrefix(rep.Server.URL, "http://127.0.0.1:") || !strings.HasPrefix(rep.Server.Origin, "http://localhost:") {
		t.Errorf("server %+v", rep.Server)
	}
	if rep.BareJSON.PerSecond <= 0 || rep.BareJSON.Verifications <= 0 {
		t.Errorf("bare verify %+v", rep.BareJSON)
	}
	if len(rep.Levels) != 2 || rep.Levels[0].Concurrency != 1 || rep.Levels[1].Concurrency != 2 {
		t.Fatalf("levels %+v", rep.Levels)
	}
	for _, l := range rep.Levels {
		if l.SignIns != 20 || l.Errors != 0 || len(l.ErrorSample) != 0 {
			t.Errorf("concurrency %d: %d sign-ins, %d errors %v; want 20 and none", l.Concurrency, l.SignIns, l.Errors, l.ErrorSample)
		}
		if l.PerSecond <= 0 || l.OfBare <= 0 || l.P50Ms <= 0 || l.P50Ms > l.P95Ms || l.P95Ms > l.P99Ms || l.P99Ms > l.MaxMs {
			t.Errorf("concurrency %d: numbers missing or out of order: %+v", l.Concurrency, l)
		}
		if l.ServerCPUMs == nil || l.ServerCPUSec == nil || *l.ServerCPUMs < 0 {
			t.Errorf("concurrency %d: no server CPU although the server is a child process", l.Concurrency)
		}
		if l.DBWaitMs == nil || *l.DBWaitMs < 0 {
			t.Errorf("concurrency %d: no wait for database connections read from the server's /metrics", l.Concurrency)
		}
	}
	if rep.Succeeded != 40 || rep.Failed != 0 || len(rep.Targets) != 5 {
		t.Errorf("totals %d/%d, targets %+v", rep.Succeeded, rep.Failed, rep.Targets)
	}
	// An app's sign-ins beside them: authorizations with the session, code
	// exchanges, refreshes, then introspections of the refreshed access
	// tokens, at each concurrency.
	if len(rep.Tokens) != 8 || rep.TokenFailed != 0 || rep.TokenEndpoint == "" {
		t.Fatalf("token levels %+v (%d failed)", rep.Tokens, rep.TokenFailed)
	}
	for i, l := range rep.Tokens {
		wantGrant := []string{bench.Authorization, bench.GrantCode, bench.GrantRefresh, bench.Introspection}[i%4]
		if l.Grant != wantGrant || l.Concurrency != []int{1, 1, 1, 1, 2, 2, 2, 2}[i] || l.Requests != 20 || l.Errors != 0 ||
			l.PerSecond <= 0 || l.P50Ms <= 0 || l.P50Ms > l.P99Ms || l.ServerCPUMs == nil {
			t.Errorf("token level %d: %+v", i, l)
		}
	}
	assertBenchCleanedUp(t, rep.Server.PID, rep.Server.TempDir)
	if entries, _ := os.ReadDir(strings.TrimPrefix(env[0], "KEYWARD_DATA_DIR=")); len(entries) != 0 {
		t.Errorf("bench wrote into the configured data directory: %v", entries)
	}
}

// assertBenchCleanedUp checks that the child server has exited (and been
// waited for) and that the temporary directory is gone.
func assertBenchCleanedUp(t *testing.T, pid int, dir string) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the server process %d is still there (kill 0: %v)", pid, err)
	}
	if dir == "" {
		t.Error("no temporary directory reported")
	} else if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s not removed (%v)", dir, err)
	}
}

// TestBenchAgainstARunningServerLeavesItAsItWas measures a server started
// separately, through --url and --token: the table is printed, and the
// benchmark's users are deleted and the policy switched back off afterwards.
func TestBenchAgainstARunningServerLeavesItAsItWas(t *testing.T) {
	env := []string{"KEYWARD_DATA_DIR=" + t.TempDir()} // info level: startServe waits for "listening"
	tok := strings.TrimSpace(runBinary(t, env, "token", "create", "--name", "bench", "--role", "global-admin"))
	n := startServe(t, env)
	n.waitReady()

	c := cli{t: t}
	out := c.ok("bench", "--url", "http://"+n.addr, "--origin", "http://localhost:8080", "--token", tok,
		"--users", "2", "--concurrency", "1,2", "--count", "10", "--bare-duration", "100ms")
	for _, want := range []string{"Keyward at http://" + n.addr, "CONCURRENCY", "SIGN-INS/S", "P99", "SERVER CPU/SIGN-IN",
		"throughput ≥ 25% of the bare verify rate", "p99 ≤ 20 ms at concurrency 32", "All 20 sign-ins succeeded."} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^1 +10 +0 +[0-9.]+ `).MatchString(out) {
		t.Errorf("no row for concurrency 1 with 10 sign-ins and 0 errors:\n%s", out)
	}
	if code := n.stop(); code != 0 {
		t.Fatalf("server exit code %d", code)
	}
	if users := runBinary(t, env, "user", "list", "--json"); strings.TrimSpace(users) != "[]" {
		t.Errorf("benchmark users left behind: %s", users)
	}
	if pol := runBinary(t, env, "policy", "passkey", "show", "--json"); !strings.Contains(pol, `"state": "disabled"`) {
		t.Errorf("passkeys left enabled: %s", pol)
	}
}

func TestBenchOnPostgresCleansUpItsUsersAndToken(t *testing.T) {
	dsn := postgresDSN(t)
	var rep bench.Report
	cli{t: t}.json(&rep, benchArgs(t, "--database-url", dsn)...)
	if rep.Server.Database != "postgres" || rep.Succeeded != 40 || rep.Failed != 0 {
		t.Fatalf("report: server %+v, %d succeeded, %d failed", rep.Server, rep.Succeeded, rep.Failed)
	}
	assertBenchCleanedUp(t, rep.Server.PID, rep.Server.TempDir)
	env := []string{"KEYWARD_DATABASE_URL=" + dsn, "KEYWARD_LOG_LEVEL=warn"}
	if users := runBinary(t, env, "user", "list", "--json"); strings.TrimSpace(users) != "[]" {
		t.Errorf("benchmark users left behind: %s", users)
	}
	var toks []tokenJSON
	if err := json.Unmarshal([]byte(runBinary(t, env, "token", "list", "--json")), &toks); err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].RevokedDateTime == nil {
		t.Errorf("the benchmark's token is not revoked: %+v", toks)
	}
}

// TestBenchStopsItsServerOnInterrupt cancels the run (what Ctrl-C does)
// during a level of a minute: it ends at once, with the child stopped and
// the temporary directory removed.
func TestBenchStopsItsServerOnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &watchWriter{want: "concurrency 1: 1m0s", hit: make(chan struct{}), cancel: cancel}
	var stdout strings.Builder
	args := []string{"bench", "--server-binary", keywardBinary(t), "--users", "2", "--concurrency", "1",
		"--duration", "1m", "--bare-duration", "100ms"}
	done := make(chan int)
	go func() { done <- run(ctx, args, nil, strings.NewReader(""), &stdout, stderr) }()

	var code int
	select {
	case code = <-done:
		t.Fatalf("bench ended (%d) before its level started:\n%s", code, stderr.String())
	case <-stderr.hit:
	case <-time.After(waitFor):
		t.Fatalf("bench did not start its level within %s:\n%s", waitFor, stderr.String())
	}
	select {
	case code = <-done:
	case <-time.After(waitFor):
		t.Fatalf("bench did not end within %s of the interrupt:\n%s", waitFor, stderr.String())
	}
	if code != 1 || !strings.Contains(stderr.String(), "keyward: interrupted") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
	m := regexp.MustCompile(`started keyward serve \(pid (\d+)\).*temporary directory (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no start line on stderr:\n%s", stderr.String())
	}
	pid, _ := strconv.Atoi(m[1])
	assertBenchCleanedUp(t, pid, m[2])
}

// watchWriter collects a command's stderr and cancels the run once a line
// containing want appears.
type watchWriter struct {
	mu     sync.Mutex
	b      strings.Builder
	want   string
	hit    chan struct{}
	cancel context.CancelFunc
	once   sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.hit); w.cancel() })
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestBenchRefusesBadFlagsBeforeStartingAnything(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"fewer users than concurrency", []string{"--users", "2", "--concurrency", "1,4"},
			[]string{"--users: 2 is fewer than the highest concurrency 4"}},
		{"concurrency out of range", []string{"--concurrency", "0,2000"},
			[]string{"--concurrency: 0 is not from 1 to 1024", "--concurrency: 2000 is not from 1 to 1024"}},
		{"count and duration", []string{"--count", "5", "--duration", "1s"}, []string{"--count and --duration: give one of them"}},
		{"non-positive durations", []string{"--duration", "0s", "--bare-duration", "-1s"},
			[]string{"--duration: 0s is not positive", "--bare-duration: -1s is not positive"}},
		{"url without token", []string{"--url", "http://127.0.0.1:1"}, []string{"--token: required with --url"}},
		{"url not http", []string{"--url", "ftp://127.0.0.1", "--token", "kw_x"}, []string{"--url: \"ftp://127.0.0.1\" must start with http://"}},
		{"url with path and server flags", []string{"--url", "http://127.0.0.1:1/kw", "--token", "kw_x", "--database-url", "postgres://db/x"},
			[]string{"must be just scheme://host[:port]", "--database-url: not with --url"}},
		{"token without url", []string{"--token", "kw_x", "--origin", "http://localhost:1"},
			[]string{"--token: only with --url", "--origin: only with --url"}},
		{"configured data directory", []string{"--data-dir", "/tmp/x"}, []string{"--data-dir: keyward bench does not use it"}},
		{"database url not postgres", []string{"--database-url", "mysql://db/x"}, []string{"--database-url: must be a postgres://"}},
		{"server log level", []string{"--server-log-level", "loud"}, []string{`--server-log-level: "loud" is not one of`}},
		{"sqlite synchronous unknown", []string{"--sqlite-synchronous", "FULL"}, []string{`--sqlite-synchronous: "FULL" must be full or normal`}},
		{"sqlite synchronous on postgres", []string{"--database-url", "postgres://db/x", "--sqlite-synchronous", "full"},
			[]string{"--sqlite-synchronous: \"full\" must be full or normal, and only without --database-url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := cli{t: t}.fails("keyward bench cannot run", append([]string{"bench"}, tc.args...)...)
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
