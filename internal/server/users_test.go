package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/storage"
)

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// POST → 201 with Location and the Graph-shaped body.
	r := e.admin("POST", "/api/v1/users", map[string]any{
		"userPrincipalName": " Alice@Example.com ", "displayName": "Alice Smith", "isEmergencyAccess": true})
	r.wantStatus(t, http.StatusCreated)
	var u userJSON
	r.decode(t, &u)
	if u.ID == "" || u.UserPrincipalName != "Alice@Example.com" || u.DisplayName != "Alice Smith" ||
		!u.AccountEnabled || !u.IsEmergencyAccess || u.CreatedDateTime != "2026-03-01T09:00:00Z" {
		t.Fatalf("created user = %+v", u)
	}
	if loc := r.Header.Get("Location"); loc != e.http.URL+"/api/v1/users/"+u.ID {
		t.Errorf("Location = %q", loc)
	}

	// GET by ID, by UPN in any case, and by an uppercase ID.
	for _, key := range []string{u.ID, "alice@example.com", url.PathEscape("ALICE@EXAMPLE.COM"), strings.ToUpper(u.ID)} {
		var got userJSON
		r = e.do(req{Method: "GET", Path: "/api/v1/users/" + key, Token: storage.RoleReader})
		r.wantStatus(t, http.StatusOK)
		r.decode(t, &got)
		if got != u {
			t.Errorf("GET %s = %+v, want %+v", key, got, u)
		}
	}

	// PATCH changes only what is sent.
	r = e.admin("PATCH", "/api/v1/users/alice@example.com", map[string]any{"accountEnabled": false, "displayName": " Alice S. "})
	r.wantStatus(t, http.StatusOK)
	var patched userJSON
	r.decode(t, &patched)
	if patched.AccountEnabled || patched.DisplayName != "Alice S." || patched.UserPrincipalName != u.UserPrincipalName || !patched.IsEmergencyAccess {
		t.Fatalf("patched = %+v", patched)
	}

	// DELETE → 204, then 404.
	e.admin("DELETE", "/api/v1/users/"+u.ID, nil).wantStatus(t, http.StatusNoContent)
	e.admin("GET", "/api/v1/users/"+u.ID, nil).wantError(t, http.StatusNotFound, "notFound", u.ID)

	// Each change left an audit record naming the token.
	audit, err := e.store.ListAudit(context.Background(), storage.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if a.Actor != "token:global-admin" || a.Target != "user:"+u.ID {
			t.Errorf("audit event %+v has wrong actor or target", a)
		}
		actions = append(actions, a.Action)
	}
	if got := strings.Join(actions, ","); got != "user.delete,user.update,user.create" {
		t.Errorf("audit actions (newest first) = %s", got)
	}
}

func TestUserListPagesWithNextLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := []string{"a1@example.com", "a2@example.com", "a3@example.com", "b1@example.com", "b2@example.com"}
	for i := len(want) - 1; i >= 0; i-- { // created out of order: the list sorts
		e.createUser(want[i], "User "+want[i])
	}
	var got []string
	next := "/api/v1/users?$top=2"
	pages := 0
	for next != "" {
		r := e.do(req{Method: "GET", Path: next, Token: storage.RoleReader})
		r.wantStatus(t, http.StatusOK)
		var page listJSON[userJSON]
		r.decode(t, &page)
		for _, u := range page.Value {
			got = append(got, u.UserPrincipalName)
		}
		if page.NextLink != "" && !strings.HasPrefix(page.NextLink, e.http.URL+"/api/v1/users?$top=2&$skiptoken=") {
			t.Fatalf("nextLink %q is not an absolute link that keeps $top", page.NextLink)
		}
		next = page.NextLink
		if pages++; pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages: %v, want 3 pages: %v", pages, got, want)
	}
}

