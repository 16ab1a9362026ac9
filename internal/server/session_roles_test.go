package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// TestSessionPrincipalsOfSignInFlows: a person's session carries their admin
// role, usable on the admin API from a multi-factor session only (by
// default); a session still owing its second factor authenticates nothing.
func TestSessionPrincipalsOfSignInFlows(t *testing.T) {
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
		server.WriteJSON(w, http.StatusOK, map[string]any{"name": p.Name, "role": p.Role})
	}))
	alice := e.createUser("alice@example.com", "Alice")
	e.admin("PATCH", "/api/v1/users/"+alice.ID, map[string]any{"adminRole": storage.RoleReader}).wantStatus(t, http.StatusOK)

	newCookie := func(pending, mfa bool) *http.Cookie {
		t.Helper()
		amr := []string{"pwd"}
		if mfa {
			amr = []string{"pwd", "otp", "mfa"}
		}
		sec, s := mgr.NewSession(alice.ID, session.Client{}, amr, mfa)
		s.SecondFactorPending = pending
		if err := e.store.CreateSession(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		return &http.Cookie{Name: mgr.Name(), Value: sec}
	}
	tests := []struct {
		name    string
		pending bool
		mfa     bool
		want    map[string]any
		users   int // status of GET /api/v1/users
	}{
		{"full_session_has_the_users_role", false, true, map[string]any{"name": "alice@example.com", "role": storage.RoleReader}, http.StatusOK},
		{"password_only_session_has_the_role_but_no_admin_api", false, false, map[string]any{"name": "alice@example.com", "role": storage.RoleReader}, http.StatusForbidden},
		{"pending_session_is_anonymous", true, false, map[string]any{"anonymous": true}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCookie(tc.pending, tc.mfa)
			var who map[string]any
			r := e.do(req{Method: "GET", Path: "/test/whoami", Cookie: c})
			r.wantStatus(t, http.StatusOK)
			r.decode(t, &who)
			if len(who) != len(tc.want) {
				t.Fatalf("whoami = %v, want %v", who, tc.want)
			}
			for k, v := range tc.want {
				if who[k] != v {
					t.Fatalf("whoami = %v, want %v", who, tc.want)
				}
			}
			e.do(req{Method: "GET", Path: "/api/v1/users", Cookie: c}).wantStatus(t, tc.users)
		})
	}
}
