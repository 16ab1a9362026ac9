package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/pressly/goose/v3"
)

// ErrNotKeyward means a file is not a Keyward SQLite database (or is damaged).
var ErrNotKeyward = errors.New("not a Keyward SQLite database")

// keywardTables must all exist in a Keyward database at any schema version.
var keywardTables = []string{goose.DefaultTablename, "users", "credentials", "sign_in_events", "sessions"}

// Backup writes a consistent copy of the database to the new file dst while
// the database is in use, by this process or by a running server. VACUUM INTO
// reads one snapshot, so the copy holds every transaction committed before it
// began and nothing of one that commits while it runs; writers are not held
// up (WAL lets them commit alongside the reader). SQLite does not sync the
// file VACUUM INTO writes, so the copy is written beside dst, synced, checked
// with integrity_check, and only then linked to dst: dst never names a
// partial file. dst must not exist, so a backup never replaces anything (not
// least the live database). It returns the copy's schema version.
func (s *Store) Backup(ctx context.Context, dst string) (version int64, err error) {
	dst, err = filepath.Abs(dst)
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return 0, fmt.Errorf("sqlite: backup: %s already exists; name a new file", dst)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.partial")
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	tmpPath := tmp.Name()
	_ = tmp.Close()
	defer removeDatabase(tmpPath)
	if err := vacuumInto(ctx, s.path, tmpPath); err != nil {
		return 0, fmt.Errorf("sqlite: backup: copying the database: %w", err)
	}
	if err := syncFile(tmpPath); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	if version, err = inspect(ctx, tmpPath); err != nil {
		return 0, fmt.Errorf("sqlite: backup: the copy does not check out: %w", err)
	}
	// Link, unlike rename, fails when dst has appeared meanwhile.
	if err := os.Link(tmpPath, dst); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	return version, nil
}

// vacuumInto copies the database at path into the empty file dst on a
// connection of its own: the readers are query-only, which VACUUM INTO
// refuses, and the one writer must stay free for the writes it serializes.
func vacuumInto(ctx context.Context, path, dst string) (err error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", dst)
	return err
}

// Restore creates the database o.Path, which must not exist, from the
// backup src: it copies src (src itself is never opened as a database, so
// never changed), checks that the copy is an undamaged Keyward database at a
// schema version this binary knows, and migrates it up to the latest. On any
// failure nothing is left at o.Path. It returns the backup's schema version
// and the version now.
func Restore(ctx context.Context, src string, o Options) (from, to int64, err error) {
	dst, err := filepath.Abs(o.Path)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: restore: %w", err)
	}
	for _, p := range []string{dst, dst + "-wal", dst + "-shm"} {
		if _, err := os.Lstat(p); err == nil {
			return 0, 0, fmt.Errorf("sqlite: restore: %s already exists", p)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, 0, fmt.Errorf("sqlite: restore: %w", err)
	}
	tmpPath, err := copyToTemp(src, filepath.Dir(dst))
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer removeDatabase(tmpPath)
	if from, err = inspect(ctx, tmpPath); err != nil {
		return 0, 0, fmt.Errorf("sqlite: restore: %s: %w", src, err)
	}
	if err := os.Link(tmpPath, dst); err != nil {
		return 0, 0, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer func() {
		if err != nil {
			removeDatabase(dst)
		}
	}()
	to, err = migrateRestored(ctx, o, from)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: restore: %s: %w", src, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return 0, 0, fmt.Errorf("sqlite: restore: %w", err)
	}
	return from, to, nil
}

// migrateRestored opens the restored file, refuses a schema version this
// binary does not know, and migrates it to the latest.
func migrateRestored(ctx context.Context, o Options, from int64) (to int64, err error) {
	s, err := Open(ctx, o)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	_, latest, err := s.MigrationVersion(ctx)
	if err != nil {
		return 0, err
	}
	switch {
	case from > latest:
		return 0, fmt.Errorf("its schema version %d is newer than this Keyward knows (%d): restore it with a newer Keyward", from, latest)
	case !s.Migrator().Known(from):
		return 0, fmt.Errorf("%w: its schema version %d is none that Keyward has had", ErrNotKeyward, from)
	}
	if err := s.Migrate(ctx); err != nil {
		return 0, err
	}
	to, _, err = s.MigrationVersion(ctx)
	return to, err
}

// inspect checks that the database file at path is undamaged and a Keyward
// database, and returns its schema version. It opens the file without
// Keyward's pragmas and changes nothing in it.
func inspect(ctx context.Context, path string) (version int64, err error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&check); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNotKeyward, err)
	}
	if check != "ok" {
		return 0, fmt.Errorf("%w: the integrity check failed: %s", ErrNotKeyward, check)
	}
	for _, table := range keywardTables {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, fmt.Errorf("%w: it has no %s table", ErrNotKeyward, table)
		}
	}
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM `+goose.DefaultTablename+` WHERE is_applied`).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("%w: reading its schema version: %v", ErrNotKeyward, err)
	}
	return version, nil
}

// copyToTemp copies src to a new private file in dir and syncs it.
func copyToTemp(src, dir string) (path string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", src)
	}
	out, err := os.CreateTemp(dir, ".keyward.db.*.partial")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			removeDatabase(out.Name())
		}
	}()
	_, err = io.Copy(out, in)
	err = errors.Join(err, out.Sync(), out.Close())
	return out.Name(), err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// removeDatabase removes a database file and its WAL and shared-memory files.
func removeDatabase(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		_ = os.Remove(p)
	}
}
