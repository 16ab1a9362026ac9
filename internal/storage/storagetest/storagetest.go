// Package storagetest gives tests outside the storage packages real, empty,
// migrated databases on every backend: a SQLite file in a temp dir, and a
// fresh PostgreSQL schema when KEYWARD_TEST_POSTGRES_DSN names a server
// (skipped with a message otherwise). A Database can be opened several
// times, like several Keyward nodes sharing one database.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for creating schemas

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/postgres"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

// PostgresDSNEnv names the PostgreSQL server tests may use.
const PostgresDSNEnv = "KEYWARD_TEST_POSTGRES_DSN"

// Database is one empty database; Open connects a new store to it.
type Database struct {
	Name string // "sqlite" or "postgres"
	// URL is what `keyward --database-url` takes ("" for SQLite, whose file is Path).
	URL  string
	Path string
	open func(t testing.TB) storage.Storage
}

// Open returns a new, migrated store on the database, closed when t ends.
func (d Database) Open(t testing.TB) storage.Storage {
	t.Helper()
	return d.open(t)
}

// Backend makes fresh databases of one kind.
type Backend struct {
	Name string
	New  func(t testing.TB) Database
}

// Backends lists SQLite and PostgreSQL. Use as:
//
//	for _, b := range storagetest.Backends() { t.Run(b.Name, func(t *testing.T) { db := b.New(t); … }) }
//
// PostgreSQL's New skips the test when KEYWARD_TEST_POSTGRES_DSN is unset.
func Backends() []Backend {
	return []Backend{{Name: "sqlite", New: NewSQLite}, {Name: "postgres", New: NewPostgres}}
}

// NewSQLite makes a database file in a temp dir.
func NewSQLite(t testing.TB) Database {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyward.db")
	return Database{Name: "sqlite", Path: path, open: func(t testing.TB) storage.Storage {
		t.Helper()
		st, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate sqlite: %v", err)
		}
		return st
	}}
}

// NewPostgres makes a fresh schema on the test server, dropped when t ends.
func NewPostgres(t testing.TB) Database {
	t.Helper()
	dsn := FreshPostgresSchema(t)
	return Database{Name: "postgres", URL: dsn, open: func(t testing.TB) storage.Storage {
		t.Helper()
		st, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate postgres: %v", err)
		}
		return st
	}}
}

// PostgresDSN returns the test server's DSN or skips the test.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresDSNEnv)
	if dsn == "" {
		t.Skipf("%s is not set: skipping PostgreSQL tests (e.g. %s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable')",
			PostgresDSNEnv, PostgresDSNEnv)
	}
	return dsn
}

// FreshPostgresSchema creates a uniquely named schema, dropped when t ends,
// and returns a DSN whose search_path points at it.
func FreshPostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresDSN(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "kwtest_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	if !strings.Contains(base, "://") {
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresDSNEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
