// Package sqlstore is the storage.Storage implementation shared by the SQL
// backends (sqlite, postgres). Every query is written once with ? placeholders;
// a Dialect describes the few things that differ between databases: placeholder
// style, row locking, how a time is passed, and how constraint errors look.
//
// Conventions that hold on every dialect, so both backends behave identically:
//   - times are stored in UTC at microsecond precision (PostgreSQL's precision);
//   - case-insensitive keys (UPN, group name) are stored lower-cased in a
//     separate column with a UNIQUE index and compared byte-wise;
//   - []string fields are JSON text, []byte fields are BLOB/BYTEA, and an empty
//     slice reads back as nil.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// Dialect is what differs between the SQL databases Store runs on.
type Dialect struct {
	// Name appears in error messages ("sqlite", "postgres").
	Name string
	// NumberedParams rewrites the ? placeholders to $1..$n (PostgreSQL).
	NumberedParams bool
	// CacheStatements prepares each query once and reuses the *sql.Stmt. SQLite
	// needs it; pgx already caches prepared statements per connection.
	CacheStatements bool
	// LockRow is appended to the SELECT of a read-modify-write so the row stays
	// locked until commit (" FOR UPDATE"). Empty where write transactions are
	// already serialised (SQLite's BEGIN IMMEDIATE on its single writer).
	LockRow string
	// LockUsers is run first in a transaction that must see the users table
	// stay as it read it until commit — no user added meanwhile (PostgreSQL:
	// LOCK TABLE). Empty where write transactions are already serialised.
	LockUsers string
	// LockMDSBlobs is run first in the transaction that switches a new MDS
	// blob in, so that two nodes' switches are judged one after the other
	// (PostgreSQL: LOCK TABLE). Empty where write transactions are already
	// serialised.
	LockMDSBlobs string
	// ReleaseCache, where set, is run on the connection that has just read
	// an MDS blob, before it goes back to the pool, to free the pages the
	// read left in its page cache (SQLite: PRAGMA shrink_memory). SQLite
	// drops a connection's whole cache when it begins a read after another
	// connection's commit, and modernc's allocator gives each page back to
	// the system on its own: the first sign-in query on a connection that
	// had read the 6 MB blob freed its 2 MB of pages, 5–20 ms inside that
	// sign-in (issue 11).
	ReleaseCache string
	// Checkpoint, where set, copies the write-ahead log into the database
	// without waiting for readers or writers (SQLite: PRAGMA
	// wal_checkpoint(PASSIVE)). The MDS blob's store runs it on a reader
	// connection as it writes the blob's chunks, so that the next
	// auto-checkpoint, which runs inside whatever commit crosses
	// wal_autocheckpoint (on any node: a sign-in's), does not copy the
	// blob's 1,500 pages and sync them (issue 11).
	Checkpoint string
	// StatementAtomic says a statement that fails undoes its own changes and
	// leaves the transaction usable (SQLite: a constraint violation aborts
	// the statement alone). A write joining an Audited change then needs no
	// savepoint of its own; where it is false (PostgreSQL, on which any error
	// aborts the whole transaction) each one gets one, so a caller that
	// handles the error can go on.
	StatementAtomic bool
	// DetachPointReads runs the request path's one-row reads by a key (the
	// API token, a registrant) without their caller's cancellation. On a
	// cancellable ctx database/sql starts a goroutine to watch it for each
	// query's rows and the SQLite driver another to interrupt the statement,
	// both started and woken again for a read of a few pages from a local
	// file that no cancellation would shorten (issue 11). Not for PostgreSQL,
	// where a read waits on the network.
	DetachPointReads bool
	// GroupCommit lets the hot writes (sign-in records, code redemptions) share
	// commits (see batch.go): for SQLite's single writer.
	GroupCommit bool
	// SignInStatement, where set, writes a sign-in record with no credential
	// to flag as one statement, one round trip instead of five (PostgreSQL's
	// writable CTEs). It returns the statement, with ? placeholders, and its
	// arguments; the statement's one row counts the challenges consumed, the
	// credentials updated and the credentials flagged, and each write happens
	// only when the ones it depends on found their row.
	SignInStatement func(r storage.SignInRecord, c Codec) (query string, args []any)
	// GatedInsertStatement, where set, joins a conditional UPDATE (with ?
	// placeholders, no RETURNING) and INSERTs that happen only when the
	// UPDATE changed a row, as one statement (PostgreSQL's writable CTEs):
	// one round trip instead of four for a code redemption or a refresh
	// rotation. Its one row counts the rows the UPDATE changed, then the
	// rows each INSERT inserted; its arguments are the UPDATE's, then each
	// INSERT's rows' values in its Cols order.
	GatedInsertStatement func(update string, inserts ...GatedInsert) string
	// QueryRow, where set, runs a statement that answers one row on a
	// connection of db's pool through the driver itself rather than
	// database/sql, and scans the row into dest (the same destinations
	// database/sql takes; no row is sql.ErrNoRows). database/sql starts a
	// goroutine to watch the context of every query that returns rows, and
	// boxes each column's value on its way to dest: on PostgreSQL a code
	// exchange's two statements spent more on that than on the rows
	// (docs/performance.md, "The token endpoint"). Used by the hot paths
	// (conn.scanRow); a transaction's statements keep database/sql's.
	QueryRow func(ctx context.Context, db *sql.DB, query string, args, dest []any) error
	// RedeemCodeStatement, where set, is storage.RedeemCode as one statement
	// (PostgreSQL's writable CTEs; docs/performance.md, "The code redeemed
	// in one round trip"). grantCols and grantFrom are GetCodeGrant's
	// columns (with its three ? for the failure count) and FROM clause; the
	// statement's one row is grantCols read before the update, then the
	// rows it updated, the access token's stored ID (NULL when none) and
	// the refresh tokens it stored. Its ? are, in order: now (code_used_at),
	// the code hash, now (expiry), the access token's opaque ID, its JTI,
	// the refresh token's ID (the access row's refresh_id), now (created),
	// the access expiry, the refresh ID, now (created), the refresh expiry,
	// then grantCols' three and the code hash.
	RedeemCodeStatement func(grantCols, grantFrom string) string
	// TimeValue turns a UTC time, already truncated to microseconds, into the
	// parameter the database stores (SQLite: unix microseconds; PostgreSQL: the time).
	TimeValue func(time.Time) any
	// KeyBound is how a key list's range bounds and cursor are written in
	// its WHERE clause ("?" when empty). PostgreSQL's is "(SELECT ?::text)":
	// given the values, its planner estimated a prefix's rows from the key's
	// histogram, 19 to 51 of 1,111 at a million users, below the page's
	// LIMIT, and then read every row of the prefix through a bitmap scan and
	// sorted them for the first page. Not knowing the values, it takes the
	// ordered index scan, which stops after the page (docs/performance.md,
	// "A million users").
	KeyBound string
	// KeyFactsOrder is appended to the impact preview's read of every
	// passkey's facts (EachKeyFacts): " ORDER BY user_id, id" where the
	// database answers it from an index in that order (SQLite scans
	// credentials_facts, migration 00221), empty where the process sorts
	// (PostgreSQL: freshly loaded, before a vacuum had marked the table's
	// pages all-visible, its planner chose another index and a sort that
	// cost more than reading the table in its order).
	KeyFactsOrder string
	// KeyFactsRow, where set, is the expression EachKeyFacts reads each
	// passkey's facts by, in place of its chain of || (keyFactsRow): the
	// same string, built another way. SQLite's is one concat_ws, one
	// allocation a row instead of nine; PostgreSQL's server spent about 3%
	// more on concat_ws than on || (docs/performance.md, "The scenario's
	// extra cost was SQLite's allocator").
	KeyFactsRow string
	// ImportCacheKiB, where set, is the page cache (KiB) ImportUsers gives
	// the writer connection while it imports, then takes back (SQLite: the
	// default 2 MiB held a tenth of the hot leaves of the UPN and display-name
	// indexes a million users insert into at 900 places each, so each row
	// read its leaves again; docs/performance.md, "A million users").
	ImportCacheKiB int
	// DayNumber is an SQL expression of the UTC day (days since 1970-01-01,
	// an integer) of the time column col.
	DayNumber func(col string) string
	// IsUniqueViolation reports a UNIQUE or PRIMARY KEY violation.
	IsUniqueViolation func(error) bool
	// IsForeignKeyViolation reports a FOREIGN KEY violation.
	IsForeignKeyViolation func(error) bool
}

