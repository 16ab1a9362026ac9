package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// cli runs keyward commands in-process against one database, chosen by env.
type cli struct {
	t     *testing.T
	env   []string
	stdin string // what the command reads on standard input
}

// input returns c with stdin as the commands' standard input.
func (c cli) input(stdin string) cli {
	c.stdin = stdin
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

func (c cli) run(args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, c.env, strings.NewReader(c.stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// ok runs a command that must succeed and returns its stdout.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("keyward %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs a command that must fail, checks that stderr mentions want and
// that nothing went to stdout, and returns stderr.
func (c cli) fails(want string, args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 1 {
		c.t.Fatalf("keyward %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(want)) {
		c.t.Fatalf("keyward %s: stderr does not mention %q:\n%s", strings.Join(args, " "), want, r.stderr)
	}
	if r.stdout != "" {
		c.t.Fatalf("keyward %s: failed but printed on stdout:\n%s", strings.Join(args, " "), r.stdout)
	}
	return r.stderr
}

// json runs a command with --json and decodes its output into v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("keyward %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sqliteEnv selects a fresh SQLite data directory. Commands log at warn so
// stderr holds only what matters to the test.
func sqliteEnv(t *testing.T) []string {
	return []string{"KEYWARD_DATA_DIR=" + t.TempDir(), "KEYWARD_LOG_LEVEL=warn"}
}

// postgresDSN returns a DSN for a fresh schema on the test server named by
// KEYWARD_TEST_POSTGRES_DSN, dropped when the test ends; it skips without it.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("KEYWARD_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("KEYWARD_TEST_POSTGRES_DSN is not set; skipping PostgreSQL test " +
			"(e.g. KEYWARD_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable')")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to KEYWARD_TEST_POSTGRES_DSN: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "kwcmd_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("KEYWARD_TEST_POSTGRES_DSN is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