func TestUserListFilterAndPublicURLInNextLink(t *testing.T) {
	t.Parallel()
	public, _ := url.Parse("https://id.example.org/")
	e := newEnv(t, func(d *server.Deps) { d.PublicURL = public })
	for _, upn := range []string{"alice@example.com", "albert@example.com", "alfred@example.com", "bob@example.com"} {
		e.createUser(upn, upn)
	}
	path := "/api/v1/users?$filter=" + url.QueryEscape("startswith(userPrincipalName,'AL')") + "&$top=2"
	r := e.do(req{Method: "GET", Path: path, Token: storage.RoleReader})
	r.wantStatus(t, http.StatusOK)
	var page listJSON[userJSON]
	r.decode(t, &page)
	if len(page.Value) != 2 || page.Value[0].UserPrincipalName != "albert@example.com" || page.Value[1].UserPrincipalName != "alfred@example.com" {
		t.Fatalf("page 1 = %+v", page.Value)
	}
	if !strings.HasPrefix(page.NextLink, "https://id.example.org/api/v1/users?$top=2&$filter=") {
		t.Fatalf("nextLink %q must use the public URL and keep the filter", page.NextLink)
	}
	// Follow it on the test server: same path and query.
	nl, _ := url.Parse(page.NextLink)
	r = e.do(req{Method: "GET", Path: nl.RequestURI(), Token: storage.RoleReader})
	r.wantStatus(t, http.StatusOK)
	page = listJSON[userJSON]{}
	r.decode(t, &page)
	if len(page.Value) != 1 || page.Value[0].UserPrincipalName != "alice@example.com" || page.NextLink != "" {
		t.Fatalf("page 2 = %+v", page)
	}
	// Location also uses the public URL.
	r = e.admin("POST", "/api/v1/users", map[string]any{"userPrincipalName": "carol@example.com", "displayName": "Carol"})
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "https://id.example.org/api/v1/users/") {
		t.Errorf("Location = %q", loc)
	}
}

// A startswith on the display name pages through the users of that name in
// name order (then UPN), case-insensitively, non-ASCII letters included.
func TestUserListFilterOnDisplayNamePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for upn, name := range map[string]string{"z@example.com": "Ada Lovelace", "a@example.com": "ada lovelace",
		"m@example.com": "Ada Byron", "e@example.com": "Émile Zola", "x@example.com": "Bob Ada"} {
		e.createUser(upn, name)
	}
	list := func(filter string) []string {
		t.Helper()
		var got []string
		path := "/api/v1/users?$top=2&$filter=" + url.QueryEscape(filter)
		for pages := 0; path != ""; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			r := e.do(req{Method: "GET", Path: path, Token: storage.RoleReader})
			r.wantStatus(t, http.StatusOK)
			var page listJSON[userJSON]
			r.decode(t, &page)
			for _, u := range page.Value {
				got = append(got, u.UserPrincipalName)
			}
			path = ""
			if page.NextLink != "" {
				nl, _ := url.Parse(page.NextLink)
				path = nl.RequestURI()
			}
		}
		return got
	}
	if got := strings.Join(list("startswith(displayName,'ADA ')"), ","); got != "m@example.com,a@example.com,z@example.com" {
		t.Errorf("startswith(displayName,'ADA ') = %s, want Ada Byron, then the two Ada Lovelaces by UPN", got)
	}
	if got := strings.Join(list("startswith(displayName,'émile')"), ","); got != "e@example.com" {
		t.Errorf("startswith(displayName,'émile') = %s", got)
	}
	if got := strings.Join(list("startswith(userPrincipalName,'A')"), ","); got != "a@example.com" {
		t.Errorf("startswith(userPrincipalName,'A') = %s", got)
	}
}

func TestEmptyListIsAnEmptyArray(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{Method: "GET", Path: "/api/v1/users", Token: storage.RoleReader})
	r.wantStatus(t, http.StatusOK)
	if strings.TrimSpace(string(r.Body)) != `{"value":[]}` {
		t.Fatalf("body = %s", r.Body)
	}
}
