package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/correlation"
)

// reqInfo is the per-request state the outer middleware shares with inner
// layers. It is a pointer in the context so that what the router learns (the
// route pattern) and what handlers learn (principal, error code) reach the
// log line and the metrics even though inner layers copy the *http.Request.
type reqInfo struct {
	id         string
	route      string
	actor      string
	errCode    string
	errMessage string
	log        *slog.Logger
	maxBody    int64
	quiet      bool // the route logs successes at debug level
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(infoKey{}).(*reqInfo)
	return info
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if info := infoFrom(ctx); info != nil && info.log != nil {
		return info.log
	}
	return slog.Default()
}

func maxBodyFrom(ctx context.Context) int64 {
	if info := infoFrom(ctx); info != nil && info.maxBody > 0 {
		return info.maxBody
	}
	return DefaultMaxBodyBytes
}

// RequestID returns the request's ID (also sent as X-Request-Id), or "".
func RequestID(ctx context.Context) string { return requestIDFrom(ctx) }

func requestIDFrom(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// serveHTTP is the outermost layer: request ID, body limit, panic recovery,
// then the router; finish logs and counts the request.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now() // wall clock on purpose: durations, not domain time
	info := &reqInfo{id: requestID(r), log: s.log, maxBody: s.maxBody}
	rec := &recorder{ResponseWriter: w}
	h := rec.Header()
	h.Set("X-Request-Id", info.id)
	h.Set("X-Content-Type-Options", "nosniff")
	if s.publicURL != nil && s.publicURL.Scheme == "https" {
		// Browsers that once reached Keyward over https never try plain http
		// again for two years, so a network attacker cannot strip TLS.
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if r.Body != nil {
		// The original writer, so the server can close an over-long connection.
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	}
	// A copy: safe to change below. The ID also goes where the domain and
	// the store read it, so log records name the request (correlationId).
	r = r.WithContext(correlation.With(context.WithValue(r.Context(), infoKey{}, info), info.id))
	r = s.fromTrustedProxy(r)
	defer s.finish(rec, r, info, start)
	s.mux.ServeHTTP(rec, r)
}

// finish runs deferred: it turns a panic into a 500 JSON response, then logs
// the request and records its metrics.
func (s *Server) finish(rec *recorder, r *http.Request, info *reqInfo, start time.Time) {
	p := recover()
	abort := p != nil && errors.Is(asError(p), http.ErrAbortHandler)
	if p != nil && !abort {
		s.log.ErrorContext(r.Context(), "panic serving request", "request_id", info.id,
			"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if !rec.wrote {
			e := apperr.Internal(fmt.Errorf("panic: %v", p))
			info.errCode, info.errMessage = e.Code, e.Message
			writeErrorBody(rec, e)
		} else if rec.status < 500 {
			rec.status = http.StatusInternalServerError // for the log and metrics: the response is broken
		}
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	d := time.Since(start)
	route := info.route
	if route == "" {
		route = "unmatched"
	}
	s.metrics.observe(route, r.Method, status, d)
	s.logRequest(r, info, route, status, rec.bytes, d)
	if abort {
		panic(p) // net/http's deliberate abort of a response; let it do its job
	}
}

func asError(p any) error {
	err, _ := p.(error)
	return err
}

func (s *Server) logRequest(r *http.Request, info *reqInfo, route string, status int, n int64, d time.Duration) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status < 400 && info.quiet:
		level = slog.LevelDebug // probes every few seconds would drown the log
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", info.id),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.Int64("bytes", n),
	}
	if info.actor != "" {
		attrs = append(attrs, slog.String("actor", info.actor))
	}
	if info.errCode != "" {
		attrs = append(attrs, slog.String("error_code", info.errCode), slog.String("error", info.errMessage))
	}
	s.log.LogAttrs(ctx, level, "http request", attrs...)
}

// route records the matched pattern (and how the route logs) for logs and
// metrics. ServeMux sets r.Pattern only on the request it passes down, so
// the outer layer learns it through reqInfo.
func (s *Server) route(h http.Handler, rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.route, info.quiet = r.Pattern, rt.quiet
		}
		if !rt.anyHost && s.turnAway(w, r) {
			return
		}
		if err := checkRequestText(r); err != nil {
			WriteError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// turnAway answers a browser's page load at another host than the public
// URL's with a page linking there (host.go), and reports whether it did.
func (s *Server) turnAway(w http.ResponseWriter, r *http.Request) bool {
	if !s.hosts.misdirected(r) {
		return false
	}
	if info := infoFrom(r.Context()); info != nil {
		info.route = "misdirected host"
	}
	writeMisdirected(w, r, s.publicURL)
	return true
}

// requestID keeps a caller's X-Request-Id when it is short and plain (so
// traces join up across a proxy) and otherwise makes a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && plainID(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func plainID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// recorder remembers the status and size of the response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *recorder) WriteHeader(code int) {
	if !w.wrote && code >= 200 { // 1xx informational responses may precede the real one
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush supports streaming handlers that type-assert http.Flusher.
func (w *recorder) Flush() {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
