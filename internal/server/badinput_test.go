package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

// TestBadInputIsRefusedAndChangesNothing walks issue 2's "Bad input" list:
// every case gets a 4xx JSON error naming the problem and leaves the store
// exactly as it was.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.createUser("alice@example.com", "Alice")
	bob := e.createUser("bob@example.com", "Bob")
	group := e.createGroup("Key users")
	e.createGroup("Admins")
	e.admin("POST", "/api/v1/groups/"+group.ID+"/members", map[string]any{"id": alice.ID}).wantStatus(t, http.StatusNoContent)
	const unknownID = "0190f3c4-0000-7000-8000-000000000000"
	ids := strings.NewReplacer("{alice}", alice.ID, "{bob}", bob.ID, "{group}", group.ID, "{unknown}", unknownID)

	admin := storage.RoleGlobalAdmin
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name         string
		method, path string
		token        string
		body         any
		contentType  string
		status       int
		code, msg    string
	}{
		// Malformed JSON.
		{"truncated_json", "POST", "/api/v1/users", admin, `{"userPrincipalName": "x@example.com"`, "", 400, "invalidRequest", "ends in the middle"},
		{"syntax_error", "POST", "/api/v1/users", admin, `{"userPrincipalName" "x@example.com"}`, "", 400, "invalidRequest", "not valid JSON"},
		{"two_json_values", "POST", "/api/v1/users", admin, `{"userPrincipalName":"x@example.com","displayName":"X"} {}`, "", 400, "invalidRequest", "single JSON value"},
		{"trailing_brace", "POST", "/api/v1/users", admin, `{"userPrincipalName":"x@example.com","displayName":"X"}}`, "", 400, "invalidRequest", "single JSON value"},
		{"empty_body", "POST", "/api/v1/users", admin, ``, "application/json", 400, "invalidRequest", "body is empty"},
		{"body_is_array", "POST", "/api/v1/users", admin, `[]`, "", 400, "invalidRequest", "must be a JSON object"},
		{"not_json_content_type", "POST", "/api/v1/users", admin, `userPrincipalName=x`, "application/x-www-form-urlencoded", 415, "unsupportedMediaType", "Content-Type must be application/json"},
		// Unknown fields.
		{"unknown_field", "POST", "/api/v1/users", admin, `{"userPrincipalName":"x@example.com","displayName":"X","mailNickname":"x"}`, "", 400, "invalidRequest", `unknown field "mailNickname"`},
		{"read_only_field_on_patch", "PATCH", "/api/v1/users/{alice}", admin, `{"id":"x"}`, "", 400, "invalidRequest", `unknown field "id"; allowed fields: userPrincipalName, displayName`},
		{"unknown_group_field", "POST", "/api/v1/groups", admin, `{"displayName":"G","securityEnabled":true}`, "", 400, "invalidRequest", `unknown field "securityEnabled"`},
		// Wrong types.
		{"bool_as_string", "POST", "/api/v1/users", admin, `{"userPrincipalName":"x@example.com","displayName":"X","accountEnabled":"yes"}`, "", 400, "invalidRequest", "field accountEnabled must be a boolean, not a string"},
		{"string_as_number", "PATCH", "/api/v1/users/{alice}", admin, `{"displayName":5}`, "", 400, "invalidRequest", "field displayName must be a string"},
		{"group_name_as_object", "POST", "/api/v1/groups", admin, `{"displayName":{}}`, "", 400, "invalidRequest", "field displayName must be a string, not an object"},
		// Missing and invalid values.
		{"missing_upn", "POST", "/api/v1/users", admin, `{"displayName":"X"}`, "", 400, "invalidRequest", "userPrincipalName is required"},
		{"missing_display_name", "POST", "/api/v1/users", admin, `{"userPrincipalName":"x@example.com"}`, "", 400, "invalidRequest", "displayName is required"},
		{"upn_without_at", "POST", "/api/v1/users", admin, `{"userPrincipalName":"alice","displayName":"X"}`, "", 400, "invalidRequest", "userPrincipalName \"alice\" must contain exactly one @"},
		{"upn_with_space", "PATCH", "/api/v1/users/{alice}", admin, `{"userPrincipalName":"al ice@example.com"}`, "", 400, "invalidRequest", "a space"},
		{"blank_display_name", "PATCH", "/api/v1/users/{alice}", admin, `{"displayName":"   "}`, "", 400, "invalidRequest", "displayName must not be empty"},
		{"nothing_to_change", "PATCH", "/api/v1/users/{alice}", admin, `{}`, "", 400, "invalidRequest", "nothing to change"},
		{"missing_group_name", "POST", "/api/v1/groups", admin, `{"description":"d"}`, "", 400, "invalidRequest", "displayName is required"},
		// Over-long strings.
		{"long_display_name", "POST", "/api/v1/users", admin, `{"userPrincipalName":"x@example.com","displayName":"` + long(257) + `"}`, "", 400, "invalidRequest", "displayName is 257 characters long; it must be at most 256"},
		{"long_upn", "POST", "/api/v1/users", admin, `{"userPrincipalName":"` + long(300) + `@example.com","displayName":"X"}`, "", 400, "invalidRequest", "at most 256"},
		{"long_description", "PATCH", "/api/v1/groups/{group}", admin, `{"description":"` + long(1025) + `"}`, "", 400, "invalidRequest", "description is 1025 characters long"},
		// Duplicates.
		{"duplicate_upn_other_case", "POST", "/api/v1/users", admin, `{"userPrincipalName":"ALICE@example.com","displayName":"Alice 2"}`, "", 409, "conflict", `a user with userPrincipalName "ALICE@example.com" already exists`},
		{"rename_to_taken_upn", "PATCH", "/api/v1/users/{bob}", admin, `{"userPrincipalName":"alice@example.com"}`, "", 409, "conflict", "already exists"},
		{"duplicate_group_name", "POST", "/api/v1/groups", admin, `{"displayName":"key USERS"}`, "", 409, "conflict", `a group with displayName "key USERS" already exists`},
		{"rename_to_taken_group", "PATCH", "/api/v1/groups/{group}", admin, `{"displayName":"admins"}`, "", 409, "conflict", "already exists"},
		{"member_twice", "POST", "/api/v1/groups/{group}/members", admin, `{"id":"{alice}"}`, "", 409, "conflict", "already a member"},
		// Unknown IDs.
		{"unknown_user_id", "GET", "/api/v1/users/{unknown}", admin, nil, "", 404, "notFound", "no user with id"},
		{"unknown_upn", "GET", "/api/v1/users/nobody@example.com", admin, nil, "", 404, "notFound", `no user with userPrincipalName "nobody@example.com"`},
		{"neither_uuid_nor_upn", "GET", "/api/v1/users/robert');DROP%20TABLE%20users", admin, nil, "", 404, "notFound", "no user"},
		{"patch_unknown_user", "PATCH", "/api/v1/users/{unknown}", admin, `{"displayName":"X"}`, "", 404, "notFound", "no user"},
		{"delete_unknown_user", "DELETE", "/api/v1/users/{unknown}", admin, nil, "", 404, "notFound", "no user"},
		{"group_id_not_uuid", "GET", "/api/v1/groups/keys", admin, nil, "", 404, "notFound", `no group with id "keys"`},
		{"delete_unknown_group", "DELETE", "/api/v1/groups/{unknown}", admin, nil, "", 404, "notFound", "no group"},
		{"members_of_unknown_group", "GET", "/api/v1/groups/{unknown}/members", admin, nil, "", 404, "notFound", "no group"},
		{"add_unknown_user", "POST", "/api/v1/groups/{group}/members", admin, `{"id":"{unknown}"}`, "", 404, "notFound", "no user"},
		{"add_to_unknown_group", "POST", "/api/v1/groups/{unknown}/members", admin, `{"id":"{bob}"}`, "", 404, "notFound", "no group"},
		{"remove_non_member", "DELETE", "/api/v1/groups/{group}/members/{bob}", admin, nil, "", 404, "notFound", "is not a member"},
		// Member body forms.
		{"member_body_empty_object", "POST", "/api/v1/groups/{group}/members", admin, `{}`, "", 400, "invalidRequest", "must name the user"},
		{"member_both_forms", "POST", "/api/v1/groups/{group}/members", admin, `{"id":"{bob}","@odata.id":"https://x/users/{bob}"}`, "", 400, "invalidRequest", "not both"},
		{"member_bad_odata_id", "POST", "/api/v1/groups/{group}/members", admin, `{"@odata.id":"https://x/groups/{bob}"}`, "", 400, "invalidRequest", "must be a URL ending in /users/<userId>"},
		// Authentication and roles.
		{"missing_token", "GET", "/api/v1/users", "", nil, "", 401, "unauthenticated", "needs an API token"},
		{"unknown_token", "GET", "/api/v1/users", "Bearer kw_notarealtoken", nil, "", 401, "unauthenticated", "API token is not valid"},
		{"revoked_token", "POST", "/api/v1/users", "revoked", `{"userPrincipalName":"x@example.com","displayName":"X"}`, "", 401, "unauthenticated", `"old-automation" was revoked`},
		{"basic_auth", "GET", "/api/v1/users", "Basic YWxpY2U6cHc=", nil, "", 401, "unauthenticated", `must be "Bearer <token>"`},
		{"reader_cannot_create", "POST", "/api/v1/users", storage.RoleReader, `{"userPrincipalName":"x@example.com","displayName":"X"}`, "", 403, "forbidden", `needs the role global-admin; token "reader" has the role reader`},
		{"auth_admin_cannot_patch_user", "PATCH", "/api/v1/users/{alice}", storage.RoleAuthenticationAdmin, `{"accountEnabled":false}`, "", 403, "forbidden", "needs the role global-admin"},
		{"reader_cannot_add_member", "POST", "/api/v1/groups/{group}/members", storage.RoleReader, `{"id":"{bob}"}`, "", 403, "forbidden", "global-admin"},
		// Oversized body: 1 MiB default limit.
		{"oversized_body", "POST", "/api/v1/users", admin, `{"userPrincipalName":"x@example.com","displayName":"` + long(1<<20) + `"}`, "", 413, "requestTooLarge", "request body must not exceed 1 MiB"},
		// Query strings.
		{"top_zero", "GET", "/api/v1/users?$top=0", admin, nil, "", 400, "invalidRequest", "$top must be a whole number from 1 to 999"},
		{"top_too_big", "GET", "/api/v1/users?$top=1000", admin, nil, "", 400, "invalidRequest", "$top must be"},
		{"top_not_number", "GET", "/api/v1/groups?$top=ten", admin, nil, "", 400, "invalidRequest", `got "ten"`},
		{"filter_other_field", "GET", "/api/v1/users?$filter=startswith(mail,'a')", admin, nil, "", 400, "invalidRequest", "startswith(userPrincipalName,'prefix') and startswith(displayName,'prefix')"},
		{"name_cursor_crafted", "GET", "/api/v1/users?$filter=startswith(displayName,'a')&$skiptoken=ISEh", admin, nil, "", 400, "invalidRequest", "cursor is not valid"},
		{"filter_eq", "GET", "/api/v1/groups?$filter=displayName%20eq%20'a'", admin, nil, "", 400, "invalidRequest", "startswith(displayName,'prefix')"},
		{"bad_skiptoken", "GET", "/api/v1/users?$skiptoken=!!!", admin, nil, "", 400, "invalidRequest", "$skiptoken is not valid"},
		{"crafted_skiptoken", "GET", "/api/v1/users?$skiptoken=ISEh", admin, nil, "", 400, "invalidRequest", "cursor is not valid"},
		{"unknown_parameter", "GET", "/api/v1/users?top=5", admin, nil, "", 400, "invalidRequest", `query parameter "top" is not supported`},
		{"repeated_parameter", "GET", "/api/v1/users?$top=1&$top=2", admin, nil, "", 400, "invalidRequest", "given 2 times"},
		// Routing.
		{"unknown_route", "GET", "/api/v1/nothing", admin, nil, "", 404, "notFound", `no endpoint GET "/api/v1/nothing"`},
		{"wrong_method", "PUT", "/api/v1/users", admin, `{}`, "", 405, "methodNotAllowed", "method PUT is not allowed on \"/api/v1/users\"; allowed: GET, HEAD, POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			body := tc.body
			if s, ok := body.(string); ok {
				body = ids.Replace(s)
			}
			r := e.do(req{Method: tc.method, Path: ids.Replace(tc.path), Token: tc.token, Body: body, ContentType: tc.contentType})
			r.wantError(t, tc.status, tc.code, tc.msg)
			e.wantUnchanged(before)
		})
	}
}

func TestErrorResponsesCarryAuthHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{Method: "GET", Path: "/api/v1/users"})
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("401 without WWW-Authenticate: %q", got)
	}
	r = e.do(req{Method: "DELETE", Path: "/api/v1/groups"})
	r.wantStatus(t, http.StatusMethodNotAllowed)
	if got := r.Header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Errorf("Allow = %q", got)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}
