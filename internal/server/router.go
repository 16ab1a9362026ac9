package server

import (
	"net/http"
	"net/url"
)

// Router is all a handler group needs of the server: the ways a route can
// behave, each a method, so that how a route is authenticated is declared
// on the line that registers it and nowhere else. Patterns are net/http
// ServeMux patterns such as "GET /api/v1/users/{id}"; a pattern becomes the
// route label in logs and metrics. Registering a conflicting pattern panics,
// as ServeMux does. The pattern "/" is taken by the JSON 404/405 handler: a
// home page registers "GET /{$}".
type Router interface {
	// Handle registers a route for API tokens and signed-in browsers. A
	// Bearer token must be valid (401 otherwise); a valid token or session
	// cookie puts a Principal in the context (see PrincipalFrom,
	// RequireRole). A browser request that changes something must carry
	// its session's CSRF token (header X-CSRF-Token), or it gets 403.
	Handle(pattern string, h http.Handler)
	// HandleSignIn registers a sign-in step: authenticated as Handle, but
	// without the CSRF check. A sign-in step acts for whoever proves who
	// they are in the request itself, never with the session a cookie
	// already holds, so a signed-in browser may sign in again without the
	// page's token. (A cross-site form still cannot reach one: they take
	// only application/json.)
	HandleSignIn(pattern string, h http.Handler)
	// HandlePublic registers a route without Keyward's authentication: for
	// endpoints that authenticate their callers by another protocol
	// (OAuth client secrets, access tokens).
	HandlePublic(pattern string, h http.Handler)
}

// Mounter is a handler group: a struct whose fields are its dependencies,
// which registers its routes on a Router.
type Mounter interface {
	Mount(r Router)
}

// route is how one registered route behaves.
type route struct {
	authenticate bool // resolve the principal (token or session cookie)
	csrf         bool // require the session's CSRF token on a changing method
	quiet        bool // log successful requests at debug level (probes, scrapes)
	anyHost      bool // answer a browser at any host name, not only the public URL's (host.go)
}

var (
	authenticated = route{authenticate: true, csrf: true}
	signInStep    = route{authenticate: true}
	public        = route{}
	probe         = route{quiet: true, anyHost: true}
)

// Handle implements Router.
func (s *Server) Handle(pattern string, h http.Handler) { s.register(pattern, h, authenticated) }

// HandleSignIn implements Router.
func (s *Server) HandleSignIn(pattern string, h http.Handler) { s.register(pattern, h, signInStep) }

// HandlePublic implements Router.
func (s *Server) HandlePublic(pattern string, h http.Handler) { s.register(pattern, h, public) }

func (s *Server) register(pattern string, h http.Handler, rt route) {
	if rt.authenticate {
		h = s.authenticate(h, rt.csrf)
	}
	s.mux.Handle(pattern, s.route(h, rt))
	s.patterns = append(s.patterns, pattern)
}

// Mount lets each handler group register its routes.
func (s *Server) Mount(ms ...Mounter) {
	for _, m := range ms {
		m.Mount(s)
	}
}

// BaseURL is the absolute URL prefix links are built from: public without
// a trailing slash, or, when public is nil, the request's own scheme and host.
func BaseURL(public *url.URL, r *http.Request) string {
	if public != nil {
		u := *public
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
