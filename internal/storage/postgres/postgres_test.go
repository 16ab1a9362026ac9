package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for the admin connection
	"github.com/pressly/goose/v3"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/conformance"
	"github.com/keyward/keyward/internal/storage/postgres"
	"github.com/keyward/keyward/internal/storage/sqlstore"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// freshSchema is an empty schema of its own on the test server (skipped
// when KEYWARD_TEST_POSTGRES_DSN is unset).
func freshSchema(t testing.TB) string { return storagetest.FreshPostgresSchema(t) }

func baseDSN(t testing.TB) string { return storagetest.PostgresDSN(t) }

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Options{DSN: dsn})
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

func migrated(t testing.TB) *postgres.Store {
	t.Helper()
	s := open(t, freshSchema(t))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	baseDSN(t)
	// Each test gets a copy of a database migrated once; the migrations
	// themselves are tested on fresh schemas below.
	conformance.Run(t, func(t *testing.T) storage.Storage {
		return open(t, storagetest.MigratedPostgresDatabase(t))
	})
}

func TestPingFailsUntilMigratedAndMigrateTwiceIsANoOp(t *testing.T) {
	conformance.CheckMigrations(t, open(t, freshSchema(t)))
}

func TestProcessesMigratingAtOnceAllSucceed(t *testing.T) {
	dsn := freshSchema(t)
	const nodes = 4
	stores := make([]*postgres.Store, nodes)
	for i := range stores {
		stores[i] = open(t, dsn)
	}
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: migrate: %v", i, err)
		}
	}
	for i, s := range stores {
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("node %d: ping: %v", i, err)
		}
	}
}

func TestOpenReportsBadDSNAndUnreachableServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{"", "postgres://u:secret@host:notaport/db", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2"} {
		s, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
		if err == nil {
			_ = s.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error shows the password: %v", dsn, err)
		}
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

func TestMigrationBackfillsTheSignInRollups(t *testing.T) {
	dsn := freshSchema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), 60); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO users (id, upn, upn_key, display_name, account_enabled,
		is_emergency_access, password_hash, created_at, updated_at)
		VALUES ('u1', 'old@x.org', 'old@x.org', 'Old', TRUE, FALSE, '', now(), now())`); err != nil {
		t.Fatal(err)
	}
	day := conformance.RollupBackfillDay
	for i, e := range []struct {
		hour                        time.Duration
		method, aaguid, typ, result string
	}{
		{9, "passkey", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "deviceBound", "success"},
		{10, "passkey", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "deviceBound", "success"},
		{11, "passkey", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "deviceBound", "failure"},
		{12, "password", "", "", "success"},
	} {
		if _, err := db.ExecContext(t.Context(), `INSERT INTO sign_in_events (id, occurred_at, user_id, upn, method,
			credential_id, aaguid, model, result, failure_reason, ip, user_agent, passkey_type)
			VALUES ($1, $2, 'u1', 'old@x.org', $3, '', $4, '', $5, '', '192.0.2.1', 'Chrome', $6)`,
			uuid.NewString(), day.Add(e.hour*time.Hour), e.method, e.aaguid, e.result, e.typ); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO credentials (id, user_id, credential_id, public_key, aaguid,
		model, display_name, attestation_format, attestation_type, attestation_level, attestation_cert_subjects,
		transports, user_verified, backup_eligible, backup_state, sign_count, clone_warning, created_at, last_used_at)
		VALUES ('old-key', 'u1', '\x0102', '\xa0', 'cb69481e-8ff7-4039-93ec-0a2729a154a8', '', 'Old key', 'none', 'none',
		'notAttested', '', '', TRUE, TRUE, TRUE, 0, FALSE, $1, NULL)`, day.Add(8*time.Hour)); err != nil {
		t.Fatalf("passkey: %v", err)
	}
	s := open(t, dsn)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	conformance.CheckRollupBackfill(t, s)
}

