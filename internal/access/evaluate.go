package access

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// Decisions.
const (
	Grant  = "grant"
	Block  = "block"
	StepUp = "stepUp"
)

// Per-policy results (Graph's appliedConditionalAccessPolicy result).
const (
	ResultSuccess                 = "success"
	ResultFailure                 = "failure"
	ResultNotApplied              = "notApplied"
	ResultNotEnabled              = "notEnabled"
	ResultReportOnlySuccess       = "reportOnlySuccess"
	ResultReportOnlyFailure       = "reportOnlyFailure"
	ResultReportOnlyNotApplied    = "reportOnlyNotApplied"
	ResultReportOnlyInterrupted   = "reportOnlyInterrupted"
	StatusSuccess                 = "success"
	StatusFailure                 = "failure"
	StatusNotApplied              = "notApplied"
	grantControlBlock             = "Block"
	grantControlMFA               = "Mfa"
	grantControlStrength          = "RequireAuthenticationStrength"
	sessionControlSignInFrequency = "SignInFrequency"
)

// graphRoles maps Microsoft Graph's role template IDs to Keyward's admin
// roles, so a policy written for Entra reads the same here.
var graphRoles = map[string]string{
	"62e90394-69f5-4237-9190-012177145e10": storage.RoleGlobalAdmin,
	"7be44c8a-adaf-4e2a-84d6-ab2649e08a13": storage.RolePrivilegedAuthenticationAdmin,
	"c4e39bd9-1100-46d3-8c65-fb160da0071f": storage.RoleAuthenticationAdmin,
	"f2ef992c-3afb-46b9-b7cf-a126ee74c451": storage.RoleReader,
}

// RoleName returns the Keyward role a condition's role entry names (a role
// name or Graph's template ID), "" when it names none.
func RoleName(r string) string {
	if n, ok := graphRoles[r]; ok {
		return n
	}
	if r == storage.RoleGlobalAdmin || r == storage.RolePrivilegedAuthenticationAdmin ||
		r == storage.RoleAuthenticationAdmin || r == storage.RoleReader {
		return r
	}
	return ""
}

// Subject is the user signing in.
type Subject struct {
	ID                string
	GroupIDs          []string
	Role              string // Keyward admin role, "" for none
	IsEmergencyAccess bool
}

// Request is one sign-in to one application (or one user action) to decide.
type Request struct {
	User Subject
	// AppID is the application's app ID (an OIDC client_id, or AppAdmin /
	// AppMySecurityInfo); UserAction, when set, is a user action such as
	// UserActionRegisterSecurityInfo instead.
	AppID      string
	UserAction string
	// IP is the client's address as trusted_proxies resolve it (zero: unknown,
	// in no named location).
	IP    netip.Addr
	Proof Proof
	// LastSignIn is when the session last signed in interactively; zero
	// means the sign-in is happening now, so no sign-in frequency applies.
	LastSignIn time.Time
	Now        time.Time
}

// Result is one policy's part in a decision (Graph's appliedConditionalAccessPolicy).
type Result struct {
	ID                      string   `json:"id"`
	DisplayName             string   `json:"displayName"`
	Result                  string   `json:"result"`
	EnforcedGrantControls   []string `json:"enforcedGrantControls"`
	EnforcedSessionControls []string `json:"enforcedSessionControls"`
}

// Decision is the outcome for one request.
type Decision struct {
	Decision string // Grant, Block or StepUp
	// RequiredStrengths are what a step-up must satisfy, all at once (one
	// method that meets every one of them), in policy order.
	RequiredStrengths []Strength
	// Reauthenticate: a sign-in frequency ran out, so the user must sign in
	// again even with methods that are strong enough.
	Reauthenticate bool
	// BlockedBy names the enforced policy that blocks, "" otherwise.
	BlockedBy string
	// Status is Graph's conditionalAccessStatus of the sign-in.
	Status   string
	Policies []Result
}

// Set is a compiled, immutable set of policies, strengths and named
// locations, safe for concurrent use.
type Set struct {
	policies  []compiledPolicy
	strengths map[string]Strength
	locations map[string]compiledLocation
}

type compiledPolicy struct {
	Policy
	includeUsers, excludeUsers   map[string]bool
	includeGroups, excludeGroups map[string]bool
	includeRoles, excludeRoles   []string
	allUsers                     bool
	frequency                    time.Duration
	grantNames, sessionNames     []string
}

