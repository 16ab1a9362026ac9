package webui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
	"github.com/keyward/keyward/internal/webui"
)

// site is a server with only the web pages mounted, on a real SQLite file.
type site struct {
	t       *testing.T
	store   storage.Storage
	handler http.Handler
	now     time.Time
}

func newSite(t *testing.T) *site {
	t.Helper()
	st := storagetest.NewSQLite(t).Open(t)
	s := &site{t: t, store: st, now: time.Now().UTC().Truncate(time.Second)}
	clock := func() time.Time { return s.now }
	srv := server.New(server.Deps{
		Store: st, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), Registry: prometheus.NewRegistry(),
		Now: clock, PublicURL: &url.URL{Scheme: "http", Host: "localhost:8080"},
		Sessions: &session.Manager{Store: st, Now: clock},
	})
	srv.Mount(&webui.UI{})
	s.handler = srv.Handler()
	return s
}

// user creates a user and a signed-in session; it returns the cookie secret
// and the session.
func (s *site) user(upn, name string) (string, storage.Session) {
	s.t.Helper()
	ctx := context.Background()
	u := storage.User{ID: uuid.NewString(), UserPrincipalName: upn, DisplayName: name, AccountEnabled: true,
		CreatedAt: s.now, UpdatedAt: s.now}
	if err := s.store.CreateUser(ctx, u); err != nil {
		s.t.Fatal(err)
	}
	cookie := secret.New(session.SecretPrefix)
	sess := storage.Session{ID: secret.HashHex(cookie), UserID: u.ID, AuthMethods: []string{"pwd"},
		CreatedAt: s.now, LastSeenAt: s.now, ExpiresAt: s.now.Add(time.Hour)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		s.t.Fatal(err)
	}
	return cookie, sess
}

type page struct {
	status int
	header http.Header
	body   string
}

// get requests path; cookie signs the request in, p (when set) stands for an
// already authenticated principal such as an administrator.
func (s *site) get(path, cookie string, p *server.Principal) page {
	s.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cookie})
	}
	if p != nil {
		req = req.WithContext(server.WithPrincipal(req.Context(), *p))
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return page{status: rec.Code, header: rec.Result().Header, body: string(body)}
}

func admin(sess storage.Session, upn string) *server.Principal {
	return &server.Principal{Kind: server.PrincipalUser, Name: upn, UserID: sess.UserID, Role: storage.RoleGlobalAdmin, Session: &sess}
}

