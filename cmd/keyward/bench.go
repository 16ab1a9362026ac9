package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/gcfloor"
)

// benchOptions are the flags of keyward bench.
type benchOptions struct {
	bench.Options
	json bool
	// The reports scenario.
	scenario string
	reports  bench.ReportsOptions
	// reportsDir keeps the reports scenario's SQLite database (--sqlite-dir).
	reportsDir string
	// The mds scenario.
	mds bench.MDSOptions
}

func (a *app) benchCmd() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure passkey sign-in and the token endpoint end to end over HTTP against docs/design.md's targets",
		Long: "Measure passkey sign-in end to end over real HTTP. By default it starts its own\n" +
			"'keyward serve' as a child process on 127.0.0.1 with a temporary SQLite database (or the\n" +
			"PostgreSQL database of --database-url), creates --users users with one software passkey each,\n" +
			"then runs discoverable sign-ins (options {}, assertion, finish) at each --concurrency for\n" +
			"--duration (or --count sign-ins). It reports sign-ins/s, p50/p95/p99 latency, errors and the\n" +
			"server's CPU per sign-in (the kernel's CPU clock of the server it started, on Linux; else\n" +
			"its /metrics), next to go-webauthn's bare verification rate\n" +
			"measured in the same run. Right after each level, a registered web app's sign-ins at the\n" +
			"same concurrency: --count authorizations with a Keyward session (600 when the levels are\n" +
			"timed; authorize, hand-off, callback), the codes redeemed with PKCE and the client secret,\n" +
			"refreshes with the refresh tokens they gave, and introspections of the access tokens the\n" +
			"refreshes gave; requests/s, p50/p99 and the server's CPU per request are reported beside\n" +
			"the sign-ins.\n" +
			"With --url and --token it measures a running Keyward instead (the app is deleted after).\n" +
			"It ignores the configuration file and KEYWARD_* variables. See docs/performance.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The load generator's live heap is as small as the server's:
			// it collects with the same floor as keyward serve by default
			// (docs/operations.md, "Memory and the garbage collector").
			defer gcfloor.Start(uint64(config.Defaults().GCHeapFloorMB) << 20)()
			if o.scenario == "reports" {
				return a.runReportsBench(cmd, o)
			}
			if o.scenario == "mds" {
				return a.runMDSBench(cmd, o)
			}
			if o.scenario == "register" {
				return a.runRegisterBench(cmd, o)
			}
			if o.scenario != "signin" {
				return fmt.Errorf("--scenario must be signin, register, reports or mds, not %q", o.scenario)
			}
			if err := o.resolve(cmd); err != nil {
				return err
			}
			if o.Users > bench.MaxAPIUsers {
				return a.runScaleBench(cmd.Context(), o)
			}
			return a.runBench(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "measure the Keyward at this URL instead of starting one (needs --token)")
	f.StringVar(&o.Token, "token", "", "a global-admin API token of the Keyward at --url")
	f.StringVar(&o.Origin, "origin", "", "the WebAuthn origin (public URL) of the Keyward at --url, when it differs from --url")
	f.StringVar(&o.ServerBinary, "server-binary", "", "the keyward binary to start as the server (default: this one)")
	f.StringVar(&o.ServerLogLevel, "server-log-level", "info", "log level of the started server; its log goes to a file in the temporary directory")
	f.StringVar(&o.ServerPprofListen, "server-pprof-listen", "", "pprof_listen of the started server: a loopback host:port where Go's profiler answers at /debug/pprof/ while the levels run")
	f.StringVar(&o.SQLiteSynchronous, "sqlite-synchronous", "", "sqlite_synchronous of the started server on SQLite: full or normal (default: the server's default)")
	f.IntVar(&o.Users, "users", 50, "users to create, each with one software passkey; at least the highest concurrency; "+
		"above 10000 they are seeded into the database in bulk and the run compares the 50-user figures with the full size (docs/performance.md)")
	f.IntSliceVar(&o.Concurrency, "concurrency", []int{1, 2, 4, 8, 16, 32}, "sign-ins in flight at once, one level per value")
	f.DurationVar(&o.Duration, "duration", 5*time.Second, "how long each level runs")
	f.IntVar(&o.Count, "count", 0, "sign-ins per level instead of --duration")
	f.DurationVar(&o.BareDuration, "bare-duration", 2*time.Second, "how long to measure go-webauthn's bare verification")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.StringVar(&o.scenario, "scenario", "signin", "signin (passkey sign-in over HTTP), register (passkey registration with packed full attestation checked against an MDS blob the run makes; --users users a level, 1000 by default) reports (seed the logs, then time each report and filtered log page) or mds (refresh a generated production-size MDS blob while sign-ins run)")
	f.IntVar(&o.mds.Entries, "mds-entries", 1250, "mds scenario: FIDO2 entries in each generated MDS blob")
	f.Float64Var(&o.mds.SizeMB, "mds-size-mb", 5, "mds scenario: size of each generated MDS blob (a JWT), in MB")
	f.IntVar(&o.mds.Refreshes, "mds-refreshes", 3, "mds scenario: refreshes of the blob during each level")
	f.IntVar(&o.reports.SignIns, "signins", 1_000_000, "reports scenario: sign-in records to seed")
	f.IntVar(&o.reports.Passkeys, "passkeys", 100_000, "reports scenario: passkeys to seed, each with its own user")
	f.IntVar(&o.reports.Repeat, "repeat", 20, "reports scenario: how often each report and page is asked for")
	f.StringVar(&o.reports.Only, "only", "", "reports scenario: ask only the questions whose names contain this text, and print each ask's time and CPU")
	f.StringVar(&o.reportsDir, "sqlite-dir", "", "reports scenario on SQLite: seed the database in this directory and keep it, instead of a temporary one; "+
		"a database the scenario seeded there before is asked again without seeding (the questions' periods end at its seeding time)")
	return cmd
}

