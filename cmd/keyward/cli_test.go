package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
)

func TestCLIOnSQLite(t *testing.T) {
	testCLI(t, sqliteEnv(t))
}

func TestCLIOnPostgres(t *testing.T) {
	testCLI(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// testCLI walks through the administration commands on one database. The
// steps build on each other, like an administrator's first session.
func testCLI(t *testing.T, env []string) {
	c := cli{t: t, env: env}
	var alice, bob userJSON

	t.Run("user_add_prints_the_new_user_as_json", func(t *testing.T) {
		c.t = t
		c.json(&alice, "user", "add", "--upn", "alice@example.com", "--display-name", "Alice Liddell")
		if alice.ID == "" || alice.UserPrincipalName != "alice@example.com" || alice.DisplayName != "Alice Liddell" ||
			!alice.AccountEnabled || alice.IsEmergencyAccess || alice.CreatedDateTime == "" {
			t.Fatalf("created %+v", alice)
		}
	})
	t.Run("user_add_prints_a_readable_record", func(t *testing.T) {
		c.t = t
		out := c.ok("user", "add", "--upn", "bob@example.com", "--display-name", "Bob", "--emergency-access", "--disabled")
		for _, want := range []string{"bob@example.com", "Bob", "Emergency access:", "Account enabled:"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		c.json(&bob, "user", "show", "bob@example.com")
		if bob.AccountEnabled || !bob.IsEmergencyAccess {
			t.Fatalf("bob = %+v, want disabled emergency-access account", bob)
		}
	})
	t.Run("user_add_rejects_a_duplicate_upn_in_any_case", func(t *testing.T) {
		c.t = t
		c.fails("alice@example.com", "user", "add", "--upn", "ALICE@example.com", "--display-name", "Other")
	})
	t.Run("user_add_rejects_an_invalid_upn", func(t *testing.T) {
		c.t = t
		c.fails("userPrincipalName", "user", "add", "--upn", "no-at-sign", "--display-name", "X")
	})
	t.Run("user_add_requires_its_flags", func(t *testing.T) {
		c.t = t
		c.fails(`"display-name"`, "user", "add", "--upn", "carol@example.com")
	})
	t.Run("user_list_prints_an_aligned_table_in_upn_order", func(t *testing.T) {
		c.t = t
		lines := strings.Split(strings.TrimSpace(c.ok("user", "list")), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") ||
			!strings.Contains(lines[1], "alice@example.com") || !strings.Contains(lines[2], "bob@example.com") {
			t.Fatalf("table:\n%s", strings.Join(lines, "\n"))
		}
		col := strings.Index(lines[0], "USER PRINCIPAL NAME")
		if strings.Index(lines[1], "alice@") != col || strings.Index(lines[2], "bob@") != col {
			t.Errorf("columns are not aligned:\n%s", strings.Join(lines, "\n"))
		}
	})
	t.Run("user_list_filters_by_prefix", func(t *testing.T) {
		c.t = t
		var users []userJSON
		c.json(&users, "user", "list", "--prefix", "B")
		if len(users) != 1 || users[0].ID != bob.ID {
			t.Fatalf("prefix B: %+v", users)
		}
		c.json(&users, "user", "list", "--prefix", "zed")
		if len(users) != 0 {
			t.Fatalf("prefix zed: %+v", users)
		}
	})
	t.Run("user_show_finds_by_id_and_upn", func(t *testing.T) {
		c.t = t
		var byID, byUPN userJSON
		c.json(&byID, "user", "show", alice.ID)
		c.json(&byUPN, "user", "show", "Alice@Example.com")
		if byID != alice || byUPN != alice {
			t.Fatalf("by id %+v, by upn %+v, want %+v", byID, byUPN, alice)
		}
		c.fails("no user", "user", "show", "nobody@example.com")
	})
	t.Run("user_disable_and_enable", func(t *testing.T) {
		c.t = t
		if out := c.ok("user", "disable", "alice@example.com"); !strings.Contains(out, "Disabled user alice@example.com") {
			t.Errorf("disable said %q", out)
		}
		var u userJSON
		c.json(&u, "user", "show", alice.ID)
		if u.AccountEnabled {
			t.Fatal("still enabled after disable")
		}
		c.ok("user", "enable", alice.ID)
		c.json(&u, "user", "show", alice.ID)
		if !u.AccountEnabled {
			t.Fatal("still disabled after enable")
		}
	})
	t.Run("user_update_changes_only_what_is_given", func(t *testing.T) {
		c.t = t
		var u userJSON
		c.json(&u, "user", "update", "alice@example.com", "--display-name", "Alice L.")
		if u.DisplayName != "Alice L." || u.UserPrincipalName != "alice@example.com" || !u.AccountEnabled {
			t.Fatalf("updated %+v", u)
		}
		c.fails("nothing to change", "user", "update", "alice@example.com")
	})
	t.Run("user_mail_is_set_shown_and_cleared", func(t *testing.T) {
		c.t = t
		var u userJSON
		c.json(&u, "user", "add", "--upn", "dora@example.com", "--display-name", "Dora", "--mail", "dora.e@mail.example.com")
		if u.Mail == nil || *u.Mail != "dora.e@mail.example.com" {
			t.Fatalf("created %+v", u)
		}
		if out := c.ok("user", "show", "dora@example.com"); !strings.Contains(out, "Mail:") || !strings.Contains(out, "dora.e@mail.example.com") {
			t.Fatalf("show:\n%s", out)
		}
		c.fails("mail", "user", "update", "dora@example.com", "--mail", "Dora <dora@example.com>")
		c.fails("at most 254", "user", "update", "dora@example.com", "--mail", strings.Repeat("d", 250)+"@x.io")
		c.json(&u, "user", "show", "dora@example.com")
		if u.Mail == nil || *u.Mail != "dora.e@mail.example.com" {
			t.Fatalf("a refused update changed the mail: %+v", u)
		}
		c.json(&u, "user", "update", "dora@example.com", "--mail", "")
		if u.Mail != nil {
			t.Fatalf("mail not cleared: %+v", u)
		}
		if out := c.ok("user", "show", "dora@example.com"); !strings.Contains(out, "applications get the user principal name") {
			t.Fatalf("show without mail:\n%s", out)
		}
		c.ok("user", "delete", "dora@example.com")
	})

	var admins groupJSON
	t.Run("group_add_and_list", func(t *testing.T) {
		c.t = t
		c.json(&admins, "group", "add", "--name", "Admins", "--description", "Keyward administrators")
		if admins.ID == "" || admins.DisplayName != "Admins" || admins.Description != "Keyward administrators" {
			t.Fatalf("created %+v", admins)
		}
		c.ok("group", "add", "--name", "Staff")
		c.fails("Admins", "group", "add", "--name", "admins")
		out := c.ok("group", "list")
		if !strings.Contains(out, "Admins") || !strings.Contains(out, "Keyward administrators") ||
			strings.Index(out, "Admins") > strings.Index(out, "Staff") {
			t.Fatalf("group list:\n%s", out)
		}
		var groups []groupJSON
		c.json(&groups, "group", "list", "--prefix", "adm")
		if len(groups) != 1 || groups[0] != admins {
			t.Fatalf("group list --prefix adm: %+v", groups)
		}
	})
	t.Run("group_membership_by_name_id_and_upn", func(t *testing.T) {
		c.t = t
		if out := c.ok("group", "add-member", "admins", "alice@example.com"); !strings.Contains(out, "Added alice@example.com to Admins") {
			t.Errorf("add-member said %q", out)
		}
		c.ok("group", "add-member", admins.ID, bob.ID)
		c.fails("already", "group", "add-member", "Admins", "bob@example.com")
		var members []userJSON
		c.json(&members, "group", "members", "Admins")
		if len(members) != 2 || members[0].ID != alice.ID || members[1].ID != bob.ID {
			t.Fatalf("members: %+v", members)
		}
		c.ok("group", "remove-member", "Admins", "bob@example.com")
		c.json(&members, "group", "members", admins.ID)
		if len(members) != 1 || members[0].ID != alice.ID {
			t.Fatalf("members after remove: %+v", members)
		}
		c.fails("bob@example.com", "group", "remove-member", "Admins", "bob@example.com")
	})
	t.Run("group_commands_name_unknown_groups_and_users", func(t *testing.T) {
		c.t = t
		c.fails(`no group with ID or name "Nobody"`, "group", "add-member", "Nobody", "alice@example.com")
		c.fails("nobody@example.com", "group", "add-member", "Admins", "nobody@example.com")
	})
	t.Run("user_delete", func(t *testing.T) {
		c.t = t
		if out := c.ok("user", "delete", "bob@example.com"); !strings.Contains(out, "Deleted user bob@example.com") {
			t.Errorf("delete said %q", out)
		}
		c.fails("no user", "user", "show", bob.ID)
		c.fails("no user", "user", "delete", "bob@example.com")
	})
	t.Run("group_delete", func(t *testing.T) {
		c.t = t
		c.ok("group", "delete", "Staff")
		c.fails("Staff", "group", "delete", "Staff")
	})
	testTokens(t, c)
}

func testTokens(t *testing.T, c cli) {
	var sec string
	t.Run("token_create_prints_only_the_secret", func(t *testing.T) {
		c.t = t
		r := c.run("token", "create", "--name", "ci", "--role", "reader")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !regexp.MustCompile(`^kw_[A-Za-z0-9_-]{43}\n$`).MatchString(r.stdout) {
			t.Fatalf("stdout = %q, want the secret alone on one line", r.stdout)
		}
		sec = strings.TrimSpace(r.stdout)
		st := openTestStore(t, c.env)
		tok, err := st.GetAPITokenByHash(context.Background(), secret.Hash(sec))
		if err != nil || tok.Name != "ci" || tok.Role != storage.RoleReader {
			t.Fatalf("stored token %+v, %v", tok, err)
		}
	})
	t.Run("token_create_rejects_bad_input", func(t *testing.T) {
		c.t = t
		c.fails(`a token named "ci" already exists`, "token", "create", "--name", "ci", "--role", "reader")
		c.fails("global-admin, privileged-authentication-admin, authentication-admin, reader", "token", "create", "--name", "x", "--role", "root")
		c.fails("must not be empty", "token", "create", "--name", " ", "--role", "reader")
		c.fails("limit is 64", "token", "create", "--name", strings.Repeat("n", 65), "--role", "reader")
		c.fails(`"role"`, "token", "create", "--name", "x")
	})
	t.Run("token_list_never_shows_secrets", func(t *testing.T) {
		c.t = t
		c.ok("token", "create", "--name", "deploy", "--role", "global-admin")
		out := c.ok("token", "list")
		if !strings.Contains(out, "ci") || !strings.Contains(out, "global-admin") || strings.Contains(out, "kw_") {
			t.Fatalf("token list:\n%s", out)
		}
		var toks []tokenJSON
		c.json(&toks, "token", "list")
		if len(toks) != 2 || toks[0].RevokedDateTime != nil {
			t.Fatalf("tokens: %+v", toks)
		}
	})
	t.Run("token_revoke_by_name", func(t *testing.T) {
		c.t = t
		c.ok("token", "revoke", "ci")
		var toks []tokenJSON
		c.json(&toks, "token", "list")
		i := slices.IndexFunc(toks, func(t tokenJSON) bool { return t.Name == "ci" })
		if i < 0 || toks[i].RevokedDateTime == nil {
			t.Fatalf("after revoke: %+v", toks)
		}
		c.ok("token", "revoke", "ci") // revoking twice is harmless
		c.fails(`no token with ID or name "nope"`, "token", "revoke", "nope")
	})
	t.Run("changes_are_audited_as_cli", func(t *testing.T) {
		st := openTestStore(t, c.env)
		events, err := st.ListAudit(context.Background(), storage.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range events {
			if e.Actor != "cli" {
				t.Errorf("event %s by %q, want cli", e.Action, e.Actor)
			}
			seen[e.Action] = true
		}
		for _, a := range []string{"user.create", "user.delete", "group.create", "token.create", "token.revoke"} {
			if !seen[a] {
				t.Errorf("no %s audit event in %v", a, seen)
			}
		}
	})
}

// openTestStore opens the database the CLI used, to check what it stored.
func openTestStore(t *testing.T, env []string) store {
	t.Helper()
	cfg, err := config.Load("", env, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{cfg: cfg, logger: newLogger(os.Stderr, "warn", "text")}
	st, err := a.openStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestCLIErrors(t *testing.T) {
	c := cli{t: t, env: sqliteEnv(t)}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown_command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown_flag", []string{"user", "list", "--colour"}, "unknown flag: --colour"},
		{"missing_argument", []string{"user", "show"}, "accepts 1 arg"},
		{"unknown_user", []string{"user", "disable", "ghost@example.com"}, `no user with userPrincipalName`},
		{"invalid_config_flag", []string{"user", "list", "--log-level", "loud"}, `log_level: "loud"`},
		{"unsupported_database", []string{"user", "list", "--database-url", "mysql://db/k"}, `scheme "mysql" is not supported`},
		{"missing_config_file", []string{"user", "list", "--config", "/nonexistent/keyward.yaml"}, "/nonexistent/keyward.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.fails(tt.want, tt.args...)
		})
	}
}

func TestServeWithInvalidConfigListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keyward.yaml")
	if err := os.WriteFile(file, []byte("listen: nowhere\nsession_idle_timeout: -1h\ncolour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, env: []string{"KEYWARD_LOG_FORMAT=xml", "KEYWARD_DATA_DIR=" + dir}}
	stderr := c.fails("invalid configuration", "serve", "--config", file,
		"--public-url", "https://id.example.com/app?x=1", "--log-level", "loud", "--database-url", "mysql://db")
	for _, want := range []string{
		`unknown key "colour"`,
		`listen: "nowhere" is not a host:port address`,
		"public_url:",
		`database_url: scheme "mysql" is not supported`,
		`log_level: "loud"`,
		`log_format: "xml"`,
		"session_idle_timeout: must be positive",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q", want)
		}
	}
	// One problem a line: the header plus seven problems.
	if n := strings.Count(strings.TrimSpace(stderr), "\n") + 1; n != 8 {
		t.Errorf("got %d lines, want 8:\n%s", n, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "keyward.db")); !os.IsNotExist(err) {
		t.Errorf("an invalid configuration created the database (stat: %v)", err)
	}
}

func TestConfigFileAndEnvReachCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keyward.yaml")
	dataDir := filepath.Join(dir, "from-file")
	if err := os.WriteFile(file, []byte("data_dir: "+dataDir+"\nlog_level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, env: []string{"KEYWARD_CONFIG=" + file}}
	c.ok("user", "add", "--upn", "a@example.com", "--display-name", "A")
	if _, err := os.Stat(filepath.Join(dataDir, "keyward.db")); err != nil {
		t.Fatalf("database not in the configured data_dir: %v", err)
	}
	// A flag beats the file: another data directory has no users.
	if out := c.ok("user", "list", "--data-dir", filepath.Join(dir, "other")); !strings.Contains(out, "No users.") {
		t.Fatalf("user list on another data dir:\n%s", out)
	}
}

func TestMigrateAndVersion(t *testing.T) {
	c := cli{t: t, env: sqliteEnv(t)}
	out := c.ok("migrate")
	m := regexp.MustCompile(`^database schema at version (\d+) \(latest (\d+)\)\n$`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Fatalf("migrate printed %q", out)
	}
	if out := c.ok("migrate"); !strings.Contains(out, "version "+m[1]) {
		t.Fatalf("second migrate printed %q", out)
	}
	if out := c.ok("version"); !strings.HasPrefix(out, "keyward dev (go") {
		t.Fatalf("version printed %q", out)
	}
}

func TestUnknownKeywardVariableIsWarnedAbout(t *testing.T) {
	c := cli{t: t, env: append(sqliteEnv(t), "KEYWARD_LISTN=:9000")}
	r := c.run("user", "list")
	if r.code != 0 || !strings.Contains(r.stderr, "KEYWARD_LISTN") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestServeStopsCleanlyWhenCancelledWhileStarting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if SIGTERM arrived before the server was up
	var out, errOut strings.Builder
	code := run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, sqliteEnv(t), strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
}
