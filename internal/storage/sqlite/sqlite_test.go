package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/conformance"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

// open opens the database at path and closes it when the test ends.
func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// migrated opens a fresh, migrated database file.
func migrated(t testing.TB) *sqlite.Store {
	t.Helper()
	s := open(t, filepath.Join(t.TempDir(), "keyward.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Storage { return migrated(t) })
}

func TestPingFailsUntilMigratedAndMigrateTwiceIsANoOp(t *testing.T) {
	conformance.CheckMigrations(t, open(t, filepath.Join(t.TempDir(), "keyward.db")))
}

func TestOpenCreatesTheDirectoryAndRefusesAnEmptyPath(t *testing.T) {
	migrated := open(t, filepath.Join(t.TempDir(), "a", "b", "keyward.db"))
	if err := migrated.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), sqlite.Options{}); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
	if _, err := sqlite.Open(t.Context(), sqlite.Options{Path: t.TempDir()}); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
}

func TestTwoStoresOnOneFileShareState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	a, b := open(t, path), open(t, path)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(t.Context()); err != nil {
		t.Fatalf("second store does not see the migration: %v", err)
	}
	u := storage.User{ID: uuid.NewString(), UserPrincipalName: "shared@x.org", CreatedAt: time.Now()}
	if err := a.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetUserByUPN(t.Context(), "shared@x.org"); err != nil {
		t.Fatalf("second store does not see the user: %v", err)
	}
	if err := b.CreateUser(t.Context(), u); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("second store created a duplicate: %v", err)
	}

	// A sealed challenge used up by both stores at once (as by two
	// processes) has one winner.
	ch := storage.UsedChallenge{ID: uuid.NewString(), ExpiresAt: time.Now().Add(time.Minute)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 20 {
		s := []*sqlite.Store{a, b}[i%2]
		wg.Go(func() {
			err := s.UseChallenge(t.Context(), ch)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("use challenge: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
}

func BenchmarkSignIn(b *testing.B) {
	conformance.BenchmarkSignIn(b, migrated(b))
}

func BenchmarkCodeExchange(b *testing.B) {
	conformance.BenchmarkCodeExchange(b, func(tb testing.TB) storage.Storage { return migrated(tb) })
}

func BenchmarkAPITokenLookup(b *testing.B) {
	conformance.BenchmarkAPITokenLookup(b, migrated(b))
}

func TestConnectionsAreConfiguredAndTheFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := open(t, path)
	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		db         *sql.DB
		name, want string
	}{
		{s.Writer(), "journal_mode", "wal"},
		{s.Writer(), "synchronous", "1"},
		{s.Writer(), "foreign_keys", "1"},
		{s.Writer(), "busy_timeout", "5000"},
		{s.Writer(), "query_only", "0"},
		{s.Reader(), "journal_mode", "wal"},
		{s.Reader(), "busy_timeout", "5000"},
		{s.Reader(), "query_only", "1"},
	} {
		if got := pragma(c.db, c.name); got != c.want {
			t.Errorf("%s = %s, want %s", c.name, got, c.want)
		}
	}
	if _, err := s.Reader().ExecContext(t.Context(), "CREATE TABLE x (y INTEGER)"); err == nil {
		t.Error("a reader connection could write")
	}
	if got := s.Writer().Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("database file mode %o, want 600", mode)
	}
}

func TestStoresMigratingOneFileAtOnceAllSucceed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	stores := []*sqlite.Store{open(t, path), open(t, path), open(t, path), open(t, path), open(t, path)}
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("store %d: migrate: %v", i, errs[i])
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("store %d: ping: %v", i, err)
		}
	}
}

func TestSynchronousFullIsSetOnEveryConnectionAndAnUnknownValueRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, Synchronous: sqlite.SynchronousFull})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, db := range []*sql.DB{s.Writer(), s.Reader()} {
		var v string
		if err := db.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "2" { // FULL
			t.Errorf("synchronous = %s, want 2 (FULL)", v)
		}
	}
	if _, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, Synchronous: "extra"}); err == nil {
		t.Error("Open accepted synchronous \"extra\"")
	}
}

