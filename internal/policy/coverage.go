package policy

import "strings"

// Coverage says whether, and how, the passkey policy covers a user in the
// given groups: what an administrator reads on the user's page.
type Coverage struct {
	Covered bool
	// Refusal is why not, when not covered (methodDisabled, excludedByGroup,
	// notTargeted).
	Refusal Decision
	// Profiles are the passkey profiles that apply, in the policy's order.
	Profiles []PasskeyProfile
	// IncludedBy lists the include targets that reach the user (group IDs,
	// or AllUsers), in the policy's order; set even when an exclusion wins.
	IncludedBy []string
}

// Coverage evaluates the policy's scope for groupIDs (see Scope) and names
// the targets behind the answer.
func (f Fido2) Coverage(groupIDs []string) Coverage {
	member := make(map[string]bool, len(groupIDs))
	for _, g := range groupIDs {
		member[strings.ToLower(g)] = true
	}
	var c Coverage
	for _, t := range f.IncludeTargets {
		if t.ID == AllUsers || member[strings.ToLower(t.ID)] {
			c.IncludedBy = append(c.IncludedBy, t.ID)
		}
	}
	c.Profiles, c.Refusal = f.Scope(groupIDs)
	c.Covered = c.Refusal.Allowed
	return c
}