func TestRedirects(t *testing.T) {
	s := newSite(t)
	cookie, _ := s.user("ada@example.com", "Ada Lovelace")
	tests := []struct {
		name, path, cookie, want string
	}{
		{"home_sends_visitors_to_sign_in", "/", "", "/login"},
		{"home_sends_signed_in_users_to_security_info", "/", cookie, "/my/security-info"},
		{"security_info_needs_sign_in_and_comes_back", "/my/security-info", "", "/login?next=%2Fmy%2Fsecurity-info"},
		{"security_info_keeps_its_query_for_after_sign_in", "/my/security-info?add=passkey", "", "/login?next=%2Fmy%2Fsecurity-info%3Fadd%3Dpasskey"},
		{"admin_needs_sign_in", "/admin/users/42", "", "/login?next=%2Fadmin%2Fusers%2F42"},
		{"unknown_admin_page_needs_sign_in_first", "/admin/nope", "", "/login?next=%2Fadmin%2Fnope"},
		{"admin_root_opens_users", "/admin", cookie, "/admin/users"},
		{"my_opens_security_info", "/my", cookie, "/my/security-info"},
		{"login_sends_signed_in_users_on", "/login", cookie, "/my/security-info"},
		{"login_sends_signed_in_users_to_next", "/login?next=%2Fadmin%2Fgroups", cookie, "/admin/groups"},
		{"login_ignores_an_offsite_next", "/login?next=https%3A%2F%2Fevil.example%2F", cookie, "/my/security-info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := s.get(tt.path, tt.cookie, nil)
			if p.status != http.StatusSeeOther || p.header.Get("Location") != tt.want {
				t.Fatalf("GET %s: %d Location %q, want 303 to %q", tt.path, p.status, p.header.Get("Location"), tt.want)
			}
			if p.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("redirect lacks the security headers: %v", p.header)
			}
		})
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s+[^>]*)?>\s*[^<\s]`)
	scriptTag    = regexp.MustCompile(`<script[^>]*>`)
	staticLink   = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
)

func TestPagesRender(t *testing.T) {
	s := newSite(t)
	userCookie, _ := s.user("bob@example.com", "Bob Builder")
	_, adminSess := s.user("ada@example.com", "Ada Lovelace")
	ada := admin(adminSess, "ada@example.com")
	csrf := session.CSRFToken(adminSess.ID)
	tests := []struct {
		name, path, cookie string
		principal          *server.Principal
		status             int
		contains           []string
	}{
		{"login", "/login?next=%2Fadmin%2Fusers&username=bob%40example.com", "", nil, 200, []string{
			`autocomplete="username webauthn"`, `data-next="/admin/users"`, `value="bob@example.com"`,
			"Sign in with a passkey", "Use your face, fingerprint, PIN or security key instead", "Use a Temporary Access Pass"}},
		{"login_drops_an_offsite_next", "/login?next=%2F%2Fevil.example", "", nil, 200, []string{"Sign in"}},
		{"login_again_when_asked", "/login?prompt=login", userCookie, nil, 200, []string{`id="step-username"`}},
		{"security_info", "/my/security-info", userCookie, nil, 200, []string{
			"Security info", "+ Add sign-in method", "USB device", "NFC device", "This device or phone",
			"Bob Builder", `data-action="sign-out"`}},
		{"admin_users", "/admin/users", "", ada, 200, []string{"All users", "+ New user", `name="csrf-token" content="` + csrf + `"`}},
		{"admin_user", "/admin/users/0b7c9d53-0c56-4d1b-9f3c-0a4d2a3f8e11", "", ada, 200, []string{
			`data-id="0b7c9d53-0c56-4d1b-9f3c-0a4d2a3f8e11"`, "Temporary Access Pass", "Register a security key", "Emergency access"}},
		{"admin_groups", "/admin/groups", "", ada, 200, []string{"All groups", "+ New group"}},
		{"admin_group", "/admin/groups/g1", "", ada, 200, []string{`data-id="g1"`, "Members"}},
		{"admin_methods", "/admin/authentication-methods", "", ada, 200, []string{
			"Passkey (FIDO2)", "Authenticator app", "Password", "Temporary Access Pass"}},
		{"admin_fido2", "/admin/authentication-methods/fido2", "", ada, 200, []string{
			"Enable and target", "Configure", "Allow self-service set up", "Enforce attestation", "Enforce key restrictions", "Quick add"}},
		{"admin_sign_ins", "/admin/sign-ins", "", ada, 200, []string{"Sign-in log", `id="filter-upn"`, `id="signin-detail"`}},
		{"admin_audit_log", "/admin/audit-log", "", ada, 200, []string{"Audit log", `id="audit-category"`, `id="audit-detail"`}},
		{"admin_key_models", "/admin/reports/key-models", "", ada, 200, []string{"Key models in use",
			`src="/api/v1/reports/charts/signInsByMethod"`, "Download CSV", `id="models-preview"`}},
		{"admin_registration", "/admin/reports/registration", "", ada, 200, []string{"Registration details", "Rollout at a glance", `id="details-filter"`}},
		{"admin_user_links_to_its_logs", "/admin/users/u1", "", ada, 200, []string{
			`href="/admin/sign-ins?userId=u1"`, `href="/admin/audit-log?targetId=u1"`}},
		{"admin_refuses_users_without_a_role", "/admin/users", userCookie, nil, 403, []string{"You don&#39;t have access to the admin center"}},
		{"setup", "/setup?token=kwsetup_abc%22%3E", "", nil, 200, []string{`data-token="kwsetup_abc&#34;&gt;"`, "Create administrator"}},
		{"setup_without_token", "/setup", "", nil, 400, []string{"This setup link is incomplete"}},
		{"unknown_admin_page", "/admin/nope", "", ada, 404, []string{"This page doesn&#39;t exist"}},
		{"unknown_my_page", "/my/nope", userCookie, nil, 404, []string{"This page doesn&#39;t exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := s.get(tt.path, tt.cookie, tt.principal)
			if p.status != tt.status {
				t.Fatalf("GET %s: status %d, want %d: %s", tt.path, p.status, tt.status, p.body)
			}
			for _, want := range tt.contains {
				if !strings.Contains(p.body, want) {
					t.Errorf("GET %s: page lacks %q", tt.path, want)
				}
			}
			checkPageHeaders(t, p)
			if inlineScript.MatchString(p.body) {
				t.Errorf("GET %s: page has an inline script, which the CSP forbids", tt.path)
			}
			for _, tag := range scriptTag.FindAllString(p.body, -1) {
				if !strings.Contains(tag, `src="/static/`) {
					t.Errorf("GET %s: script tag %s does not load a static file", tt.path, tag)
				}
			}
			// Signed-in pages carry the token, the sign-in page too: signing in
			// again posts with the old session's cookie.
			signedIn := tt.cookie != "" || tt.principal != nil
			if has := strings.Contains(p.body, `name="csrf-token"`); has != signedIn {
				t.Errorf("GET %s: csrf-token meta present=%v, want %v", tt.path, has, signedIn)
			}
			for _, m := range staticLink.FindAllStringSubmatch(p.body, -1) {
				if a := s.get(strings.ReplaceAll(m[1], "&amp;", "&"), "", nil); a.status != 200 {
					t.Errorf("GET %s links %s, which answers %d", tt.path, m[1], a.status)
				}
			}
		})
	}
}

