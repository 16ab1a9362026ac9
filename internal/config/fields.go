package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type kind int

const (
	kindString kind = iota
	kindDuration
	kindInt
	kindBool
)

// field describes one setting: its YAML key (the environment variable is
// KEYWARD_ + the key in upper case), its flag name, and how to read and write
// it as text, which is how every source delivers values.
type field struct {
	Key   string
	Flag  string
	Usage string
	kind  kind
	set   func(*Config, string) error
	get   func(Config) string
}

// Env is the environment variable for the field.
func (f field) Env() string { return EnvPrefix + strings.ToUpper(f.Key) }

func stringField(key, flag, usage string, p func(*Config) *string) field {
	return field{Key: key, Flag: flag, Usage: usage, kind: kindString,
		set: func(c *Config, v string) error { *p(c) = v; return nil },
		get: func(c Config) string { return *p(&c) },
	}
}

func durationField(key, flag, usage string, p func(*Config) *time.Duration) field {
	return field{Key: key, Flag: flag, Usage: usage, kind: kindDuration,
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a duration (use e.g. 30s, 15m, 8h)", v)
			}
			*p(c) = d
			return nil
		},
		get: func(c Config) string { return formatDuration(*p(&c)) },
	}
}

// retentionField is a duration that may also be written in days ("30d"),
// as log retention is; "0" keeps records forever.
func retentionField(key, flag, usage string, p func(*Config) *time.Duration) field {
	return field{Key: key, Flag: flag, Usage: usage, kind: kindDuration,
		set: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if days, ok := strings.CutSuffix(v, "d"); ok {
				n, err := strconv.Atoi(days)
				if err != nil || n < 0 || n > 100*365 {
					return fmt.Errorf("%q is not a number of days (use e.g. 30d)", v)
				}
				*p(c) = time.Duration(n) * 24 * time.Hour
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration (use e.g. 30d or 12h; 0 keeps records forever)", v)
			}
			*p(c) = d
			return nil
		},
		get: func(c Config) string {
			if d := *p(&c); d > 0 && d%(24*time.Hour) == 0 {
				return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
			}
			return formatDuration(*p(&c))
		},
	}
}

func intField[T int | int64](key, flag, usage string, p func(*Config) *T) field {
	return field{Key: key, Flag: flag, Usage: usage, kind: kindInt,
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			*p(c) = T(n)
			return nil
		},
		get: func(c Config) string { return strconv.FormatInt(int64(*p(&c)), 10) },
	}
}

func boolField(key, flag, usage string, p func(*Config) *bool) field {
	return field{Key: key, Flag: flag, Usage: usage, kind: kindBool,
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*p(c) = b
			return nil
		},
		get: func(c Config) string { return strconv.FormatBool(*p(&c)) },
	}
}

