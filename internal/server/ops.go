package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/internal/apperr"
)

// readyTimeout bounds /readyz so a hung database makes the probe fail
// instead of hang.
const readyTimeout = 5 * time.Second

// mountOps registers the probes, the metrics endpoint and the JSON 404/405
// fallback. They skip authentication: probes and scrapers carry no token.
func (s *Server) mountOps() {
	s.register("GET /healthz", http.HandlerFunc(healthz), probe)
	s.register("GET /readyz", http.HandlerFunc(s.readyz), probe)
	s.register("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}), probe)
	s.mux.Handle("/", http.HandlerFunc(s.fallback))
}

// healthz says the process is up; it touches nothing else.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// readyz says the instance can serve: by default the database answers and is
// fully migrated.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "request_id", requestIDFrom(ctx), "error", err.Error())
		writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}

// probeMethods are the methods fallback tries to tell 405 from 404.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete}

// fallback answers every request no route matched. ServeMux would answer in
// plain text, so this renders its 404 or 405 as JSON. Probing the other
// methods happens only here, never on a request that matched a route.
func (s *Server) fallback(w http.ResponseWriter, r *http.Request) {
	if s.turnAway(w, r) {
		return
	}
	var allowed []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		WriteError(w, r, apperr.NotFound("no endpoint %s %s; the admin API lives under /api/v1", r.Method, quoteShort(r.URL.Path)))
		return
	}
	list := strings.Join(allowed, ", ")
	w.Header().Set("Allow", list)
	WriteError(w, r, apperr.New(http.StatusMethodNotAllowed, "methodNotAllowed",
		"method %s is not allowed on %s; allowed: %s", r.Method, quoteShort(r.URL.Path), list))
}
