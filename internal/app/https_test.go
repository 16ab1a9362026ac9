package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage/storagetest"
)

// Behind https, browsers are told to use nothing else (HSTS), and the session
// cookie is a __Host- cookie: Secure, Path=/, no Domain, so a sibling
// subdomain or a plain-http page cannot plant or overwrite it.
func TestHTTPSDeploymentsPinTransportAndCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		public, cookie string
		hsts           bool
	}{
		{"https://id.example.test", "__Host-keyward_session", true},
		{"http://localhost:8080", "keyward_session", false},
	} {
		t.Run(tc.public, func(t *testing.T) {
			u, _ := url.Parse(tc.public)
			w := newWorld(t, storagetest.NewSQLite(t), u)
			w.pwUser("alice@contoso.com", "correct horse battery")
			r := w.passwordSignIn("alice@contoso.com", "correct horse battery")
			w.mustStatus(r, http.StatusOK)
			for _, path := range []string{"/api/v1/auth/password", "/login", "/healthz", "/no/such/page"} {
				got := r.header.Get("Strict-Transport-Security")
				if path != "/api/v1/auth/password" {
					got = w.do("GET", path, cred{}, nil).header.Get("Strict-Transport-Security")
				}
				if tc.hsts && !strings.HasPrefix(got, "max-age=") || !tc.hsts && got != "" {
					t.Errorf("%s: Strict-Transport-Security = %q", path, got)
				}
			}
			cookies := (&http.Response{Header: r.header}).Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies = %v", r.header.Values("Set-Cookie"))
			}
			c := cookies[0]
			if c.Name != tc.cookie || c.Path != "/" || c.Domain != "" || c.Secure != tc.hsts || !c.HttpOnly {
				t.Fatalf("session cookie = %s, want %s with Path=/, no Domain, Secure=%v, HttpOnly", r.header.Get("Set-Cookie"), tc.cookie, tc.hsts)
			}
			// The cookie by that name is the session.
			req, _ := http.NewRequest("GET", w.nodes[0].URL+"/api/v1/me", nil)
			req.AddCookie(&http.Cookie{Name: tc.cookie, Value: c.Value})
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /api/v1/me with the %s cookie = %d", tc.cookie, res.StatusCode)
			}
		})
	}
}
