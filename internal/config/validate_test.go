package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsGoodConfigs(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"all_interfaces_and_https", func(c *Config) { c.Listen = ":443"; c.PublicURL = "https://id.example.com/" }},
		{"ipv6_listen", func(c *Config) { c.Listen = "[::1]:8080" }},
		{"random_port", func(c *Config) { c.Listen = "127.0.0.1:0" }},
		{"postgres", func(c *Config) { c.DatabaseURL = "postgres://u:p@db:5432/keyward?sslmode=require" }},
		{"postgresql_scheme", func(c *Config) { c.DatabaseURL = "postgresql://db/keyward" }},
		{"no_mds_download", func(c *Config) { c.MDSURL = "" }},
		{"postgres_without_data_dir", func(c *Config) { c.DatabaseURL = "postgres://db/k"; c.DataDir = "" }},
		{"json_debug", func(c *Config) { c.LogFormat = "json"; c.LogLevel = "debug" }},
		{"pprof_on_loopback", func(c *Config) { c.PprofListen = "127.0.0.1:6060" }},
		{"pprof_on_ipv6_loopback", func(c *Config) { c.PprofListen = "[::1]:0" }},
		{"pprof_on_localhost", func(c *Config) { c.PprofListen = "localhost:6060" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mod(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"listen_without_port", func(c *Config) { c.Listen = "localhost" }, "listen:"},
		{"listen_port_out_of_range", func(c *Config) { c.Listen = ":70000" }, "0 to 65535"},
		{"public_url_not_a_url", func(c *Config) { c.PublicURL = "http://a b:%%" }, "public_url:"},
		{"public_url_without_scheme", func(c *Config) { c.PublicURL = "id.example.com" }, "http:// or https://"},
		{"public_url_ftp", func(c *Config) { c.PublicURL = "ftp://id.example.com" }, "http:// or https://"},
		{"public_url_without_host", func(c *Config) { c.PublicURL = "https://" }, "has no host"},
		{"public_url_with_path", func(c *Config) { c.PublicURL = "https://example.com/keyward" }, `a path ("/keyward")`},
		{"public_url_with_query", func(c *Config) { c.PublicURL = "https://example.com?x=1" }, "a query"},
		{"public_url_with_fragment", func(c *Config) { c.PublicURL = "https://example.com#top" }, "a fragment"},
		{"public_url_with_user", func(c *Config) { c.PublicURL = "https://u:p@example.com" }, "user name"},
		{"unsupported_database_scheme", func(c *Config) { c.DatabaseURL = "mysql://db/k" }, `scheme "mysql" is not supported`},
		{"database_url_without_scheme", func(c *Config) { c.DatabaseURL = "keyward.db" }, `scheme "" is not supported`},
		{"sqlite_without_data_dir", func(c *Config) { c.DataDir = " " }, "data_dir"},
		{"zero_max_conns", func(c *Config) { c.DatabaseMaxConns = 0 }, "database_max_conns"},
		{"tls_cert_without_key", func(c *Config) { c.TLSCertFile = "tls.crt" }, "tls_key_file: must be set with tls_cert_file"},
		{"tls_key_without_cert", func(c *Config) { c.TLSKeyFile = "tls.key" }, "tls_cert_file: must be set with tls_key_file"},
		{"tls_pair_missing", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = "/nonexistent/tls.crt", "/nonexistent/tls.key" }, "tls_cert_file/tls_key_file: cannot use"},
		{"unknown_sqlite_synchronous", func(c *Config) { c.SQLiteSynchronous = "FULL" }, `sqlite_synchronous: "FULL" is not one of normal, full`},
		{"unknown_log_level", func(c *Config) { c.LogLevel = "loud" }, `log_level: "loud" is not one of debug, info, warn, error`},
		{"unknown_log_format", func(c *Config) { c.LogFormat = "xml" }, `log_format: "xml"`},
		{"zero_idle_timeout", func(c *Config) { c.SessionIdleTimeout = 0 }, "session_idle_timeout: must be positive"},
		{"negative_absolute_timeout", func(c *Config) { c.SessionAbsoluteTimeout = -time.Hour }, "session_absolute_timeout: must be positive"},
		{"idle_longer_than_absolute", func(c *Config) { c.SessionIdleTimeout = 48 * time.Hour }, "must not be longer than"},
		{"mds_url_not_http", func(c *Config) { c.MDSURL = "file:///tmp/blob.jwt" }, "mds_url:"},
		{"pprof_on_every_interface", func(c *Config) { c.PprofListen = ":6060" }, `pprof_listen: ":6060" is not a loopback address`},
		{"pprof_on_a_public_address", func(c *Config) { c.PprofListen = "10.0.0.5:6060" }, "must not be reachable from the network"},
		{"pprof_without_port", func(c *Config) { c.PprofListen = "127.0.0.1" }, "pprof_listen: \"127.0.0.1\" is not a host:port"},
		{"zero_shutdown_timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout"},
		{"zero_body_limit", func(c *Config) { c.MaxBodyBytes = 0 }, "max_body_bytes"},
		{"negative_gc_heap_floor", func(c *Config) { c.GCHeapFloorMB = -1 }, "gc_heap_floor_mb: must be from 0 (off) to 1048576, got -1"},
		{"negative_signin_retention", func(c *Config) { c.SignInLogRetention = -time.Hour }, "signin_log_retention: must be 0 (keep forever) or at least 1h"},
		{"audit_retention_of_minutes", func(c *Config) { c.AuditLogRetention = time.Minute }, "audit_log_retention: must be 0 (keep forever) or at least 1h, got 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", c)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateListsEveryProblemOnItsOwnLine(t *testing.T) {
	c := Defaults()
	c.Listen = "nope"
	c.PublicURL = "https://example.com/path?q=1"
	c.DatabaseURL = "mysql://db"
	c.LogLevel = "verbose"
	c.LogFormat = "yaml"
	c.ShutdownTimeout = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a config with six problems")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want 6:\n%v", len(lines), err)
	}
	for i, prefix := range []string{"listen:", "public_url:", "database_url:", "log_level:", "log_format:", "shutdown_timeout:"} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], prefix)
		}
	}
}

func TestValidateDoesNotEchoDatabasePassword(t *testing.T) {
	c := Defaults()
	c.DatabaseURL = "postgres://u:s3cret@db:bad port/k"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v; want an error without the password", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c := Defaults()
	c.TrustedProxies = " 10.0.0.0/8, 192.0.2.7 ,,fd00::/8, ::ffff:198.51.100.3"
	got, err := c.TrustedProxyPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "fd00::/8", "198.51.100.3/32"}
	if len(got) != len(want) {
		t.Fatalf("prefixes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("prefixes = %v, want %v", got, want)
		}
	}
	c.TrustedProxies = "10.0.0.0/33, lb.example, 10.0.0.1"
	err = c.Validate()
	if err == nil || strings.Count(err.Error(), "trusted_proxies:") != 2 {
		t.Fatalf("Validate = %v, want both bad entries reported", err)
	}
}
