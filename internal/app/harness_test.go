package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// Known models in the test MDS blob.
const (
	goodAAGUID    = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
	goodModel     = "Contoso Key 5 NFC"
	revokedAAGUID = "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa"
	revokedModel  = "Fabrikam Leaky Key"
	unknownAAGUID = "6b2c7c42-0d5d-4c11-8a4e-2a9bb1b2c3d4"
	policyPath    = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"
)

// clock is the injected time of every node.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is one database with one or more Keyward nodes in front of it, all
// with the same public URL (as behind a load balancer), a test MDS blob
// imported, an admin token, and a CA for attested keys.
type world struct {
	t      testing.TB
	db     storagetest.Database
	store  storage.Storage
	clock  *clock
	public *url.URL
	nodes  []*httptest.Server
	admin  string // API token secret (global-admin)
	reader string
	ca     *softkey.CA
	pkiPEM string
	pki    *mdstest.PKI
	apps   []*app.App
	// adjust changes the options of every node before it starts (nil = none).
	adjust func(*app.Options)

	fuzzUser, fuzzSession string
}

// mdsRootForNodes is the MDS root every node of the world trusts.
func (w *world) mdsRootForNodes() string { return w.pkiPEM }

// newWorld starts a world; public, when given, is the public URL every node
// has instead of http://localhost:<port of the first node>.
func newWorld(t testing.TB, db storagetest.Database, public ...*url.URL) *world {
	t.Helper()
	return newWorldWith(t, db, nil, public...)
}

// newWorldWith is newWorld with adjust applied to every node's options.
func newWorldWith(t testing.TB, db storagetest.Database, adjust func(*app.Options), public ...*url.URL) *world {
	t.Helper()
	w := &world{t: t, db: db, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, adjust: adjust}
	if len(public) > 0 {
		w.public = public[0]
	}
	w.store = db.Open(t)
	ca, err := softkey.NewCA("Contoso Attestation")
	if err != nil {
		t.Fatal(err)
	}
	w.ca = ca
	pki, err := mdstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	w.pkiPEM, w.pki = pki.RootPEM(), pki
	w.addNode(w.pkiPEM)
	w.importBlob(7)
	w.admin = w.token("automation", storage.RoleGlobalAdmin)
	w.reader = w.token("auditor", storage.RoleReader)
	return w
}

// importBlob imports MDS blob number n: the world's two models (goodModel,
// revokedModel) and the extra entries given; an extra entry with one of
// their AAGUIDs replaces it.
func (w *world) importBlob(n int, extra ...mdstest.EntryOptions) {
	w.t.Helper()
	var entries []mdstest.EntryOptions
	for _, e := range []mdstest.EntryOptions{
		{AAGUID: goodAAGUID, Description: goodModel, Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{w.ca.RootPEM()}},
		{AAGUID: revokedAAGUID, Description: revokedModel, Statuses: []string{"FIDO_CERTIFIED_L1", "REVOKED"}, AttestationRootPEMs: []string{w.ca.RootPEM()}},
	} {
		if !slices.ContainsFunc(extra, func(x mdstest.EntryOptions) bool { return x.AAGUID == e.AAGUID }) {
			entries = append(entries, e)
		}
	}
	entries = append(entries, extra...)
	blob, err := w.pki.Sign(mdstest.Payload{Number: n, NextUpdate: w.clock.Now().Add(30 * 24 * time.Hour), Entries: entries})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.apps[0].MDS.Import(context.Background(), blob, "test"); err != nil {
		w.t.Fatalf("import MDS blob %d: %v", n, err)
	}
}

