package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/keyward/keyward/internal/server"
)

func TestClientAddressBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	e := newEnv(t, func(d *server.Deps) { d.TrustedProxies = proxies })
	e.server.Handle("GET /test/peer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.RemoteAddr))
	}))
	untrusting := newEnv(t)
	untrusting.server.Handle("GET /test/peer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.RemoteAddr))
	}))
	tests := []struct {
		name, peer string
		xff        []string
		want       string
		srv        *server.Server
	}{
		{"direct_client_header_ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9:5000", e.server},
		{"one_proxy", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1:0", e.server},
		{"client_forged_left_entries", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1:0", e.server},
		{"two_proxies", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1:0", e.server},
		{"several_headers", "10.1.2.3:5000", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1:0", e.server},
		{"ipv6_client", "[fd00::1]:5000", []string{"2001:db8::7"}, "[2001:db8::7]:0", e.server},
		{"malformed_hop_stops_the_walk", "10.1.2.3:5000", []string{"198.51.100.1, bogus"}, "10.1.2.3:5000", e.server},
		{"only_proxies_listed", "10.1.2.3:5000", []string{"10.4.4.4"}, "10.1.2.3:5000", e.server},
		{"no_trusted_proxies_configured", "10.1.2.3:5000", []string{"198.51.100.1"}, "10.1.2.3:5000", untrusting.server},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/test/peer", nil)
			req.RemoteAddr = tc.peer
			for _, h := range tc.xff {
				req.Header.Add("X-Forwarded-For", h)
			}
			rec := httptest.NewRecorder()
			tc.srv.Handler().ServeHTTP(rec, req)
			if got := rec.Body.String(); got != tc.want {
				t.Fatalf("client address %q, want %q", got, tc.want)
			}
		})
	}
}
