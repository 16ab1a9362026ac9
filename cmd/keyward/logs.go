package main

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/audit"
)

func (a *app) logsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Export the sign-in log and the audit log",
	}
	cmd.AddCommand(a.logsExportCmd())
	return cmd
}

func (a *app) logsExportCmd() *cobra.Command {
	var since, kind string
	cmd := &cobra.Command{
		Use:   "export --kind signins|audits [--since TIME]",
		Short: "Write a log as JSON Lines, for a SIEM",
		Long: "Write the sign-in log (--kind signins) or the audit log (--kind audits) to standard\n" +
			"output as JSON Lines: one record a line, in the shape the admin API gives it\n" +
			"(Graph's signIn or directoryAudit), newest first. --since keeps records at or after a\n" +
			"time: RFC 3339 (2026-11-01T00:00:00Z) or an age (24h, 7d). Without it, everything kept.",
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			from, err := parseSince(since, a.now())
			if err != nil {
				return err
			}
			if kind != audit.KindSignIns && kind != audit.KindAudits {
				return fmt.Errorf("--kind must be signins or audits, not %q", kind)
			}
			w := bufio.NewWriter(a.stdout)
			n, err := (&audit.Logs{Store: st}).Export(cmd.Context(), kind, from, w)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("export stopped after %d records: %w", n, err)
			}
			fmt.Fprintf(a.stderr, "exported %d records\n", n)
			return nil
		}),
	}
	cmd.Flags().StringVar(&kind, "kind", "", "which log: signins or audits (required)")
	cmd.Flags().StringVar(&since, "since", "", "keep records at or after this time (RFC 3339) or this age ago (24h, 7d)")
	_ = cmd.MarkFlagRequired("kind")
	return cmd
}

// parseSince reads --since: a time, or an age counted back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	age, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, serr := fmt.Sscanf(days, "%d", &n); serr == nil && fmt.Sprint(n) == days {
			age, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil || age < 0 {
		return time.Time{}, fmt.Errorf("--since %q is neither a time like 2026-11-01T00:00:00Z nor an age like 24h or 7d", s)
	}
	return now.Add(-age).UTC(), nil
}
