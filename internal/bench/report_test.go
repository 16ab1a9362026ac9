package bench

import (
	"strings"
	"testing"
	"time"
)

func dur(d time.Duration) *time.Duration { return &d }

func level(conc int, perSecond float64, p99, serverCPU, perSignIn time.Duration) LevelResult {
	return LevelResult{Concurrency: conc, SignIns: 100, PerSecond: perSecond, P99: p99,
		ServerCPU: dur(serverCPU), ServerCPUPerSignIn: dur(perSignIn)}
}

func statuses(r *Report) map[string]string {
	out := map[string]string{}
	for _, t := range r.Targets {
		out[t.Name] = t.Status
	}
	return out
}

// bare1000 verifies 1,000 times a second at 0.1 ms of CPU each: a budget of
// 0.3 ms a sign-in on SQLite.
var bare1000 = BareResult{PerSecond: 1000, Verifications: 2000, Workers: 2, Elapsed: 2 * time.Second, CPU: 200 * time.Millisecond}

func TestReportHoldsTheRunToTheDesignTargets(t *testing.T) {
	t.Parallel()
	t.Run("met_when_every_figure_is_within_its_target", func(t *testing.T) {
		t.Parallel()
		r := NewReport(64, 0, 5*time.Second)
		r.CPUs = 2
		r.Bare = bare1000
		r.Add(level(1, 200, 5*time.Millisecond, time.Second, 250*time.Microsecond))
		r.Add(level(2, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond))
		r.Add(level(32, 300, 19*time.Millisecond, time.Second, 290*time.Microsecond))
		r.AddToken(TokenResult{Grant: GrantCode, LevelResult: level(1, 900, 2*time.Millisecond, time.Second, 100*time.Microsecond)})
		r.AddToken(TokenResult{Grant: GrantRefresh, LevelResult: level(1, 900, 2*time.Millisecond, time.Second, 400*time.Microsecond)})
		r.Evaluate()
		for name, s := range statuses(r) {
			if s != statusMet {
				t.Errorf("%s: %s, want met", name, s)
			}
		}
		if r.Succeeded != 300 || r.Levels[1].OfBare != 0.3 {
			t.Errorf("succeeded %d, share at 2 %.2f; want 300 and 0.30", r.Succeeded, r.Levels[1].OfBare)
		}
	})
	t.Run("missed_by_the_worst_level", func(t *testing.T) {
		t.Parallel()
		r := NewReport(64, 0, 5*time.Second)
		r.CPUs = 2
		r.Bare = bare1000
		r.Add(level(1, 200, 5*time.Millisecond, time.Second, 250*time.Microsecond))
		r.Add(level(2, 190, 6*time.Millisecond, time.Second, 250*time.Microsecond))
		r.Add(level(32, 240, 21*time.Millisecond, time.Second, 310*time.Microsecond))
		// A code exchange dearer than the cheapest sign-in misses (a refresh is not held to it).
		r.AddToken(TokenResult{Grant: GrantCode, LevelResult: level(2, 900, 2*time.Millisecond, time.Second, 260*time.Microsecond)})
		r.Evaluate()
		for name, s := range statuses(r) {
			if s != statusMissed {
				t.Errorf("%s: %s, want MISSED", name, s)
			}
		}
	})
	t.Run("scaling_missed_when_throughput_falls_above_the_core_count", func(t *testing.T) {
		t.Parallel()
		r := NewReport(64, 0, 5*time.Second)
		r.CPUs = 2
		r.Bare = bare1000
		r.Add(level(1, 200, 5*time.Millisecond, time.Second, 250*time.Microsecond))
		r.Add(level(2, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond))
		r.Add(level(32, 290, 19*time.Millisecond, time.Second, 290*time.Microsecond))
		r.Evaluate()
		got := r.Targets[1]
		if got.Status != statusMissed || !strings.Contains(got.Measured, "2→32: ×0.97") {
			t.Errorf("scaling target %q %s, want MISSED naming 2→32: ×0.97", got.Measured, got.Status)
		}
	})
	t.Run("not_measured_when_levels_are_too_short_for_the_cpu_clock", func(t *testing.T) {
		t.Parallel()
		r := NewReport(8, 10, 0)
		r.Bare = bare1000
		r.Add(level(1, 200, 5*time.Millisecond, 50*time.Millisecond, 250*time.Microsecond))
		r.Evaluate()
		if got := r.Targets[3].Status; got != statusNotMeasured {
			t.Errorf("cpu target %s, want not measured", got)
		}
		if r.Count != 10 || r.DurationSec != 0 {
			t.Errorf("count %d duration %g; a counted run reports its count only", r.Count, r.DurationSec)
		}
	})
}