// GatedInsert is one INSERT of a GatedInsertStatement: Rows rows into
// Table's Cols.
type GatedInsert struct {
	Table, Cols string
	Rows        int
}

// keyBound is the dialect's KeyBound.
func (s *Store) keyBound() string {
	if s.d.KeyBound == "" {
		return "?"
	}
	return s.d.KeyBound
}

// Store implements storage.Storage over database/sql. Writes and
// read-modify-writes go to the writer pool, plain reads to the reader pool;
// both may be the same *sql.DB.
type Store struct {
	d        Dialect
	writer   *sql.DB
	reader   *sql.DB
	migrator *Migrator

	stmts   sync.Map // stmtKey → *sql.Stmt
	rebound sync.Map // query → query with $n placeholders
	// redeemQuery is Dialect.RedeemCodeStatement's, built once.
	redeemOnce  sync.Once
	redeemQuery string
	batch       committer
	// statements counts the statements sent to the database (transaction
	// control included): see Statements.
	statements atomic.Uint64
	// queues admit callers to a pool in order (queue.go); nil: straight to
	// the pool.
	readerQueue, writerQueue *queue
}

type stmtKey struct {
	db    *sql.DB
	query string
}

var _ storage.Storage = (*Store)(nil)

// New returns a Store over the given pools, whose schema m migrates. It does
// not take ownership of anything but the pools, which Close closes.
func New(d Dialect, writer, reader *sql.DB, m *Migrator) *Store {
	if reader == nil {
		reader = writer
	}
	return &Store{d: d, writer: writer, reader: reader, migrator: m}
}

