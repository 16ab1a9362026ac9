package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/bench"
)

// runReportsBench is keyward bench --scenario reports: a fresh database (a
// temporary SQLite file, or the PostgreSQL database of --database-url, which
// must be empty), seeded in bulk, then each report and filtered log page
// timed in this process through the services the API uses.
func (a *app) runReportsBench(cmd *cobra.Command, o *benchOptions) error {
	ctx := cmd.Context()
	r := o.reports
	var p []string
	if r.SignIns < 0 || r.Passkeys < 1 || r.Repeat < 1 {
		p = append(p, fmt.Sprintf("--signins (%d) must be 0 or more, --passkeys (%d) and --repeat (%d) at least 1", r.SignIns, r.Passkeys, r.Repeat))
	}
	for _, name := range []string{"url", "token", "config", "data-dir", "concurrency", "duration", "count", "users"} {
		if cmd.Flags().Changed(name) {
			p = append(p, "--"+name+": not with --scenario reports")
		}
	}
	if len(p) > 0 {
		return &problemsError{heading: "keyward bench cannot run", problems: p}
	}
	a.cfg.DatabaseURL = ""
	if cmd.Flags().Changed("database-url") {
		a.cfg.DatabaseURL, _ = cmd.Flags().GetString("database-url")
	}
	if o.reportsDir != "" && a.cfg.UsesPostgres() {
		return &problemsError{heading: "keyward bench cannot run", problems: []string{"--sqlite-dir: not with --database-url"}}
	}
	if o.reportsDir != "" {
		a.cfg.DataDir = o.reportsDir
	} else if !a.cfg.UsesPostgres() {
		dir, err := os.MkdirTemp("", "keyward-bench-reports-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		a.cfg.DataDir = dir
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	n, err := st.CountUsers(ctx)
	if err != nil {
		return err
	}
	r.Now = a.now().UTC()
	if a.cfg.UsesPostgres() {
		r.DatabaseURL = a.cfg.DatabaseURL
	}
	r.Progress = a.progress
	switch {
	case n > 0 && o.reportsDir == "":
		return fmt.Errorf("the reports scenario seeds an empty database; this one has %d users", n)
	case n > 0:
		// Kept from an earlier run: asked as it was seeded.
		if r.Now, err = bench.SeededAt(ctx, st, r.Passkeys); err != nil {
			return fmt.Errorf("--sqlite-dir %s: %w", o.reportsDir, err)
		}
		a.progress("asking the database seeded at %s again", r.Now.Format(time.RFC3339))
	default:
		if err := bench.SeedReports(ctx, st, r); err != nil {
			return err
		}
	}
	if a.cfg.UsesPostgres() {
		// The planner's statistics of a freshly seeded database are an empty
		// table's until autovacuum comes by: usersRegisteredByMethod took
		// 1.1–1.8 s with them (a scan of every passkey where two index probes
		// answer) and 0.2 ms after ANALYZE. VACUUM sets the visibility map
		// that an index-only read needs to skip the table, as autovacuum does
		// for a table that has grown by inserts: without it, the first ask
		// of a group's key models fetched its members' sign-in records from
		// the table (200–237 ms, against 53–79 ms for the asks after it).
		if err := analyzeAfterSeeding(ctx, a.cfg.DatabaseURL, "VACUUM ANALYZE"); err != nil {
			return err
		}
	}
	timings, err := bench.MeasureReports(ctx, st, r)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(a.stdout, map[string]any{"database": a.databaseKind(), "signIns": r.SignIns,
			"passkeys": r.Passkeys, "timings": timings})
	}
	fmt.Fprintf(a.stdout, "Reports on %s with %d sign-in records and %d passkeys (%d runs each; CPU per run, this process's and PostgreSQL's):\n",
		a.databaseKind(), r.SignIns, r.Passkeys, r.Repeat)
	for _, t := range timings {
		db := "-"
		if t.DatabaseCPUMs >= 0 {
			db = fmt.Sprintf("%.2f ms", t.DatabaseCPUMs)
		}
		fmt.Fprintf(a.stdout, "  %-66s p50 %8.2f ms   p99 %8.2f ms   CPU %8.2f ms   PostgreSQL CPU %s\n",
			t.Name, t.P50Ms, t.P99Ms, t.CPUMs, db)
	}
	return nil
}
