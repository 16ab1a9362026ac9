package access

import (
	"slices"
	"testing"
)

func TestLint(t *testing.T) {
	const breakGlass = "b9ea0000-0000-4000-8000-00000000000a"
	const glassGroup = "b9ea0000-0000-4000-8000-00000000000b"
	accounts := []Account{
		{Subject: Subject{ID: breakGlass, IsEmergencyAccess: true}, UserPrincipalName: "bg1@example.com"},
		{Subject: Subject{ID: bob, GroupIDs: []string{glassGroup}, IsEmergencyAccess: true}, UserPrincipalName: "bg2@example.com"},
	}
	named := func(name string, p Policy) Policy { p.ID, p.DisplayName = name, name; return p }
	policies := []Policy{
		named("all-users", pol(StrengthPhishingResistant)),
		named("excluded-both", pol(StrengthPhishingResistant, func(p *Policy) {
			p.Conditions.Users.ExcludeUsers = []string{breakGlass}
			p.Conditions.Users.ExcludeGroups = []string{glassGroup}
		})),
		named("excluded-one", pol(onlyYubi, func(p *Policy) { p.Conditions.Users.ExcludeUsers = []string{breakGlass} })),
		named("disabled", pol(onlyYubi, func(p *Policy) { p.State = StateDisabled })),
		named("report-only-block", blockPolicy(func(p *Policy) { p.State = StateReportOnly })),
		named("staff-only", pol(StrengthMFA, func(p *Policy) { p.Conditions.Users = UsersCondition{IncludeGroups: []string{staff}} })),
		named("no-apps", pol(StrengthMFA, func(p *Policy) { p.Conditions.Applications.IncludeApplications = []string{None} })),
	}
	strengths := map[string]Strength{}
	set, _ := NewSet(nil, custom, nil)
	for id, s := range set.strengths {
		strengths[id] = s
	}
	got := Lint(policies, strengths, accounts)
	type row struct {
		kind, name string
		accounts   []string
	}
	want := []row{
		{"policy", "all-users", []string{"bg1@example.com", "bg2@example.com"}},
		{"policy", "excluded-one", []string{"bg2@example.com"}},
		{"policy", "report-only-block", []string{"bg1@example.com", "bg2@example.com"}},
		{"strength", "Phishing-resistant MFA", []string{"bg1@example.com", "bg2@example.com"}},
		{"strength", "YubiKey only", []string{"bg2@example.com"}},
	}
	if len(got) != len(want) {
		t.Fatalf("findings = %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.DisplayName != w.name || !slices.Equal(g.Accounts, w.accounts) {
			t.Errorf("finding %d = %+v, want %+v", i, g, w)
		}
	}
	if !slices.Equal(got[3].Policies, []string{"all-users"}) {
		t.Errorf("strength's policies = %v", got[3].Policies)
	}
	if a := Affected(policies[1], accounts); a != nil {
		t.Errorf("an excluded account is affected: %v", a)
	}
}