func TestMigrationBackfillsTheSignInRollups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	migratedTo(t, path, 60)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	day := conformance.RollupBackfillDay
	for i, e := range []struct{ hour, method, aaguid, typ, result string }{
		{"9", "passkey", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "deviceBound", "success"},
		{"10", "passkey", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "deviceBound", "success"},
		{"11", "passkey", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "deviceBound", "failure"},
		{"12", "password", "", "", "success"},
	} {
		h, _ := time.ParseDuration(e.hour + "h")
		if _, err := db.ExecContext(t.Context(), `INSERT INTO sign_in_events (id, occurred_at, user_id, upn, method,
			credential_id, aaguid, model, result, failure_reason, ip, user_agent, passkey_type)
			VALUES (?, ?, 'u1', 'old@x.org', ?, '', ?, '', ?, '', '192.0.2.1', 'Chrome', ?)`,
			uuid.NewString(), day.Add(h).UnixMicro(), e.method, e.aaguid, e.result, e.typ); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO credentials (id, user_id, credential_id, public_key, aaguid,
		model, display_name, attestation_format, attestation_type, attestation_level, attestation_cert_subjects,
		transports, user_verified, backup_eligible, backup_state, sign_count, clone_warning, created_at, last_used_at)
		VALUES ('old-key', 'u1', X'0102', X'a0', 'cb69481e-8ff7-4039-93ec-0a2729a154a8', '', 'Old key', 'none', 'none',
		'notAttested', '', '', 1, 1, 1, 0, 0, ?, NULL)`, day.Add(8*time.Hour).UnixMicro()); err != nil {
		t.Fatalf("passkey: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	conformance.CheckRollupBackfill(t, s)
}

// Migration 100 fills name_key with SQLite's lower(), which folds ASCII
// only; migration 101 folds the other display names as Keyward does, so a
// user named before the upgrade is found by any case of their name.
func TestMigrationFoldsDisplayNamesLowerCannot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u := storage.User{ID: uuid.NewString(), UserPrincipalName: "emile@example.com", DisplayName: "ÉMILE Zola",
		AccountEnabled: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	// As migration 100 leaves it on a database made before it, with 101
	// (and whatever came after it) to run.
	if err := s.Migrator().DownTo(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `UPDATE users SET name_key = lower(display_name)`); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.ListUsersByName(t.Context(), storage.Page{Prefix: "émile"}); err != nil || len(got) != 0 {
		t.Fatalf("before migration 101: %v, %v; want the ASCII-only key to miss", got, err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.ListUsersByName(t.Context(), storage.Page{Prefix: "émile"})
	if err != nil || len(got) != 1 || got[0].ID != u.ID {
		t.Fatalf("after migration 101: %v, %v; want %s", got, err, u.UserPrincipalName)
	}
}

// Migration 00220 moves the stored MDS blobs into chunks; its down migration
// puts them back whole.
func TestMigrationChunksTheStoredMDSBlobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s := open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrator().DownTo(t.Context(), 191); err != nil {
		t.Fatal(err)
	}
	db := s.Writer()
	old := conformance.OldMDSBlobs(t)
	for _, b := range old {
		if _, err := db.ExecContext(t.Context(), `INSERT INTO mds_blobs (number, next_update, raw, source, imported_at)
			VALUES (?, ?, ?, ?, ?)`, b.Number, b.NextUpdate.UnixMicro(), b.Raw, b.Source, b.ImportedAt.UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	conformance.CheckMDSBlobUpgrade(t, s, old)
	if err := s.Migrator().DownTo(t.Context(), 191); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT number, raw FROM mds_blobs ORDER BY number DESC LIMIT 1`).Scan(&n, &raw); err != nil {
		t.Fatal(err)
	}
	if n != 6 || len(raw) != 200 {
		t.Fatalf("after the down migration the newest blob is %d with %d bytes, want 6 with 200", n, len(raw))
	}
}

