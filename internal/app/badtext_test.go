package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// badText are text inputs no field may take, with what the refusal says.
var badText = []struct {
	name, escaped, want string // escaped: as in a URL (path or query)
	json                string // as a JSON string literal
}{
	{"nul", "a%00b", "control character U+0000", `"a\u0000b"`},
	{"escape", "a%1Bb", "control character U+001B", `"a\u001bb"`},
	{"invalid_utf8", "a%FFb", "not valid UTF-8", "\"a\xffb\""},
	{"lone_surrogate", "", "not valid UTF-8", `"a\ud800b"`},
	{"c1_control", "a%C2%85b", "control character U+0085", `"a\u0085b"`},
}

// TestBadTextIsRefusedOnEveryRoute walks every registered route and sends it
// bad text in each place text arrives — each path parameter, a query
// parameter, the User-Agent and (where the route reads one) a JSON body —
// and expects a 400 naming the place, with nothing changed, on both backends.
func TestBadTextIsRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		group := w.group("Key users", alice)
		creds, err := w.store.ListUserCredentials(context.Background(), alice)
		if err != nil || len(creds) != 1 {
			t.Fatalf("credentials %v %v", creds, err)
		}
		sess := w.session(alice, true)
		values := map[string]string{"id": alice, "userId": alice, "methodId": creds[0].ID,
			"tapId": creds[0].ID, "path": "js/app.js", "rest": "x", "name": "signInsByMethod"}
		routes := w.apps[0].Server.Routes()
		if len(routes) < 40 {
			t.Fatalf("only %d routes registered: %v", len(routes), routes)
		}
		before := w.state()
		bodyRoutes := map[string]bool{}

		send := func(method, path string, c cred, body, userAgent string) reply {
			t.Helper()
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, err := http.NewRequest(method, w.nodes[0].URL+path, rd)
			if err != nil {
				t.Fatal(err)
			}
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if userAgent != "" {
				req.Header.Set("User-Agent", userAgent)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "keyward_session", Value: c.cookie})
				req.Header.Set(session.CSRFHeader, session.CSRFToken(secret.KeyedID(c.cookie)))
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return reply{status: res.StatusCode, body: b, header: res.Header}
		}
		refused := func(t *testing.T, r reply, where, want string) {
			t.Helper()
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 naming %s: %s", r.status, where, r.body)
			}
			code, msg := r.err(t)
			if code != "invalidRequest" || !strings.Contains(msg, where) || !strings.Contains(msg, want) {
				t.Fatalf("error %s %q, want one naming %s that says %q", code, msg, where, want)
			}
		}

		for _, route := range routes {
			method, pattern, _ := strings.Cut(route, " ")
			c := bearer(w.admin)
			switch {
			case strings.HasPrefix(pattern, "/api/v1/me"), pattern == "/api/v1/auth/signout", !strings.HasPrefix(pattern, "/api/"):
				c = cookie(sess)
			case strings.HasPrefix(pattern, "/api/v1/auth"), strings.HasPrefix(pattern, "/api/v1/setup"):
				c = cred{}
			}
			path := func(bad string, wildcard string) string {
				p := strings.TrimSuffix(pattern, "{$}")
				for name, v := range values {
					switch {
					case name == "id" && strings.HasPrefix(p, "/api/v1/groups/{id}"):
						v = group
					case name == "id" && strings.HasPrefix(p, "/api/v1/me/passkeys/{id}"):
						v = creds[0].ID
					}
					if name == wildcard {
						v = bad
					}
					p = strings.ReplaceAll(p, "{"+name+"}", v)
					p = strings.ReplaceAll(p, "{"+name+"...}", v)
				}
				return p
			}
			t.Run(strings.ReplaceAll(route, "/", "_"), func(t *testing.T) {
				for _, bad := range badText {
					if bad.escaped == "" {
						continue
					}
					for _, wc := range wildcards(pattern) {
						r := send(method, path(bad.escaped, wc), c, "", "")
						refused(t, r, "path parameter "+wc, bad.want)
					}
					r := send(method, path("", "")+"?$filter="+bad.escaped, c, "", "")
					refused(t, r, `query parameter "$filter"`, bad.want)
				}
				r := send(method, path("", ""), c, "", "Mozilla\xff")
				refused(t, r, "header User-Agent", "not valid UTF-8")

				if method != "POST" && method != "PATCH" && method != "PUT" {
					return // GET, HEAD and DELETE take no body
				}
				// Form bodies (the OAuth endpoints') are checked before any handler.
				for _, bad := range badText {
					if bad.escaped != "" {
						r := sendForm(method, w.nodes[0].URL+path("", ""), "client_id=x&display_name="+bad.escaped)
						refused(t, r, `form field "display_name"`, bad.want)
					}
				}
				// Does the route read a JSON body? Truncated JSON tells.
				if c.cookie != "" {
					c = cookie(w.session(alice, true)) // the probe may be a sign-out
				}
				probe := send(method, path("", ""), c, `{"displayName":`, "")
				if probe.status != http.StatusBadRequest || !strings.Contains(string(probe.body), "ends in the middle") {
					return
				}
				bodyRoutes[route] = true
				for _, bad := range badText {
					for _, doc := range []struct{ body, field string }{
						{`{"displayName":` + bad.json + `}`, "field displayName"},
						{`{"passwordProfile":{"password":` + bad.json + `}}`, "field passwordProfile.password"},
						{`{"includeTargets":[{"id":"x"},{"id":` + bad.json + `}]}`, "field includeTargets[1].id"},
					} {
						refused(t, send(method, path("", ""), c, doc.body, ""), doc.field, bad.want)
					}
				}
				for _, bidi := range []string{`\u202e`, `\u2066`, `\u200f`, "\u202d"} {
					body := fmt.Sprintf(`{"displayName":"evil%sexe.txt"}`, bidi)
					refused(t, send(method, path("", ""), c, body, ""), "field displayName", "reorders how text is displayed")
				}
			})
		}
		for _, route := range []string{"POST /api/v1/users", "PATCH /api/v1/groups/{id}", "POST /api/v1/auth/methods",
			"POST /api/v1/auth/password", "POST /api/v1/auth/tap", "POST /api/v1/auth/passkey/options", "POST /api/v1/auth/passkey",
			"POST /api/v1/setup", "PATCH /api/v1/me/passkeys/{id}", "PATCH " + policyPath} {
			if !bodyRoutes[route] {
				t.Errorf("%s was not recognised as reading a JSON body, so its body went unchecked (checked: %v)", route, bodyRoutes)
			}
		}
		if after := w.state(); after != before {
			t.Fatalf("bad input changed the store:\nbefore %s\nafter  %s", before, after)
		}
		// Bidirectional controls are refused in names only: a description may
		// hold them, and text with line breaks.
		w.mustStatus(w.do("PATCH", "/api/v1/groups/"+group, bearer(w.admin), `{"description":"line one\nline \u2067two\u2069"}`), http.StatusOK)
	})
}

