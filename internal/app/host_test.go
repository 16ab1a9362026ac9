package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// Opening Keyward in a browser at 127.0.0.1 when the public URL says
// localhost breaks passkeys without a word; such a page load gets a page
// that links to the same path at the public URL instead. Programs, probes
// and requests that name the right host are unaffected.
func TestPageLoadAtAnotherHostLinksToThePublicURL(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.NewSQLite(t))
	node := w.nodes[0].URL // http://127.0.0.1:PORT; the public URL is http://localhost:PORT
	if !strings.HasPrefix(node, "http://127.0.0.1:") || !strings.HasPrefix(w.origin(), "http://localhost:") {
		t.Fatalf("node %s, public URL %s: the test needs 127.0.0.1 and localhost", node, w.origin())
	}
	get := func(method, host, path string, header map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, node+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	wrong := strings.TrimPrefix(node, "http://")
	right := w.public.Host
	browser := map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

	t.Run("a_browser_at_127.0.0.1_gets_a_page_linking_to_localhost", func(t *testing.T) {
		resp, body := get(http.MethodGet, wrong, "/setup?token=kwsetup_abc&x=%3Cb%3E", browser)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		link := w.origin() + "/setup?token=kwsetup_abc&amp;x=%3Cb%3E"
		if !strings.Contains(body, `href="`+link+`"`) || !strings.Contains(body, "You opened this page at <strong>"+wrong+"</strong>") ||
			!strings.Contains(body, "Passkeys work only there") {
			t.Errorf("the page does not link to the public URL with the same path and query:\n%s", body)
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("headers %v", resp.Header)
		}
	})
	t.Run("without_sec_fetch_headers_an_html_accept_is_a_browser", func(t *testing.T) {
		resp, body := get(http.MethodGet, wrong, "/login", map[string]string{"Accept": "text/html"})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, w.origin()+"/login") {
			t.Errorf("status %d:\n%s", resp.StatusCode, body)
		}
		if resp, body := get(http.MethodHead, wrong, "/login", browser); resp.StatusCode != http.StatusBadRequest || body != "" {
			t.Errorf("HEAD: status %d, body %q", resp.StatusCode, body)
		}
	})
	t.Run("a_mistyped_address_is_turned_away_too", func(t *testing.T) {
		resp, body := get(http.MethodGet, wrong, "/no-such-page", browser)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, w.origin()+"/no-such-page") {
			t.Errorf("status %d:\n%s", resp.StatusCode, body)
		}
	})
	t.Run("the_right_host_gets_the_page", func(t *testing.T) {
		for _, host := range []string{right, strings.ToUpper(right)} {
			if resp, body := get(http.MethodGet, host, "/login", browser); resp.StatusCode != http.StatusOK || strings.Contains(body, "Open Keyward at") {
				t.Errorf("Host %s: status %d", host, resp.StatusCode)
			}
		}
	})
	t.Run("programs_scripts_and_probes_are_unaffected", func(t *testing.T) {
		cases := []struct {
			method, path string
			header       map[string]string
			want         int
		}{
			{http.MethodGet, "/api/v1/users", map[string]string{"Authorization": "Bearer " + w.admin, "Accept": "application/json"}, 200},
			{http.MethodGet, "/api/v1/me", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "*/*"}, 401},
			{http.MethodGet, "/login", map[string]string{"Accept": "*/*"}, 200}, // curl
			{http.MethodGet, "/healthz", browser, 200},
			{http.MethodGet, "/readyz", browser, 200},
			{http.MethodPost, "/api/v1/auth/methods", browser, 415}, // not a page load: the API answers
		}
		for _, c := range cases {
			if resp, body := get(c.method, wrong, c.path, c.header); resp.StatusCode != c.want || strings.Contains(body, "Open Keyward at") {
				t.Errorf("%s %s %v: status %d, want %d\n%s", c.method, c.path, c.header, resp.StatusCode, c.want, body)
			}
		}
	})
}

// Behind a proxy that ends TLS for an https:// public URL, Host is whatever
// the proxy sends (nginx sends its upstream's name by default), so plain-HTTP
// requests are never turned away; over TLS Keyward serves itself, they are.
func TestHostCheckTrustsOnlyWhatReachesKeywardDirectly(t *testing.T) {
	t.Parallel()
	public := &url.URL{Scheme: "https", Host: "id.example.com"}
	w := newWorld(t, storagetest.NewSQLite(t), public)
	req, _ := http.NewRequest(http.MethodGet, w.nodes[0].URL+"/login", nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := http.DefaultClient.Do(req) // Host 127.0.0.1:PORT, as a proxy might send it
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a plain-HTTP page load behind a TLS proxy got %d, want the page", resp.StatusCode)
	}

	// The same node's handler, served over TLS as keyward serve --tls-cert-file does.
	tlsSrv := httptest.NewTLSServer(w.nodes[0].Config.Handler)
	t.Cleanup(tlsSrv.Close)
	client := tlsSrv.Client()
	req, _ = http.NewRequest(http.MethodGet, tlsSrv.URL+"/login", nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `href="https://id.example.com/login"`) {
		t.Errorf("over Keyward's own TLS at an IP address: status %d\n%s", resp.StatusCode, body)
	}
}

// A related origin is another address where Keyward's passkeys work: a page
// load there is served, not sent to the public URL.
func TestHostCheckServesRelatedOrigins(t *testing.T) {
	t.Parallel()
	public := &url.URL{Scheme: "https", Host: "id.example.com"}
	w := newWorldWith(t, storagetest.NewSQLite(t), func(o *app.Options) {
		o.RelatedOrigins = []string{"https://login.example.co.uk"}
	}, public)
	tlsSrv := httptest.NewTLSServer(w.nodes[0].Config.Handler)
	t.Cleanup(tlsSrv.Close)
	for host, want := range map[string]int{
		"id.example.com": 200, "login.example.co.uk": 200, "LOGIN.example.co.uk:443": 200,
		"login.example.co.uk:8443": 400, "other.example.com": 400,
	} {
		req, _ := http.NewRequest(http.MethodGet, tlsSrv.URL+"/login", nil)
		req.Host = host
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		resp, err := tlsSrv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("a page load at %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