func checkPageHeaders(t *testing.T, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("Content-Security-Policy %q allows inline code", csp)
	}
	want := map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
		"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
	}
	for k, v := range want {
		if got := p.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	s := newSite(t)
	login := s.get("/login", "", nil)
	css := regexp.MustCompile(`href="(/static/css/keyward\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(login.body)
	if css == nil {
		t.Fatalf("the login page links no versioned stylesheet")
	}
	tests := []struct {
		name, path  string
		status      int
		contentType string
		cache       string
	}{
		{"versioned_css_is_cached_for_good", css[1], 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"modules_are_javascript_and_revalidated", "/static/js/api.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"stale_version_is_revalidated", "/static/css/keyward.css?v=000000000000", 200, "text/css; charset=utf-8", "no-cache"},
		{"svg_image", "/static/img/logo.svg", 200, "image/svg+xml", "no-cache"},
		{"unknown_file", "/static/js/nope.js", 404, "", ""},
		{"no_directory_listing", "/static/js/", 404, "", ""},
		{"no_escape_from_static", "/static/%2e%2e/web.go", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := s.get(tt.path, "", nil)
			if p.status != tt.status {
				t.Fatalf("GET %s: %d, want %d", tt.path, p.status, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := p.header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := p.header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if p.header.Get("ETag") == "" || p.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("asset headers incomplete: %v", p.header)
			}
		})
	}
	t.Run("etag_revalidation_answers_304", func(t *testing.T) {
		first := s.get("/static/js/api.js", "", nil)
		req := httptest.NewRequest(http.MethodGet, "/static/js/api.js", nil)
		req.Header.Set("If-None-Match", first.header.Get("ETag"))
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Fatalf("status %d, want 304", rec.Code)
		}
	})
}

func TestSignedOutSessionIsAVisitor(t *testing.T) {
	s := newSite(t)
	cookie, sess := s.user("ada@example.com", "Ada Lovelace")
	if err := s.store.DeleteSession(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	p := s.get("/my/security-info", cookie, nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login?next=") {
		t.Fatalf("ended session: %d %q, want a redirect to sign in", p.status, p.header.Get("Location"))
	}
}

// TestOneFactorAdminIsSentToAddASecondMethod: the admin center needs a
// multi-factor sign-in; an administrator signed in with a password alone is
// sent to My security info, which says why and how to get one, while a
// multi-factor session opens the admin center.
func TestOneFactorAdminIsSentToAddASecondMethod(t *testing.T) {
	s := newSite(t)
	signIn := func(upn string, amr ...string) string {
		t.Helper()
		ctx := context.Background()
		u := storage.User{ID: uuid.NewString(), UserPrincipalName: upn, DisplayName: upn, AccountEnabled: true,
			AdminRole: storage.RoleGlobalAdmin, CreatedAt: s.now, UpdatedAt: s.now}
		if err := s.store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		cookie := secret.New(session.SecretPrefix)
		if err := s.store.CreateSession(ctx, storage.Session{ID: secret.HashHex(cookie), UserID: u.ID, AuthMethods: amr,
			CreatedAt: s.now, LastSeenAt: s.now, ExpiresAt: s.now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return cookie
	}
	const notice = "The admin center needs a multi-factor sign-in"
	oneFactor := signIn("ada@example.com", "pwd")
	twoFactors := signIn("grace@example.com", "pwd", "otp", "mfa")

	for _, path := range []string{"/admin/users", "/admin/authentication-methods/fido2"} {
		if p := s.get(path, oneFactor, nil); p.status != http.StatusSeeOther || p.header.Get("Location") != "/my/security-info" {
			t.Fatalf("GET %s with a password-only session: %d Location %q, want 303 to /my/security-info", path, p.status, p.header.Get("Location"))
		}
	}
	p := s.get("/my/security-info", oneFactor, nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, notice) || !strings.Contains(p.body, "add an authenticator app below") {
		t.Fatalf("security info for a password-only administrator: %d, notice shown %v", p.status, strings.Contains(p.body, notice))
	}
	if p := s.get("/admin/users", twoFactors, nil); p.status != http.StatusOK {
		t.Fatalf("GET /admin/users with a multi-factor session: %d", p.status)
	}
	if p := s.get("/my/security-info", twoFactors, nil); strings.Contains(p.body, notice) {
		t.Fatal("a multi-factor administrator is told to get a second factor")
	}
}
