package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

// fido2Doc is the policy's JSON as `policy passkey show --json` prints it.
type fido2Doc struct {
	ODataType                        string `json:"@odata.type"`
	State                            string `json:"state"`
	IsSelfServiceRegistrationAllowed bool   `json:"isSelfServiceRegistrationAllowed"`
	IncludeTargets                   []struct {
		TargetType             string   `json:"targetType"`
		ID                     string   `json:"id"`
		AllowedPasskeyProfiles []string `json:"allowedPasskeyProfiles"`
	} `json:"includeTargets"`
	ExcludeTargets []struct {
		TargetType string `json:"targetType"`
		ID         string `json:"id"`
	} `json:"excludeTargets"`
	PasskeyProfiles []profileDoc `json:"passkeyProfiles"`
}

type profileDoc struct {
	ID                     string `json:"id"`
	Name                   string `json:"name"`
	PasskeyTypes           string `json:"passkeyTypes"`
	AttestationEnforcement string `json:"attestationEnforcement"`
	KeyRestrictions        struct {
		IsEnforced      bool     `json:"isEnforced"`
		EnforcementType string   `json:"enforcementType"`
		AAGUIDs         []string `json:"aaGuids"`
	} `json:"keyRestrictions"`
}

func (d fido2Doc) profile(t *testing.T, id string) profileDoc {
	t.Helper()
	for _, p := range d.PasskeyProfiles {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no profile %q in %+v", id, d.PasskeyProfiles)
	return profileDoc{}
}

const (
	msAndroid = "de1e552d-db1d-4423-a619-566b625cdc84"
	msIOS     = "90a3ccdf-635c-4729-a248-9b709135078f"
	yubiKey51 = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
)

func TestPolicyPasskeyOnSQLite(t *testing.T) {
	testPolicyPasskey(t, sqliteEnv(t))
}

func TestPolicyPasskeyOnPostgres(t *testing.T) {
	testPolicyPasskey(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// testPolicyPasskey changes the policy step by step, as an administrator
// would, checking the summary, the JSON and that refused changes change nothing.
func testPolicyPasskey(t *testing.T, env []string) {
	c := cli{t: t, env: env}
	var staff, contractors groupJSON
	c.json(&staff, "group", "add", "--name", "Staff")
	c.json(&contractors, "group", "add", "--name", "Contractors")

	t.Run("show_prints_a_new_install's_defaults", func(t *testing.T) {
		c.t = t
		out := c.ok("policy", "passkey", "show")
		for _, want := range []string{"Passkeys (FIDO2):          disabled", "Self-service registration: allowed",
			"  all users", "profiles: Default passkey profile", `Passkey profile "Default passkey profile" (id default)`,
			"deviceBound, synced", "Attestation:      not enforced", "Key restrictions: off"} {
			if !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		}
		var d fido2Doc
		c.json(&d, "policy", "passkey", "show")
		if d.ODataType != "#microsoft.graph.fido2AuthenticationMethodConfiguration" || d.State != "disabled" ||
			!d.IsSelfServiceRegistrationAllowed || len(d.IncludeTargets) != 1 || d.IncludeTargets[0].ID != "all_users" ||
			len(d.ExcludeTargets) != 0 || len(d.PasskeyProfiles) != 1 {
			t.Fatalf("default policy %+v", d)
		}
	})
	t.Run("set_names_groups_and_quick_adds_a_provider", func(t *testing.T) {
		c.t = t
		out := c.ok("policy", "passkey", "set", "--state", "enabled", "--include-group", "staff",
			"--exclude-group", contractors.ID, "--key-restrictions", "allow",
			"--add-provider", "microsoft AUTHENTICATOR", "--add-aaguid", strings.ToUpper(strings.ReplaceAll(yubiKey51, "-", "")))
		for _, want := range []string{"Passkeys (FIDO2):          enabled", `group "Staff" (` + staff.ID + ")",
			`group "Contractors" (` + contractors.ID + ")", "enforced: only these key models are allowed",
			msAndroid + "  Microsoft Authenticator (Android)", msIOS + "  Microsoft Authenticator (iOS)",
			yubiKey51 + "  YubiKey 5 Series"} {
			if !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "all users") {
			t.Errorf("--include-group should replace the all-users target:\n%s", out)
		}
		var d fido2Doc
		c.json(&d, "policy", "passkey", "show")
		p := d.profile(t, "default")
		if d.State != "enabled" || len(d.IncludeTargets) != 1 || d.IncludeTargets[0].ID != staff.ID ||
			!slices.Equal(d.IncludeTargets[0].AllowedPasskeyProfiles, []string{"default"}) ||
			len(d.ExcludeTargets) != 1 || d.ExcludeTargets[0].ID != contractors.ID ||
			!p.KeyRestrictions.IsEnforced || p.KeyRestrictions.EnforcementType != "allow" ||
			!slices.Equal(p.KeyRestrictions.AAGUIDs, []string{yubiKey51, msAndroid, msIOS}) {
			t.Fatalf("after set: %+v", d)
		}
	})
	t.Run("json_output_of_set_matches_show", func(t *testing.T) {
		c.t = t
		set := c.ok("policy", "passkey", "set", "--self-service=false", "--json")
		if show := c.ok("policy", "passkey", "show", "--json"); set != show {
			t.Fatalf("set --json:\n%s\nshow --json:\n%s", set, show)
		}
		c.ok("policy", "passkey", "set", "--self-service=true")
	})
	testPolicyRefusals(t, c)
	t.Run("profile_flags_edit_the_profile_named_by_name", func(t *testing.T) {
		c.t = t
		c.ok("policy", "passkey", "set", "--profile", "DEFAULT PASSKEY PROFILE", "--remove-aaguid", yubiKey51,
			"--key-restrictions", "block", "--passkey-types", "deviceBound", "--enforce-attestation")
		var d fido2Doc
		c.json(&d, "policy", "passkey", "show")
		p := d.profile(t, "default")
		if p.PasskeyTypes != "deviceBound" || p.AttestationEnforcement != "registrationOnly" ||
			p.KeyRestrictions.EnforcementType != "block" || !slices.Equal(p.KeyRestrictions.AAGUIDs, []string{msAndroid, msIOS}) {
			t.Fatalf("profile %+v", p)
		}
		c.ok("policy", "passkey", "set", "--aaguid", yubiKey51, "--key-restrictions", "off", "--enforce-attestation=false")
		c.json(&d, "policy", "passkey", "show")
		if p := d.profile(t, "default"); p.KeyRestrictions.IsEnforced || p.AttestationEnforcement != "disabled" ||
			!slices.Equal(p.KeyRestrictions.AAGUIDs, []string{yubiKey51}) {
			t.Fatalf("profile %+v", p)
		}
	})
	t.Run("from_file_applies_a_patch_document", func(t *testing.T) {
		c.t = t
		file := writeTemp(t, "patch.json", `{"passkeyProfiles":[{"id":"default"},
			{"id":"strict","name":"Strict keys","passkeyTypes":"deviceBound"}],
			"includeTargets":[{"targetType":"group","id":"`+staff.ID+`","allowedPasskeyProfiles":["default","strict"]}]}`)
		out := c.ok("policy", "passkey", "set", "--from-file", file)
		if !strings.Contains(out, `Passkey profile "Strict keys" (id strict)`) ||
			!strings.Contains(out, "profiles: Default passkey profile, Strict keys") {
			t.Fatalf("summary:\n%s", out)
		}
		// A second profile is edited by name; the default one stays as it was.
		c.ok("policy", "passkey", "set", "--profile", "strict keys", "--key-restrictions", "allow", "--add-provider", "YubiKey 5 Series")
		var d fido2Doc
		c.json(&d, "policy", "passkey", "show")
		if p := d.profile(t, "strict"); !p.KeyRestrictions.IsEnforced || len(p.KeyRestrictions.AAGUIDs) != 8 {
			t.Fatalf("strict profile %+v", p)
		}
		if p := d.profile(t, "default"); !slices.Equal(p.KeyRestrictions.AAGUIDs, []string{yubiKey51}) || p.KeyRestrictions.IsEnforced {
			t.Fatalf("default profile changed: %+v", p)
		}
		// Re-including the group keeps its profiles; --include-all adds all users with the default.
		c.ok("policy", "passkey", "set", "--include-all", "--include-group", staff.ID)
		c.json(&d, "policy", "passkey", "show")
		if len(d.IncludeTargets) != 2 || d.IncludeTargets[0].ID != "all_users" ||
			!slices.Equal(d.IncludeTargets[1].AllowedPasskeyProfiles, []string{"default", "strict"}) {
			t.Fatalf("include targets %+v", d.IncludeTargets)
		}
	})
	t.Run("exclusions_add_up_and_clear", func(t *testing.T) {
		c.t = t
		c.ok("policy", "passkey", "set", "--exclude-group", "Staff")
		var d fido2Doc
		c.json(&d, "policy", "passkey", "show")
		if len(d.ExcludeTargets) != 2 || d.ExcludeTargets[0].ID != contractors.ID || d.ExcludeTargets[1].ID != staff.ID {
			t.Fatalf("exclusions %+v", d.ExcludeTargets)
		}
		c.ok("policy", "passkey", "set", "--clear-exclusions", "--exclude-group", "Contractors")
		c.json(&d, "policy", "passkey", "show")
		if len(d.ExcludeTargets) != 1 || d.ExcludeTargets[0].ID != contractors.ID {
			t.Fatalf("exclusions %+v", d.ExcludeTargets)
		}
	})
	t.Run("an_excluded_group_cannot_be_deleted", func(t *testing.T) {
		c.t = t
		c.fails(`group "Contractors" is excluded from the passkey (FIDO2) policy`, "group", "delete", "Contractors")
	})
	t.Run("a_deleted_group_is_shown_as_such", func(t *testing.T) {
		c.t = t
		// As an earlier version let happen: the group deleted behind the policy's back.
		if err := openTestStore(t, c.env).DeleteGroup(context.Background(), contractors.ID); err != nil {
			t.Fatal(err)
		}
		if out := c.ok("policy", "passkey", "show"); !strings.Contains(out, "group "+contractors.ID+" (no longer exists)") {
			t.Fatalf("summary:\n%s", out)
		}
	})
	t.Run("changes_are_audited_as_cli", func(t *testing.T) {
		st := openTestStore(t, c.env)
		events, err := st.ListAudit(context.Background(), storage.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Action == "policy.fido2.update" {
				n++
				if e.Actor != "cli" {
					t.Errorf("policy change by %q, want cli", e.Actor)
				}
			}
		}
		if n < 5 {
			t.Errorf("%d policy.fido2.update events, want one per successful set", n)
		}
	})
}

// testPolicyRefusals checks that every refused change names its problems,
// all at once, and leaves the stored policy as it was.
func testPolicyRefusals(t *testing.T, c cli) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"invalid_aaguid", []string{"--add-aaguid", "not-an-aaguid"}, []string{`--add-aaguid: "not-an-aaguid" is not an AAGUID`}},
		{"unknown_group", []string{"--include-group", "Nobody"}, []string{`--include-group: no group with ID or name "Nobody"`}},
		{"unknown_provider", []string{"--add-provider", "Acme Keys"},
			[]string{`no well-known provider is called "Acme Keys"`, `"Microsoft Authenticator"`, `"Windows Hello"`}},
		{"every_problem_at_once", []string{"--state", "on", "--exclude-group", "Ghosts", "--passkey-types", "cloud",
			"--key-restrictions", "maybe", "--remove-aaguid", msAndroid + "x"},
			[]string{`--state: "on"`, `--exclude-group: no group with ID or name "Ghosts"`, `--passkey-types: "cloud"`,
				`--key-restrictions: "maybe"`, `--remove-aaguid:`}},
		{"remove_an_aaguid_not_listed", []string{"--remove-aaguid", "00000000-0000-0000-0000-000000000001"},
			[]string{"is not in the profile's key restriction list"}},
		{"empty_aaguid", []string{"--aaguid", ""}, []string{`--aaguid: "" is not an AAGUID`}},
		{"validation_by_the_policy", []string{"--remove-aaguid", msAndroid, "--remove-aaguid", msIOS, "--remove-aaguid", yubiKey51},
			[]string{"passkeyProfiles[0].keyRestrictions.aaGuids: an enforced allow list must name at least one AAGUID"}},
		{"unknown_profile", []string{"--profile", "Nope", "--passkey-types", "synced"}, []string{`--profile: no passkey profile with ID or name "Nope"`}},
		{"profile_without_a_profile_flag", []string{"--profile", "default", "--state", "enabled"}, []string{"--profile only says which profile"}},
		{"nothing_to_change", nil, []string{"nothing to change"}},
		{"from_file_with_other_flags", []string{"--from-file", "x.json", "--state", "enabled"}, []string{"--from-file is used alone"}},
		{"from_file_missing", []string{"--from-file", filepath.Join(t.TempDir(), "none.json")}, []string{"none.json"}},
	}
	for _, tt := range tests {
		t.Run("refused_"+tt.name, func(t *testing.T) {
			c.t = t
			before := c.ok("policy", "passkey", "show", "--json")
			stderr := c.fails(tt.want[0], append([]string{"policy", "passkey", "set"}, tt.args...)...)
			for _, w := range tt.want[1:] {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if n := strings.Count(stderr, "\n"); tt.name == "every_problem_at_once" && n != 1+len(tt.want) {
				t.Errorf("got %d lines, want a heading and one problem a line:\n%s", n, stderr)
			}
			if after := c.ok("policy", "passkey", "show", "--json"); after != before {
				t.Errorf("a refused change changed the policy:\nbefore %s\nafter %s", before, after)
			}
		})
	}
	t.Run("refused_patch_file_lists_every_problem", func(t *testing.T) {
		c.t = t
		file := writeTemp(t, "bad.json", `{"state":"on","colour":"blue","passkeyProfiles":[]}`)
		stderr := c.fails("the passkey (FIDO2) policy was not changed:", "policy", "passkey", "set", "--from-file", file)
		for _, want := range []string{"\n  colour: unknown field", "\n  state: must be", "\n  passkeyProfiles: the default profile"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