// resolve reads the inherited --database-url and checks every flag,
// reporting all problems at once.
func (o *benchOptions) resolve(cmd *cobra.Command) error {
	fs := cmd.Flags()
	// Only a --database-url typed here counts: a benchmark must never write
	// its users into a database it was pointed at by a config file or env.
	if fs.Changed("database-url") {
		o.DatabaseURL, _ = fs.GetString("database-url")
	}
	var p []string
	for _, name := range []string{"config", "data-dir"} {
		if fs.Changed(name) {
			p = append(p, "--"+name+": keyward bench does not use it; it starts its server on a temporary SQLite database, or the PostgreSQL database of --database-url")
		}
	}
	p = append(p, o.targetProblems(fs.Changed)...)
	p = append(p, o.loadProblems(fs.Changed("count") && fs.Changed("duration"))...)
	if len(p) > 0 {
		return &problemsError{heading: "keyward bench cannot run", problems: p}
	}
	if o.URL != "" && o.Origin == "" {
		o.Origin = o.URL
	}
	return nil
}

func (o *benchOptions) targetProblems(changed func(string) bool) []string {
	var p []string
	if o.URL == "" {
		for _, name := range []string{"token", "origin"} {
			if changed(name) {
				p = append(p, "--"+name+": only with --url")
			}
		}
		if o.DatabaseURL != "" && !strings.HasPrefix(o.DatabaseURL, "postgres://") && !strings.HasPrefix(o.DatabaseURL, "postgresql://") {
			p = append(p, "--database-url: must be a postgres:// or postgresql:// URL")
		}
		if o.SQLiteSynchronous != "" && (o.DatabaseURL != "" || !slices.Contains([]string{"full", "normal"}, o.SQLiteSynchronous)) {
			p = append(p, fmt.Sprintf("--sqlite-synchronous: %q must be full or normal, and only without --database-url", o.SQLiteSynchronous))
		}
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, o.ServerLogLevel) {
			p = append(p, fmt.Sprintf("--server-log-level: %q is not one of debug, info, warn, error", o.ServerLogLevel))
		}
		return p
	}
	if err := checkBaseURL(o.URL); err != nil {
		p = append(p, "--url: "+err.Error())
	}
	if o.Origin != "" {
		if err := checkBaseURL(o.Origin); err != nil {
			p = append(p, "--origin: "+err.Error())
		}
	}
	if o.Token == "" {
		p = append(p, "--token: required with --url (create one with: keyward token create --name bench --role global-admin)")
	}
	for _, name := range []string{"database-url", "server-binary", "server-log-level", "sqlite-synchronous", "server-pprof-listen"} {
		if changed(name) {
			p = append(p, "--"+name+": not with --url (it configures the server keyward bench starts)")
		}
	}
	return p
}

