package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for the admin connection

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/conformance"
	"github.com/keyward/keyward/internal/storage/postgres"
)

const dsnEnv = "KEYWARD_TEST_POSTGRES_DSN"

// baseDSN returns the test server's DSN or skips the test.
func baseDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skipf("%s is not set: skipping PostgreSQL tests (e.g. %s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable')",
			dsnEnv, dsnEnv)
	}
	return dsn
}

// freshSchema creates a uniquely named schema, dropped when the test ends,
// and returns a DSN whose search_path points at it: each test gets an empty
// database of its own on the one server.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := baseDSN(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "kwtest_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	return withSearchPath(t, base, schema)
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", dsnEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

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
	conformance.Run(t, func(t *testing.T) storage.Storage { return migrated(t) })
}

func TestPingFailsUntilMigratedAndMigrateTwiceIsANoOp(t *testing.T) {
	s := open(t, freshSchema(t))
	err := s.Ping(t.Context())
	if err == nil || !strings.Contains(err.Error(), "keyward migrate") {
		t.Fatalf("Ping before Migrate = %v, want an error telling to run `keyward migrate`", err)
	}
	cur, latest, err := s.MigrationVersion(t.Context())
	if err != nil || cur != 0 || latest < 1 {
		t.Fatalf("MigrationVersion before Migrate = %d, %d, %v; want 0, ≥1, nil", cur, latest, err)
	}
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping after Migrate #%d: %v", i+1, err)
		}
		cur, l, err := s.MigrationVersion(t.Context())
		if err != nil || cur != latest || l != latest {
			t.Fatalf("MigrationVersion after Migrate = %d, %d, %v; want %d, %d", cur, l, err, latest, latest)
		}
	}
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
