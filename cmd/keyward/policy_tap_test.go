package main

import (
	"strings"
	"testing"
)

// tapPolicyDoc is the policy's JSON as `policy tap show --json` prints it.
type tapPolicyDoc struct {
	ODataType                string `json:"@odata.type"`
	DefaultLifetimeInMinutes int    `json:"defaultLifetimeInMinutes"`
	MinimumLifetimeInMinutes int    `json:"minimumLifetimeInMinutes"`
	MaximumLifetimeInMinutes int    `json:"maximumLifetimeInMinutes"`
	IsUsableOnce             bool   `json:"isUsableOnce"`
	DefaultLength            int    `json:"defaultLength"`
}

func TestPolicyTAPOnSQLite(t *testing.T) {
	testPolicyTAP(t, sqliteEnv(t))
}

func TestPolicyTAPOnPostgres(t *testing.T) {
	testPolicyTAP(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// testPolicyTAP shows, changes and refuses changes to the Temporary Access
// Pass policy as an administrator would, and issues a pass under it.
func testPolicyTAP(t *testing.T, env []string) {
	c := cli{t: t, env: env}
	contains := func(t *testing.T, out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	t.Run("show_prints_a_new_install's_defaults", func(t *testing.T) {
		c.t = t
		contains(t, c.ok("policy", "tap", "show"), "Default lifetime:     1 hour", "10 minutes to 30 days",
			"any number of times until it expires", "16 characters")
		var d tapPolicyDoc
		c.json(&d, "policy", "tap", "show")
		if d != (tapPolicyDoc{ODataType: "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
			DefaultLifetimeInMinutes: 60, MinimumLifetimeInMinutes: 10, MaximumLifetimeInMinutes: 43200, DefaultLength: 16}) {
			t.Fatalf("default policy %+v", d)
		}
	})
	t.Run("set_changes_only_what_its_flags_name", func(t *testing.T) {
		c.t = t
		contains(t, c.ok("policy", "tap", "set", "--default-lifetime", "8h", "--maximum-lifetime", "24h", "--once"),
			"Default lifetime:     8 hours", "10 minutes to 1 day", "signs in:  once", "16 characters")
		c.ok("policy", "tap", "set", "--default-length", "24")
		var d tapPolicyDoc
		c.json(&d, "policy", "tap", "show")
		if d.DefaultLifetimeInMinutes != 480 || d.MinimumLifetimeInMinutes != 10 || d.MaximumLifetimeInMinutes != 1440 ||
			!d.IsUsableOnce || d.DefaultLength != 24 {
			t.Fatalf("after set %+v", d)
		}
	})
	t.Run("a_new_pass_takes_the_policy's_defaults", func(t *testing.T) {
		c.t = t
		c.ok("user", "add", "--upn", "tap.policy@example.com", "--display-name", "Tap Policy")
		var p tapJSON
		c.json(&p, "user", "tap", "tap.policy@example.com")
		if len(p.TemporaryAccessPass) != 24 {
			t.Errorf("pass %q has %d characters, want the policy's 24", p.TemporaryAccessPass, len(p.TemporaryAccessPass))
		}
	})
	t.Run("refusals_name_the_flag_and_change_nothing", func(t *testing.T) {
		c.t = t
		var before, after tapPolicyDoc
		c.json(&before, "policy", "tap", "show")
		stderr := c.fails("--default-lifetime (in minutes): must lie from the minimum to the maximum",
			"policy", "tap", "set", "--default-lifetime", "48h", "--default-length", "3")
		contains(t, stderr, "--default-length: must be from 8 to 48 characters, not 3")
		c.fails("--minimum-lifetime must be whole minutes", "policy", "tap", "set", "--minimum-lifetime", "90s", "--once=false")
		c.fails("--maximum-lifetime must be whole minutes", "policy", "tap", "set", "--maximum-lifetime", "-5m")
		c.fails("nothing to change", "policy", "tap", "set")
		c.fails("invalid argument", "policy", "tap", "set", "--default-length", "many")
		c.json(&after, "policy", "tap", "show")
		if after != before {
			t.Fatalf("a refused change changed the policy: %+v → %+v", before, after)
		}
	})
}
