package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/postgres"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

// app is what every command shares. Commands write only to stdout/stderr
// and read the environment only through env, so tests run them in-process.
type app struct {
	stdin          io.Reader // read only by --password-stdin
	stdout, stderr io.Writer
	env            []string
	now            func() time.Time

	configFile string // --config
	jsonOut    bool   // --json on the listing commands

	cfg    config.Config
	logger *slog.Logger
}

// store is a backend as the binary uses it: the Storage contract plus schema
// management, which only the binary and tests need.
type store interface {
	storage.Storage
	Migrate(ctx context.Context) error
	MigrationVersion(ctx context.Context) (current, latest int64, err error)
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, env: env, now: time.Now}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var status exitStatus
		if errors.As(err, &status) {
			return int(status)
		}
		a.printError(err)
		return 1
	}
	return 0
}

// exitStatus ends a command that has already printed its result with a
// status other than 0 or 1, such as attestation inspect's 2 for "refused".
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// problemsError reports several problems at once, one a line under a
// heading, so a person can fix them all in one go.
type problemsError struct {
	heading  string
	problems []string
}

func (e *problemsError) Error() string {
	return e.heading + ": " + strings.Join(e.problems, "; ")
}

// configError marks an invalid configuration, printed one problem a line.
type configError struct{ err error }

func (e *configError) Error() string { return "invalid configuration: " + e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func (a *app) printError(err error) {
	var ce *configError
	var pe *problemsError
	var ae *apperr.Error
	switch {
	case errors.As(err, &ce):
		fmt.Fprintln(a.stderr, "keyward: invalid configuration:")
		for _, line := range strings.Split(ce.err.Error(), "\n") {
			fmt.Fprintln(a.stderr, "  "+line)
		}
	case errors.As(err, &pe):
		fmt.Fprintln(a.stderr, "keyward: "+pe.heading+":")
		for _, p := range pe.problems {
			fmt.Fprintln(a.stderr, "  "+p)
		}
	case errors.As(err, &ae) && ae.Status < 500:
		// A problem the person can fix: the message says what and how.
		fmt.Fprintln(a.stderr, "keyward: "+ae.Message)
	default:
		fmt.Fprintln(a.stderr, "keyward: "+err.Error())
	}
}

// The commands are listed in the order they are added (serve first), in
// --help and in docs/cli.md alike, not alphabetically.
func init() { cobra.EnableCommandSorting = false }

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "keyward",
		Short: "Keyward is a self-hosted identity provider built around passkeys",
		Long: "Keyward is a self-hosted identity provider built around passkeys.\n\n" +
			"Start it with 'keyward serve'. The administration commands work directly on the\n" +
			"configured database (SQLite in --data-dir, or PostgreSQL with --database-url), so they\n" +
			"also serve for bootstrap and scripts before (or while) the server runs; each brings the\n" +
			"database schema up to date first. Changes made from the command line are recorded in\n" +
			"the audit log with the actor 'cli'. Every command accepts --config, --data-dir,\n" +
			"--database-url, --log-level and --log-format (settings: docs/configuration.md), and --help.\n\n" +
			"Output is an aligned table by default. With --json, the user, group, token and app\n" +
			"commands print JSON with the admin API's field names: a list is a JSON array, a single\n" +
			"record an object. Errors go to standard error as one line, 'keyward: <what is wrong>',\n" +
			"with exit status 1; nothing is changed.",
		SilenceErrors: true, // run prints errors once, in its own format
		SilenceUsage:  true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "YAML configuration file (env KEYWARD_CONFIG)")
	mustAddFlags(pf, "data-dir", "database-url", "log-level", "log-format")
	root.AddCommand(a.serveCmd(), a.migrateCmd(), a.backupCmd(), a.restoreCmd(), a.tokenCmd(), a.userCmd(), a.groupCmd(),
		a.appCmd(), a.keysCmd(), a.policyCmd(), a.accessCmd(), a.alertsCmd(), a.mdsCmd(), a.attestationCmd(), a.logsCmd(), a.benchCmd(), a.versionCmd(), a.docsCmd())
	return root
}

// loadConfig resolves and validates the configuration for cmd and builds the
// logger. Reading and validation problems are reported together.
func (a *app) loadConfig(cmd *cobra.Command) error {
	file := a.configFile
	if !cmd.Flags().Changed("config") {
		file = a.getenv("KEYWARD_CONFIG")
	}
	cfg, err := config.Load(file, a.env, cmd.Flags())
	if err = errors.Join(err, cfg.Validate()); err != nil {
		return &configError{err}
	}
	a.cfg = cfg
	a.logger = newLogger(a.stderr, cfg.LogLevel, cfg.LogFormat)
	for _, k := range config.UnknownEnv(a.env) {
		a.logger.Warn("ignoring an environment variable that names no setting (see keyward serve --help)", "name", k)
	}
	return nil
}

func (a *app) getenv(key string) string {
	for _, kv := range a.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // validated by config
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configured backend without migrating it.
func (a *app) openStore(ctx context.Context) (store, error) {
	if a.cfg.UsesPostgres() {
		st, err := postgres.Open(ctx, postgres.Options{
			DSN: a.cfg.DatabaseURL, MaxConns: a.cfg.DatabaseMaxConns, Logger: a.logger})
		if err != nil {
			return nil, fmt.Errorf("opening PostgreSQL: %w", err)
		}
		return st, nil
	}
	// The data directory holds the database and, later, other secrets: owner only.
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, a.sqliteOptions())
	if err != nil {
		return nil, fmt.Errorf("opening SQLite database %s: %w", a.cfg.SQLitePath(), err)
	}
	return st, nil
}

func (a *app) sqliteOptions() sqlite.Options {
	return sqlite.Options{Path: a.cfg.SQLitePath(), Logger: a.logger, Synchronous: a.cfg.SQLiteSynchronous}
}

// openMigrated loads the configuration and opens the database with the schema
// brought up to date, so administration commands work on a fresh data
// directory before the first 'keyward serve'. Callers close the store.
func (a *app) openMigrated(cmd *cobra.Command) (store, error) {
	if err := a.loadConfig(cmd); err != nil {
		return nil, err
	}
	st, err := a.openStore(cmd.Context())
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(cmd.Context()); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrating the database schema: %w", err)
	}
	return st, nil
}

// withStore runs fn with a migrated store and closes it afterwards.
func (a *app) withStore(fn func(cmd *cobra.Command, args []string, st store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		st, err := a.openMigrated(cmd)
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(cmd, args, st)
	}
}

// mustAddFlags defines config flags by name. An unknown name is a typo in
// this package, caught by every test that builds the command tree.
func mustAddFlags(fs *pflag.FlagSet, names ...string) {
	if err := config.AddFlags(fs, names...); err != nil {
		panic(err)
	}
}
