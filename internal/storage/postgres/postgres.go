// Package postgres is Keyward's PostgreSQL storage backend (pgx v5 through
// database/sql). Several Keyward processes may share one database: every
// single-use record is consumed by one conditional statement, read-modify-
// writes lock their row (SELECT … FOR UPDATE), and Migrate holds an advisory
// lock so processes starting together migrate one after the other.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultMaxConns is the pool size when Options.MaxConns is 0.
const DefaultMaxConns = 20

// Options configure Open.
type Options struct {
	// DSN is a PostgreSQL URL or key=value connection string. Run-time
	// parameters such as search_path may be set in it.
	DSN string
	// MaxConns bounds the connection pool (0 = DefaultMaxConns).
	MaxConns int
	// Logger receives migration progress; nil discards it.
	Logger *slog.Logger
}

// Store is the PostgreSQL storage.Storage. Open does not migrate: call Migrate.
type Store struct {
	*sqlstore.Store
	db    *sql.DB
	trips *roundTrips
}

var _ storage.Storage = (*Store)(nil)

var dialect = sqlstore.Dialect{
	Name:           "postgres",
	NumberedParams: true,
	LockRow:        " FOR UPDATE",
	// SHARE ROW EXCLUSIVE conflicts with itself and with every writer's ROW
	// EXCLUSIVE: readers go on, writers of users wait until commit.
	LockUsers:    "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE",
	LockMDSBlobs: "LOCK TABLE mds_blobs IN SHARE ROW EXCLUSIVE MODE",
	// The key lists' bounds hidden from the planner's estimate
	// (sqlstore.Dialect.KeyBound).
	KeyBound:              "(SELECT ?::text)",
	SignInStatement:       signInStatement,
	GatedInsertStatement:  gatedInsertStatement,
	QueryRow:              queryRow,
	RedeemCodeStatement:   redeemCodeStatement,
	TimeValue:             func(t time.Time) any { return t },
	DayNumber:             func(col string) string { return "(" + col + "::date - DATE '1970-01-01')" },
	IsUniqueViolation:     func(err error) bool { return code(err) == "23505" },
	IsForeignKeyViolation: func(err error) bool { return code(err) == "23503" },
}

// queryRow is sqlstore.Dialect.QueryRow: pgx runs the query on the pool's
// connection (its statement cache prepares it once per connection, as
// through database/sql) and scans the row itself, watching ctx without a
// goroutine of its own. Its no-row error is sql.ErrNoRows too.
func queryRow(ctx context.Context, db *sql.DB, query string, args, dest []any) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		return dc.(*stdlib.Conn).Conn().QueryRow(ctx, query, args...).Scan(dest...)
	})
}

// redeemCodeStatement is sqlstore.Dialect.RedeemCodeStatement: the UPDATE
// uses the code up (only when its user and application exist, as the read
// requires), the INSERT stores the tokens from the updated row, and the
// SELECT reads the grant in the statement's snapshot, before the update.
// The scopes are the stored request's "scope" split on each space as
// storage.CodeScopes splits it (” and null give one empty scope), written
// as the JSON array every token row holds.
func redeemCodeStatement(grantCols, grantFrom string) string {
	const scopes = `CASE WHEN COALESCE(u.scope, '') = '' THEN '[""]'
			ELSE array_to_json(string_to_array(u.scope, ' '))::text END`
	const refresh = `(u.rt = 'code' AND 'offline_access' = ANY (string_to_array(COALESCE(u.scope, ''), ' ')))`
	return `WITH u AS (
		UPDATE oidc_auth_requests r SET code_used_at = ?::timestamptz
		FROM applications a, users us
		WHERE r.code_hash = ?::bytea AND r.code_used_at IS NULL AND r.code_expires_at > ?::timestamptz AND r.done
			AND a.app_id = r.client_id AND us.id = r.user_id
		RETURNING r.id, r.client_id, r.user_id, r.amr, r.acr, r.auth_time, a.id AS app, a.access_token_type AS att,
			convert_from(r.request, 'UTF8')::jsonb ->> 'scope' AS scope,
			convert_from(r.request, 'UTF8')::jsonb ->> 'response_type' AS rt
	), t AS (
		INSERT INTO oidc_tokens (id, kind, grant_id, application_id, client_id, user_id, scopes, audience, amr, acr,
			auth_time, refresh_id, created_at, expires_at, rotated_at)
		SELECT CASE WHEN u.att = 'opaque' THEN ?::text ELSE ?::text END, 'access', u.id, u.app, u.client_id, u.user_id,
			` + scopes + `, json_build_array(u.client_id)::text, u.amr, u.acr, u.auth_time,
			CASE WHEN ` + refresh + ` THEN ?::text ELSE '' END, ?::timestamptz, ?::timestamptz, NULL::timestamptz FROM u
		UNION ALL
		SELECT ?::text, 'refresh', u.id, u.app, u.client_id, u.user_id,
			` + scopes + `, json_build_array(u.client_id)::text, u.amr, u.acr, u.auth_time,
			'', ?::timestamptz, ?::timestamptz, NULL::timestamptz FROM u WHERE ` + refresh + `
		RETURNING kind, id
	)
	SELECT ` + grantCols + `,
		(SELECT COUNT(*) FROM u), (SELECT id FROM t WHERE kind = 'access'), (SELECT COUNT(*) FROM t WHERE kind = 'refresh')
	` + grantFrom + ` WHERE r.code_hash = ?::bytea`
}