// Migration 00220 moves the stored MDS blobs into chunks; its down migration
// puts them back whole.
func TestMigrationChunksTheStoredMDSBlobs(t *testing.T) {
	s := migrated(t)
	if err := s.Migrator().DownTo(t.Context(), 191); err != nil {
		t.Fatal(err)
	}
	db := s.Writer()
	old := conformance.OldMDSBlobs(t)
	for _, b := range old {
		if _, err := db.ExecContext(t.Context(), `INSERT INTO mds_blobs (number, next_update, raw, source, imported_at)
			VALUES ($1, $2, $3, $4, $5)`, b.Number, b.NextUpdate, b.Raw, b.Source, b.ImportedAt); err != nil {
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

// When every connection is busy, callers wait for one in the order they came
// (sqlstore's queue; database/sql alone hands a freed connection to a random
// waiter): on a pool of one connection, many concurrent reads and writes all
// succeed, their waits show in the pool's statistics as database/sql's own
// would (keyward_db_wait_count_total), and a caller whose request ends while
// it waits gives up its turn without keeping the connection from the rest.
func TestCallersQueueForABusyPool(t *testing.T) {
	dsn := storagetest.MigratedPostgresDatabase(t)
	ctx := t.Context()
	st, err := postgres.Open(ctx, postgres.Options{DSN: dsn, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	u := storage.User{ID: uuid.NewString(), UserPrincipalName: "queue@contoso.com", DisplayName: "Queue",
		AccountEnabled: true, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for j := range 10 {
				if (i+j)%5 == 0 {
					if _, err := st.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
						u.DisplayName = fmt.Sprintf("Queue %d-%d", i, j)
						return u, nil
					}); err != nil {
						t.Errorf("update: %v", err)
					}
					continue
				}
				if _, err := st.GetUser(ctx, u.ID); err != nil {
					t.Errorf("read: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if s := st.PoolStats(st.Writer()); s.WaitCount == 0 || s.WaitDuration <= 0 || s.MaxOpenConnections != 1 {
		t.Errorf("pool statistics after 120 calls from 12 callers on 1 connection: %d waits, %v waited, %d connections at most",
			s.WaitCount, s.WaitDuration, s.MaxOpenConnections)
	}

	// A write holds the one connection, waiting for a row lock taken beside it.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	lock, err := admin.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback() }()
	if _, err := lock.ExecContext(ctx, `SELECT id FROM users WHERE id = $1 FOR UPDATE`, u.ID); err != nil {
		t.Fatal(err)
	}
	updated := make(chan error, 1)
	go func() {
		_, err := st.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
			u.DisplayName = "After the lock"
			return u, nil
		})
		updated <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the update never waited for the row lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := st.GetUser(short, u.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read while the only connection is held = %v, want its deadline to pass", err)
	}
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-updated; err != nil {
		t.Fatalf("the held update: %v", err)
	}
	got, err := st.GetUser(ctx, u.ID)
	if err != nil || got.DisplayName != "After the lock" {
		t.Fatalf("read after the update = %q, %v; want the update's name", got.DisplayName, err)
	}
}

// The alert scan reads an emergency account's sign-ins of the last minutes
// (sqlstore.EmergencySignInsQuery) from sign_in_events_user, even on a
// table never analyzed (autovacuum off, or before it came by):
// walking sign_in_events_time instead would read every sign-in of those
// minutes.
func TestEmergencySignInsReadTheirOwnersEvents(t *testing.T) {
	s := migrated(t)
	db := s.Reader()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO sign_in_events (id, occurred_at, user_id, upn, method,
		credential_id, aaguid, model, result, failure_reason, ip, user_agent, passkey_type)
		SELECT gen_random_uuid()::text, now() - i * interval '10 ms', 'u' || (i % 50), 'u@x.org', 'passkey',
			'', '', '', 'success', '', '192.0.2.1', 'Chrome', 'deviceBound'
		FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	text := explain(t, db, sqlstore.EmergencySignInsQuery, "u7", time.Now().Add(-5*time.Minute), 500)
	if !strings.Contains(text, "sign_in_events_user") || strings.Contains(text, "sign_in_events_time") {
		t.Fatalf("plan:\n%s", text)
	}
}

// A page of the sign-in log filtered on failures, an application or a
// passkey model reads that filter's index, though each holds only the
// records with a value there (migration 00231), in a generic plan too (one
// made without the values, which PostgreSQL may cache for a prepared
// statement): ListSignIns states the index's condition beside the filter.
func TestSignInFiltersReadTheirPartialIndexes(t *testing.T) {
	s := migrated(t)
	db := s.Reader()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO sign_in_events (id, occurred_at, user_id, upn, method,
		credential_id, aaguid, model, result, failure_reason, ip, user_agent, passkey_type, app_id)
		SELECT gen_random_uuid()::text, now() - i * interval '10 ms', 'u' || (i % 50), 'u@x.org', 'passkey',
			'', CASE WHEN i % 3 = 0 THEN 'x' ELSE '' END, '', CASE WHEN i % 100 = 0 THEN 'failure' ELSE 'success' END,
			'', '192.0.2.1', 'Chrome', 'deviceBound', CASE WHEN i % 2 = 0 THEN 'a' ELSE '' END
		FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q     storage.SignInQuery
		index string
	}{
		{storage.SignInQuery{Result: storage.ResultFailure}, "sign_in_events_result"},
		{storage.SignInQuery{AppID: "a"}, "sign_in_events_app"},
		{storage.SignInQuery{AAGUID: "x"}, "sign_in_events_aaguid"},
	} {
		q, args, err := s.ListSignInsQuery(c.q)
		if err != nil {
			t.Fatal(err)
		}
		if text := explain(t, conn, q, args...); !strings.Contains(text, c.index) {
			t.Errorf("%+v: plan\n%s", c.q, text)
		}
		// The generic plan, made without the values: EXPLAIN with bound
		// values plans with them, so the statement is prepared by name.
		if _, err := conn.ExecContext(t.Context(), `PREPARE page AS `+numbered(q)); err != nil {
			t.Fatal(err)
		}
		var vals []string
		for _, a := range args {
			if v, ok := a.(string); ok {
				vals = append(vals, "'"+v+"'")
			} else {
				vals = append(vals, fmt.Sprint(a))
			}
		}
		if text := explain(t, conn, `EXECUTE page (`+strings.Join(vals, ", ")+`)`); !strings.Contains(text, c.index) {
			t.Errorf("%+v, generic plan:\n%s", c.q, text)
		}
		if _, err := conn.ExecContext(t.Context(), `DEALLOCATE page`); err != nil {
			t.Fatal(err)
		}
	}
}

// explain is the plan PostgreSQL makes of q (with ? placeholders) for args.
func explain(t *testing.T, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `EXPLAIN `+numbered(q), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// numbered is q with its ? placeholders numbered, as PostgreSQL takes them.
func numbered(q string) string {
	for i := 1; strings.Contains(q, "?"); i++ {
		q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
	}
	return q
}