func TestBareCPUPerVerificationIsTheProcesssCPUWhenItWasRead(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		b    BareResult
		want time.Duration
	}{
		{"read", bare1000, 100 * time.Microsecond},
		// A shared machine: the workers waited for their cores, the CPU says so.
		{"read_on_a_busy_machine", BareResult{Verifications: 1000, Workers: 2, Elapsed: 2 * time.Second, CPU: 150 * time.Millisecond}, 150 * time.Microsecond},
		{"unread_each_worker_on_its_core", BareResult{Verifications: 4000, Workers: 2, Elapsed: time.Second}, 500 * time.Microsecond},
		{"nothing_verified", BareResult{Workers: 2, Elapsed: time.Second, CPU: time.Second}, 0},
	} {
		if got := c.b.CPUPerVerification(); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestReportTextNamesEveryLevelTargetAndError(t *testing.T) {
	t.Parallel()
	r := NewReport(4, 0, 2*time.Second)
	r.Server = ServerInfo{Kind: "child", URL: "http://127.0.0.1:1", Origin: "http://localhost:1", Database: "sqlite", PID: 42}
	r.Bare = BareResult{PerSecond: 1000, Verifications: 1000, Workers: 2, Elapsed: time.Second} // CPU unread: 2 ms each
	l := level(2, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond)
	l.Errors, l.ErrorSamples = 1, []string{"status 500 from the server"}
	trips := 9.0
	l.RoundTripsPerSignIn = &trips
	r.Add(l)
	out := flatText(t, r)
	if strings.Contains(out, "POSTGRES CPU") {
		t.Errorf("a SQLite run shows PostgreSQL's CPU:\n%s", out)
	}
	if strings.Contains(out, "LOG RESTARTS") {
		t.Errorf("a run whose server reported no log restarts shows them:\n%s", out)
	}
	for _, want := range []string{
		"keyward serve, child process 42, sqlite database, at http://127.0.0.1:1", "Each level: 2s",
		"DB ROUND TRIPS/SIGN-IN", "0.250 ms n/a 9.00",
		"CONCURRENCY", "300.0", "30.0%", "0.250 ms", "throughput ≥ 25% of the bare verify rate",
		"Bare verify: 1000/s, 2.000 ms of CPU each", "server CPU ≤ 3 bare verifications per sign-in",
		"worst 0.250 ms at concurrency 2 = 0.1 × 2.000 ms (budget 6.000 ms) met",
		"1 of 101 sign-ins FAILED:", "concurrency 2: status 500 from the server",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportTextShowsTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	r := NewReport(4, 0, 2*time.Second)
	r.Add(level(2, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond))
	code := level(2, 800, 3*time.Millisecond, time.Second, 120*time.Microsecond)
	code.Errors, code.ErrorSamples = 1, []string{"POST /oauth2/token: 400 Bad Request"}
	r.AddToken(TokenResult{Grant: GrantCode, LevelResult: code})
	r.Evaluate()
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"OpenID Connect", "REQUESTS/S", GrantCode, "800.0", "0.120 ms",
		"authorization_code+PKCE at concurrency 2 FAILED: POST /oauth2/token: 400", codeExchangeName} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, b.String())
		}
	}
	if r.TokenFailed != 1 {
		t.Errorf("TokenFailed %d", r.TokenFailed)
	}
}

