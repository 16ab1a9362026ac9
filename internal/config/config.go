// Package config resolves Keyward's settings from, in rising precedence,
// built-in defaults, a YAML file, KEYWARD_* environment variables and the
// command-line flags a user actually set. Every setting is described once, in
// the fields table, so the file keys, variable names, flag names and the
// reference table in docs/configuration.md cannot drift apart.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/session"
)

// Config is Keyward's resolved configuration.
type Config struct {
	Listen                 string         // address serve listens on, host:port
	PublicURL              string         // URL users and browsers reach Keyward at
	RelatedOrigins         string         // comma-separated https origins that may run WebAuthn ceremonies for the public URL's RP ID
	TLSCertFile            string         // PEM certificate chain serve answers HTTPS with; "" = plain HTTP
	TLSKeyFile             string         // PEM private key of TLSCertFile
	DataDir                string         // directory for the SQLite database and other local state
	DatabaseURL            string         // "" = SQLite in DataDir, postgres:// = PostgreSQL
	DatabaseMaxConns       int            // PostgreSQL pool size per process
	SQLiteSynchronous      string         // normal | full: SQLite's synchronous setting
	LogLevel               string         // debug | info | warn | error
	LogFormat              string         // text | json
	SessionIdleTimeout     time.Duration  // a session ends after this long without use
	SessionAbsoluteTimeout time.Duration  // and after this long in any case
	MDSURL                 string         // FIDO Metadata Service blob URL; "" = never download
	MDSRoots               string         // comma-separated PEM files of trusted MDS roots; "" = the FIDO production root
	ShutdownTimeout        time.Duration  // how long SIGTERM waits for in-flight requests
	MaxBodyBytes           int64          // largest request body accepted
	ReadTimeout            time.Duration  // longest a client may take to send a whole request, headers and body
	IdleTimeout            time.Duration  // longest a kept-alive connection may wait for its next request
	TrustedProxies         string         // comma-separated IPs/CIDRs whose X-Forwarded-For names the client
	RequireMFAForAdmins    bool           // admin work with a session needs a multi-factor sign-in
	OIDCKeyEncryptionKey   string         // base64 of 32 bytes sealing the OIDC signing keys; "" = stored unencrypted
	AlertWebhooks          []AlertWebhook // where emergency-access alerts are posted
	SignInLogRetention     time.Duration  // sign-in log records older than this are deleted; 0 = kept forever
	AuditLogRetention      time.Duration  // audit log records older than this are deleted; 0 = kept forever
	PprofListen            string         // loopback host:port serving Go's /debug/pprof/; "" = off
	GCHeapFloorMB          int            // MiB under which the garbage collector does not run; 0 = Go's own pacing
}

// ProductionMDSURL is the FIDO Alliance's MDS3 endpoint.
const ProductionMDSURL = "https://mds3.fidoalliance.org/"

// Defaults returns the configuration used when nothing is set: a single
// process on localhost with SQLite in ./keyward-data.
func Defaults() Config {
	return Config{
		Listen:                 "127.0.0.1:8080",
		PublicURL:              "http://localhost:8080",
		DataDir:                "./keyward-data",
		DatabaseMaxConns:       10,
		SQLiteSynchronous:      "normal",
		LogLevel:               "info",
		LogFormat:              "text",
		SessionIdleTimeout:     session.DefaultIdleTimeout,
		SessionAbsoluteTimeout: session.DefaultAbsoluteTimeout,
		MDSURL:                 ProductionMDSURL,
		ShutdownTimeout:        30 * time.Second,
		MaxBodyBytes:           1 << 20,
		GCHeapFloorMB:          32,
		ReadTimeout:            30 * time.Second,
		IdleTimeout:            2 * time.Minute,
		RequireMFAForAdmins:    true,
		SignInLogRetention:     30 * 24 * time.Hour,
		AuditLogRetention:      365 * 24 * time.Hour,
	}
}

// EnvPrefix starts every environment variable Keyward reads.
const EnvPrefix = "KEYWARD_"

// Load resolves the configuration: defaults, then the YAML file (when file is
// not ""), then env (in os.Environ's "KEY=value" form), then the flags in
// flags whose Changed is set. It does not validate; call Validate. Every
// problem found while reading is reported at once, and the returned Config
// holds every value that could be read, so Validate can add its own findings.
func Load(file string, env []string, flags *pflag.FlagSet) (Config, error) {
	c := Defaults()
	var errs []error
	if file != "" {
		errs = append(errs, c.applyFile(file)...)
	}
	errs = append(errs, c.applyEnv(env)...)
	if flags != nil {
		errs = append(errs, c.applyFlags(flags)...)
	}
	return c, errors.Join(errs...)
}

