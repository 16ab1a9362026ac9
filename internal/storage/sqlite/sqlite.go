// Package sqlite is Keyward's embedded storage backend: one SQLite file in WAL
// mode through the pure-Go modernc.org/sqlite driver (no cgo).
//
// All writes go through one connection whose transactions start with BEGIN
// IMMEDIATE, so writers queue in Go instead of failing with SQLITE_BUSY, and
// a read-modify-write never has to upgrade a read lock. Reads use a separate
// pool of query-only connections, which WAL lets run alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure Open.
type Options struct {
	// Path of the database file. Its directory is created when missing.
	Path string
	// Logger receives migration progress; nil discards it.
	Logger *slog.Logger
	// Synchronous is SQLite's synchronous setting: SynchronousNormal (also
	// when empty) or SynchronousFull. In WAL mode NORMAL loses no committed
	// transaction when the process crashes, but the last ones before a power
	// loss or an operating-system crash may be lost; FULL syncs the WAL at
	// every commit (once per group commit) and loses nothing acknowledged.
	Synchronous string
}

// The values of Options.Synchronous.
const (
	SynchronousFull   = "full"
	SynchronousNormal = "normal"
)

// Store is the SQLite storage.Storage. Open does not migrate: call Migrate.
type Store struct {
	*sqlstore.Store
	path string
	// ckpt checkpoints the log on ckptDB's one connection.
	ckpt   *checkpointer
	ckptDB *sql.DB
}

// Close stops the checkpointer and closes every connection.
func (s *Store) Close() error {
	s.ckpt.close()
	err := s.ckptDB.Close()
	return errors.Join(s.Store.Close(), err)
}

var _ storage.Storage = (*Store)(nil)

// LogStats reports what the checkpointer has done since the store was
// opened (the server's keyward_sqlite_* metrics).
func (s *Store) LogStats() storage.LogStats { return s.ckpt.stats() }

// pragmas every connection gets, after synchronous.
var pragmas = []string{"busy_timeout(5000)", "foreign_keys(1)"}

// synchronousPragma checks Options.Synchronous and turns it into a pragma.
func synchronousPragma(v string) (string, error) {
	switch v {
	case "", SynchronousNormal:
		return "synchronous(NORMAL)", nil
	case SynchronousFull:
		return "synchronous(FULL)", nil
	}
	return "", fmt.Errorf("synchronous %q is not %s or %s", v, SynchronousFull, SynchronousNormal)
}

// writerParams set up the one writer. journal_mode=WAL persists in the file.
// The checkpointer (checkpoint.go) copies the log back into the database
// from its own connection, about every 3000 pages, and then starts the log
// again from its beginning while the writer is held for a moment; the
// writer's own auto-checkpoint, which runs inside a committing write, is
// left as a backstop at 20000 pages (80 MB of log), for when the
// checkpointer falls behind. (Copying every few thousand pages instead of
// SQLite's 1000 cut the sign-in path's CPU by about 15%: hot pages are
// copied back once per checkpoint.) journal_size_limit (64 MiB) is above
// the log's length between restarts, so the log file is written over, not
// truncated and grown again.
var writerParams = []string{
	"_txlock=immediate",
	"_pragma=journal_mode(WAL)",
	"_pragma=wal_autocheckpoint(20000)",
	"_pragma=journal_size_limit(67108864)",
	"_pragma=temp_store(MEMORY)",
}

