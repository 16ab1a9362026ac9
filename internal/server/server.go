// Package server is Keyward's HTTP edge: one ServeMux with Go 1.22 method
// and wildcard patterns, the middleware every request passes (request ID,
// panic recovery, logging, metrics, body limit, authentication), the JSON
// rendering helpers every handler uses, and the handler groups of the JSON
// API, in files named for who calls them: signin_api.go (/api/v1/auth/*,
// /api/v1/setup), me_*.go (the signed-in user, /api/v1/me/*) and admin_*.go
// (the admin API).
//
// A handler group is a struct whose fields are its dependencies; it mounts
// itself on a Router, whose methods say how a route is authenticated.
// package app builds the groups and mounts them. Handlers follow one shape:
// read → validate → call the domain → render, and errors become responses
// only in WriteError.
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
	// Access is conditional access for Keyward's own surfaces (the admin
	// API and My security info used with a session): nil = none. It returns
	// nil or the *apperr.Error to answer.
	Access func(ctx context.Context, sess storage.Session, user storage.User, appID, userAction, ip string) error
	// RelatedOrigins are the other origins where Keyward's passkeys work
	// (related_origins); a browser's page load at one of their hosts is not
	// sent to the public URL (see host.go).
	RelatedOrigins []string
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
	access                  func(ctx context.Context, sess storage.Session, user storage.User, appID, userAction, ip string) error
	metrics                 *httpMetrics
	patterns                []string
	hosts                   hosts // where a browser's page load is answered (host.go)
}

// New builds the server with the operational routes (probes, metrics, the
// JSON 404/405); handler groups are added with Mount.
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
		access:                  d.Access,
	}
	s.hosts = newHosts(d.PublicURL, d.RelatedOrigins)
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
	s.mountOps()
	return s
}

// Handler is the server's root handler, with all middleware applied.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Routes lists the patterns of every registered route, in registration order.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// Registry is where the server's metrics are, for flows that add their own.
func (s *Server) Registry() *prometheus.Registry { return s.registry }
