package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Validate reports every problem with c at once, one per line (errors.Join),
// so a person fixes the whole file in one round instead of one error per start.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkListen(c.Listen))
	if c.PprofListen != "" {
		add(checkPprofListen(c.PprofListen))
	}
	add(checkPublicURL(c.PublicURL))
	if _, err := c.LoadTLSCertificate(); err != nil {
		add(err)
	}
	add(checkDatabase(c.DatabaseURL, c.DataDir))
	if c.DatabaseMaxConns <= 0 {
		add(fmt.Errorf("database_max_conns: must be at least 1, got %d", c.DatabaseMaxConns))
	}
	add(oneOf("sqlite_synchronous", c.SQLiteSynchronous, "normal", "full"))
	add(oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error"))
	add(oneOf("log_format", c.LogFormat, "text", "json"))
	add(positive("session_idle_timeout", c.SessionIdleTimeout))
	add(positive("session_absolute_timeout", c.SessionAbsoluteTimeout))
	if c.SessionIdleTimeout > 0 && c.SessionAbsoluteTimeout > 0 && c.SessionIdleTimeout > c.SessionAbsoluteTimeout {
		add(fmt.Errorf("session_idle_timeout (%s) must not be longer than session_absolute_timeout (%s)",
			c.SessionIdleTimeout, c.SessionAbsoluteTimeout))
	}
	if c.MDSURL != "" {
		add(checkHTTPURL("mds_url", c.MDSURL))
	}
	if _, err := c.ReadMDSRoots(); err != nil {
		add(err)
	}
	if _, err := c.RelatedOriginsList(); err != nil {
		add(err)
	}
	for _, err := range checkAlertWebhooks(c.AlertWebhooks) {
		add(err)
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		add(err)
	}
	if _, err := c.OIDCKeyEncryptionKeyBytes(); err != nil {
		add(err)
	}
	add(positive("shutdown_timeout", c.ShutdownTimeout))
	add(positive("read_timeout", c.ReadTimeout))
	add(positive("idle_timeout", c.IdleTimeout))
	for _, r := range []struct {
		key string
		d   time.Duration
	}{{"signin_log_retention", c.SignInLogRetention}, {"audit_log_retention", c.AuditLogRetention}} {
		if r.d < 0 || r.d > 0 && r.d < time.Hour {
			add(fmt.Errorf("%s: must be 0 (keep forever) or at least 1h, got %s", r.key, r.d))
		}
	}
	if c.GCHeapFloorMB < 0 || c.GCHeapFloorMB > 1<<20 {
		add(fmt.Errorf("gc_heap_floor_mb: must be from 0 (off) to 1048576, got %d", c.GCHeapFloorMB))
	}
	if c.MaxBodyBytes <= 0 {
		add(fmt.Errorf("max_body_bytes: must be positive, got %d", c.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen: %q is not a host:port address (e.g. 127.0.0.1:8080 or :8080)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("listen: port %q in %q is not a number from 0 to 65535", port, addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("listen: host %q in %q is not a host name or IP address", host, addr)
	}
	return nil
}

// checkPprofListen allows the profiler on a loopback address only: its
// pages show the program's inner workings and cost CPU while a profile is
// taken, so they must not be reachable from the network.
func checkPprofListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("pprof_listen: %q is not a host:port address (e.g. 127.0.0.1:6060)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("pprof_listen: port %q in %q is not a number from 0 to 65535", port, addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("pprof_listen: %q is not a loopback address (127.0.0.1, ::1 or localhost): the profiler must not be reachable from the network", addr)
	}
	return nil
}

// checkPublicURL insists on a bare origin: WebAuthn derives the RP ID and the
// origin from it, and cookies and links assume Keyward owns the whole host.
func checkPublicURL(raw string) error {
	if err := checkHTTPURL("public_url", raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	var probs []string
	if u.Path != "" && u.Path != "/" {
		probs = append(probs, fmt.Sprintf("a path (%q)", u.Path))
	}
	if u.RawQuery != "" || u.ForceQuery {
		probs = append(probs, "a query")
	}
	if u.Fragment != "" {
		probs = append(probs, "a fragment")
	}
	if u.User != nil {
		probs = append(probs, "a user name or password")
	}
	if len(probs) > 0 {
		return fmt.Errorf("public_url: %q must be scheme://host[:port] only, but it has %s",
			raw, strings.Join(probs, " and "))
	}
	return nil
}

func checkHTTPURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %q is not a valid URL", key, raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%s: %q must start with http:// or https://", key, raw)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s: %q has no host", key, raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s: %q has an invalid port", key, raw)
		}
	}
	return nil
}

func checkDatabase(dbURL, dataDir string) error {
	if dbURL == "" {
		if strings.TrimSpace(dataDir) == "" {
			return errors.New("data_dir: must be set when database_url is empty (SQLite lives in the data directory)")
		}
		return nil
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		// url.Parse errors quote the input, which may hold a password.
		return errors.New("database_url: is not a valid URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("database_url: scheme %q is not supported; use postgres:// (PostgreSQL) or leave it empty for SQLite", u.Scheme)
	}
	return nil
}

func oneOf(key, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%s: %q is not one of %s", key, v, strings.Join(allowed, ", "))
}

func positive(key string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s: must be positive, got %s", key, d)
	}
	return nil
}
