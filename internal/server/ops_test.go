package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{Method: "GET", Path: "/healthz"})
	if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "ok" {
		t.Fatalf("healthz = %d %q", r.Status, r.Body)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	t.Run("ready_on_a_migrated_store", func(t *testing.T) {
		e := newEnv(t)
		r := e.do(req{Method: "GET", Path: "/readyz"})
		if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "ok" {
			t.Fatalf("readyz = %d %q", r.Status, r.Body)
		}
	})
	t.Run("not_ready_before_migrations", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "k.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		srv := httptest.NewServer(server.New(server.Deps{Store: st, Logger: testLogger(t), Registry: prometheus.NewRegistry()}).Handler())
		defer srv.Close()
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("readyz on an unmigrated database = %d, want 503", res.StatusCode)
		}
	})
	t.Run("not_ready_names_the_reason", func(t *testing.T) {
		e := newEnv(t, func(d *server.Deps) {
			d.Ready = func(context.Context) error { return errors.New("database: connection refused") }
		})
		r := e.do(req{Method: "GET", Path: "/readyz"})
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "database: connection refused") {
			t.Fatalf("readyz = %d %q", r.Status, r.Body)
		}
	})
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(req{Method: "GET", Path: "/api/v1/users", Token: storage.RoleReader}).wantStatus(t, http.StatusOK)
	e.do(req{Method: "GET", Path: "/api/v1/users", Token: storage.RoleReader}).wantStatus(t, http.StatusOK)
	e.do(req{Method: "GET", Path: "/api/v1/users/nobody@example.com", Token: storage.RoleReader}).wantStatus(t, http.StatusNotFound)
	e.do(req{Method: "GET", Path: "/no/such/thing"}).wantStatus(t, http.StatusNotFound)

	r := e.do(req{Method: "GET", Path: "/metrics"})
	r.wantStatus(t, http.StatusOK)
	body := string(r.Body)
	for _, want := range []string{
		`keyward_http_requests_total{code="200",method="GET",route="GET /api/v1/users"} 2`,
		`keyward_http_requests_total{code="404",method="GET",route="GET /api/v1/users/{id}"} 1`,
		`keyward_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`keyward_http_request_duration_seconds_count{method="GET",route="GET /api/v1/users"} 2`,
		`keyward_db_open_connections{pool="writer"}`,
		`keyward_db_max_open_connections{pool="writer"} 1`,
		`keyward_db_open_connections{pool="reader"}`,
		"keyward_sqlite_checkpoints_total ",
		"keyward_sqlite_log_restarts_total ",
		"keyward_sqlite_writer_held_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestPanicInHandlerBecomesJSON500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.server.Handle("GET /test/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	r := e.do(req{Method: "GET", Path: "/test/boom"})
	r.wantError(t, http.StatusInternalServerError, "internalError", "details are in the server log")
	if strings.Contains(string(r.Body), "boom") {
		t.Errorf("the panic value leaked into the response: %s", r.Body)
	}
	// The server keeps serving and counted the failure.
	r = e.do(req{Method: "GET", Path: "/metrics"})
	if !strings.Contains(string(r.Body), `keyward_http_requests_total{code="500",method="GET",route="GET /test/boom"} 1`) {
		t.Errorf("the 500 was not counted")
	}
}

func TestRequestIDIsKeptWhenPlain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hr, _ := http.NewRequest("GET", e.http.URL+"/healthz", nil)
	hr.Header.Set("X-Request-Id", "trace-123")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); got != "trace-123" {
		t.Errorf("X-Request-Id = %q", got)
	}
	hr.Header.Set("X-Request-Id", "bad id\twith spaces")
	res, err = http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Errorf("X-Request-Id = %q, want a fresh one", got)
	}
}

func TestTwoServersMayShareARegistry(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	reg := prometheus.NewRegistry()
	server.New(server.Deps{Store: st, Registry: reg})
	server.New(server.Deps{Store: st, Registry: reg}) // must not panic
}
