package postgres_test

import (
	"context"
	"database/sql"
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
