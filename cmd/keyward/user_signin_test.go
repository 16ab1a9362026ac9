package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	kwapp "github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

func TestUserPasswordRoleAndTAPOnSQLite(t *testing.T) {
	testUserSecrets(t, sqliteEnv(t))
}

func TestUserPasswordRoleAndTAPOnPostgres(t *testing.T) {
	testUserSecrets(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// testUserSecrets sets passwords, admin roles and Temporary Access Passes
// from the CLI and proves them through the real HTTP sign-in API, served by
// internal/app on the database the CLI wrote.
func testUserSecrets(t *testing.T, env []string) {
	c := cli{t: t, env: env}
	const pw = "correct horse battery"
	var admin userJSON
	c.input(pw+"\n").json(&admin, "user", "add", "--upn", "admin@example.com", "--display-name", "Admin",
		"--admin-role", "global-admin", "--password-stdin")
	if admin.AdminRole != storage.RoleGlobalAdmin {
		t.Fatalf("created %+v, want adminRole global-admin", admin)
	}
	st := openTestStore(t, env)
	web := startWeb(t, st)

	t.Run("the_password_is_stored_as_an_argon2id_hash", func(t *testing.T) {
		u, err := st.GetUserByUPN(context.Background(), "admin@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("stored hash %q is not an argon2id PHC string", u.PasswordHash)
		}
		if ok, err := mfa.VerifyPassword(u.PasswordHash, pw); !ok || err != nil {
			t.Fatalf("the stored hash does not verify the password: %v", err)
		}
	})
	t.Run("the_person_signs_in_over_http_and_uses_the_admin_api_with_csrf", func(t *testing.T) {
		b := web.browser(t)
		b.wantStatus(b.post("/api/v1/auth/password", map[string]string{"username": "admin@example.com", "password": "wrong password"}, ""), 401, "invalidCredentials")
		b.wantStatus(b.post("/api/v1/auth/password", map[string]string{"username": "Admin@Example.com", "password": pw}, ""), 200, `"status":"signedIn"`)
		me := b.me()
		if me.AdminRole != storage.RoleGlobalAdmin || me.CSRFToken == "" {
			t.Fatalf("me = %+v", me)
		}
		// A password alone does not open the admin API; adding an
		// authenticator app in My security info makes the session multi-factor.
		b.wantStatus(b.get("/api/v1/users"), 403, "mfaRequired")
		var app struct{ Secret string }
		if err := json.Unmarshal([]byte(b.wantStatus(b.post("/api/v1/me/authenticatorApp", nil, me.CSRFToken), 200, "secret")), &app); err != nil {
			t.Fatal(err)
		}
		code, err := mfa.TOTPCode(app.Secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b.wantStatus(b.post("/api/v1/me/authenticatorApp/verify", map[string]string{"code": code}, me.CSRFToken), 200, `"mfaRecent":true`)
		b.wantStatus(b.get("/api/v1/users"), 200, "admin@example.com")
		newUser := map[string]string{"userPrincipalName": "made-by-session@example.com", "displayName": "Made"}
		b.wantStatus(b.post("/api/v1/users", newUser, ""), 403, "csrfTokenInvalid")
		b.wantStatus(b.post("/api/v1/users", newUser, me.CSRFToken), 201, "made-by-session@example.com")
	})
	t.Run("show_and_list_show_the_admin_role_and_never_a_hash", func(t *testing.T) {
		outs := []string{c.ok("user", "show", "admin@example.com"), c.ok("user", "list"),
			c.ok("user", "list", "--json"), c.ok("user", "show", "admin@example.com", "--json")}
		for _, out := range outs {
			if strings.Contains(out, "argon2") || strings.Contains(out, pw) {
				t.Fatalf("output shows the password or its hash:\n%s", out)
			}
		}
		if !regexp.MustCompile(`Admin role: +global-admin\n`).MatchString(outs[0]) {
			t.Errorf("user show:\n%s", outs[0])
		}
		if !strings.Contains(outs[1], "ADMIN ROLE") || !regexp.MustCompile(`made-by-session@example.com .* none `).MatchString(outs[1]) {
			t.Errorf("user list:\n%s", outs[1])
		}
	})
	testBadUserSecrets(t, c)
	testUpdateUserSecrets(t, c, web)
	testUserTAP(t, c, st, web)
}

func testBadUserSecrets(t *testing.T, c cli) {
	tests := []struct {
		name, stdin, want string
		args              []string
	}{
		{"unknown_role", "a good password\n", "global-admin, privileged-authentication-admin, authentication-admin, reader, or none",
			[]string{"--admin-role", "root", "--password-stdin"}},
		{"empty_stdin", "", "standard input is empty", []string{"--password-stdin"}},
		{"empty_first_line", "\nsecond line password\n", "standard input is empty", []string{"--password-stdin"}},
		{"short_password", "short\n", "at least 8", []string{"--password-stdin"}},
		{"password_is_the_upn", "eve@example.com\n", "must not be the user name", []string{"--password-stdin"}},
		{"overlong_line", strings.Repeat("x", 5000), "longer than 4096 bytes", []string{"--password-stdin"}},
	}
	for _, tt := range tests {
		t.Run("user_add_refuses_"+tt.name+"_and_writes_nothing", func(t *testing.T) {
			c := c.input(tt.stdin)
			c.t = t
			c.fails(tt.want, append([]string{"user", "add", "--upn", "eve@example.com", "--display-name", "Eve"}, tt.args...)...)
			c.fails("no user", "user", "show", "eve@example.com")
		})
	}
	t.Run("user_update_refuses_an_unknown_role_and_changes_nothing", func(t *testing.T) {
		c.t = t
		c.fails("unknown role", "user", "update", "admin@example.com", "--admin-role", "Global-Admin")
		var u userJSON
		c.json(&u, "user", "show", "admin@example.com")
		if u.AdminRole != storage.RoleGlobalAdmin {
			t.Fatalf("adminRole changed to %q", u.AdminRole)
		}
	})
}

func testUpdateUserSecrets(t *testing.T, c cli, web *web) {
	t.Run("user_update_changes_and_removes_the_admin_role", func(t *testing.T) {
		c.t = t
		var u userJSON
		c.json(&u, "user", "add", "--upn", "rita@example.com", "--display-name", "Rita", "--admin-role", "reader")
		if u.AdminRole != storage.RoleReader {
			t.Fatalf("created %+v", u)
		}
		c.json(&u, "user", "update", "rita@example.com", "--admin-role", "authentication-admin")
		if u.AdminRole != storage.RoleAuthenticationAdmin || u.DisplayName != "Rita" {
			t.Fatalf("updated %+v", u)
		}
		c.json(&u, "user", "update", "rita@example.com", "--admin-role", "none")
		if u.AdminRole != "" {
			t.Fatalf("after --admin-role none: %+v", u)
		}
	})
	t.Run("user_update_sets_a_new_password_from_the_first_line", func(t *testing.T) {
		c := c.input("a new passphrase\r\nignored second line\n")
		c.t = t
		c.ok("user", "update", "rita@example.com", "--password-stdin")
		b := web.browser(t)
		login := func(pw string) *http.Response {
			return b.post("/api/v1/auth/password", map[string]string{"username": "rita@example.com", "password": pw}, "")
		}
		b.wantStatus(login("a new passphrase"), 200, `"signedIn"`)
		b.wantStatus(login("a new passphrase\r"), 401, "invalidCredentials")
		if me := b.me(); me.AdminRole != "" {
			t.Fatalf("me = %+v, want no admin role", me)
		}
		b.wantStatus(b.get("/api/v1/users"), 403, "forbidden")
	})
	t.Run("user_update_lists_the_new_flags_when_nothing_changes", func(t *testing.T) {
		c.t = t
		c.fails("--admin-role or --password-stdin", "user", "update", "rita@example.com")
	})
}

var tapLine = regexp.MustCompile(`^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{16}\n$`)

func testUserTAP(t *testing.T, c cli, st store, web *web) {
	c.ok("user", "add", "--upn", "bob@example.com", "--display-name", "Bob")
	tapSignIn := func(t *testing.T, pass string) *http.Response {
		return web.browser(t).post("/api/v1/auth/tap", map[string]string{"username": "bob@example.com", "temporaryAccessPass": pass}, "")
	}
	var first string
	t.Run("user_tap_prints_only_the_pass_and_it_signs_in_once", func(t *testing.T) {
		c.t = t
		r := c.run("user", "tap", "bob@example.com", "--once")
		if r.code != 0 || !tapLine.MatchString(r.stdout) {
			t.Fatalf("exit %d, stdout %q, want the pass alone on one line\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "Temporary Access Pass for bob@example.com") || !strings.Contains(r.stderr, "signs in once") {
			t.Errorf("stderr lacks the details:\n%s", r.stderr)
		}
		first = strings.TrimSpace(r.stdout)
		web.wantStatus(t, tapSignIn(t, first), 200, `"signedIn"`)
		web.wantStatus(t, tapSignIn(t, first), 401, "invalidCredentials")
		taps, err := st.ListUserTAPs(context.Background(), mustUserID(t, st, "bob@example.com"))
		if err != nil || len(taps) != 1 || taps[0].CreatedBy != cliActor.String() || !taps[0].IsUsableOnce ||
			taps[0].ExpiresAt.Sub(taps[0].StartAt) != mfa.DefaultTAPLifetime {
			t.Fatalf("stored passes %+v, %v", taps, err)
		}
	})
	t.Run("user_tap_json_issues_a_multi_use_pass_that_replaces_the_old_one", func(t *testing.T) {
		c.t = t
		var p tapJSON
		c.json(&p, "user", "tap", mustUserID(t, st, "bob@example.com"), "--lifetime", "10m")
		if len(p.TemporaryAccessPass) != 16 || p.LifetimeInMinutes != 10 || p.IsUsableOnce || !p.IsUsable ||
			p.MethodUsabilityReason != "EnabledByPolicy" {
			t.Fatalf("issued %+v", p)
		}
		web.wantStatus(t, tapSignIn(t, p.TemporaryAccessPass), 200, `"signedIn"`)
		web.wantStatus(t, tapSignIn(t, strings.ToLower(p.TemporaryAccessPass)), 200, `"signedIn"`)
		taps, err := st.ListUserTAPs(context.Background(), mustUserID(t, st, "bob@example.com"))
		if err != nil || len(taps) != 1 || taps[0].ID != p.ID {
			t.Fatalf("passes after replacement %+v, %v", taps, err)
		}
	})
	for _, tt := range []struct{ name, want string }{{"5m", "not 5m0s"}, {"721h", "720h"}, {"10m30s", "whole minutes"}} {
		t.Run("user_tap_refuses_lifetime_"+tt.name, func(t *testing.T) {
			c.t = t
			c.fails(tt.want, "user", "tap", "bob@example.com", "--lifetime", tt.name)
		})
	}
	t.Run("user_tap_names_an_unknown_user", func(t *testing.T) {
		c.t = t
		c.fails("no user", "user", "tap", "ghost@example.com")
	})
	t.Run("user_tap_is_audited_as_cli", func(t *testing.T) {
		events, err := st.ListAudit(context.Background(), storage.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Action == "user.temporaryAccessPassMethod.create" && e.Actor == cliActor.String() {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d pass audit events by cli, want 2", n)
		}
	})
}

func mustUserID(t *testing.T, st store, upn string) string {
	t.Helper()
	u, err := st.GetUserByUPN(context.Background(), upn)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// web is Keyward's HTTP API served in-process on a store, as serve wires it.
type web struct{ srv *httptest.Server }

func startWeb(t *testing.T, st store) *web {
	t.Helper()
	pub, _ := url.Parse("http://localhost:8080")
	kw, err := kwapp.New(kwapp.Options{Store: st, PublicURL: pub, Logger: newLogger(io.Discard, "error", "text")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(kw.Handler())
	t.Cleanup(srv.Close)
	return &web{srv: srv}
}

// browser is one client with its own cookies.
type browser struct {
	t      *testing.T
	w      *web
	client *http.Client
}

func (w *web) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, w: w, client: &http.Client{Jar: jar}}
}

func (b *browser) post(path string, body any, csrf string) *http.Response {
	b.t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, b.w.srv.URL+path, strings.NewReader(string(data)))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set(session.CSRFHeader, csrf)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

func (b *browser) get(path string) *http.Response {
	b.t.Helper()
	resp, err := b.client.Get(b.w.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

type meJSON struct {
	UserPrincipalName string `json:"userPrincipalName"`
	AdminRole         string `json:"adminRole"`
	CSRFToken         string `json:"csrfToken"`
}

func (b *browser) me() meJSON {
	b.t.Helper()
	var me meJSON
	if err := json.Unmarshal([]byte(b.wantStatus(b.get("/api/v1/me"), 200, "csrfToken")), &me); err != nil {
		b.t.Fatal(err)
	}
	return me
}

func (b *browser) wantStatus(resp *http.Response, status int, contains string) string {
	b.t.Helper()
	return b.w.wantStatus(b.t, resp, status, contains)
}

// wantStatus checks the response's status and that its body holds contains.
func (w *web) wantStatus(t *testing.T, resp *http.Response, status int, contains string) string {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || !strings.Contains(string(body), contains) {
		t.Fatalf("%s %s: %d %s, want %d with %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status, contains)
	}
	return string(body)
}
