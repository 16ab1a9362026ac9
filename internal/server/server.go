// Package server is Keyward's HTTP edge: one ServeMux with Go 1.22 method
// and wildcard patterns, the middleware every request passes (request ID,
// panic recovery, logging, metrics, body limit, authentication), the JSON
// rendering helpers every handler uses, and the admin API of the directory.
//
// Handlers follow one shape: read → validate → call the domain → render, and
// errors become responses only in WriteError. Later flows (passkeys, web
// pages, OIDC) register their routes through Handle or Mount.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// DefaultMaxBodyBytes is the request body limit when Deps.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// Deps is everything the server needs; zero values get sensible defaults.
type Deps struct {
	Store    storage.Storage
	Logger   *slog.Logger         // nil = slog.Default()
	Registry *prometheus.Registry // nil = a new registry with Go and process collectors
	Now      func() time.Time     // nil = time.Now
	// PublicURL is how clients reach Keyward; absolute links (Location,
	// @odata.nextLink) are built from it. nil = derived from each request.
	PublicURL *url.URL
	// Sessions authenticates browser sessions by cookie; nil = tokens only.
	Sessions     *session.Manager
	MaxBodyBytes int64                           // 0 = DefaultMaxBodyBytes (1 MiB)
	Ready        func(ctx context.Context) error // nil = Store.Ping
	// TrustedProxies are the load balancers whose X-Forwarded-For names the
	// client (see fromTrustedProxy); empty = the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// AllowSingleFactorAdmins lets a person use their admin role from a
	// session signed in with one factor (require_mfa_for_admins: false).
	// false = admin work with a session needs a multi-factor sign-in.
	AllowSingleFactorAdmins bool
}

// Server routes requests. Build it with New.
type Server struct {
	store     storage.Storage
	log       *slog.Logger
	registry  *prometheus.Registry
	now       func() time.Time
	publicURL *url.URL
	sessions  *session.Manager
	maxBody   int64
	ready     func(ctx context.Context) error
	mux       *http.ServeMux

	trustedProxies          []netip.Prefix
	allowSingleFactorAdmins bool
	metrics                 *httpMetrics
	dir                     *directory.Service
	patterns                []string
}

// Mounter is a group of routes (one flow) that registers itself on a Server.
type Mounter interface {
	Mount(s *Server)
}

// New builds the server with the operational routes and the admin API.
func New(d Deps) *Server {
	s := &Server{
		store:     d.Store,
		log:       d.Logger,
		registry:  d.Registry,
		now:       d.Now,
		publicURL: d.PublicURL,
		sessions:  d.Sessions,
		maxBody:   d.MaxBodyBytes,
		ready:     d.Ready,
		mux:       http.NewServeMux(),

		trustedProxies:          d.TrustedProxies,
		allowSingleFactorAdmins: d.AllowSingleFactorAdmins,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.ready == nil {
		s.ready = func(ctx context.Context) error { return s.store.Ping(ctx) }
	}
	s.metrics = newHTTPMetrics(s.registry, s.store)
	s.dir = &directory.Service{Store: s.store, Now: s.now}
	s.mountOps()
	(&directoryAPI{dir: s.dir, srv: s}).Mount(s)
	return s
}

// Handler is the server's root handler, with all middleware applied.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Handle registers h for a net/http ServeMux pattern such as
// "GET /api/v1/users/{id}". The pattern becomes the route label in logs and
// metrics. Before h runs, the request is authenticated: a bad or revoked
// Bearer token is refused with 401, a valid token or session cookie puts a
// Principal in the context (see PrincipalFrom, RequireRole). The pattern "/"
// is taken by the JSON 404/405 handler: a home page registers "GET /{$}",
// not "GET /", which would swallow every unknown GET. Handle panics on a
// conflicting pattern, as ServeMux does.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.route(s.authenticate(h)))
	s.patterns = append(s.patterns, pattern)
}

// Routes lists the patterns of every registered route, in registration order.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// HandleFunc is Handle for a function.
func (s *Server) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	s.Handle(pattern, http.HandlerFunc(f))
}

// Mount lets each flow register its routes in one call.
func (s *Server) Mount(ms ...Mounter) {
	for _, m := range ms {
		m.Mount(s)
	}
}

// Directory is the directory service the admin API uses, for flows that need
// users and groups with the same validation and audit trail.
func (s *Server) Directory() *directory.Service { return s.dir }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// BaseURL is the absolute URL prefix links are built from: PublicURL without
// a trailing slash, or the request's own scheme and host.
func (s *Server) BaseURL(r *http.Request) string {
	if s.publicURL != nil {
		u := *s.publicURL
		u.RawQuery, u.Fragment = "", ""
		return trimSlash(u.String())
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