// ImportUsers widens the writer's page cache while it imports and gives the
// server's writer its usual 2 MiB back, whether the import succeeds or not.
func TestImportGivesTheWriterItsPageCacheBack(t *testing.T) {
	s := migrated(t)
	cacheSize := func() string {
		t.Helper()
		var v string
		if err := s.Writer().QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := cacheSize()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := storage.User{ID: uuid.NewString(), UserPrincipalName: "bulk@example.com", DisplayName: "Bulk", AccountEnabled: true,
		CreatedAt: now, UpdatedAt: now}
	if err := s.ImportUsers(t.Context(), []storage.UserImport{{User: u}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ImportUsers(t.Context(), []storage.UserImport{{User: u}}); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("importing a user again: %v, want ErrAlreadyExists", err)
	}
	if got := cacheSize(); got != before || before != "-2000" {
		t.Errorf("writer's cache_size after imports = %s, before %s, want -2000", got, before)
	}
}

// Storing an MDS blob copies its pages from the write-ahead log into the
// database itself: the next commit to cross wal_autocheckpoint, a sign-in's
// on any node, does not copy and sync them (issue 11).
func TestMDSBlobStoreLeavesItsPagesInTheDatabaseNotTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	size := func() int64 { return fileSize(t, path) }
	before := size()
	raw := make([]byte, 3<<20) // 24 chunks, about 770 pages: far below the writer's auto-checkpoint mark
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.PutMDSBlob(t.Context(), storage.MDSBlob{Number: 1, NextUpdate: now.Add(time.Hour), Raw: raw, Source: "test", ImportedAt: now}); err != nil {
		t.Fatal(err)
	}
	if grown := size() - before; grown < int64(len(raw)) {
		t.Errorf("the database file grew by %d bytes with a %d-byte blob stored: its pages are still in the write-ahead log", grown, len(raw))
	}
	got, err := s.GetMDSBlob(t.Context())
	if err != nil || string(got.Raw) != string(raw) {
		t.Fatalf("GetMDSBlob = %d bytes, %v; want the %d stored", len(got.Raw), err, len(raw))
	}
}

func TestTheLogIsCopiedIntoTheDatabaseOffTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := open(t, path)
	var mark int
	if err := s.Writer().QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&mark); err != nil || mark != 20000 {
		t.Fatalf("the writer's auto-checkpoint mark = %d, %v; want 20000 (a backstop)", mark, err)
	}
	size := func() int64 { return fileSize(t, path) }
	if _, err := s.Writer().ExecContext(t.Context(), "CREATE TABLE filler (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	before := size()
	// 2 MB in 64 commits: about 520 pages, far below the writer's mark, so
	// only the checkpointer can move them into the database file.
	chunk := make([]byte, 32<<10)
	for i := range 64 {
		chunk[0] = byte(i)
		if _, err := s.Writer().ExecContext(t.Context(), "INSERT INTO filler (b) VALUES (?)", chunk); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size()-before < 2<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file grew by %d bytes in 10 s after 2 MB were committed: the log was not checkpointed", size()-before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Under writes that never pause and readers that always hold a snapshot, a
// passive checkpoint copies the log but never lets it start again; the
// checkpointer starts it again itself, so the log is written over instead of
// growing past the writer's backstop (20,000 frames, 80 MB),
// where the commit that crosses it copies and syncs while every write waits
// (and which, with readers always present, did not start it again either:
// without the checkpointer's restart this test's log grew to 170 MB).
func TestTheLogStartsAgainUnderConstantWritesAndReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := open(t, path)
	if _, err := s.Writer().ExecContext(t.Context(), "CREATE TABLE filler (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for range 4 { // readers, each always inside a read of the table
		wg.Go(func() {
			for ctx.Err() == nil {
				var n int
				_ = s.Reader().QueryRowContext(ctx, "SELECT COUNT(*) FROM filler").Scan(&n)
			}
		})
	}
	const frame = 4096 + 24
	var written, restarts int
	var largest int64
	salt := func() string {
		b := make([]byte, 24)
		f, err := os.Open(path + "-wal")
		if err != nil {
			return ""
		}
		defer f.Close()
		_, _ = f.ReadAt(b, 0)
		return string(b[16:24])
	}
	last := salt()
	chunk := make([]byte, 60<<10) // about 16 frames a commit
	deadline := time.Now().Add(60 * time.Second)
	// 72,000 frames: more than three times the backstop, and enough passes
	// that one slow moment of a busy machine does not decide the outcome.
	for written < 72000*frame {
		if time.Now().After(deadline) {
			t.Fatalf("72,000 frames not written in 60 s (%d bytes)", written)
		}
		chunk[0]++
		if _, err := s.Writer().ExecContext(t.Context(), "INSERT INTO filler (b) VALUES (?)", chunk); err != nil {
			t.Fatal(err)
		}
		written += len(chunk)
		largest = max(largest, fileSize(t, path+"-wal"))
		if now := salt(); now != last {
			restarts, last = restarts+1, now
		}
	}
	cancel()
	wg.Wait()
	// Here, on 2 busy cores, a third of 36,000 frames: 3 times, the log at
	// most 12,000-18,300 frames, and one run in seven once, 28,400 frames
	// (this writer writes fresh pages faster than the disk takes a pass's
	// copy); without the restart, never, and the log grows to all it is
	// written.
	if restarts < 3 || largest > 36000*frame {
		t.Fatalf("the log started again %d times and grew to %d bytes (%d frames) while %d frames were written; want it started again at least 3 times and never past 36,000 frames",
			restarts, largest, largest/frame, written/frame)
	}
	// What the metrics report: each restart the checkpointer made is one
	// the writer then carried out (one more may await the next write; the
	// writer's own backstop may have made one the checkpointer did not),
	// and the writer was held for them.
	st := s.LogStats()
	if st.Restarts < 1 || st.Restarts > uint64(restarts)+1 || st.WritesHeld <= 0 || st.Checkpoints < 2*st.Restarts {
		t.Fatalf("LogStats = %+v after %d restarts of the log; want 1 to %d restarts, time held, and at least two passes a restart",
			st, restarts, restarts+1)
	}
}

// fileSize is the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