// addNode starts another Keyward on the world's database.
func (w *world) addNode(mdsRoot string) *app.App {
	w.t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	if w.public == nil {
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		w.public = &url.URL{Scheme: "http", Host: "localhost:" + port}
	}
	store := w.store
	if len(w.nodes) > 0 {
		store = w.db.Open(w.t)
	}
	logger := slog.New(slog.DiscardHandler) // fuzzing and benchmarks measure, tests explain
	if t, ok := w.t.(*testing.T); ok {
		logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	o := app.Options{
		Store: store, Logger: logger, Registry: prometheus.NewRegistry(),
		Now: w.clock.Now, PublicURL: w.public, MDSRoots: []string{mdsRoot},
	}
	if w.adjust != nil {
		w.adjust(&o)
	}
	a, err := app.New(o)
	if err != nil {
		w.t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	w.apps = append(w.apps, a)
	srv.Start()
	w.t.Cleanup(srv.Close)
	w.nodes = append(w.nodes, srv)
	return a
}

func (w *world) origin() string { return w.public.Scheme + "://" + w.public.Host }

func (w *world) token(name, role string) string {
	w.t.Helper()
	s := secret.New("kw_")
	if err := w.store.CreateAPIToken(context.Background(), storage.APIToken{
		ID: uuid.NewString(), Name: name, Role: role, SecretHash: secret.Hash(s), CreatedAt: w.clock.Now(),
	}); err != nil {
		w.t.Fatal(err)
	}
	return s
}

// cred is how a request authenticates.
type cred struct {
	token  string
	cookie string
	noCSRF bool // leave the CSRF header out, as a forged cross-site request would
	// userAgent, when set, is the request's User-Agent header.
	userAgent string
	// ifMatch, when set, is the request's If-Match header (a version the edit expects).
	ifMatch string
}

func bearer(t string) cred { return cred{token: t} }
func cookie(c string) cred { return cred{cookie: c} }

type reply struct {
	status int
	body   []byte
	header http.Header
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// errCode returns error.code and error.message of an error reply.
func (r reply) err(t testing.TB) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("response %d is not an error body: %s", r.status, r.body)
	}
	return e.Error.Code, e.Error.Message
}

// call sends a request to node i.
func (w *world) call(i int, method, path string, c cred, body any) reply {
	w.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, w.nodes[i].URL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.ifMatch != "" {
		req.Header.Set("If-Match", c.ifMatch)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.cookie != "" {
		name := session.DefaultCookieName
		if w.public.Scheme == "https" {
			name = session.SecureCookieName
		}
		req.AddCookie(&http.Cookie{Name: name, Value: c.cookie})
		if !c.noCSRF {
			req.Header.Set(session.CSRFHeader, session.CSRFToken(secret.KeyedID(c.cookie)))
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return reply{status: res.StatusCode, body: data, header: res.Header}
}

func (w *world) do(method, path string, c cred, body any) reply {
	w.t.Helper()
	return w.call(0, method, path, c, body)
}

func (w *world) mustStatus(r reply, want int) reply {
	w.t.Helper()
	if r.status != want {
		w.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

func (w *world) user(upn string) string {
	w.t.Helper()
	r := w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), map[string]any{
		"userPrincipalName": upn, "displayName": strings.Split(upn, "@")[0],
	}), http.StatusCreated)
	return r.json(w.t)["id"].(string)
}

func (w *world) group(name string, members ...string) string {
	w.t.Helper()
	id := w.mustStatus(w.do("POST", "/api/v1/groups", bearer(w.admin), map[string]any{"displayName": name}), http.StatusCreated).json(w.t)["id"].(string)
	for _, m := range members {
		w.mustStatus(w.do("POST", "/api/v1/groups/"+id+"/members", bearer(w.admin), map[string]any{"id": m}), http.StatusNoContent)
	}
	return id
}

func (w *world) setPolicy(patch string) map[string]any {
	w.t.Helper()
	return w.mustStatus(w.do("PATCH", policyPath, bearer(w.admin), patch), http.StatusOK).json(w.t)
}

// enableForAll turns passkeys on for everyone with the default profile.
func (w *world) enableForAll() {
	w.setPolicy(`{"state":"enabled"}`)
}

// session signs a user in directly (the web sign-in comes with the web
// issue); mfa marks a multi-factor sign-in just now.
func (w *world) session(userID string, mfa bool) string {
	w.t.Helper()
	s := secret.New("kws_")
	now := w.clock.Now()
	sess := storage.Session{ID: secret.HashHex(s), UserID: userID, AuthMethods: []string{"pwd"},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if mfa {
		sess.AuthMethods, sess.MFAAt = []string{"pwd", "otp", "mfa"}, now
	}
	if err := w.store.CreateSession(context.Background(), sess); err != nil {
		w.t.Fatal(err)
	}
	return s
}

// key makes a software authenticator: packed full attestation from the
// world's CA for aaguid, or the given format.
func (w *world) key(aaguid, format string, mods ...func(*softkey.Options)) *softkey.Authenticator {
	w.t.Helper()
	o := softkey.Options{AAGUID: uuid.MustParse(aaguid), Attestation: format}
	if format == softkey.FormatPacked {
		o.CA = w.ca
	}
	for _, m := range mods {
		m(&o)
	}
	return softkey.New(o)
}

// register runs self-service registration for the session's user.
func (w *world) register(k *softkey.Authenticator, session, name string) reply {
	w.t.Helper()
	opts := w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(session), nil)
	if opts.status != http.StatusOK {
		return opts
	}
	resp, err := k.Register(opts.body, w.origin())
	if err != nil {
		w.t.Fatalf("authenticator refused the options: %v", err)
	}
	return w.do("POST", "/api/v1/me/passkeys", cookie(session), map[string]any{
		"displayName": name, "publicKeyCredential": json.RawMessage(resp),
	})
}

// registerWanted is register as the step-up page does it: only a key of
// one of models will do.
func (w *world) registerWanted(k *softkey.Authenticator, session string, models []string) reply {
	w.t.Helper()
	opts := w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(session), map[string]any{"models": models})
	if opts.status != http.StatusOK {
		return opts
	}
	resp, err := k.Register(opts.body, w.origin())
	if err != nil {
		w.t.Fatalf("authenticator refused the options: %v", err)
	}
	return w.do("POST", "/api/v1/me/passkeys", cookie(session), map[string]any{
		"displayName": "", "publicKeyCredential": json.RawMessage(resp), "models": models,
	})
}

// login runs a passkey sign-in; username "" is a discoverable sign-in.
func (w *world) login(k *softkey.Authenticator, username string) reply {
	w.t.Helper()
	body := map[string]any{}
	if username != "" {
		body["username"] = username
	}
	opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, body), http.StatusOK)
	resp, err := k.Assert(opts.body, w.origin())
	if err != nil {
		w.t.Fatalf("authenticator refused the options: %v", err)
	}
	return w.do("POST", "/api/v1/auth/passkey", cred{}, resp)
}

// sessionCookie returns the session cookie a reply set.
func sessionCookie(r reply) string {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "keyward_session" {
			return c.Value
		}
	}
	return ""
}

// eachBackend runs f on a fresh SQLite database and, when configured, a
// fresh PostgreSQL schema.
func eachBackend(t *testing.T, f func(t *testing.T, w *world)) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f(t, newWorld(t, b.New(t)))
		})
	}
}
