package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/storage/sqlite"
)

// On PostgreSQL, backup and restore are PostgreSQL's own tools: they copy
// a consistent snapshot of a live database, stream, compress and restore in
// parallel, and their version must match the server's, which Keyward cannot
// promise. The commands fail, so a script that runs them never believes it
// has a backup it does not have.
var (
	errPostgresBackup = errors.New("keyward backup copies the SQLite database only; with PostgreSQL, back up the database " +
		"with PostgreSQL's pg_dump (e.g. pg_dump --format=custom --file keyward.dump DBNAME), which takes a consistent " +
		"snapshot while Keyward serves; see Backup and restore in docs/operations.md")
	errPostgresRestore = errors.New("keyward restore creates a SQLite database only; with PostgreSQL, restore a pg_dump " +
		"backup with pg_restore into an empty database (e.g. pg_restore --no-owner --dbname NEWDB keyward.dump), " +
		"then run keyward migrate; see Backup and restore in docs/operations.md")
)

// sqliteOnly loads the configuration and refuses a PostgreSQL one with
// onPostgres, which says what to use instead.
func (a *app) sqliteOnly(cmd *cobra.Command, onPostgres error) error {
	if err := a.loadConfig(cmd); err != nil {
		return err
	}
	if a.cfg.UsesPostgres() {
		return onPostgres
	}
	return nil
}

func (a *app) backupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the SQLite database to a new FILE, also while the server runs",
		Long: "Write a consistent copy of the SQLite database in the data directory to FILE, which must\n" +
			"not exist. It may run while 'keyward serve' is serving: the copy is one snapshot, holding every\n" +
			"write acknowledged before the backup began, and nobody waits for it. The file appears only\n" +
			"once it is complete, synced to disk and checked. With PostgreSQL use pg_dump instead.\n" +
			"See docs/operations.md, Backup and restore.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.sqliteOnly(cmd, errPostgresBackup); err != nil {
				return err
			}
			path := a.cfg.SQLitePath()
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("no database to back up at %s (check --data-dir): %w", path, err)
			}
			st, err := sqlite.Open(cmd.Context(), a.sqliteOptions())
			if err != nil {
				return fmt.Errorf("opening SQLite database %s: %w", path, err)
			}
			defer st.Close()
			if cur, _, err := st.MigrationVersion(cmd.Context()); err != nil || cur == 0 {
				return errors.Join(fmt.Errorf("the database at %s has no Keyward schema: nothing to back up", path), err)
			}
			version, err := st.Backup(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fi, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "backed up %s (schema version %d) to %s (%d bytes)\n", path, version, args[0], fi.Size())
			return nil
		},
	}
}

func (a *app) restoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Create the SQLite database in an empty data directory from a backup FILE",
		Long: "Create the SQLite database in the data directory from FILE, a backup written by\n" +
			"'keyward backup'. The data directory must be empty or not exist: restore never overwrites a\n" +
			"database. FILE must be an undamaged Keyward database at a schema version this binary knows;\n" +
			"an older one is migrated up. FILE itself is not changed. With PostgreSQL use pg_restore.\n" +
			"See docs/operations.md, Backup and restore.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.sqliteOnly(cmd, errPostgresRestore); err != nil {
				return err
			}
			if err := checkEmptyDir(a.cfg.DataDir); err != nil {
				return err
			}
			from, to, err := sqlite.Restore(cmd.Context(), args[0], a.sqliteOptions())
			if err != nil {
				return err
			}
			migrated := ""
			if to != from {
				migrated = fmt.Sprintf(", migrated to %d", to)
			}
			fmt.Fprintf(a.stdout, "restored %s into %s (schema version %d%s)\n", args[0], a.cfg.SQLitePath(), from, migrated)
			return nil
		},
	}
}

// checkEmptyDir accepts a directory that does not exist or holds nothing.
func checkEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the data directory: %w", err)
	}
	if len(entries) > 0 {
		var names []string
		for _, e := range entries[:min(len(entries), 3)] {
			names = append(names, e.Name())
		}
		return fmt.Errorf("the data directory %s is not empty (it holds %s): restore only into an empty or new "+
			"data directory, so that no database is overwritten", dir, strings.Join(names, ", "))
	}
	return nil
}