func (o *benchOptions) loadProblems(countAndDuration bool) []string {
	var p []string
	if o.Users < 1 || o.Users > maxBenchUsers {
		p = append(p, fmt.Sprintf("--users: %d is not from 1 to %d", o.Users, maxBenchUsers))
	}
	if o.Users > bench.MaxAPIUsers && o.URL != "" {
		p = append(p, fmt.Sprintf("--users: above %d the users are seeded into the database of the server keyward bench starts; not with --url", bench.MaxAPIUsers))
	}
	if len(o.Concurrency) == 0 {
		p = append(p, "--concurrency: give at least one level, e.g. 1,2,4")
	}
	for _, c := range o.Concurrency {
		if c < 1 || c > 1024 {
			p = append(p, fmt.Sprintf("--concurrency: %d is not from 1 to 1024", c))
		}
	}
	if m := slices.Max(append([]int{0}, o.Concurrency...)); m > o.Users {
		p = append(p, fmt.Sprintf("--users: %d is fewer than the highest concurrency %d; each sign-in in flight needs its own passkey "+
			"(one key's signature counter must never be seen going backwards)", o.Users, m))
	}
	if countAndDuration {
		p = append(p, "--count and --duration: give one of them")
	}
	if o.Count < 0 {
		p = append(p, fmt.Sprintf("--count: %d is negative", o.Count))
	}
	if o.Duration <= 0 {
		p = append(p, fmt.Sprintf("--duration: %s is not positive", o.Duration))
	}
	if o.BareDuration <= 0 {
		p = append(p, fmt.Sprintf("--bare-duration: %s is not positive", o.BareDuration))
	}
	return p
}

// maxBenchUsers bounds --users; above bench.MaxAPIUsers they are seeded in bulk.
const maxBenchUsers = 10_000_000

// checkBaseURL accepts http(s)://host[:port] without a path or query.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must start with http:// or https://", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q must be just scheme://host[:port]", s)
	}
	return nil
}

// runBench runs the benchmark, prints its report (also that of the levels
// run before a Ctrl-C) and fails when a sign-in failed.
func (a *app) runBench(ctx context.Context, o *benchOptions) error {
	r := &bench.Runner{Options: o.Options, Env: a.env, Progress: a.progress,
		CreateToken: a.benchToken, RevokeToken: a.revokeBenchToken}
	rep, err := r.Run(ctx)
	if rep == nil {
		return err
	}
	if perr := a.printBenchReport(rep, o.json); perr != nil {
		return errors.Join(perr, err)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d sign-ins failed; the report lists their errors", rep.Failed, rep.Failed+rep.Succeeded)
	}
	if rep.TokenFailed > 0 {
		return fmt.Errorf("%d token requests failed; the report lists their errors", rep.TokenFailed)
	}
	return nil
}

// progress tells a person at the terminal what is happening, on stderr, so
// stdout holds only the report.
func (a *app) progress(format string, args ...any) {
	fmt.Fprintf(a.stderr, "bench: "+format+"\n", args...)
}

// benchToken creates a global-admin token with `keyward token create` run
// in-process against the child's database, before the child starts.
func (a *app) benchToken(ctx context.Context, env []string, name string) (string, error) {
	var out, errOut strings.Builder
	env = append(env, "KEYWARD_LOG_LEVEL=warn")
	if code := run(ctx, []string{"token", "create", "--name", name, "--role", "global-admin"}, env, nil, &out, &errOut); code != 0 {
		return "", fmt.Errorf("creating an API token for the benchmark: %s", strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// revokeBenchToken revokes the run's token in a database that outlives the run.
func (a *app) revokeBenchToken(ctx context.Context, env []string, name string) error {
	var out, errOut strings.Builder
	env = append(env, "KEYWARD_LOG_LEVEL=warn")
	if code := run(ctx, []string{"token", "revoke", name}, env, nil, &out, &errOut); code != 0 {
		return fmt.Errorf("revoking the benchmark's API token %s: %s", name, strings.TrimSpace(errOut.String()))
	}
	return nil
}

// printBenchReport prints the report: its JSON with --json, else the text.
func (a *app) printBenchReport(r *bench.Report, asJSON bool) error {
	if asJSON {
		return writeJSON(a.stdout, r)
	}
	return r.WriteText(a.stdout)
}