type compiledLocation struct {
	Location
	prefixes []netip.Prefix
}

// NewSet compiles stored, validated policies, the custom strengths and the
// named locations (built-in strengths are added). It fails only on data no
// validation would have let through, such as a malformed CIDR range.
func NewSet(policies []Policy, custom []Strength, locations []Location) (*Set, error) {
	s := &Set{strengths: map[string]Strength{}, locations: map[string]compiledLocation{}}
	for _, st := range BuiltInStrengths() {
		s.strengths[st.ID] = st
	}
	for _, st := range custom {
		s.strengths[st.ID] = st
	}
	for _, l := range locations {
		cl := compiledLocation{Location: l}
		for _, r := range l.IPRanges {
			p, err := netip.ParsePrefix(r.CIDRAddress)
			if err != nil {
				return nil, fmt.Errorf("named location %q: %w", l.DisplayName, err)
			}
			cl.prefixes = append(cl.prefixes, p.Masked())
		}
		s.locations[l.ID] = cl
	}
	for _, p := range policies {
		u := p.Conditions.Users
		cp := compiledPolicy{Policy: p,
			includeUsers: set(u.IncludeUsers), excludeUsers: set(u.ExcludeUsers),
			includeGroups: set(u.IncludeGroups), excludeGroups: set(u.ExcludeGroups),
			allUsers: slices.Contains(u.IncludeUsers, All)}
		for _, r := range u.IncludeRoles {
			cp.includeRoles = append(cp.includeRoles, RoleName(r))
		}
		for _, r := range u.ExcludeRoles {
			cp.excludeRoles = append(cp.excludeRoles, RoleName(r))
		}
		if f := p.SessionControls; f != nil && f.SignInFrequency != nil && f.SignInFrequency.IsEnabled {
			cp.frequency = f.SignInFrequency.Duration()
		}
		cp.grantNames, cp.sessionNames = cp.grantControlNames(), cp.sessionControlNames()
		s.policies = append(s.policies, cp)
	}
	return s, nil
}

// Duration is how long a sign-in lasts under the frequency (0 when unset).
func (f SignInFrequency) Duration() time.Duration {
	switch f.Type {
	case "hours":
		return time.Duration(f.Value) * time.Hour
	case "days":
		return time.Duration(f.Value) * 24 * time.Hour
	}
	return 0
}

