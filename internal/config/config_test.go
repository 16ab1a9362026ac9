package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keyward.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newFlags defines every setting's flag, as the serve command does, and parses args.
func newFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.Flag)
	}
	if err := AddFlags(fs, names...); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestLoadPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   []string
		flags []string
		want  func(*Config)
	}{
		{
			name: "defaults_when_nothing_is_set",
			want: func(*Config) {},
		},
		{
			name: "file_overrides_defaults",
			file: "listen: 0.0.0.0:9000\nsession_idle_timeout: 1h\nmax_body_bytes: 2048\n",
			want: func(c *Config) {
				c.Listen = "0.0.0.0:9000"
				c.SessionIdleTimeout = time.Hour
				c.MaxBodyBytes = 2048
			},
		},
		{
			name: "log_retention_in_days_or_as_a_duration",
			file: "signin_log_retention: 7d\naudit_log_retention: 0\n",
			env:  []string{"KEYWARD_AUDIT_LOG_RETENTION=36h"},
			want: func(c *Config) {
				c.SignInLogRetention = 7 * 24 * time.Hour
				c.AuditLogRetention = 36 * time.Hour
			},
		},
		{
			name: "env_overrides_file",
			file: "listen: 0.0.0.0:9000\nlog_level: debug\n",
			env:  []string{"KEYWARD_LISTEN=10.0.0.1:7000", "KEYWARD_DATABASE_URL=postgres://db/keyward", "PATH=/bin"},
			want: func(c *Config) {
				c.Listen = "10.0.0.1:7000"
				c.LogLevel = "debug"
				c.DatabaseURL = "postgres://db/keyward"
			},
		},
		{
			name:  "set_flags_override_env_and_file",
			file:  "listen: 0.0.0.0:9000\npublic_url: https://file.example\n",
			env:   []string{"KEYWARD_LISTEN=10.0.0.1:7000", "KEYWARD_PUBLIC_URL=https://env.example"},
			flags: []string{"--listen", "127.0.0.1:1234", "--shutdown-timeout", "5s"},
			want: func(c *Config) {
				c.Listen = "127.0.0.1:1234"
				c.PublicURL = "https://env.example"
				c.ShutdownTimeout = 5 * time.Second
			},
		},
		{
			name:  "unset_flags_keep_their_defaults_out_of_the_way",
			env:   []string{"KEYWARD_LOG_FORMAT=json"},
			flags: []string{"--data-dir", "/var/lib/keyward"},
			want: func(c *Config) {
				c.LogFormat = "json"
				c.DataDir = "/var/lib/keyward"
			},
		},
		{
			name: "alert_webhooks_from_yaml_with_secrets",
			file: "alert_webhooks:\n  - url: https://hooks.example/a\n    secret: s3cret\n  - url: https://hooks.example/b\n",
			want: func(c *Config) {
				c.AlertWebhooks = []AlertWebhook{{URL: "https://hooks.example/a", Secret: "s3cret"}, {URL: "https://hooks.example/b"}}
			},
		},
		{
			name: "alert_webhooks_from_env_replace_the_file",
			file: "alert_webhooks:\n  - url: https://hooks.example/a\n    secret: s3cret\n",
			env:  []string{"KEYWARD_ALERT_WEBHOOKS=https://x.example/1, https://x.example/2"},
			want: func(c *Config) {
				c.AlertWebhooks = []AlertWebhook{{URL: "https://x.example/1"}, {URL: "https://x.example/2"}}
			},
		},
		{
			name: "empty_env_value_clears_a_setting",
			file: "mds_url: https://mds.example/\n",
			env:  []string{"KEYWARD_MDS_URL="},
			want: func(c *Config) { c.MDSURL = "" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.file != "" {
				file = writeFile(t, tt.file)
			}
			got, err := Load(file, tt.env, newFlags(t, tt.flags...))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestLoadReportsEveryReadingProblem(t *testing.T) {
	file := writeFile(t, "listen: :9000\nbogus: 1\nsession_idle_timeout: soon\nlog_level: [a, b]\n")
	env := []string{"KEYWARD_SHUTDOWN_TIMEOUT=forever", "KEYWARD_MAX_BODY_BYTES=lots", "KEYWARD_SIGNIN_LOG_RETENTION=30days"}
	got, err := Load(file, env, newFlags(t, "--database-max-conns", "4"))
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	for _, want := range []string{
		`line 2: unknown key "bogus"`,
		`line 3: session_idle_timeout: "soon" is not a duration`,
		`line 4: log_level must be a single value`,
		`KEYWARD_SHUTDOWN_TIMEOUT: "forever" is not a duration`,
		`KEYWARD_MAX_BODY_BYTES: "lots" is not a whole number`,
		`KEYWARD_SIGNIN_LOG_RETENTION: "30days" is not a duration (use e.g. 30d or 12h`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("got %d lines, want 6 (one per problem):\n%v", n, err)
	}
	// What could be read is kept, so Validate can add its own findings.
	if got.Listen != ":9000" || got.DatabaseMaxConns != 4 {
		t.Errorf("readable values lost: listen=%q max_conns=%d", got.Listen, got.DatabaseMaxConns)
	}
}

func TestLoadFileEdgeCases(t *testing.T) {
	t.Run("missing_file_is_an_error", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
			t.Fatalf("err = %v, want it to name the file", err)
		}
	})
	t.Run("empty_file_means_defaults", func(t *testing.T) {
		got, err := Load(writeFile(t, ""), nil, nil)
		if err != nil || !reflect.DeepEqual(got, Defaults()) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("list_at_top_level_is_an_error", func(t *testing.T) {
		_, err := Load(writeFile(t, "- listen\n"), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "expected a mapping") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("malformed_yaml_is_an_error", func(t *testing.T) {
		_, err := Load(writeFile(t, "listen: [\n"), nil, nil)
		if err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestAddFlagsRejectsUnknownName(t *testing.T) {
	if err := AddFlags(pflag.NewFlagSet("x", pflag.ContinueOnError), "no-such-flag"); err == nil {
		t.Fatal("want an error")
	}
}

func TestDerivedValues(t *testing.T) {
	tests := []struct {
		publicURL, rpID, origin string
	}{
		{"http://localhost:8080", "localhost", "http://localhost:8080"},
		{"https://id.example.com/", "id.example.com", "https://id.example.com"},
		{"https://id.example.com:8443", "id.example.com", "https://id.example.com:8443"},
		{"http://[::1]:8080", "::1", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.publicURL, func(t *testing.T) {
			c := Defaults()
			c.PublicURL = tt.publicURL
			if got := c.RPID(); got != tt.rpID {
				t.Errorf("RPID = %q, want %q", got, tt.rpID)
			}
			if got := c.Origin(); got != tt.origin {
				t.Errorf("Origin = %q, want %q", got, tt.origin)
			}
			if got := c.PublicURLParsed().String(); got != tt.origin {
				t.Errorf("PublicURLParsed = %q, want %q", got, tt.origin)
			}
		})
	}
}

func TestDatabaseSelection(t *testing.T) {
	c := Defaults()
	if c.UsesPostgres() || c.SQLitePath() != filepath.Join("keyward-data", "keyward.db") {
		t.Errorf("default: postgres=%v path=%q", c.UsesPostgres(), c.SQLitePath())
	}
	for _, u := range []string{"postgres://db/k", "postgresql://db/k"} {
		c.DatabaseURL = u
		if !c.UsesPostgres() {
			t.Errorf("%s: UsesPostgres = false", u)
		}
	}
}

func TestUnknownEnvNamesTypos(t *testing.T) {
	env := []string{"KEYWARD_LISTN=:1", "KEYWARD_LISTEN=:2", "KEYWARD_CONFIG=/etc/k.yaml",
		"KEYWARD_TEST_POSTGRES_DSN=postgres://x", "HOME=/root", "KEYWARD_log_level=debug"}
	got := UnknownEnv(env)
	want := []string{"KEYWARD_LISTN", "KEYWARD_log_level"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("UnknownEnv = %v, want %v", got, want)
	}
}