// fields lists every setting, in the order of the reference table in docs/configuration.md.
var fields = []field{
	stringField("listen", "listen", "address to listen on, host:port",
		func(c *Config) *string { return &c.Listen }),
	stringField("public_url", "public-url", "URL users reach Keyward at; the WebAuthn RP ID and origin follow from it",
		func(c *Config) *string { return &c.PublicURL }),
	stringField("related_origins", "related-origins", `other https origins (comma-separated) where passkeys of the public URL's RP ID may be used; served at /.well-known/webauthn; "" = none`,
		func(c *Config) *string { return &c.RelatedOrigins }),
	stringField("tls_cert_file", "tls-cert-file", `PEM certificate (chain) to serve HTTPS with, reloaded on SIGHUP; "" = plain HTTP (TLS ends at a proxy)`,
		func(c *Config) *string { return &c.TLSCertFile }),
	stringField("tls_key_file", "tls-key-file", "PEM private key of tls_cert_file",
		func(c *Config) *string { return &c.TLSKeyFile }),
	stringField("data_dir", "data-dir", "directory for the SQLite database",
		func(c *Config) *string { return &c.DataDir }),
	stringField("database_url", "database-url", `database: "" = SQLite in the data directory, postgres://… = PostgreSQL`,
		func(c *Config) *string { return &c.DatabaseURL }),
	intField("database_max_conns", "database-max-conns", "PostgreSQL connections per process",
		func(c *Config) *int { return &c.DatabaseMaxConns }),
	stringField("sqlite_synchronous", "sqlite-synchronous", "SQLite durability: normal (no acknowledged write lost when the process crashes) or full (nor on power loss; slower)",
		func(c *Config) *string { return &c.SQLiteSynchronous }),
	stringField("log_level", "log-level", "log level: debug, info, warn or error",
		func(c *Config) *string { return &c.LogLevel }),
	stringField("log_format", "log-format", "log format: text or json",
		func(c *Config) *string { return &c.LogFormat }),
	durationField("session_idle_timeout", "session-idle-timeout", "a session ends after this long without use",
		func(c *Config) *time.Duration { return &c.SessionIdleTimeout }),
	durationField("session_absolute_timeout", "session-absolute-timeout", "a session ends this long after sign-in in any case",
		func(c *Config) *time.Duration { return &c.SessionAbsoluteTimeout }),
	stringField("mds_url", "mds-url", `FIDO Metadata Service (MDS3) URL; "" = never download`,
		func(c *Config) *string { return &c.MDSURL }),
	stringField("mds_roots", "mds-roots", `PEM files (comma-separated) of the MDS roots to trust instead of the FIDO Alliance's; "" = the FIDO production root`,
		func(c *Config) *string { return &c.MDSRoots }),
	durationField("shutdown_timeout", "shutdown-timeout", "on SIGTERM, how long to wait for in-flight requests",
		func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	retentionField("signin_log_retention", "signin-log-retention", "how long sign-in log records are kept (e.g. 30d); older ones are deleted in the background; 0 = forever",
		func(c *Config) *time.Duration { return &c.SignInLogRetention }),
	retentionField("audit_log_retention", "audit-log-retention", "how long audit log records are kept (e.g. 365d); older ones are deleted in the background; 0 = forever",
		func(c *Config) *time.Duration { return &c.AuditLogRetention }),
	intField("max_body_bytes", "max-body-bytes", "largest request body accepted, in bytes",
		func(c *Config) *int64 { return &c.MaxBodyBytes }),
	durationField("read_timeout", "read-timeout", "longest a client may take to send a request (headers and body); slower ones are cut off",
		func(c *Config) *time.Duration { return &c.ReadTimeout }),
	durationField("idle_timeout", "idle-timeout", "how long an idle kept-alive connection stays open",
		func(c *Config) *time.Duration { return &c.IdleTimeout }),
	stringField("trusted_proxies", "trusted-proxies", `load balancers (comma-separated IPs or CIDRs) whose X-Forwarded-For names the client; "" = trust no proxy header`,
		func(c *Config) *string { return &c.TrustedProxies }),
	boolField("require_mfa_for_admins", "require-mfa-for-admins", "admin center and admin API with a session need a multi-factor sign-in (API tokens are unaffected)",
		func(c *Config) *bool { return &c.RequireMFAForAdmins }),
	stringField("oidc_key_encryption_key", "oidc-key-encryption-key", `base64 of 32 random bytes that encrypt the OpenID Connect signing keys in the database; "" = stored unencrypted`,
		func(c *Config) *string { return &c.OIDCKeyEncryptionKey }),
	stringField("pprof_listen", "pprof-listen", `loopback address (127.0.0.1:6060) serving Go's profiler at /debug/pprof/, for measuring Keyward; "" = off`,
		func(c *Config) *string { return &c.PprofListen }),
	intField("gc_heap_floor_mb", "gc-heap-floor-mb", "heap size in MiB below which Go's garbage collector does not run (fewer collections while the live heap is small; GOGC's pacing above it); 0 = Go's own pacing",
		func(c *Config) *int { return &c.GCHeapFloorMB }),
	alertWebhooksField,
}

func fieldByKey(key string) (field, bool) {
	for _, f := range fields {
		if f.Key == key {
			return f, true
		}
	}
	return field{}, false
}

func fieldByFlag(flag string) (field, bool) {
	for _, f := range fields {
		if f.Flag == flag {
			return f, true
		}
	}
	return field{}, false
}

func keys() []string {
	ks := make([]string, len(fields))
	for i, f := range fields {
		ks[i] = f.Key
	}
	return ks
}

// Setting documents one configuration setting.
type Setting struct {
	Key     string // YAML key
	Env     string // environment variable
	Flag    string // flag name without dashes
	Default string // built-in default as text ("" = empty)
	Usage   string
}

// Settings lists every setting, for documentation and its tests.
func Settings() []Setting {
	d := Defaults()
	out := make([]Setting, len(fields))
	for i, f := range fields {
		out[i] = Setting{Key: f.Key, Env: f.Env(), Flag: f.Flag, Default: f.get(d), Usage: f.Usage}
	}
	return out
}

// formatDuration writes whole hours and minutes the way people do ("8h",
// "15m") rather than time.Duration's "8h0m0s"; both forms parse back.
func formatDuration(d time.Duration) string {
	switch {
	case d != 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d != 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