// QueueConnections puts a queue of n places, the size of db (the store's
// reader or writer pool), in front of it: callers that find every
// connection busy get one in the order they asked, not in database/sql's
// random draw (see queue). Statements, queries (until their rows close),
// transactions and read snapshots go through it; the group commit and
// connections taken for a long read of their own go straight to the pool.
// Call it before the store is used.
func (s *Store) QueueConnections(db *sql.DB, n int) {
	if n <= 0 {
		return
	}
	q := newQueue(n)
	if db == s.reader {
		s.readerQueue = q
	}
	if db == s.writer {
		s.writerQueue = q
	}
}

// queueOf is db's queue, nil when it has none.
func (s *Store) queueOf(db *sql.DB) *queue {
	switch db {
	case s.reader:
		return s.readerQueue
	case s.writer:
		return s.writerQueue
	}
	return nil
}

// PoolStats is db.Stats() with the waits in its queue counted as
// database/sql counts its own: in WaitCount and WaitDuration.
func (s *Store) PoolStats(db *sql.DB) sql.DBStats {
	st := db.Stats()
	if q := s.queueOf(db); q != nil {
		st = q.stats(st)
	}
	return st
}

// queuedRow is a row read through a queue: its place is given back once the
// row is scanned, when database/sql gives the connection back.
type queuedRow struct {
	q   *queue
	row *sql.Row
}

func (r queuedRow) Scan(dest ...any) error {
	defer r.q.leave()
	return r.row.Scan(dest...)
}

// Statements returns how many statements the store has sent to the database
// since it was opened: queries, writes, and the BEGIN, COMMIT and SAVEPOINT
// statements of its transactions. On SQLite, in the process, this is what a
// round trip is; the PostgreSQL backend counts its real round trips instead
// (postgres.Store.RoundTrips).
func (s *Store) Statements() uint64 { return s.statements.Load() }

// RoundTrips is Statements: the figure keyward_db_round_trips_total
// reports. The PostgreSQL backend replaces it with pgx's count.
func (s *Store) RoundTrips() uint64 { return s.Statements() }

