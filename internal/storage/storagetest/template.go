package storagetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage/postgres"
)

// MigratedPostgresDatabase creates a database of its own on the test server,
// dropped when t ends, already migrated, and returns its DSN. It is a copy
// (CREATE DATABASE … TEMPLATE) of a template database that is migrated once
// per set of migrations, so a test pays for a copy, not for every migration.
// The template's name is keyed by the migrations' content: test runs of
// different branches sharing a server never clone each other's schema.
func MigratedPostgresDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresDSN(t)
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	conn, err := admin.Conn(ctx)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresDSNEnv, err)
	}
	defer func() { _ = conn.Close() }()
	// One process at a time builds or copies the template: a database
	// cannot be copied while anyone (a migrating process) is connected to it.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('keyward.test.template'))`); err != nil {
		t.Fatalf("lock template: %v", err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext('keyward.test.template'))`) }()

	tpl := "kwtpl_" + migrationsKey(t)
	// A template is marked datistemplate once migrated; one that is not was
	// left half-built by a run that was killed, and is built again.
	var ready bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, tpl).Scan(&ready); err != nil {
		t.Fatalf("look for template: %v", err)
	}
	if !ready {
		buildTemplate(t, conn, base, tpl)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "kwtest_" + hex.EncodeToString(b)
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tpl); err != nil {
		t.Fatalf("copy template: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer func() { _ = a.Close() }()
		if _, err := a.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return withDatabase(t, base, name)
}

// buildTemplate creates tpl and migrates it; a failure drops it again, so
// the next run does not copy a half-migrated database.
func buildTemplate(t testing.TB, conn *sql.Conn, base, tpl string) {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+tpl+" WITH (FORCE)"); err != nil {
		t.Fatalf("drop half-built template: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+tpl); err != nil {
		t.Fatalf("create template: %v", err)
	}
	err := func() error {
		st, err := postgres.Open(ctx, postgres.Options{DSN: withDatabase(t, base, tpl)})
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		return st.Migrate(ctx)
	}()
	if err != nil {
		_, _ = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+tpl+" WITH (FORCE)")
		t.Fatalf("migrate template: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+tpl+" IS_TEMPLATE true"); err != nil {
		t.Fatalf("mark template: %v", err)
	}
}

// migrationsKey is a short hash of the migration files' names and contents.
func migrationsKey(t testing.TB) string {
	t.Helper()
	h := sha256.New()
	err := fs.WalkDir(postgres.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(postgres.Migrations(), path)
		if err != nil {
			return err
		}
		h.Write([]byte(path + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		t.Fatalf("hash migrations: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// withDatabase returns base naming database name instead.
func withDatabase(t testing.TB, base, name string) string {
	t.Helper()
	if !strings.Contains(base, "://") {
		return base + " dbname=" + name
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresDSNEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
