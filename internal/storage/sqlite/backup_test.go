package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

func addUser(t testing.TB, s *sqlite.Store, upn string) error {
	t.Helper()
	return s.CreateUser(t.Context(), storage.User{ID: uuid.NewString(), UserPrincipalName: upn, CreatedAt: time.Now()})
}

func hasUser(t testing.TB, s *sqlite.Store, upn string) bool {
	t.Helper()
	_, err := s.GetUserByUPN(t.Context(), upn)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestBackupWhileWritersCommitIsASnapshot backs up through one store while
// writers commit through another on the same file (as a running server
// does), round after round. Each writer creates its users one after another,
// so a consistent snapshot holds, for each writer, an unbroken run of its
// first users: at least all acknowledged before the backup began, with no
// later user present without the earlier ones.
func TestBackupWhileWritersCommitIsASnapshot(t *testing.T) {
	const writers, rounds = 4, 5
	dir := t.TempDir()
	live := filepath.Join(dir, "keyward.db")
	server := open(t, live)
	if err := server.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	backupTool := open(t, live)
	var (
		mu    sync.Mutex
		moved = sync.NewCond(&mu)
		acked [writers]int64
	)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				err := addUser(t, server, fmt.Sprintf("w%d-%d@x.org", w, i))
				mu.Lock()
				if err == nil {
					acked[w] = int64(i + 1)
				} else {
					t.Errorf("writer %d: %v", w, err)
					acked[w] = 1 << 40 // let the test end
				}
				moved.Broadcast()
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }() // no writer outlives the test
	for round := range rounds {
		// Let every writer get ahead a little before each backup.
		mu.Lock()
		for w := 0; w < writers; w++ {
			for acked[w] < int64(10*(round+1)) {
				moved.Wait()
			}
		}
		before := acked
		mu.Unlock()
		file := filepath.Join(dir, fmt.Sprintf("backup-%d.db", round))
		if _, err := backupTool.Backup(t.Context(), file); err != nil {
			t.Fatal(err)
		}
		restored := filepath.Join(t.TempDir(), "keyward.db")
		if _, _, err := sqlite.Restore(t.Context(), file, sqlite.Options{Path: restored}); err != nil {
			t.Fatalf("round %d: restoring the backup: %v", round, err)
		}
		s := open(t, restored)
		for w := range writers {
			n := int64(0)
			for hasUser(t, s, fmt.Sprintf("w%d-%d@x.org", w, n)) {
				n++
			}
			if n < before[w] {
				t.Errorf("round %d: writer %d: the backup has %d users, but %d were acknowledged before it began", round, w, n, before[w])
			}
			for i := n + 1; i < n+20; i++ {
				if hasUser(t, s, fmt.Sprintf("w%d-%d@x.org", w, i)) {
					t.Errorf("round %d: writer %d: the backup has user %d without user %d: not a snapshot", round, w, i, n)
				}
			}
		}
	}
}

func TestBackupRefusesAnExistingFileAndLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "keyward.db")
	s := open(t, live)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(t.Context(), live); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("backup onto the live database: %v, want already exists", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("the live database after a refused backup: %v", err)
	}
	if _, err := s.Backup(t.Context(), filepath.Join(dir, "no-such-dir", "b.db")); err == nil {
		t.Fatal("backup into a missing directory succeeded")
	}
	v, err := s.Backup(t.Context(), filepath.Join(dir, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, latest, _ := s.MigrationVersion(t.Context()); v != latest {
		t.Errorf("backup schema version %d, want %d", v, latest)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".partial") {
			t.Errorf("left behind %s", e.Name())
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("backup file mode %o, want 600", mode)
	}
}

// migratedTo builds a database file at an older schema version with the
// migrations on disk, as an older Keyward left it.
func migratedTo(t *testing.T, path string, version int64) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO users (id, upn, upn_key, display_name, account_enabled,
		is_emergency_access, password_hash, created_at, updated_at) VALUES ('u1', 'old@x.org', 'old@x.org', 'Old', 1, 0, '', 0, 0)`); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreMigratesAnOlderBackupUp(t *testing.T) {
	src := filepath.Join(t.TempDir(), "old.db")
	migratedTo(t, src, 1)
	dst := filepath.Join(t.TempDir(), "data", "keyward.db")
	from, to, err := sqlite.Restore(t.Context(), src, sqlite.Options{Path: dst})
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, dst)
	if _, latest, _ := s.MigrationVersion(t.Context()); from != 1 || to != latest {
		t.Errorf("restored from %d to %d, want 1 to %d", from, to, latest)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("the restored database is not ready: %v", err)
	}
	if !hasUser(t, s, "old@x.org") {
		t.Error("the backup's user is missing")
	}
}

func TestRestoreRefusesWhatIsNotARestorableKeywardDatabase(t *testing.T) {
	current := filepath.Join(t.TempDir(), "current.db")
	s := open(t, current)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, latest, _ := s.MigrationVersion(t.Context())
	exec := func(path, query string) {
		t.Helper()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(t.Context(), query); err != nil {
			t.Fatal(err)
		}
	}
	backup := func(t *testing.T) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "b.db")
		if _, err := s.Backup(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, want string
		src        func(t *testing.T) string
	}{
		{"a_file_that_is_not_a_database", "not a Keyward SQLite database", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.txt")
			_ = os.WriteFile(p, []byte(strings.Repeat("not a database\n", 500)), 0o600)
			return p
		}},
		{"another_applications_database", "has no goose_db_version table", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "other.db")
			exec(p, "CREATE TABLE things (id INTEGER)")
			return p
		}},
		{"a_newer_schema", "newer than this Keyward knows", func(t *testing.T) string {
			p := backup(t)
			exec(p, fmt.Sprintf("INSERT INTO goose_db_version (version_id, is_applied) VALUES (%d, 1)", latest+1))
			return p
		}},
		{"a_schema_version_keyward_never_had", "none that Keyward has had", func(t *testing.T) string {
			p := backup(t)
			exec(p, "DELETE FROM goose_db_version WHERE version_id > 0")
			return p
		}},
		{"a_missing_file", "no such file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing.db") }},
	}
	for _, tt := range tests {
		t.Run("refuses_"+tt.name, func(t *testing.T) {
			src := tt.src(t)
			dir := t.TempDir()
			_, _, err := sqlite.Restore(t.Context(), src, sqlite.Options{Path: filepath.Join(dir, "keyward.db")})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("restore: %v, want an error mentioning %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused restore left %d files in the data directory, e.g. %s", len(entries), entries[0].Name())
			}
		})
	}
	t.Run("refuses_to_replace_a_database", func(t *testing.T) {
		if _, _, err := sqlite.Restore(t.Context(), backup(t), sqlite.Options{Path: current}); err == nil ||
			!strings.Contains(err.Error(), "already exists") {
			t.Fatalf("restore over a database: %v", err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}