func (c *Config) applyFile(file string) []error {
	data, err := os.ReadFile(file)
	if err != nil {
		return []error{fmt.Errorf("config file: %w", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []error{fmt.Errorf("config file %s: %w", file, err)}
	}
	if len(doc.Content) == 0 { // empty file: nothing to apply
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return []error{fmt.Errorf("config file %s: line %d: expected a mapping of keys to values", file, root.Line)}
	}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		f, ok := fieldByKey(k.Value)
		if !ok {
			errs = append(errs, fmt.Errorf("config file %s: line %d: unknown key %q (known keys: %s)",
				file, k.Line, k.Value, strings.Join(keys(), ", ")))
			continue
		}
		if f.Key == alertWebhooksKey && v.Kind == yaml.SequenceNode {
			if err := c.setAlertWebhooks(v); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: line %d: %s: %w", file, v.Line, f.Key, err))
			}
			continue
		}
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Errorf("config file %s: line %d: %s must be a single value", file, v.Line, f.Key))
			continue
		}
		if err := f.set(c, v.Value); err != nil {
			errs = append(errs, fmt.Errorf("config file %s: line %d: %s: %w", file, v.Line, f.Key, err))
		}
	}
	return errs
}

func (c *Config) applyEnv(env []string) []error {
	vars := make(map[string]string)
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	var errs []error
	for _, f := range fields {
		v, ok := vars[f.Env()]
		if !ok {
			continue
		}
		if err := f.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Env(), err))
		}
	}
	return errs
}

func (c *Config) applyFlags(fs *pflag.FlagSet) []error {
	var errs []error
	for _, f := range fields {
		fl := fs.Lookup(f.Flag)
		if fl == nil || !fl.Changed {
			continue
		}
		if err := f.set(c, fl.Value.String()); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", f.Flag, err))
		}
	}
	return errs
}

// AddFlags defines the flags for the named settings (by flag name, e.g.
// "listen") on fs, with the built-in defaults shown in help. Unknown names
// are a programming error and are returned as one.
func AddFlags(fs *pflag.FlagSet, names ...string) error {
	d := Defaults()
	for _, name := range names {
		f, ok := fieldByFlag(name)
		if !ok {
			return fmt.Errorf("config: no setting with flag name %q", name)
		}
		usage := f.Usage + " (env " + f.Env() + ")"
		def := f.get(d)
		switch f.kind {
		case kindDuration:
			dur, _ := time.ParseDuration(def)
			fs.Duration(f.Flag, dur, usage)
		case kindInt:
			n, _ := strconv.ParseInt(def, 10, 64)
			fs.Int64(f.Flag, n, usage)
		case kindBool:
			b, _ := strconv.ParseBool(def)
			fs.Bool(f.Flag, b, usage)
		default:
			fs.String(f.Flag, def, usage)
		}
	}
	return nil
}

// UsesPostgres reports whether DatabaseURL selects PostgreSQL.
func (c Config) UsesPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// SQLitePath is the SQLite database file used when DatabaseURL is empty.
func (c Config) SQLitePath() string {
	return filepath.Join(c.DataDir, "keyward.db")
}

// PublicURLParsed returns PublicURL parsed, without a trailing slash. Call it
// on a validated Config; it returns nil when PublicURL does not parse.
func (c Config) PublicURLParsed() *url.URL {
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return nil
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u
}

// RPID is the WebAuthn relying-party ID: the public URL's host without port.
func (c Config) RPID() string {
	if u := c.PublicURLParsed(); u != nil {
		return u.Hostname()
	}
	return ""
}

// Origin is the WebAuthn origin browsers report: scheme://host[:port].
func (c Config) Origin() string {
	if u := c.PublicURLParsed(); u != nil {
		return u.Scheme + "://" + u.Host
	}
	return ""
}

// UnknownEnv lists the KEYWARD_* variables in env that name no setting, so a
// typo such as KEYWARD_LISTN can be warned about instead of silently ignored.
// KEYWARD_CONFIG (the file) and KEYWARD_TEST_* (test settings) are known.
func UnknownEnv(env []string) []string {
	var unknown []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, EnvPrefix) || k == EnvPrefix+"CONFIG" || strings.HasPrefix(k, EnvPrefix+"TEST_") {
			continue
		}
		if !slices.ContainsFunc(fields, func(f field) bool { return f.Env() == k }) {
			unknown = append(unknown, k) // names are case-sensitive: KEYWARD_log_level is unknown
		}
	}
	return unknown
}