// counted notes n statements sent.
func (s *Store) counted(n uint64) { s.statements.Add(n) }

// Migrator is the store's schema migrator.
func (s *Store) Migrator() *Migrator { return s.migrator }

// MigrationVersion returns the applied schema version (0 when empty) and the
// newest version this binary knows.
func (s *Store) MigrationVersion(ctx context.Context) (current, latest int64, err error) {
	return s.migrator.Versions(ctx)
}

// Writer returns the pool used for writes (for migrations and health checks).
func (s *Store) Writer() *sql.DB { return s.writer }

// Reader returns the pool used for plain reads.
func (s *Store) Reader() *sql.DB { return s.reader }

// Close releases cached statements and both pools.
func (s *Store) Close() error {
	s.batch.stop()
	var errs []error
	s.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		s.stmts.Delete(k)
		return true
	})
	errs = append(errs, s.writer.Close())
	if s.reader != s.writer {
		errs = append(errs, s.reader.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: close: %w", s.d.Name, err)
	}
	return nil
}

// Ping checks that both pools reach the database and that the schema is at
// the latest version.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: ping: %w", s.d.Name, err)
	}
	if s.reader != s.writer {
		if err := s.reader.PingContext(ctx); err != nil {
			return fmt.Errorf("%s: ping readers: %w", s.d.Name, err)
		}
	}
	return s.migrator.Check(ctx)
}

// sql returns q in the dialect's placeholder style.
func (s *Store) sql(q string) string {
	if !s.d.NumberedParams {
		return q
	}
	if v, ok := s.rebound.Load(q); ok {
		return v.(string)
	}
	r := rebind(q)
	s.rebound.Store(q, r)
	return r
}

