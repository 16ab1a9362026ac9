package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/conditionalaccess"
)

func TestAccessCLIOnSQLite(t *testing.T) { testAccessCLI(t, sqliteEnv(t)) }

func TestAccessCLIOnPostgres(t *testing.T) {
	testAccessCLI(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// testAccessCLI sets up "phishing-resistant MFA for administrators" from
// the command line, asks what-if, and sees the emergency-account lint.
func testAccessCLI(t *testing.T, env []string) {
	c := cli{t: t, env: env}
	c.ok("user", "add", "--upn", "admin@contoso.com", "--display-name", "Admin", "--admin-role", "global-admin")
	c.ok("user", "add", "--upn", "alice@contoso.com", "--display-name", "Alice")

	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var loc access.Location
	c.json(&loc, "access", "location", "add", "--from-file", file("office.json", `{"displayName":"Office","ipRanges":[{"cidrAddress":"203.0.113.0/24"}],"isTrusted":true}`))
	if loc.ID == "" || loc.IPRanges[0].ODataType != "#microsoft.graph.iPv4CidrRange" {
		t.Fatalf("location: %+v", loc)
	}
	var pol access.Policy
	c.json(&pol, "access", "policy", "add", "--from-file", file("admins.json", `{"displayName":"Phishing-resistant MFA for administrators",
		"state":"enabled","conditions":{"users":{"includeRoles":["62e90394-69f5-4237-9190-012177145e10"]},
		"applications":{"includeApplications":["All"]}},
		"grantControls":{"authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}`))
	if pol.Conditions.Users.IncludeRoles[0] != "global-admin" {
		t.Fatalf("policy: %+v", pol)
	}
	list := c.ok("access", "policy", "list")
	if !strings.Contains(list, "Phishing-resistant MFA for administrators") || !strings.Contains(list, "enabled, requires Phishing-resistant MFA") {
		t.Fatalf("policy list:\n%s", list)
	}
	if out := c.ok("access", "strength", "list"); strings.Count(out, "builtIn") != 3 {
		t.Fatalf("strength list:\n%s", out)
	}

	out := c.ok("access", "what-if", "--user", "admin@contoso.com", "--app", "Keyward admin", "--methods", "password,softwareOath")
	for _, want := range []string{"Decision: stepUp", "Requires: Phishing-resistant MFA", "failure"} {
		if !strings.Contains(out, want) {
			t.Fatalf("what-if lacks %q:\n%s", want, out)
		}
	}
	var res conditionalaccess.WhatIfResult
	c.json(&res, "access", "what-if", "--user", "alice@contoso.com", "--app", "Keyward admin", "--methods", "password")
	if res.Decision != "grant" || res.Policies[0].Result != "notApplied" {
		t.Fatalf("what-if for a non-admin: %+v", res)
	}
	c.fails("is not a method", "access", "what-if", "--user", "alice@contoso.com", "--app", "Keyward admin", "--methods", "sms")
	c.fails("no application", "access", "what-if", "--user", "alice@contoso.com", "--app", "Nope")

	// Bad documents: the problems, nothing stored.
	c.fails("cannot require both mfa and an authentication strength", "access", "policy", "set", pol.ID, "--from-file",
		file("both.json", `{"grantControls":{"builtInControls":["mfa"]}}`))
	c.fails("is not a CIDR range", "access", "location", "add", "--from-file", file("bad.json", `{"displayName":"x","ipRanges":[{"cidrAddress":"203.0.113.1"}]}`))
	c.ok("access", "location", "set", "Office", "--from-file", file("p.json", `{"displayName":"HQ"}`))

	// An emergency account the policy takes in (it is a global admin).
	if r := c.run("access", "lint"); r.code != 0 || !strings.Contains(r.stdout, "No policy") {
		t.Fatalf("lint before: %d %s %s", r.code, r.stdout, r.stderr)
	}
	c.ok("user", "add", "--upn", "breakglass@contoso.com", "--display-name", "Break glass", "--admin-role", "global-admin", "--emergency-access")
	r := c.run("access", "lint")
	if r.code != 3 || !strings.Contains(r.stdout, "breakglass@contoso.com") || !strings.Contains(r.stdout, "Phishing-resistant MFA for administrators") {
		t.Fatalf("lint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	c.fails("breakglass@contoso.com", "access", "policy", "set", "Phishing-resistant MFA for administrators", "--from-file",
		file("state.json", `{"state":"enabledForReportingButNotEnforced"}`))
	c.input(`{"state":"enabledForReportingButNotEnforced"}`).ok("access", "policy", "set", pol.ID, "--from-file", "-", "--force")
	if out := c.ok("access", "policy", "show", pol.ID); !strings.Contains(out, `"enabledForReportingButNotEnforced"`) {
		t.Fatalf("show after set:\n%s", out)
	}
	c.ok("access", "policy", "delete", pol.ID)
	c.ok("access", "location", "delete", "HQ")
	if out := c.ok("access", "policy", "list"); !strings.Contains(out, "No conditional access policies") {
		t.Fatalf("list after delete:\n%s", out)
	}
}