var dialect = sqlstore.Dialect{
	Name:            "sqlite",
	CacheStatements: true,
	GroupCommit:     true,
	// A point read is a few pages of a local file: not worth two
	// goroutines to watch its caller's cancellation.
	DetachPointReads: true,
	// A failed statement is undone alone (ON CONFLICT ABORT, SQLite's
	// default for every constraint, foreign keys included); the errors that
	// may end the whole transaction (SQLITE_FULL, IOERR, NOMEM, BUSY,
	// INTERRUPT) would leave a savepoint nothing to roll back to either.
	StatementAtomic: true,
	ReleaseCache:    "PRAGMA shrink_memory",
	Checkpoint:      "PRAGMA wal_checkpoint(PASSIVE)",
	// Answered by a scan of credentials_facts (migration 00221).
	KeyFactsOrder: " ORDER BY user_id, id",
	// One allocation a row, not the nine of a chain of ||: on a connection
	// whose statements cached on it fill its lookaside (any reader of a
	// server) those come from the general allocator, 1,276 M
	// instructions a preview of 100,000 keys against 898 M with concat_ws
	// (callgrind; docs/performance.md). concat_ws would skip a NULL; no
	// column is NULL. The kind (the inner concat_ws) is the expression
	// credentials_facts indexes (migration 00222), read from the index as
	// it is; it must stay the same expression (TestPreviewReadIsAnIndexScan).
	KeyFactsRow: `concat_ws(' ', user_id, id,
		concat_ws(' ', CASE WHEN backup_eligible THEN '1' ELSE '0' END, aaguid, attestation_key_id, model))`,
	// 64 MiB while ImportUsers runs: its process's writer, not the server's
	// (keyward bench seeds from its own process).
	ImportCacheKiB: 64 << 10,
	TimeValue:      func(t time.Time) any { return t.UnixMicro() },
	DayNumber:      func(col string) string { return "(" + col + " / 86400000000)" },
	IsUniqueViolation: func(err error) bool {
		c := code(err)
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	IsForeignKeyViolation: func(err error) bool { return code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
}

func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// Open opens (creating when missing) the database file at o.Path.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Path == "" {
		return nil, errors.New("sqlite: open: database path is empty")
	}
	path, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", o.Path, err)
	}
	syncPragma, err := synchronousPragma(o.Synchronous)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := createFile(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer, err := openPool(ctx, path, 1, syncPragma, writerParams...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	reader, err := openPool(ctx, path, readers, syncPragma, "_pragma=query_only(1)")
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: open %s readers: %w", path, err)
	}
	// busy_timeout(10) after the pragmas' 5000: the checkpointer's RESTART
	// waits at most about 10 ms for readers of older snapshots, while the
	// writer is held (checkpoint.go).
	ckptDB, err := openPool(ctx, path, 1, syncPragma, "_pragma=query_only(1)", "_pragma=busy_timeout(10)")
	if err != nil {
		_, _ = writer.Close(), reader.Close()
		return nil, fmt.Errorf("sqlite: open %s checkpointer: %w", path, err)
	}
	sub, _ := fs.Sub(migrations, "migrations") // the directory is embedded
	const exists = `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '` + goose.DefaultTablename + `'`
	m, err := sqlstore.NewMigrator("sqlite", writer, reader, goose.DialectSQLite3, sub, exists, o.Logger)
	if err != nil {
		_, _, _ = writer.Close(), reader.Close(), ckptDB.Close()
		return nil, err
	}
	st := sqlstore.New(dialect, writer, reader, m)
	// Reads wait for a reader in the order they came. The writer's one
	// connection is the group commit's, which is a queue already.
	st.QueueConnections(reader, readers)
	return &Store{Store: st, path: path, ckpt: startCheckpointer(ckptDB, writer), ckptDB: ckptDB}, nil
}

// createFile makes the directory and an empty database file readable by the
// owner only (SQLite gives the -wal and -shm files the same mode).
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// openPool opens a pool of up to n connections to path, every one configured
// through the DSN so a connection the pool opens later is set up the same.
func openPool(ctx context.Context, path string, n int, sync string, params ...string) (*sql.DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?"
	for _, p := range append([]string{sync}, pragmas...) {
		dsn += "_pragma=" + url.QueryEscape(p) + "&"
	}
	for _, p := range params {
		dsn += p + "&"
	}
	db, err := sql.Open("sqlite", dsn[:len(dsn)-1])
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n) // keep connections, and the statements prepared on them
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies every pending migration. Another process migrating the
// same file at the same moment can make this one fail on a migration that
// process has just applied (goose lists pending versions before it takes the
// write lock); each migration is its own transaction, so nothing is left half
// done. So a failure is final only when the schema did not move meanwhile:
// if it is now current the work is finished, and if another process applied
// something, this one tries again from where that process has got to.
func (s *Store) Migrate(ctx context.Context) error {
	m := s.Migrator()
	before, _, _ := m.Versions(ctx)
	for {
		err := m.Up(ctx)
		if err == nil || m.Check(ctx) == nil {
			return nil
		}
		now, _, verr := m.Versions(ctx)
		if verr != nil || now <= before || ctx.Err() != nil {
			return err
		}
		before = now
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}