func TestReportTextShowsPostgreSQLsCPUOrWhyNot(t *testing.T) {
	t.Parallel()
	r := NewReport(4, 0, 2*time.Second)
	r.Server = ServerInfo{Kind: "child", Database: "postgres"}
	r.DBCPU = "unavailable: PostgreSQL at db.internal is not on this machine"
	r.Add(level(2, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond))
	pg := 400 * time.Microsecond
	l := level(32, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond)
	l.DBCPUPerSignIn = &pg
	r.Add(l)
	out := flatText(t, r)
	for _, want := range []string{"POSTGRES CPU/SIGN-IN", "0.250 ms n/a n/a", "0.400 ms",
		"PostgreSQL's CPU: unavailable: PostgreSQL at db.internal is not on this machine."} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// flatText is r evaluated and written as text, its alignment aside (each
// run of spaces and line ends as one space).
func flatText(t *testing.T, r *Report) string {
	t.Helper()
	r.Evaluate()
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// twoLevelReport is a report of a level at 2 whose server's figures were not
// read and one at 32 that read sets them on, with its text.
func twoLevelReport(t *testing.T, database string, read func(*LevelResult)) (*Report, string) {
	t.Helper()
	r := NewReport(4, 0, 2*time.Second)
	r.Server = ServerInfo{Kind: "child", Database: database}
	r.Add(level(2, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond)) // not read
	l := level(32, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond)
	read(&l)
	r.Add(l)
	out := flatText(t, r)
	return r, out
}

func wantInReport(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportTextShowsSQLitesLogRestarts(t *testing.T) {
	t.Parallel()
	r, out := twoLevelReport(t, "sqlite", func(l *LevelResult) {
		restarts, held := 3, 45*time.Millisecond
		l.LogRestarts, l.WriterHeld = &restarts, &held
	})
	wantInReport(t, out, "LOG RESTARTS, WRITER HELD", "n/a –", "3, 45.0 ms",
		"Log restarts: times SQLite's write-ahead log was started again")
	if r.Levels[1].LogRestarts == nil || *r.Levels[1].LogRestarts != 3 || r.Levels[1].WriterHeldMs == nil || *r.Levels[1].WriterHeldMs != 45 {
		t.Errorf("level report %+v", r.Levels[1])
	}
}

func TestReportTextShowsTheWaitForDatabaseConnections(t *testing.T) {
	t.Parallel()
	r, out := twoLevelReport(t, "postgres", func(l *LevelResult) {
		wait := 8700 * time.Microsecond
		l.DBWaitPerSignIn = &wait
	})
	wantInReport(t, out, "DB WAIT/SIGN-IN", "8.700 ms",
		"DB wait: how long the server's requests waited for a free database connection")
	if r.Levels[0].DBWaitMs != nil || r.Levels[1].DBWaitMs == nil || *r.Levels[1].DBWaitMs != 8.7 {
		t.Errorf("level reports %+v", r.Levels)
	}
	plain := NewReport(4, 0, 2*time.Second)
	plain.Add(level(2, 300, 6*time.Millisecond, time.Second, 250*time.Microsecond))
	if out := flatText(t, plain); strings.Contains(out, "DB WAIT") {
		t.Errorf("a run whose server reported no waits shows them:\n%s", out)
	}
}

func TestCodeExchangeIsJudgedAgainstTheSignInAtEachConcurrency(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	signIns := []LevelReport{
		{Concurrency: 1, ServerCPUMs: f(1.3), ServerCPUSec: f(1)},
		{Concurrency: 2, ServerCPUMs: f(1.1), ServerCPUSec: f(1)},
		{Concurrency: 32, ServerCPUMs: f(0.8), ServerCPUSec: f(1)},
		{Concurrency: 8, ServerCPUMs: f(5), ServerCPUSec: f(0.1)}, // too short for the clock ticks
	}
	code := func(conc int, ms, sec float64) TokenReport {
		return TokenReport{Grant: GrantCode, Concurrency: conc, ServerCPUMs: f(ms), ServerCPUSec: f(sec)}
	}
	for _, tc := range []struct {
		name    string
		tokens  []TokenReport
		status  string
		mention []string
	}{
		{"cheaper_at_every_level", []TokenReport{code(1, 1.0, 0.3), code(2, 0.9, 0.3), code(32, 0.7, 0.3)}, statusMet,
			[]string{"1: 1.000 vs 1.300 ms (0.77×)", "2: 0.900 vs 1.100 ms (0.82×)", "32: 0.700 vs 0.800 ms (0.87×)"}},
		// Cheaper than the dearest sign-in is not enough: each level is held to its own.
		{"dearer_at_one_level", []TokenReport{code(1, 1.0, 0.3), code(2, 0.9, 0.3), code(32, 0.9, 0.3)}, statusMissed,
			[]string{"not cheaper at 32: 0.900 vs 0.800 ms"}},
		{"equal_is_not_less", []TokenReport{code(2, 1.1, 0.3)}, statusMissed, []string{"not cheaper at 2"}},
		// Refreshes, levels without a sign-in level beside them, levels too
		// short for the clock ticks and levels without the server's CPU are
		// not judged.
		{"nothing_comparable", []TokenReport{
			{Grant: GrantRefresh, Concurrency: 1, ServerCPUMs: f(9), ServerCPUSec: f(1)},
			code(4, 9, 1), code(8, 0.1, 1), code(1, 9, 0.01), {Grant: GrantCode, Concurrency: 2},
			// A token level is held to the sign-in level's minimum of server CPU.
			code(32, 9, 0.1),
		}, statusNotMeasured, []string{"needs a code-exchange level"}},
		{"no_token_levels", nil, statusNotMeasured, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judgeCodeExchange(signIns, tc.tokens)
			if got.Status != tc.status || got.Name != codeExchangeName {
				t.Errorf("%s: %q, want %s", got.Name, got.Status, tc.status)
			}
			for _, m := range tc.mention {
				if !strings.Contains(got.Measured, m) {
					t.Errorf("measured %q lacks %q", got.Measured, m)
				}
			}
		})
	}
}

func TestReportHoldsPostgreSQLToItsOwnTargets(t *testing.T) {
	t.Parallel()
	run := func(database string) *Report {
		r := NewReport(40, 0, time.Second)
		r.Server.Database = database
		// 0.1 ms of CPU a bare verification: SQLite's budget is 0.3 ms a
		// sign-in, PostgreSQL's 0.4 ms.
		r.Bare = BareResult{PerSecond: 1000, Verifications: 2000, Workers: 2, Elapsed: 2 * time.Second, CPU: 200 * time.Millisecond}
		l := level(32, 500, 30*time.Millisecond, time.Second, 350*time.Microsecond)
		l.DBCPUPerSignIn = dur(900 * time.Microsecond)
		r.Add(l)
		r.Evaluate()
		return r
	}
	// 30 ms and 0.35 ms: within PostgreSQL's 40 ms and 0.4 ms, not SQLite's 20 ms and 0.3 ms.
	pg := statuses(run("postgres"))
	if pg["p99 ≤ 40 ms at concurrency 32 on PostgreSQL"] != statusMet || pg["server CPU ≤ 4 bare verifications per sign-in on PostgreSQL"] != statusMet {
		t.Errorf("PostgreSQL targets: %v", pg)
	}
	sq := statuses(run("sqlite"))
	if sq["p99 ≤ 20 ms at concurrency 32"] != statusMissed || sq["server CPU ≤ 3 bare verifications per sign-in"] != statusMissed {
		t.Errorf("SQLite targets: %v", sq)
	}
	for _, x := range run("sqlite").Targets {
		if strings.HasPrefix(x.Name, "server CPU ≤") && !strings.HasPrefix(x.Measured, "worst 0.350 ms at concurrency 32 = 3.5 × 0.100 ms (budget 0.300 ms)") {
			t.Errorf("the CPU target's figure: %q", x.Measured)
		}
	}
	for _, x := range run("postgres").Targets {
		if strings.HasPrefix(x.Name, "server CPU ≤") && !strings.Contains(x.Measured, "PostgreSQL's own: 0.900 ms beside it") {
			t.Errorf("the CPU target does not show PostgreSQL's own CPU: %q", x.Measured)
		}
	}
}
