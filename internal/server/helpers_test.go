package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

var testNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// env is one Keyward server on a real SQLite file, reached over real HTTP,
// with one API token per role.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	server *server.Server
	http   *httptest.Server
	tokens map[string]string // name → secret: the role names, "revoked"
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "keyward.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newEnv starts a server; adjust may change the Deps before New.
func newEnv(t *testing.T, adjust ...func(*server.Deps)) *env {
	t.Helper()
	st := openStore(t)
	d := server.Deps{Store: st, Logger: testLogger(t), Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return testNow }}
	for _, f := range adjust {
		f(&d)
	}
	s := server.New(d)
	s.Mount(&server.DirectoryAPI{Directory: &directory.Service{Store: st, Now: d.Now}, PublicURL: d.PublicURL})
	e := &env{t: t, store: st, server: s, tokens: map[string]string{}}
	for _, role := range []string{storage.RoleGlobalAdmin, storage.RoleAuthenticationAdmin, storage.RoleReader} {
		e.tokens[role] = e.createToken(role, role, false)
	}
	e.tokens["revoked"] = e.createToken("old-automation", storage.RoleGlobalAdmin, true)
	e.http = httptest.NewServer(s.Handler())
	t.Cleanup(e.http.Close)
	return e
}

func (e *env) createToken(name, role string, revoked bool) string {
	e.t.Helper()
	sec := secret.New("kw_")
	tok := storage.APIToken{ID: uuid.NewString(), Name: name, Role: role, SecretHash: secret.Hash(sec), CreatedAt: testNow}
	if revoked {
		at := testNow
		tok.RevokedAt = &at
	}
	if err := e.store.CreateAPIToken(context.Background(), tok); err != nil {
		e.t.Fatal(err)
	}
	return sec
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// req describes a request. Body is sent as is (a string) or JSON-encoded.
type req struct {
	Method, Path string
	Token        string // a key of env.tokens, or a raw "Authorization" value when it has a space
	Body         any
	ContentType  string // default application/json when there is a body
	Cookie       *http.Cookie
	Header       http.Header // more request headers
}

func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = strings.NewReader(string(raw))
	}
	url := r.Path
	if !strings.HasPrefix(url, "http") {
		url = e.http.URL + r.Path
	}
	hr, err := http.NewRequest(r.Method, url, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	for k, vs := range r.Header {
		hr.Header[k] = vs
	}
	switch {
	case strings.Contains(r.Token, " "):
		hr.Header.Set("Authorization", r.Token)
	case r.Token != "":
		sec, ok := e.tokens[r.Token]
		if !ok {
			e.t.Fatalf("no token %q", r.Token)
		}
		hr.Header.Set("Authorization", "Bearer "+sec)
	}
	if r.Cookie != nil {
		hr.AddCookie(r.Cookie)
	}
	res, err := e.http.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// admin is a request as global admin.
func (e *env) admin(method, path string, body any) response {
	e.t.Helper()
	return e.do(req{Method: method, Path: path, Token: storage.RoleGlobalAdmin, Body: body})
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not JSON (%v): %s", r.Status, err, r.Body)
	}
}

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks the status, the error code and that the message contains want.
func (r response) wantError(t *testing.T, status int, code, want string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e apiError
	r.decode(t, &e)
	if e.Error.Code != code {
		t.Errorf("code = %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	if !strings.Contains(e.Error.Message, want) {
		t.Errorf("message %q does not contain %q", e.Error.Message, want)
	}
}

func (r response) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
}

type userJSON struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	AccountEnabled    bool   `json:"accountEnabled"`
	IsEmergencyAccess bool   `json:"isEmergencyAccess"`
	CreatedDateTime   string `json:"createdDateTime"`
}

type groupJSON struct {
	ID              string `json:"id"`
	DisplayName     string `json:"displayName"`
	Description     string `json:"description"`
	CreatedDateTime string `json:"createdDateTime"`
}

type listJSON[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

func (e *env) createUser(upn, name string) userJSON {
	e.t.Helper()
	r := e.admin("POST", "/api/v1/users", map[string]any{"userPrincipalName": upn, "displayName": name})
	r.wantStatus(e.t, http.StatusCreated)
	var u userJSON
	r.decode(e.t, &u)
	return u
}

func (e *env) createGroup(name string) groupJSON {
	e.t.Helper()
	r := e.admin("POST", "/api/v1/groups", map[string]any{"displayName": name})
	r.wantStatus(e.t, http.StatusCreated)
	var g groupJSON
	r.decode(e.t, &g)
	return g
}

// snapshot is everything the admin API can write; comparing two proves a
// refused request changed nothing.
type snapshot struct {
	Users   []storage.User
	Groups  []storage.Group
	Members map[string][]string
	Audit   int
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	ctx := context.Background()
	users, _, err := e.store.ListUsers(ctx, storage.Page{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	groups, _, err := e.store.ListGroups(ctx, storage.Page{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	s := snapshot{Users: users, Groups: groups, Members: map[string][]string{}}
	for _, g := range groups {
		ms, _, err := e.store.ListMembers(ctx, g.ID, storage.Page{Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range ms {
			s.Members[g.ID] = append(s.Members[g.ID], m.ID)
		}
	}
	audit, err := e.store.ListAudit(ctx, storage.EventFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	s.Audit = len(audit)
	return s
}

func (e *env) wantUnchanged(before snapshot) {
	e.t.Helper()
	if after := e.snapshot(); !reflect.DeepEqual(before, after) {
		e.t.Fatalf("store changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
