package access

import "slices"

// Account is an emergency-access account as the lint sees it.
type Account struct {
	Subject
	UserPrincipalName string
}

// Finding is one policy or strength that affects emergency-access accounts.
type Finding struct {
	Kind        string   `json:"kind"` // "policy" or "strength"
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	State       string   `json:"state,omitempty"` // a policy's state
	Accounts    []string `json:"accounts"`        // UPNs, in the order given
	// Policies names, for a strength, the policies that require it of the accounts.
	Policies []string `json:"policies,omitempty"`
}

// Affected returns the UPNs of the emergency accounts that p could block or
// interrupt: p is enabled or report-only and its user condition takes them
// in (not excluded directly, by group or by role). Applications and
// locations are not considered: an account must get in to every app from
// everywhere.
func Affected(p Policy, accounts []Account) []string {
	if p.State != StateEnabled && p.State != StateReportOnly {
		return nil
	}
	if slices.Contains(p.Conditions.Applications.IncludeApplications, None) {
		return nil
	}
	set, err := NewSet([]Policy{p}, nil, nil)
	if err != nil {
		return nil
	}
	cp := &set.policies[0]
	var out []string
	for _, a := range accounts {
		if cp.appliesToUser(a.Subject) {
			out = append(out, a.UserPrincipalName)
		}
	}
	return out
}

// Lint lists every policy that affects an emergency-access account, then
// every strength such a policy requires of one (with the policies that do).
func Lint(policies []Policy, strengths map[string]Strength, accounts []Account) []Finding {
	var out, byStrength []Finding
	for _, p := range policies {
		affected := Affected(p, accounts)
		if len(affected) == 0 {
			continue
		}
		out = append(out, Finding{Kind: "policy", ID: p.ID, DisplayName: p.DisplayName, State: p.State, Accounts: affected})
		id := strengthOf(p)
		if id == "" {
			continue
		}
		i := slices.IndexFunc(byStrength, func(f Finding) bool { return f.ID == id })
		if i < 0 {
			byStrength = append(byStrength, Finding{Kind: "strength", ID: id, DisplayName: strengths[id].DisplayName})
			i = len(byStrength) - 1
		}
		f := &byStrength[i]
		f.Policies = append(f.Policies, p.DisplayName)
		for _, a := range affected {
			if !slices.Contains(f.Accounts, a) {
				f.Accounts = append(f.Accounts, a)
			}
		}
	}
	return append(out, byStrength...)
}

// strengthOf is the strength a policy requires ("" for none; mfa is the
// built-in Multifactor authentication strength).
func strengthOf(p Policy) string {
	g := p.GrantControls
	switch {
	case g == nil:
		return ""
	case g.AuthenticationStrength != nil:
		return g.AuthenticationStrength.ID
	case slices.Contains(g.BuiltInControls, ControlMFA):
		return StrengthMFA
	}
	return ""
}

// StrengthsInUse returns the IDs of the strengths the policies require.
func StrengthsInUse(policies []Policy) []string {
	var out []string
	for _, p := range policies {
		if g := p.GrantControls; g != nil && g.AuthenticationStrength != nil && !slices.Contains(out, g.AuthenticationStrength.ID) {
			out = append(out, g.AuthenticationStrength.ID)
		}
	}
	return out
}
