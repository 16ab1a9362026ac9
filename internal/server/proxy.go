package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/keyward/keyward/internal/session"
)

// clientFrom is the client of a request, built once at the edge for every
// sign-in and rate limit: the peer address without port (fromTrustedProxy has
// already put the client's own address there when a trusted proxy sent the
// request) and the User-Agent, capped by session.NewClient.
func clientFrom(r *http.Request) session.Client {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return session.NewClient(host, r.UserAgent())
}

// fromTrustedProxy rewrites r.RemoteAddr to the client's own address when the
// request came through one of the trusted proxies (a load balancer in front
// of several nodes): the right-most X-Forwarded-For entry that is not itself
// a trusted proxy. Rate limits per IP and the sign-in log then see people,
// not the proxy. Without trusted proxies, or from any other peer, the header
// is ignored: anyone can send it.
func (s *Server) fromTrustedProxy(r *http.Request) *http.Request {
	if len(s.trustedProxies) == 0 {
		return r
	}
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok || !s.trusted(peer) {
		return r
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return r // a malformed hop: trust nothing further left
		}
		if !s.trusted(ip.Unmap()) {
			r.RemoteAddr = net.JoinHostPort(ip.Unmap().String(), "0")
			return r
		}
	}
	return r
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func parseAddr(hostport string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip, err := netip.ParseAddr(host)
	return ip.Unmap(), err == nil
}