func set(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// Strength returns a strength (built-in or custom) by ID.
func (s *Set) Strength(id string) (Strength, bool) {
	st, ok := s.strengths[id]
	return st, ok
}

// Evaluate decides a request. Every applicable enabled policy must be
// satisfied; report-only policies are judged and recorded but never change
// the decision; a block beats a step-up.
func (s *Set) Evaluate(r Request) Decision {
	d := Decision{Decision: Grant, Status: StatusNotApplied, Policies: make([]Result, 0, len(s.policies))}
	for i := range s.policies {
		p := &s.policies[i]
		res := Result{ID: p.ID, DisplayName: p.DisplayName, EnforcedGrantControls: p.grantNames,
			EnforcedSessionControls: p.sessionNames}
		reportOnly := p.State == StateReportOnly
		switch {
		case p.State != StateEnabled && !reportOnly:
			res.Result = ResultNotEnabled
		case !s.applies(p, r):
			res.Result = pick(reportOnly, ResultReportOnlyNotApplied, ResultNotApplied)
		default:
			out := s.judge(p, r)
			switch {
			case reportOnly && out.block:
				res.Result = ResultReportOnlyFailure
			case reportOnly && (out.strength != nil || out.reauth):
				res.Result = ResultReportOnlyInterrupted
			case reportOnly:
				res.Result = ResultReportOnlySuccess
			case out.block:
				res.Result = ResultFailure
				if d.BlockedBy == "" {
					d.BlockedBy = p.DisplayName
				}
			case out.strength != nil || out.reauth:
				res.Result = ResultFailure
				if out.strength != nil && !slices.ContainsFunc(d.RequiredStrengths, func(x Strength) bool { return x.ID == out.strength.ID }) {
					d.RequiredStrengths = append(d.RequiredStrengths, *out.strength)
				}
				d.Reauthenticate = d.Reauthenticate || out.reauth
			default:
				res.Result = ResultSuccess
			}
		}
		d.Policies = append(d.Policies, res)
	}
	for _, res := range d.Policies {
		switch res.Result {
		case ResultFailure:
			d.Status = StatusFailure
		case ResultSuccess:
			if d.Status == StatusNotApplied {
				d.Status = StatusSuccess
			}
		}
	}
	switch {
	case d.BlockedBy != "":
		d.Decision = Block
	case len(d.RequiredStrengths) > 0 || d.Reauthenticate:
		d.Decision = StepUp
	}
	return d
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// outcome is what an applicable policy asks of a request.
type outcome struct {
	block    bool
	strength *Strength // unmet strength
	reauth   bool
}

func (s *Set) judge(p *compiledPolicy, r Request) outcome {
	var o outcome
	if g := p.GrantControls; g != nil {
		if slices.Contains(g.BuiltInControls, ControlBlock) {
			return outcome{block: true}
		}
		id := ""
		if slices.Contains(g.BuiltInControls, ControlMFA) {
			id = StrengthMFA
		}
		if g.AuthenticationStrength != nil {
			id = g.AuthenticationStrength.ID
		}
		if id != "" {
			st, ok := s.strengths[id]
			if !ok {
				// A strength that is gone cannot be met: fail closed.
				return outcome{block: true}
			}
			if !st.satisfies(r.Proof) {
				o.strength = &st
			}
		}
	}
	if p.frequency > 0 && !r.LastSignIn.IsZero() && r.Now.Sub(r.LastSignIn) > p.frequency {
		o.reauth = true
	}
	return o
}

func (s *Set) applies(p *compiledPolicy, r Request) bool {
	return p.appliesToUser(r.User) && p.appliesToApp(r) && s.appliesAt(p, r.IP)
}

func (p *compiledPolicy) appliesToUser(u Subject) bool {
	if p.excludeUsers[u.ID] || (u.Role != "" && slices.Contains(p.excludeRoles, u.Role)) {
		return false
	}
	for _, g := range u.GroupIDs {
		if p.excludeGroups[g] {
			return false
		}
	}
	if p.allUsers || p.includeUsers[u.ID] || (u.Role != "" && slices.Contains(p.includeRoles, u.Role)) {
		return true
	}
	for _, g := range u.GroupIDs {
		if p.includeGroups[g] {
			return true
		}
	}
	return false
}

func (p *compiledPolicy) appliesToApp(r Request) bool {
	a := p.Conditions.Applications
	if r.UserAction != "" {
		return slices.Contains(a.IncludeUserActions, r.UserAction)
	}
	if slices.Contains(a.ExcludeApplications, r.AppID) {
		return false
	}
	return slices.Contains(a.IncludeApplications, All) || slices.Contains(a.IncludeApplications, r.AppID)
}

func (s *Set) appliesAt(p *compiledPolicy, ip netip.Addr) bool {
	l := p.Conditions.Locations
	if l == nil || len(l.IncludeLocations) == 0 {
		return true
	}
	if s.inAny(l.ExcludeLocations, ip) {
		return false
	}
	return slices.Contains(l.IncludeLocations, All) || s.inAny(l.IncludeLocations, ip)
}

// inAny reports whether ip lies in one of the named locations (AllTrusted:
// any trusted one). An unknown address is in none.
func (s *Set) inAny(ids []string, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, id := range ids {
		if id == All {
			return true
		}
		if id == AllTrusted {
			for _, l := range s.locations {
				if l.IsTrusted && l.contains(ip) {
					return true
				}
			}
			continue
		}
		if l, ok := s.locations[id]; ok && l.contains(ip) {
			return true
		}
	}
	return false
}

func (l compiledLocation) contains(ip netip.Addr) bool {
	for _, p := range l.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (p *compiledPolicy) grantControlNames() []string {
	g := p.GrantControls
	if g == nil {
		return []string{}
	}
	var out []string
	if slices.Contains(g.BuiltInControls, ControlBlock) {
		out = append(out, grantControlBlock)
	}
	if slices.Contains(g.BuiltInControls, ControlMFA) {
		out = append(out, grantControlMFA)
	}
	if g.AuthenticationStrength != nil {
		out = append(out, grantControlStrength)
	}
	if out == nil {
		return []string{}
	}
	return out
}

func (p *compiledPolicy) sessionControlNames() []string {
	if p.frequency > 0 {
		return []string{sessionControlSignInFrequency}
	}
	return []string{}
}
