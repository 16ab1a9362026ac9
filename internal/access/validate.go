package access

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
)

// Limits on what one document may hold.
const (
	MaxNameLen        = 256
	MaxDescriptionLen = 1024
	MaxListLen        = 1000 // users, groups, applications or locations in one list
	MaxIPRanges       = 2000
)

// ValidationError lists every problem found in a document. Validate* return
// it as the cause of a 400 *apperr.Error whose message lists the same
// problems.
type ValidationError struct {
	Problems []string // "path: what is wrong", in the order found
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

type problems []string

func (ps *problems) add(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	*ps = append(*ps, msg)
}

func (ps problems) err(what string) error {
	if len(ps) == 0 {
		return nil
	}
	noun := "problem"
	if len(ps) > 1 {
		noun = "problems"
	}
	return apperr.BadRequest("the %s was not saved; %d %s: %s", what, len(ps), noun, strings.Join(ps, "; ")).
		Wrap(&ValidationError{Problems: ps})
}

// Known tells validation which referenced records exist.
type Known struct {
	Strength func(id string) bool // custom strengths (built-ins are always known)
	Location func(id string) bool
}

func name(ps *problems, path, v string, maxLen int, required bool) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		ps.add(path, "must not be empty")
	case utf8.RuneCountInString(v) > maxLen:
		ps.add(path, "must be at most %d characters, not %d", maxLen, utf8.RuneCountInString(v))
	}
	return v
}