// sendForm posts a form body without credentials.
func sendForm(method, url, form string) reply {
	req, err := http.NewRequest(method, url, strings.NewReader(form))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{status: -1, body: []byte(err.Error())}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, body: b, header: res.Header}
}

// wildcards lists the names of a pattern's {wildcards}.
func wildcards(pattern string) []string {
	var out []string
	for _, part := range strings.Split(pattern, "{")[1:] {
		name, _, _ := strings.Cut(part, "}")
		if name = strings.TrimSuffix(name, "..."); name != "$" {
			out = append(out, name)
		}
	}
	return out
}

// state summarises everything bad input could change.
func (w *world) state() string {
	w.t.Helper()
	ctx := context.Background()
	users, _, err := w.store.ListUsers(ctx, storage.Page{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	groups, _, err := w.store.ListGroups(ctx, storage.Page{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	audit, err := w.store.ListAudit(ctx, storage.EventFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	events, err := w.store.ListSignInEvents(ctx, storage.EventFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	versions, err := w.store.PolicyVersions(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	s := fmt.Sprintf("users %+v groups %+v audit %d sign-ins %d policy v%d", users, groups, len(audit), len(events), versions[policy.StorageName])
	for _, u := range users {
		creds, _ := w.store.ListUserCredentials(ctx, u.ID)
		taps, _ := w.store.ListUserTAPs(ctx, u.ID)
		s += fmt.Sprintf(" %s:%d creds %d taps", u.UserPrincipalName, len(creds), len(taps))
	}
	return s
}
