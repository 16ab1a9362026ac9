package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// TestRoleMatrix: readers and authentication admins may read the directory,
// only global admins may change it, and nobody gets in without a token.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.createUser("alice@example.com", "Alice")
	bob := e.createUser("bob@example.com", "Bob")
	group := e.createGroup("Key users")
	ids := strings.NewReplacer("{alice}", alice.ID, "{bob}", bob.ID, "{group}", group.ID)

	type call struct {
		method, path, body string
		ok                 int // status when allowed
	}
	reads := []call{
		{"GET", "/api/v1/users", "", 200},
		{"GET", "/api/v1/users/{alice}", "", 200},
		{"GET", "/api/v1/groups", "", 200},
		{"GET", "/api/v1/groups/{group}", "", 200},
		{"GET", "/api/v1/groups/{group}/members", "", 200},
	}
	// In an order that works when every call succeeds (global admin).
	writes := []call{
		{"POST", "/api/v1/users", `{"userPrincipalName":"new@example.com","displayName":"New"}`, 201},
		{"PATCH", "/api/v1/users/{alice}", `{"displayName":"Alice A."}`, 200},
		{"POST", "/api/v1/groups", `{"displayName":"New group"}`, 201},
		{"PATCH", "/api/v1/groups/{group}", `{"description":"d"}`, 200},
		{"POST", "/api/v1/groups/{group}/members", `{"id":"{bob}"}`, 204},
		{"DELETE", "/api/v1/groups/{group}/members/{bob}", "", 204},
		{"DELETE", "/api/v1/users/{bob}", "", 204},
		{"DELETE", "/api/v1/groups/{group}", "", 204},
	}
	roles := []struct {
		token      string
		read, edit bool
	}{
		{"", false, false},
		{storage.RoleReader, true, false},
		{storage.RoleAuthenticationAdmin, true, false},
		{storage.RoleGlobalAdmin, true, true},
	}
	for _, role := range roles {
		name := role.token
		if name == "" {
			name = "no_token"
		}
		t.Run(name, func(t *testing.T) {
			check := func(c call, allowed bool) {
				t.Helper()
				var body any
				if c.body != "" {
					body = ids.Replace(c.body)
				}
				r := e.do(req{Method: c.method, Path: ids.Replace(c.path), Token: role.token, Body: body})
				want := c.ok
				switch {
				case role.token == "":
					want = http.StatusUnauthorized
				case !allowed:
					want = http.StatusForbidden
				}
				if r.Status != want {
					t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, r.Status, want, r.Body)
				}
			}
			for _, c := range reads {
				check(c, role.read)
			}
			before := e.snapshot()
			for _, c := range writes {
				check(c, role.edit)
			}
			if !role.edit {
				e.wantUnchanged(before)
			}
		})
	}
}

// TestSessionCookiePrincipal: a signed-in user is a principal of kind user;
// without an admin role the admin API answers 403; a disabled user's session
// stops working at once.
func TestSessionCookiePrincipal(t *testing.T) {
	t.Parallel()
	var mgr *session.Manager
	e := newEnv(t, func(d *server.Deps) {
		mgr = &session.Manager{Store: d.Store, Now: d.Now}
		d.Sessions = mgr
	})
	e.server.Handle("GET /test/whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := server.PrincipalFrom(r.Context())
		if !ok {
			server.WriteJSON(w, http.StatusOK, map[string]any{"anonymous": true})
			return
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"kind": p.Kind, "name": p.Name, "userId": p.UserID, "session": p.Session != nil})
	}))
	alice := e.createUser("alice@example.com", "Alice")

	w := httptest.NewRecorder()
	if _, err := mgr.Create(context.Background(), w, session.NewClient("192.0.2.1", "test-agent"), alice.ID, []string{"hwk"}, true); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]

	var who map[string]any
	r := e.do(req{Method: "GET", Path: "/test/whoami", Cookie: cookie})
	r.wantStatus(t, http.StatusOK)
	r.decode(t, &who)
	if who["kind"] != "user" || who["name"] != "alice@example.com" || who["userId"] != alice.ID || who["session"] != true {
		t.Fatalf("whoami = %v", who)
	}

	e.do(req{Method: "GET", Path: "/api/v1/users", Cookie: cookie}).
		wantError(t, http.StatusForbidden, "forbidden", `user "alice@example.com" has no admin role`)

	// A stale cookie is ignored rather than refused.
	r = e.do(req{Method: "GET", Path: "/test/whoami", Cookie: &http.Cookie{Name: "keyward_session", Value: "kws_stale"}})
	r.wantStatus(t, http.StatusOK)

	e.admin("PATCH", "/api/v1/users/"+alice.ID, map[string]any{"accountEnabled": false}).wantStatus(t, http.StatusOK)
	who = nil
	r = e.do(req{Method: "GET", Path: "/test/whoami", Cookie: cookie})
	r.decode(t, &who)
	if who["anonymous"] != true {
		t.Fatalf("a disabled user's session must not authenticate: %v", who)
	}
}

func TestTokenPrincipalIsTheAuditActor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createUser("alice@example.com", "Alice")
	audit, err := e.store.ListAudit(context.Background(), storage.EventFilter{})
	if err != nil || len(audit) != 1 || audit[0].Actor != "token:global-admin" || !audit[0].Time.Equal(testNow) {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}

// TestRouteBehaviourIsDeclaredAtRegistration: a route registered with Handle
// refuses a browser's change without the session's CSRF token, one
// registered with HandleSignIn takes it, and one registered with
// HandlePublic does not even look at the Authorization header.
func TestRouteBehaviourIsDeclaredAtRegistration(t *testing.T) {
	t.Parallel()
	var mgr *session.Manager
	e := newEnv(t, func(d *server.Deps) {
		mgr = &session.Manager{Store: d.Store, Now: d.Now}
		d.Sessions = mgr
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	e.server.Handle("POST /test/change", ok)
	e.server.HandleSignIn("POST /test/signin", ok)
	e.server.HandlePublic("POST /test/public", ok)
	alice := e.createUser("alice@example.com", "Alice")
	w := httptest.NewRecorder()
	sess, err := mgr.Create(context.Background(), w, session.NewClient("192.0.2.1", "test-agent"), alice.ID, []string{"pwd"}, false)
	if err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]

	e.do(req{Method: "POST", Path: "/test/change", Cookie: cookie}).
		wantError(t, http.StatusForbidden, "csrfTokenInvalid", session.CSRFHeader)
	r := e.do(req{Method: "POST", Path: "/test/change", Cookie: cookie, Header: http.Header{session.CSRFHeader: {session.CSRFToken(sess.ID)}}})
	r.wantStatus(t, http.StatusNoContent)
	e.do(req{Method: "POST", Path: "/test/signin", Cookie: cookie}).wantStatus(t, http.StatusNoContent)
	e.do(req{Method: "POST", Path: "/test/signin", Token: "Bearer kw_forged"}).
		wantError(t, http.StatusUnauthorized, "unauthenticated", "not valid")
	e.do(req{Method: "POST", Path: "/test/public", Token: "Bearer kw_forged"}).wantStatus(t, http.StatusNoContent)
}