// ids normalises a list of UUIDs (lower-case, de-duplicated, in order);
// specials are extra values allowed as they are (All, None, ...).
func ids(ps *problems, path string, in []string, specials ...string) []string {
	out := make([]string, 0, len(in))
	if len(in) > MaxListLen {
		ps.add(path, "at most %d entries are allowed, not %d", MaxListLen, len(in))
		return out
	}
	for i, v := range in {
		if slices.Contains(specials, v) {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
			continue
		}
		u, err := uuid.Parse(v)
		if err != nil || len(v) != 36 {
			allowed := ""
			if len(specials) > 0 {
				allowed = " or " + strings.Join(specials, ", ")
			}
			ps.add(fmt.Sprintf("%s[%d]", path, i), "%q is not an ID (a UUID%s)", v, allowed)
			continue
		}
		if s := u.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// alone checks that a special value such as All or None is the list's only entry.
func alone(ps *problems, path string, list []string, specials ...string) {
	for _, s := range specials {
		if slices.Contains(list, s) && len(list) > 1 {
			ps.add(path, "%q must be the only entry when present", s)
		}
	}
}

// ValidatePolicy checks p and returns it normalised (IDs lower-case and
// de-duplicated, names trimmed, nil lists empty, operator OR by default).
// Every problem is reported at once in one 400 *apperr.Error; p's ID and
// times are left to the caller.
func ValidatePolicy(p Policy, known Known) (Policy, error) {
	var ps problems
	p.DisplayName = name(&ps, "displayName", p.DisplayName, MaxNameLen, true)
	if p.State != StateEnabled && p.State != StateDisabled && p.State != StateReportOnly {
		ps.add("state", "must be %q, %q or %q, not %q", StateEnabled, StateDisabled, StateReportOnly, p.State)
	}
	validateUsers(&ps, &p.Conditions.Users)
	validateApps(&ps, &p.Conditions.Applications)
	validateLocations(&ps, &p.Conditions, known)
	validateGrant(&ps, &p, known)
	return p, ps.err("conditional access policy")
}

func validateUsers(ps *problems, u *UsersCondition) {
	const at = "conditions.users"
	u.IncludeUsers = ids(ps, at+".includeUsers", u.IncludeUsers, All, None)
	alone(ps, at+".includeUsers", u.IncludeUsers, All, None)
	u.ExcludeUsers = ids(ps, at+".excludeUsers", u.ExcludeUsers)
	u.IncludeGroups = ids(ps, at+".includeGroups", u.IncludeGroups)
	u.ExcludeGroups = ids(ps, at+".excludeGroups", u.ExcludeGroups)
	u.IncludeRoles = roles(ps, at+".includeRoles", u.IncludeRoles)
	u.ExcludeRoles = roles(ps, at+".excludeRoles", u.ExcludeRoles)
	if len(u.IncludeUsers) == 0 && len(u.IncludeGroups) == 0 && len(u.IncludeRoles) == 0 {
		ps.add(at, "must include someone: includeUsers (user IDs, %q or %q), includeGroups or includeRoles", All, None)
	}
}

func roles(ps *problems, path string, in []string) []string {
	out := make([]string, 0, len(in))
	for i, r := range in {
		n := RoleName(strings.ToLower(strings.TrimSpace(r)))
		if n == "" {
			ps.add(fmt.Sprintf("%s[%d]", path, i), "%q is not an admin role (global-admin, privileged-authentication-admin, authentication-admin, reader)", r)
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func validateApps(ps *problems, a *ApplicationsCondition) {
	const at = "conditions.applications"
	a.IncludeApplications = ids(ps, at+".includeApplications", a.IncludeApplications, All, None)
	alone(ps, at+".includeApplications", a.IncludeApplications, All, None)
	a.ExcludeApplications = ids(ps, at+".excludeApplications", a.ExcludeApplications)
	actions := make([]string, 0, len(a.IncludeUserActions))
	for i, v := range a.IncludeUserActions {
		if v != UserActionRegisterSecurityInfo {
			ps.add(fmt.Sprintf("%s.includeUserActions[%d]", at, i), "%q is not a user action (only %q)", v, UserActionRegisterSecurityInfo)
			continue
		}
		if !slices.Contains(actions, v) {
			actions = append(actions, v)
		}
	}
	a.IncludeUserActions = actions
	switch {
	case len(a.IncludeApplications) == 0 && len(a.IncludeUserActions) == 0:
		ps.add(at, "must include applications (app IDs or %q) or a user action (%q)", All, UserActionRegisterSecurityInfo)
	case len(a.IncludeApplications) > 0 && len(a.IncludeUserActions) > 0:
		ps.add(at, "includeApplications and includeUserActions cannot both be set")
	case len(a.IncludeUserActions) > 0 && len(a.ExcludeApplications) > 0:
		ps.add(at+".excludeApplications", "must be empty with includeUserActions")
	}
}

func validateLocations(ps *problems, c *Conditions, known Known) {
	l := c.Locations
	if l == nil {
		return
	}
	const at = "conditions.locations"
	l.IncludeLocations = ids(ps, at+".includeLocations", l.IncludeLocations, All, AllTrusted)
	l.ExcludeLocations = ids(ps, at+".excludeLocations", l.ExcludeLocations, AllTrusted)
	alone(ps, at+".includeLocations", l.IncludeLocations, All)
	for _, side := range []struct {
		path string
		list []string
	}{{".includeLocations", l.IncludeLocations}, {".excludeLocations", l.ExcludeLocations}} {
		for _, id := range side.list {
			if id != All && id != AllTrusted && (known.Location == nil || !known.Location(id)) {
				ps.add(at+side.path, "there is no named location %q", id)
			}
		}
	}
	if len(l.IncludeLocations) == 0 && len(l.ExcludeLocations) > 0 {
		ps.add(at+".includeLocations", "must be set when excludeLocations is (use %q)", All)
	}
	if len(l.IncludeLocations) == 0 {
		c.Locations = nil
	}
}

func validateGrant(ps *problems, p *Policy, known Known) {
	freq := p.SessionControls != nil && p.SessionControls.SignInFrequency != nil && p.SessionControls.SignInFrequency.IsEnabled
	if f := p.SessionControls; f != nil && f.SignInFrequency != nil && f.SignInFrequency.IsEnabled {
		const at = "sessionControls.signInFrequency"
		switch f.SignInFrequency.Type {
		case "hours":
			if v := f.SignInFrequency.Value; v < 1 || v > 23 {
				ps.add(at+".value", "must be 1 to 23 hours, not %d (use days for longer)", v)
			}
		case "days":
			if v := f.SignInFrequency.Value; v < 1 || v > 365 {
				ps.add(at+".value", "must be 1 to 365 days, not %d", v)
			}
		default:
			ps.add(at+".type", "must be \"hours\" or \"days\", not %q", f.SignInFrequency.Type)
		}
	}
	if p.SessionControls != nil && p.SessionControls.SignInFrequency == nil {
		p.SessionControls = nil
	}
	g := p.GrantControls
	if g == nil {
		if !freq {
			ps.add("grantControls", "must be set (block, mfa or an authenticationStrength) unless sessionControls.signInFrequency is enabled")
		}
		return
	}
	const at = "grantControls"
	if g.Operator == "" {
		g.Operator = OperatorOR
	}
	if g.Operator != OperatorOR && g.Operator != OperatorAND {
		ps.add(at+".operator", "must be %q or %q, not %q", OperatorOR, OperatorAND, g.Operator)
	}
	var controls []string
	for i, c := range g.BuiltInControls {
		if c != ControlBlock && c != ControlMFA {
			ps.add(fmt.Sprintf("%s.builtInControls[%d]", at, i), "%q is not a control Keyward has (%q or %q)", c, ControlBlock, ControlMFA)
			continue
		}
		if !slices.Contains(controls, c) {
			controls = append(controls, c)
		}
	}
	if controls == nil {
		controls = []string{}
	}
	g.BuiltInControls = controls
	if s := g.AuthenticationStrength; s != nil {
		id := strings.ToLower(strings.TrimSpace(s.ID))
		switch {
		case id == "":
			ps.add(at+".authenticationStrength.id", "must name a strength")
		case !IsBuiltInStrength(id) && (known.Strength == nil || !known.Strength(id)):
			ps.add(at+".authenticationStrength.id", "there is no authentication strength %q", s.ID)
		}
		g.AuthenticationStrength = &StrengthRef{ID: id}
	}
	switch {
	case slices.Contains(controls, ControlBlock) && (len(controls) > 1 || g.AuthenticationStrength != nil):
		ps.add(at, "block cannot be combined with other controls")
	case slices.Contains(controls, ControlMFA) && g.AuthenticationStrength != nil:
		ps.add(at, "cannot require both mfa and an authentication strength: the strength says which methods count (%q is Graph's \"Multifactor authentication\")", StrengthMFA)
	case len(controls) == 0 && g.AuthenticationStrength == nil && !freq:
		ps.add(at, "must contain block, mfa or an authenticationStrength")
	}
}

// ValidateStrength checks a custom strength and returns it normalised:
// combinations de-duplicated, AAGUIDs lower-case, policyType custom and
// requirementsSatisfied derived from the combinations.
func ValidateStrength(s Strength) (Strength, error) {
	var ps problems
	s.DisplayName = name(&ps, "displayName", s.DisplayName, MaxNameLen, true)
	s.Description = name(&ps, "description", s.Description, MaxDescriptionLen, false)
	if s.PolicyType != "" && s.PolicyType != PolicyTypeCustom {
		ps.add("policyType", "only custom strengths can be created or changed (the built-ins are read-only)")
	}
	s.PolicyType = PolicyTypeCustom
	combos := make([]string, 0, len(s.AllowedCombinations))
	for i, c := range s.AllowedCombinations {
		if !slices.Contains(Combinations, c) {
			ps.add(fmt.Sprintf("allowedCombinations[%d]", i), "%q is not a combination Keyward has (%s)", c, strings.Join(Combinations, "; "))
			continue
		}
		if !slices.Contains(combos, c) {
			combos = append(combos, c)
		}
	}
	if len(s.AllowedCombinations) == 0 {
		ps.add("allowedCombinations", "must allow at least one combination (%s)", strings.Join(Combinations, "; "))
	}
	s.AllowedCombinations = combos
	s.RequirementsSatisfied = RequirementsMFA
	if slices.Contains(combos, ModePassword) {
		s.RequirementsSatisfied = RequirementsNone
	}
	cfgs := make([]CombinationConfiguration, 0, len(s.CombinationConfigurations))
	for i, c := range s.CombinationConfigurations {
		at := fmt.Sprintf("combinationConfigurations[%d]", i)
		if c.ODataType != "" && c.ODataType != ODataFido2Combination {
			ps.add(at+".@odata.type", "only %q is supported, not %q", ODataFido2Combination, c.ODataType)
		}
		c.ODataType = ODataFido2Combination
		if len(c.AppliesToCombinations) != 1 || c.AppliesToCombinations[0] != ModeFido2 {
			ps.add(at+".appliesToCombinations", "must be [\"fido2\"]")
		}
		if !slices.Contains(combos, ModeFido2) {
			ps.add(at, "restricts fido2, which allowedCombinations does not allow")
		}
		if c.ID == "" {
			c.ID = uuid.NewString()
		}
		c.AllowedAAGUIDs = aaguids(&ps, at+".allowedAAGUIDs", c.AllowedAAGUIDs)
		if len(c.AllowedAAGUIDs) == 0 {
			ps.add(at+".allowedAAGUIDs", "must name at least one key model's AAGUID, otherwise no key satisfies the strength")
		}
		cfgs = append(cfgs, c)
	}
	if len(cfgs) > 1 {
		ps.add("combinationConfigurations", "at most one fido2 configuration is allowed")
	}
	s.CombinationConfigurations = cfgs
	return s, ps.err("authentication strength")
}

func aaguids(ps *problems, path string, in []string) []string {
	out := make([]string, 0, len(in))
	if len(in) > maxAAGUIDsPerConfiguration {
		ps.add(path, "at most %d AAGUIDs are allowed, not %d", maxAAGUIDsPerConfiguration, len(in))
		return out
	}
	for i, v := range in {
		u, err := uuid.Parse(strings.TrimSpace(v))
		switch {
		case err != nil:
			ps.add(fmt.Sprintf("%s[%d]", path, i), "%q is not an AAGUID (32 hexadecimal digits such as ee882879-721c-4913-9775-3dfcce97072a)", v)
		case u == uuid.Nil:
			ps.add(fmt.Sprintf("%s[%d]", path, i), "the all-zero AAGUID names no key model (browsers send it when they hide the model)")
		case !slices.Contains(out, u.String()):
			out = append(out, u.String())
		}
	}
	return out
}

// ValidateLocation checks an IP named location and returns it normalised
// (ranges in canonical form, de-duplicated, each with its @odata.type).
func ValidateLocation(l Location) (Location, error) {
	var ps problems
	l.DisplayName = name(&ps, "displayName", l.DisplayName, MaxNameLen, true)
	if l.ODataType != "" && l.ODataType != ODataIPNamedLocation {
		ps.add("@odata.type", "only %q is supported, not %q", ODataIPNamedLocation, l.ODataType)
	}
	l.ODataType = ODataIPNamedLocation
	if len(l.IPRanges) == 0 {
		ps.add("ipRanges", "must contain at least one range such as {\"cidrAddress\": \"203.0.113.0/24\"}")
	}
	if len(l.IPRanges) > MaxIPRanges {
		ps.add("ipRanges", "at most %d ranges are allowed, not %d", MaxIPRanges, len(l.IPRanges))
		l.IPRanges = nil
	}
	out := make([]IPRange, 0, len(l.IPRanges))
	for i, r := range l.IPRanges {
		p, err := netip.ParsePrefix(strings.TrimSpace(r.CIDRAddress))
		if err != nil {
			ps.add(fmt.Sprintf("ipRanges[%d].cidrAddress", i), "%q is not a CIDR range such as 203.0.113.0/24 or 2001:db8::/48", r.CIDRAddress)
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if !p.IsValid() || p.Bits() == 0 {
			ps.add(fmt.Sprintf("ipRanges[%d].cidrAddress", i), "%q covers every address; a named location must be narrower", r.CIDRAddress)
			continue
		}
		p = p.Masked()
		rng := IPRange{ODataType: "#microsoft.graph.iPv4CidrRange", CIDRAddress: p.String()}
		if p.Addr().Is6() {
			rng.ODataType = "#microsoft.graph.iPv6CidrRange"
		}
		if !slices.Contains(out, rng) {
			out = append(out, rng)
		}
	}
	l.IPRanges = out
	return l, ps.err("named location")
}
