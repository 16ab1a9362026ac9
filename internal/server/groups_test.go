package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

func TestGroupLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.admin("POST", "/api/v1/groups", map[string]any{"displayName": " Key users ", "description": "may use passkeys"})
	r.wantStatus(t, http.StatusCreated)
	var g groupJSON
	r.decode(t, &g)
	if g.ID == "" || g.DisplayName != "Key users" || g.Description != "may use passkeys" || g.CreatedDateTime != "2026-03-01T09:00:00Z" {
		t.Fatalf("created group = %+v", g)
	}
	if loc := r.Header.Get("Location"); loc != e.http.URL+"/api/v1/groups/"+g.ID {
		t.Errorf("Location = %q", loc)
	}

	var got groupJSON
	r = e.do(req{Method: "GET", Path: "/api/v1/groups/" + g.ID, Token: storage.RoleAuthenticationAdmin})
	r.wantStatus(t, http.StatusOK)
	r.decode(t, &got)
	if got != g {
		t.Errorf("GET = %+v, want %+v", got, g)
	}

	r = e.admin("PATCH", "/api/v1/groups/"+g.ID, map[string]any{"description": ""})
	r.wantStatus(t, http.StatusOK)
	r.decode(t, &got)
	if got.Description != "" || got.DisplayName != "Key users" {
		t.Errorf("PATCH = %+v", got)
	}

	e.admin("DELETE", "/api/v1/groups/"+g.ID, nil).wantStatus(t, http.StatusNoContent)
	e.admin("GET", "/api/v1/groups/"+g.ID, nil).wantError(t, http.StatusNotFound, "notFound", g.ID)

	audit, err := e.store.ListAudit(context.Background(), storage.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 3 || audit[0].Action != "group.delete" || audit[2].Action != "group.create" || audit[2].Target != "group:"+g.ID {
		t.Errorf("audit = %+v", audit)
	}
}

func TestGroupListFilterAndPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"Keys EU", "keys US", "Keys APAC", "Admins"} {
		e.createGroup(name)
	}
	path := "/api/v1/groups?$top=2&$filter=" + url.QueryEscape("startswith(displayName,'keys')")
	var names []string
	for path != "" {
		r := e.do(req{Method: "GET", Path: path, Token: storage.RoleReader})
		r.wantStatus(t, http.StatusOK)
		var page listJSON[groupJSON]
		r.decode(t, &page)
		for _, g := range page.Value {
			names = append(names, g.DisplayName)
		}
		path = page.NextLink
	}
	if strings.Join(names, ",") != "Keys APAC,Keys EU,keys US" {
		t.Fatalf("filtered groups = %v", names)
	}
}

func TestMembership(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.createGroup("Key users")
	alice := e.createUser("alice@example.com", "Alice")
	bob := e.createUser("bob@example.com", "Bob")
	carol := e.createUser("carol@example.com", "Carol")
	members := "/api/v1/groups/" + g.ID + "/members"

	// The three accepted body forms.
	e.admin("POST", members, map[string]any{"id": alice.ID}).wantStatus(t, http.StatusNoContent)
	e.admin("POST", members, map[string]any{"@odata.id": e.http.URL + "/api/v1/users/" + bob.ID}).wantStatus(t, http.StatusNoContent)
	e.admin("POST", members+"/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + carol.ID}).
		wantStatus(t, http.StatusNoContent)

	list := func() []string {
		r := e.do(req{Method: "GET", Path: members + "?$top=2", Token: storage.RoleReader})
		r.wantStatus(t, http.StatusOK)
		var page listJSON[userJSON]
		r.decode(t, &page)
		var upns []string
		for _, u := range page.Value {
			upns = append(upns, u.UserPrincipalName)
		}
		if page.NextLink != "" {
			r = e.do(req{Method: "GET", Path: page.NextLink, Token: storage.RoleReader})
			r.wantStatus(t, http.StatusOK)
			page = listJSON[userJSON]{}
			r.decode(t, &page)
			for _, u := range page.Value {
				upns = append(upns, u.UserPrincipalName)
			}
		}
		return upns
	}
	if got := strings.Join(list(), ","); got != "alice@example.com,bob@example.com,carol@example.com" {
		t.Fatalf("members = %s", got)
	}

	e.admin("DELETE", members+"/"+bob.ID, nil).wantStatus(t, http.StatusNoContent)
	e.admin("DELETE", members+"/"+carol.ID+"/$ref", nil).wantStatus(t, http.StatusNoContent)
	if got := strings.Join(list(), ","); got != "alice@example.com" {
		t.Fatalf("members after removal = %s", got)
	}

	audit, err := e.store.ListAudit(context.Background(), storage.EventFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || audit[0].Action != "group.member.remove" || audit[0].Target != "group:"+g.ID ||
		!strings.Contains(string(audit[0].Details), carol.ID) {
		t.Errorf("latest audit = %+v", audit)
	}

	// Deleting a user removes the membership too.
	e.admin("DELETE", "/api/v1/users/"+alice.ID, nil).wantStatus(t, http.StatusNoContent)
	if got := list(); len(got) != 0 {
		t.Fatalf("members after user deletion = %v", got)
	}
}