// rebind rewrites ? placeholders outside string literals to $1..$n.
func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// prepared returns the cached statement for q on db, preparing it on first use.
func (s *Store) prepared(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	k := stmtKey{db, q}
	if v, ok := s.stmts.Load(k); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, s.sql(q))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if v, loaded := s.stmts.LoadOrStore(k, st); loaded {
		_ = st.Close() // another goroutine won the race; use its statement
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// scanner is *sql.Row, *sql.Rows, a rowSet, or an errRow.
type scanner interface {
	Scan(dest ...any) error
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// conn runs queries on a pool, or inside a transaction on the writer.
type conn struct {
	s  *Store
	db *sql.DB
	tx *sql.Tx
	// misses collects queries a transaction prepared for itself because they
	// were not cached yet; inTx caches them once the connection is free.
	misses *[]string
	// shared marks the group commit's transaction (batch.go): its statements
	// run without their caller's cancellation, because SQLite rolls back the
	// whole transaction when a write in it is interrupted — the other jobs'
	// writes with it, and later ones would run outside any transaction.
	shared bool
	// detached marks a point read on a dialect with DetachPointReads.
	detached bool
}

// context is ctx, detached from its cancellation in the shared transaction
// and for a detached point read.
func (c conn) context(ctx context.Context) context.Context {
	if c.shared || c.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (s *Store) read() conn { return conn{s: s, db: s.reader} }

// readPoint is read for a one-row read by a key (see DetachPointReads).
func (s *Store) readPoint() conn { return conn{s: s, db: s.reader, detached: s.d.DetachPointReads} }

func (s *Store) write() conn { return conn{s: s, db: s.writer} }

// stmt returns the cached statement for q bound to the transaction, if any.
// It returns nil when the dialect does not cache statements.
func (c conn) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if !c.s.d.CacheStatements {
		return nil, nil
	}
	if c.tx == nil {
		return c.s.prepared(ctx, c.db, q)
	}
	if v, ok := c.s.stmts.Load(stmtKey{c.db, q}); ok {
		// database/sql reuses the statement already prepared on the tx's connection.
		return c.tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	}
	// Preparing on the pool now would wait for the connection this transaction
	// holds (SQLite has one writer): prepare on the transaction, cache later.
	*c.misses = append(*c.misses, q)
	return c.tx.PrepareContext(ctx, c.s.sql(q))
}

// joins returns the transaction of the Audited change ctx belongs to, when
// c is not in a transaction of its own: the statement runs there instead, so
// the change's reads see its writes and its writes commit with its audit
// record. A write runs in a savepoint of its own (see savepoint).
func (c conn) joins(ctx context.Context) (conn, bool) {
	if c.tx != nil {
		return conn{}, false
	}
	return c.s.ambient(ctx)
}

func (c conn) row(ctx context.Context, q string, args ...any) scanner {
	ctx = c.context(ctx)
	if a, ok := c.joins(ctx); ok {
		if c.s.d.StatementAtomic {
			return a.row(ctx, q, args...)
		}
		return a.savepointRow(ctx, q, args...)
	}
	st, err := c.stmt(ctx, q)
	c.s.counted(1)
	switch {
	case err != nil:
		return errRow{err}
	case c.tx != nil && st != nil:
		return st.QueryRowContext(ctx, args...)
	case c.tx != nil:
		return c.tx.QueryRowContext(ctx, c.s.sql(q), args...)
	}
	queue := c.s.queueOf(c.db)
	if err := queue.enter(ctx); err != nil {
		return errRow{err}
	}
	var r *sql.Row
	if st != nil {
		r = st.QueryRowContext(ctx, args...)
	} else {
		r = c.db.QueryRowContext(ctx, c.s.sql(q), args...)
	}
	if queue == nil {
		return r
	}
	return queuedRow{q: queue, row: r}
}

// scanRow is row(ctx, q, args...).Scan(dest...), through the dialect's
// QueryRow where it has one and c is not in a transaction.
func (c conn) scanRow(ctx context.Context, q string, args []any, dest ...any) error {
	if c.tx != nil || c.s.d.QueryRow == nil {
		return c.row(ctx, q, args...).Scan(dest...)
	}
	if _, ok := c.joins(ctx); ok {
		return c.row(ctx, q, args...).Scan(dest...)
	}
	c.s.counted(1)
	queue := c.s.queueOf(c.db)
	if err := queue.enter(ctx); err != nil {
		return err
	}
	defer queue.leave()
	return c.s.d.QueryRow(ctx, c.db, c.s.sql(q), args, dest)
}

// hotRow is row for a read on a hot path: its Scan is scanRow's.
func (c conn) hotRow(ctx context.Context, q string, args ...any) scanner {
	return hotRow{c: c, ctx: ctx, q: q, args: args}
}

type hotRow struct {
	c    conn
	ctx  context.Context
	q    string
	args []any
}

func (r hotRow) Scan(dest ...any) error { return r.c.scanRow(r.ctx, r.q, r.args, dest...) }

func (c conn) rows(ctx context.Context, q string, args ...any) (*rowSet, error) {
	ctx = c.context(ctx)
	if a, ok := c.joins(ctx); ok {
		c = a // a read: nothing to undo
	}
	st, err := c.stmt(ctx, q)
	c.s.counted(1)
	var queue *queue
	if c.tx == nil {
		queue = c.s.queueOf(c.db)
	}
	if err == nil {
		err = queue.enter(ctx)
	}
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	switch {
	case st != nil:
		rows, err = st.QueryContext(ctx, args...)
	case c.tx != nil:
		rows, err = c.tx.QueryContext(ctx, c.s.sql(q), args...)
	default:
		rows, err = c.db.QueryContext(ctx, c.s.sql(q), args...)
	}
	if err != nil {
		queue.leave()
		return nil, err
	}
	return &rowSet{Rows: rows, q: queue}, nil
}

// rowSet is a query's rows, read through the pool's queue when the query
// was not in a transaction: its place is given back when the rows are
// closed, by Close or by the Next that finds no more (database/sql gives
// the connection back then).
type rowSet struct {
	*sql.Rows
	q    *queue
	left bool
}

func (r *rowSet) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.leave()
	return false
}

func (r *rowSet) Close() error {
	err := r.Rows.Close()
	r.leave()
	return err
}

func (r *rowSet) leave() {
	if !r.left {
		r.left = true
		r.q.leave()
	}
}

func (c conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = c.context(ctx)
	if a, ok := c.joins(ctx); ok {
		if c.s.d.StatementAtomic {
			return a.exec(ctx, q, args...)
		}
		var res sql.Result
		err := a.s.savepoint(ctx, a, func(a conn) (err error) {
			res, err = a.exec(ctx, q, args...)
			return err
		})
		return res, err
	}
	st, err := c.stmt(ctx, q)
	c.s.counted(1)
	switch {
	case err != nil:
		return nil, err
	case c.tx != nil && st != nil:
		return st.ExecContext(ctx, args...)
	case c.tx != nil:
		return c.tx.ExecContext(ctx, c.s.sql(q), args...)
	}
	queue := c.s.queueOf(c.db)
	if err := queue.enter(ctx); err != nil {
		return nil, err
	}
	defer queue.leave()
	if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, c.s.sql(q), args...)
}

