package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report for a person at a terminal: the setup, one
// row per level, the targets and the errors. (JSON is the Report itself.)
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintln(w, "Keyward passkey sign-in benchmark")
	server := "Keyward at " + r.Server.URL
	if r.Server.Kind == "child" {
		server = fmt.Sprintf("keyward serve, child process %d, %s database, at %s", r.Server.PID, r.Server.Database, r.Server.URL)
	}
	level := fmt.Sprintf("%d sign-ins", r.Count)
	if r.Count == 0 {
		level = fmt.Sprintf("%gs", r.DurationSec)
	}
	setup := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, kv := range [][2]string{
		{"Server", server},
		{"Origin", r.Server.Origin},
		{"Sign-in", r.SignIn},
		{"Users", fmt.Sprintf("%d, one passkey each (%s)", r.Users, r.Attestation)},
		{"Each level", level},
		{"Machine", fmt.Sprintf("%d CPUs, GOMAXPROCS %d, %s", r.CPUs, r.GOMAXPROCS, r.Platform)},
		{"Bare verify", fmt.Sprintf("%.0f/s, %.3f ms of CPU each (go-webauthn parse + ValidateLogin of one ES256 assertion, %d workers, %.1fs)",
			r.Bare.PerSecond, ms(r.Bare.CPUPerVerification()), r.Bare.Workers, r.Bare.Elapsed.Seconds())},
	} {
		fmt.Fprintf(setup, "%s:\t%s\n", kv[0], kv[1])
	}
	if err := setup.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	head := []string{"CONCURRENCY", "SIGN-INS", "ERRORS", "SIGN-INS/S", "OF BARE", "P50", "P95", "P99", "MAX", "SERVER CPU/SIGN-IN", "CLIENT CPU/SIGN-IN", "DB ROUND TRIPS/SIGN-IN"}
	if r.DBCPU != "" {
		head = append(head, "POSTGRES CPU/SIGN-IN")
	}
	waited := slices.ContainsFunc(r.Levels, func(l LevelReport) bool { return l.DBWaitMs != nil })
	if waited {
		head = append(head, "DB WAIT/SIGN-IN")
	}
	logged := slices.ContainsFunc(r.Levels, func(l LevelReport) bool { return l.LogRestarts != nil })
	if logged {
		head = append(head, "LOG RESTARTS, WRITER HELD")
	}
	levels := [][]string{head}
	for _, l := range r.Levels {
		row := []string{strconv.Itoa(l.Concurrency), strconv.Itoa(l.SignIns), strconv.Itoa(l.Errors),
			fmt.Sprintf("%.1f", l.PerSecond), fmt.Sprintf("%.1f%%", l.OfBare*100), fmtMs(l.P50Ms), fmtMs(l.P95Ms),
			fmtMs(l.P99Ms), fmtMs(l.MaxMs), fmtMsPtr(l.ServerCPUMs), fmtMsPtr(l.ClientCPUMs), fmtCountPtr(l.RoundTrips)}
		if r.DBCPU != "" {
			row = append(row, fmtMsPtr(l.DBCPUMs))
		}
		if waited {
			row = append(row, fmtMsPtr(l.DBWaitMs))
		}
		if logged {
			row = append(row, fmtLogRestarts(l))
		}
		levels = append(levels, row)
	}
	if err := columns(w, levels); err != nil {
		return err
	}
	if err := r.writeTokenText(w); err != nil {
		return err
	}
	note := cpuNote
	if r.Server.CPUClock {
		note = cpuClockNote
	}
	fmt.Fprintf(w, "\n(%s; %s.)\n", latencyNote, note)
	if r.DBCPU != "" {
		fmt.Fprintf(w, "PostgreSQL's CPU: %s.\n", r.DBCPU)
	}
	if waited {
		fmt.Fprintln(w, dbWaitNote)
	}
	if logged {
		fmt.Fprintln(w, logRestartsNote)
	}
	if r.ServerResidentMB > 0 {
		fmt.Fprintf(w, "Server resident memory after the run: %.0f MB.\n", r.ServerResidentMB)
	}
	if err := writeTargets(w, r.Targets); err != nil {
		return err
	}
	r.writeErrors(w)
	return nil
}

func (r *Report) writeErrors(w io.Writer) {
	if r.Failed == 0 {
		fmt.Fprintf(w, "\nAll %d sign-ins succeeded.\n", r.Succeeded)
		return
	}
	fmt.Fprintf(w, "\n%d of %d sign-ins FAILED:\n", r.Failed, r.Failed+r.Succeeded)
	for _, l := range r.Levels {
		for _, s := range l.ErrorSample {
			fmt.Fprintf(w, "  concurrency %d: %s\n", l.Concurrency, s)
		}
	}
}

// columns writes rows aligned in columns two spaces apart. A tab or newline
// in a cell (an error sample) would break them, so it becomes a space.
func columns(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	clean := strings.NewReplacer("\t", " ", "\n", " ")
	for _, row := range rows {
		for i, c := range row {
			row[i] = clean.Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func fmtMs(v float64) string { return fmt.Sprintf("%.2f ms", v) }

func fmtCountPtr(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", *v)
}

func fmtMsPtr(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3f ms", *v)
}

// writeTargets writes the targets table every scenario's report ends with.
func writeTargets(w io.Writer, targets []Target) error {
	fmt.Fprintln(w, "\nTargets (docs/design.md, \"Speed targets\"):")
	rows := [][]string{{"  TARGET", "MEASURED", "STATUS"}}
	for _, x := range targets {
		rows = append(rows, []string{"  " + x.Name, x.Measured, x.Status})
	}
	return columns(w, rows)
}

// dbWaitNote explains the connection-wait column of the levels' table.
const dbWaitNote = "DB wait: how long the server's requests waited for a free database connection, in all its pools " +
	"(keyward_db_wait_duration_seconds_total), per sign-in attempt."

// logRestartsNote explains the SQLite column of the levels' table.
const logRestartsNote = "Log restarts: times SQLite's write-ahead log was started again during the level, and how long " +
	"its one writer was held idle for them in all (keyward_sqlite_*): no sign-in committed in that time."

// fmtLogRestarts is a level's log restarts and the writer's time held, "–"
// when the server did not report them.
func fmtLogRestarts(l LevelReport) string {
	if l.LogRestarts == nil || l.WriterHeldMs == nil {
		return "–"
	}
	return fmt.Sprintf("%d, %.1f ms", *l.LogRestarts, *l.WriterHeldMs)
}
