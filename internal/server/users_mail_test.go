package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

// TestUserMail: Graph's mail property is set on POST, changed and removed
// by PATCH, shown as null when unset, and a bad address changes nothing.
func TestUserMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var u map[string]any
	r := e.admin("POST", "/api/v1/users", map[string]any{"userPrincipalName": "ann@example.com", "displayName": "Ann",
		"mail": " Ann.Lee@mail.example.com "})
	r.wantStatus(t, http.StatusCreated)
	r.decode(t, &u)
	if u["mail"] != "Ann.Lee@mail.example.com" {
		t.Fatalf("created %v", u)
	}
	for _, bad := range []struct{ mail, want string }{
		{"Ann <ann@example.com>", "a space"},
		{"ann", "not an e-mail address"},
		{strings.Repeat("a", 250) + "@x.io", "at most 254"},
		{"ann@example.com\r\nBcc: eve@example.com", "control"},
	} {
		before := e.snapshot()
		e.admin("PATCH", "/api/v1/users/ann@example.com", map[string]any{"mail": bad.mail, "displayName": "Changed"}).
			wantError(t, http.StatusBadRequest, "invalidRequest", bad.want)
		e.wantUnchanged(before)
	}
	e.admin("POST", "/api/v1/users", map[string]any{"userPrincipalName": "x@example.com", "displayName": "X", "mail": "x"}).
		wantError(t, http.StatusBadRequest, "invalidRequest", "mail")

	r = e.admin("PATCH", "/api/v1/users/ann@example.com", map[string]any{"mail": "ann@example.org"})
	r.wantStatus(t, http.StatusOK)
	r.decode(t, &u)
	if u["mail"] != "ann@example.org" {
		t.Fatalf("patched %v", u)
	}
	r = e.admin("PATCH", "/api/v1/users/ann@example.com", map[string]any{"mail": ""})
	r.wantStatus(t, http.StatusOK)
	u = nil
	r.decode(t, &u)
	if v, ok := u["mail"]; !ok || v != nil {
		t.Fatalf("after removing the address mail is %v (present %v), want null", v, ok)
	}
}

// TestUserSelect: $select returns only the named properties (any case), on
// one user and on lists, keeps them in nextLink, and names the properties
// when it is given one that does not exist.
func TestUserSelect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, upn := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		e.admin("POST", "/api/v1/users", map[string]any{"userPrincipalName": upn, "displayName": upn, "mail": "m." + upn}).
			wantStatus(t, http.StatusCreated)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	r := e.do(req{Method: "GET", Path: "/api/v1/users/a@example.com?$select=" + url.QueryEscape("MAIL, id"), Token: storage.RoleReader})
	r.wantStatus(t, http.StatusOK)
	var one map[string]json.RawMessage
	r.decode(t, &one)
	if !slices.Equal(keys(one), []string{"id", "mail"}) || string(one["mail"]) != `"m.a@example.com"` {
		t.Fatalf("GET with $select: %s", r.Body)
	}

	var page struct {
		Value    []map[string]json.RawMessage `json:"value"`
		NextLink string                       `json:"@odata.nextLink"`
	}
	r = e.do(req{Method: "GET", Path: "/api/v1/users?$top=2&$select=userPrincipalName,mail", Token: storage.RoleReader})
	r.wantStatus(t, http.StatusOK)
	r.decode(t, &page)
	if len(page.Value) != 2 || !slices.Equal(keys(page.Value[0]), []string{"mail", "userPrincipalName"}) ||
		!strings.Contains(page.NextLink, "$select=userPrincipalName%2Cmail") {
		t.Fatalf("list with $select: %s", r.Body)
	}
	next, _ := url.Parse(page.NextLink)
	r = e.do(req{Method: "GET", Path: next.RequestURI(), Token: storage.RoleReader})
	r.wantStatus(t, http.StatusOK)
	page.Value = nil
	r.decode(t, &page)
	if len(page.Value) != 1 || !slices.Equal(keys(page.Value[0]), []string{"mail", "userPrincipalName"}) {
		t.Fatalf("second page lost $select: %s", r.Body)
	}

	for _, path := range []string{"/api/v1/users?$select=passwordHash", "/api/v1/users/a@example.com?$select=id,,mail",
		"/api/v1/users/a@example.com?$select=id&$select=mail", "/api/v1/users/a@example.com?$expand=memberOf"} {
		r = e.do(req{Method: "GET", Path: path, Token: storage.RoleReader})
		if r.Status != http.StatusBadRequest {
			t.Errorf("GET %s = %d %s, want 400", path, r.Status, r.Body)
		}
	}
	e.do(req{Method: "GET", Path: "/api/v1/users?$select=password", Token: storage.RoleReader}).
		wantError(t, http.StatusBadRequest, "invalidRequest", "userPrincipalName, displayName")
}