func code(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// tableExists asks whether goose's table exists in the schema the store uses
// (the first existing schema on search_path), as goose itself decides.
const tableExists = `SELECT EXISTS (SELECT 1 FROM pg_tables
	WHERE schemaname = current_schema() AND tablename = '` + goose.DefaultTablename + `')`

// Open connects to the database named by o.DSN and checks it is reachable.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.DSN == "" {
		return nil, errors.New("postgres: open: DSN is empty")
	}
	cfg, err := pgx.ParseConfig(o.DSN) // the error redacts the password
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	trips := &roundTrips{}
	cfg.Tracer = trips
	db := stdlib.OpenDB(*cfg)
	n := o.MaxConns
	if n <= 0 {
		n = DefaultMaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(30 * time.Minute) // let connections follow failovers and DNS changes
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: open: connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	sub, _ := fs.Sub(migrations, "migrations") // the directory is embedded
	m, err := sqlstore.NewMigrator("postgres", db, db, goose.DialectPostgres, sub, tableExists, o.Logger)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	st := sqlstore.New(dialect, db, db, m)
	st.QueueConnections(db, n) // the reader's and the writer's: one pool
	return &Store{Store: st, db: db, trips: trips}, nil
}

// AutovacuumOff reports whether the server's autovacuum is off. Every
// sign-in updates a few rows in place (its passkey's counter, the sign-in
// roll-ups) and the cleanup deletes what expired: without vacuum the dead
// versions pile up, and reads of those rows walk longer chains of them the
// longer the server runs. A table's own setting cannot turn it back on.
func (s *Store) AutovacuumOff(ctx context.Context) (bool, error) {
	var on bool
	if err := s.db.QueryRowContext(ctx, `SELECT current_setting('autovacuum')::boolean`).Scan(&on); err != nil {
		return false, fmt.Errorf("postgres: read the autovacuum setting: %w", err)
	}
	return !on, nil
}

// RoundTrips returns how many requests the store has sent to PostgreSQL and
// waited for since it was opened (see roundTrips): the figure
// keyward_db_round_trips_total reports.
func (s *Store) RoundTrips() uint64 { return s.trips.n.Load() }

// migrateLock keys the advisory lock by schema, so databases sharing a server
// (or tests using one schema each) do not wait for each other.
const migrateLock = `hashtextextended('keyward.migrate.' || COALESCE(current_schema(), ''), 0)`

// Migrate applies every pending migration. Concurrent callers, in any
// process, take turns on a session advisory lock; the later ones find
// nothing to do.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer unlock(ctx, conn)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+migrateLock+`)`); err != nil {
		return fmt.Errorf("postgres: migrate: take lock: %w", err)
	}
	return s.Migrator().Up(ctx)
}

// unlock releases the migration lock and returns conn to the pool. A
// connection whose unlock failed is discarded: closing the session frees
// the lock, while pooling it would hold the lock forever.
func unlock(ctx context.Context, conn *sql.Conn) {
	_, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+migrateLock+`)`)
	if err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = conn.Close()
}

// Migrations returns the embedded migration files, by which tests key a
// database migrated once and cloned per test.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations") // the directory is embedded
	return sub
}