// execOne runs a write that must touch exactly one row; zero rows → ErrNotFound.
func (c conn) execOne(ctx context.Context, q string, args ...any) error {
	res, err := c.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// snapshot runs fn in one read-only transaction on the readers, so that its
// reads see the database as of one moment (in a repeatable-read transaction
// on PostgreSQL; SQLite's transactions always are). Inside an Audited
// change, fn reads in the change's transaction instead.
func (s *Store) snapshot(ctx context.Context, fn func(c conn) error) error {
	if a, ok := s.ambient(ctx); ok {
		return fn(a)
	}
	s.counted(2) // BEGIN and COMMIT (or ROLLBACK)
	if err := s.readerQueue.enter(ctx); err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		s.readerQueue.leave()
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	var misses []string
	defer func() {
		for _, q := range misses {
			_, _ = s.prepared(ctx, s.reader, q) // best effort: a failure retries next time
		}
	}()
	defer s.readerQueue.leave() // after the rollback below: the connection is back in the pool
	defer func() { _ = tx.Rollback() }()
	if err := fn(conn{s: s, db: s.reader, tx: tx, misses: &misses}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

// inTx runs fn in one transaction on the writer. An error from fn (including
// one returned by a caller's CAS function) rolls back and is returned as is.
// Inside an Audited change, fn runs in a savepoint of the change's
// transaction instead, and its error undoes its own writes only.
func (s *Store) inTx(ctx context.Context, fn func(c conn) error) error {
	if a, ok := s.ambient(ctx); ok {
		return s.savepoint(ctx, a, fn)
	}
	s.counted(2) // BEGIN and COMMIT (or ROLLBACK)
	if err := s.writerQueue.enter(ctx); err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		s.writerQueue.leave()
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	var misses []string
	defer func() {
		for _, q := range misses {
			_, _ = s.prepared(ctx, s.writer, q) // best effort: a failure retries next time
		}
	}()
	defer s.writerQueue.leave() // after the rollback below: the connection is back in the pool
	// Deferred (and so run first) to free the writer even if fn panics; after
	// a commit it is a no-op.
	defer func() { _ = tx.Rollback() }()
	if err := fn(conn{s: s, db: s.writer, tx: tx, misses: &misses}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

// fail wraps err for op, turning constraint violations into the sentinel the
// interface documents: a taken unique key is ErrAlreadyExists, a missing
// referenced record is onFK (ErrNotFound or ErrConflict, per method).
func (s *Store) fail(op string, err error, onFK error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict),
		errors.Is(err, storage.ErrAlreadyExists):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case s.d.IsUniqueViolation(err):
		return fmt.Errorf("%s: %w (%w)", op, storage.ErrAlreadyExists, err)
	case onFK != nil && s.d.IsForeignKeyViolation(err):
		return fmt.Errorf("%s: %w (%w)", op, onFK, err)
	}
	return fmt.Errorf("%s: %s: %w", op, s.d.Name, err)
}

// requireKey rejects an empty identifier before it reaches the database, where
// it would be a valid but unreachable key.
func requireKey(what, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is empty", what)
	}
	return nil
}
