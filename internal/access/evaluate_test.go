package access

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

const (
	alice      = "a11ce000-0000-4000-8000-000000000001"
	bob        = "b0b00000-0000-4000-8000-000000000002"
	staff      = "57aff000-0000-4000-8000-000000000003"
	contractor = "c0017ac7-0000-4000-8000-000000000004"
	wiki       = "3111c100-0000-4000-8000-000000000005"
	payroll    = "9a770000-0000-4000-8000-000000000006"
	office     = "0ff1ce00-0000-4000-8000-000000000007"
	lab6       = "1ab60000-0000-4000-8000-000000000008"
	yubikey    = "ee882879-721c-4913-9775-3dfcce97072a"
	otherKey   = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
	onlyYubi   = "5b5b5b5b-0000-4000-8000-000000000009"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

var locations = []Location{
	{ID: office, DisplayName: "Office", IsTrusted: true, IPRanges: []IPRange{{CIDRAddress: "203.0.113.0/24"}}},
	{ID: lab6, DisplayName: "Lab v6", IPRanges: []IPRange{{CIDRAddress: "2001:db8:42::/48"}}},
}

var custom = []Strength{{ID: onlyYubi, DisplayName: "YubiKey only", PolicyType: PolicyTypeCustom,
	AllowedCombinations:       []string{ModeFido2},
	CombinationConfigurations: []CombinationConfiguration{{AppliesToCombinations: []string{ModeFido2}, AllowedAAGUIDs: []string{yubikey}}}}}

// pol builds an enabled policy for all users and all apps that requires
// the strength; edit adjusts it.
func pol(strength string, edit ...func(*Policy)) Policy {
	p := Policy{ID: "p-" + strength, DisplayName: "policy", State: StateEnabled,
		Conditions: Conditions{
			Users:        UsersCondition{IncludeUsers: []string{All}},
			Applications: ApplicationsCondition{IncludeApplications: []string{All}}},
		GrantControls: &GrantControls{Operator: OperatorOR, AuthenticationStrength: &StrengthRef{ID: strength}}}
	for _, e := range edit {
		e(&p)
	}
	return p
}

func blockPolicy(edit ...func(*Policy)) Policy {
	p := pol("", edit...)
	p.ID, p.GrantControls = "block", &GrantControls{BuiltInControls: []string{ControlBlock}}
	return p
}

var (
	passTOTP = Proof{Methods: []string{ModePassword, ModeSoftOATH}}
	password = Proof{Methods: []string{ModePassword}}
	yubi     = Proof{Methods: []string{ModeFido2}, AAGUID: yubikey}
	other    = Proof{Methods: []string{ModeFido2}, AAGUID: otherKey}
	zeroKey  = Proof{Methods: []string{ModeFido2}, AAGUID: zeroAAGUID}
)

func req(edit ...func(*Request)) Request {
	r := Request{User: Subject{ID: alice, GroupIDs: []string{staff}}, AppID: wiki,
		IP: netip.MustParseAddr("198.51.100.7"), Proof: passTOTP, Now: now}
	for _, e := range edit {
		e(&r)
	}
	return r
}

func TestEvaluate(t *testing.T) {
	phish := func(edit ...func(*Policy)) Policy { return pol(StrengthPhishingResistant, edit...) }
	ip := func(s string) func(*Request) { return func(r *Request) { r.IP = netip.MustParseAddr(s) } }
	proof := func(p Proof) func(*Request) { return func(r *Request) { r.Proof = p } }
	locs := func(in, ex []string) func(*Policy) {
		return func(p *Policy) {
			p.Conditions.Locations = &LocationsCondition{IncludeLocations: in, ExcludeLocations: ex}
		}
	}
	users := func(u UsersCondition) func(*Policy) { return func(p *Policy) { p.Conditions.Users = u } }
	apps := func(a ApplicationsCondition) func(*Policy) { return func(p *Policy) { p.Conditions.Applications = a } }
	state := func(s string) func(*Policy) { return func(p *Policy) { p.State = s } }
	freq := func(v int, typ string) func(*Policy) {
		return func(p *Policy) {
			p.GrantControls = nil
			p.SessionControls = &SessionControls{SignInFrequency: &SignInFrequency{Value: v, Type: typ, IsEnabled: true}}
		}
	}
	tests := []struct {
		name     string
		policies []Policy
		req      Request
		decision string
		results  []string
		status   string
		strength string // the one required strength on step-up
	}{
		{"no_policies_grant_not_applied", nil, req(), Grant, nil, StatusNotApplied, ""},
		{"phishing_resistant_steps_up_password_and_code", []Policy{phish()}, req(), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"phishing_resistant_grants_a_passkey", []Policy{phish()}, req(proof(yubi)), Grant, []string{ResultSuccess}, StatusSuccess, ""},
		{"mfa_control_grants_password_and_code", []Policy{pol("", func(p *Policy) {
			p.GrantControls = &GrantControls{BuiltInControls: []string{ControlMFA}}
		})}, req(), Grant, []string{ResultSuccess}, StatusSuccess, ""},
		{"mfa_control_steps_up_password_alone", []Policy{pol("", func(p *Policy) {
			p.GrantControls = &GrantControls{BuiltInControls: []string{ControlMFA}}
		})}, req(proof(password)), StepUp, []string{ResultFailure}, StatusFailure, StrengthMFA},
		{"mfa_strength_grants_a_tap", []Policy{pol(StrengthMFA)}, req(proof(Proof{Methods: []string{ModeTAPOnce}})), Grant, []string{ResultSuccess}, StatusSuccess, ""},
		{"disabled_policy_not_enabled", []Policy{phish(state(StateDisabled))}, req(), Grant, []string{ResultNotEnabled}, StatusNotApplied, ""},
		{"block_blocks", []Policy{blockPolicy()}, req(proof(yubi)), Block, []string{ResultFailure}, StatusFailure, ""},
		{"block_beats_step_up", []Policy{phish(), blockPolicy()}, req(), Block, []string{ResultFailure, ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"strength_that_is_gone_fails_closed", []Policy{pol("deadbeef-0000-4000-8000-000000000000")}, req(proof(yubi)), Block, []string{ResultFailure}, StatusFailure, ""},

		// Users: each condition, and exclusion beating inclusion.
		{"include_user_by_id", []Policy{phish(users(UsersCondition{IncludeUsers: []string{alice}}))}, req(), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"other_user_not_applied", []Policy{phish(users(UsersCondition{IncludeUsers: []string{bob}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"include_none_applies_to_nobody", []Policy{phish(users(UsersCondition{IncludeUsers: []string{None}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"include_group", []Policy{phish(users(UsersCondition{IncludeGroups: []string{staff}}))}, req(), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"group_not_held_not_applied", []Policy{phish(users(UsersCondition{IncludeGroups: []string{contractor}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"include_role_by_name", []Policy{phish(users(UsersCondition{IncludeRoles: []string{"global-admin"}}))},
			req(func(r *Request) { r.User.Role = "global-admin" }), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"include_role_by_graph_template_id", []Policy{phish(users(UsersCondition{IncludeRoles: []string{"62e90394-69f5-4237-9190-012177145e10"}}))},
			req(func(r *Request) { r.User.Role = "global-admin" }), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"role_not_held_not_applied", []Policy{phish(users(UsersCondition{IncludeRoles: []string{"global-admin"}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"exclude_user_beats_all", []Policy{phish(users(UsersCondition{IncludeUsers: []string{All}, ExcludeUsers: []string{alice}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"exclude_group_beats_include_user", []Policy{phish(users(UsersCondition{IncludeUsers: []string{alice}, ExcludeGroups: []string{staff}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"exclude_role_beats_include_group", []Policy{phish(users(UsersCondition{IncludeGroups: []string{staff}, ExcludeRoles: []string{"reader"}}))},
			req(func(r *Request) { r.User.Role = "reader" }), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},

		// Applications and user actions.
		{"named_app_applies", []Policy{phish(apps(ApplicationsCondition{IncludeApplications: []string{wiki}}))}, req(), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"other_app_not_applied", []Policy{phish(apps(ApplicationsCondition{IncludeApplications: []string{payroll}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"excluded_app_beats_all", []Policy{phish(apps(ApplicationsCondition{IncludeApplications: []string{All}, ExcludeApplications: []string{wiki}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"admin_center_is_an_app", []Policy{phish(apps(ApplicationsCondition{IncludeApplications: []string{AppAdmin}}))},
			req(func(r *Request) { r.AppID = AppAdmin }), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"user_action_applies_to_registering", []Policy{phish(apps(ApplicationsCondition{IncludeUserActions: []string{UserActionRegisterSecurityInfo}}))},
			req(func(r *Request) { r.AppID, r.UserAction = "", UserActionRegisterSecurityInfo }), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"user_action_policy_not_applied_to_apps", []Policy{phish(apps(ApplicationsCondition{IncludeUserActions: []string{UserActionRegisterSecurityInfo}}))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"all_apps_does_not_cover_user_actions", []Policy{phish()},
			req(func(r *Request) { r.AppID, r.UserAction = "", UserActionRegisterSecurityInfo }), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},

		// Named locations, IPv4 and IPv6.
		{"included_location_applies", []Policy{phish(locs([]string{office}, nil))}, req(ip("203.0.113.9")), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"outside_included_location_not_applied", []Policy{phish(locs([]string{office}, nil))}, req(), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"ipv4_mapped_ipv6_matches_ipv4_range", []Policy{phish(locs([]string{office}, nil))}, req(ip("::ffff:203.0.113.9")), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"ipv6_location_applies", []Policy{phish(locs([]string{lab6}, nil))}, req(ip("2001:db8:42:7::1")), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"ipv6_outside_range_not_applied", []Policy{phish(locs([]string{lab6}, nil))}, req(ip("2001:db8:43::1")), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"all_but_trusted_skips_the_office", []Policy{phish(locs([]string{All}, []string{AllTrusted}))}, req(ip("203.0.113.9")), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"all_but_trusted_applies_elsewhere", []Policy{phish(locs([]string{All}, []string{AllTrusted}))}, req(), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"untrusted_location_not_in_all_trusted", []Policy{phish(locs([]string{AllTrusted}, nil))}, req(ip("2001:db8:42::5")), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},
		{"unknown_address_is_in_no_location", []Policy{phish(locs([]string{All}, []string{office}))}, req(func(r *Request) { r.IP = netip.Addr{} }), StepUp, []string{ResultFailure}, StatusFailure, StrengthPhishingResistant},
		{"unknown_address_not_in_named_location", []Policy{phish(locs([]string{office}, nil))}, req(func(r *Request) { r.IP = netip.Addr{} }), Grant, []string{ResultNotApplied}, StatusNotApplied, ""},

		// AAGUID-restricted strengths.
		{"custom_strength_grants_the_allowed_model", []Policy{pol(onlyYubi)}, req(proof(yubi)), Grant, []string{ResultSuccess}, StatusSuccess, ""},
		{"custom_strength_refuses_another_model", []Policy{pol(onlyYubi)}, req(proof(other)), StepUp, []string{ResultFailure}, StatusFailure, onlyYubi},
		{"custom_strength_refuses_the_zero_aaguid", []Policy{pol(onlyYubi)}, req(proof(zeroKey)), StepUp, []string{ResultFailure}, StatusFailure, onlyYubi},
		{"custom_strength_refuses_password_and_code", []Policy{pol(onlyYubi)}, req(), StepUp, []string{ResultFailure}, StatusFailure, onlyYubi},
		{"built_in_accepts_any_model", []Policy{phish()}, req(proof(other)), Grant, []string{ResultSuccess}, StatusSuccess, ""},

		// Report-only never changes the decision.
		{"report_only_success", []Policy{phish(state(StateReportOnly))}, req(proof(yubi)), Grant, []string{ResultReportOnlySuccess}, StatusNotApplied, ""},
		{"report_only_interrupted", []Policy{phish(state(StateReportOnly))}, req(), Grant, []string{ResultReportOnlyInterrupted}, StatusNotApplied, ""},
		{"report_only_failure_on_block", []Policy{blockPolicy(state(StateReportOnly))}, req(), Grant, []string{ResultReportOnlyFailure}, StatusNotApplied, ""},
		{"report_only_not_applied", []Policy{phish(state(StateReportOnly), users(UsersCondition{IncludeUsers: []string{bob}}))}, req(), Grant, []string{ResultReportOnlyNotApplied}, StatusNotApplied, ""},
		{"report_only_beside_enforced", []Policy{blockPolicy(state(StateReportOnly)), pol(StrengthMFA)}, req(), Grant, []string{ResultReportOnlyFailure, ResultSuccess}, StatusSuccess, ""},

		// Sign-in frequency.
		{"frequency_within_grants", []Policy{pol("", freq(8, "hours"))},
			req(func(r *Request) { r.LastSignIn = now.Add(-7 * time.Hour) }), Grant, []string{ResultSuccess}, StatusSuccess, ""},
		{"frequency_expired_reauthenticates", []Policy{pol("", freq(8, "hours"))},
			req(func(r *Request) { r.LastSignIn = now.Add(-9 * time.Hour) }), StepUp, []string{ResultFailure}, StatusFailure, ""},
		{"frequency_in_days", []Policy{pol("", freq(1, "days"))},
			req(func(r *Request) { r.LastSignIn = now.Add(-25 * time.Hour) }), StepUp, []string{ResultFailure}, StatusFailure, ""},
		{"frequency_fresh_sign_in_grants", []Policy{pol("", freq(1, "hours"))}, req(), Grant, []string{ResultSuccess}, StatusSuccess, ""},
		{"frequency_report_only_interrupts", []Policy{pol("", freq(1, "hours"), state(StateReportOnly))},
			req(func(r *Request) { r.LastSignIn = now.Add(-2 * time.Hour) }), Grant, []string{ResultReportOnlyInterrupted}, StatusNotApplied, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := NewSet(tt.policies, custom, locations)
			if err != nil {
				t.Fatal(err)
			}
			d := set.Evaluate(tt.req)
			if d.Decision != tt.decision {
				t.Errorf("decision = %q, want %q", d.Decision, tt.decision)
			}
			var got []string
			for _, p := range d.Policies {
				got = append(got, p.Result)
			}
			if !slices.Equal(got, tt.results) {
				t.Errorf("results = %q, want %q", got, tt.results)
			}
			if d.Status != tt.status {
				t.Errorf("status = %q, want %q", d.Status, tt.status)
			}
			if tt.strength != "" && (len(d.RequiredStrengths) != 1 || d.RequiredStrengths[0].ID != tt.strength) {
				t.Errorf("required strengths = %v, want only %s", d.RequiredStrengths, tt.strength)
			}
			if tt.strength == "" && len(d.RequiredStrengths) != 0 && d.Decision != Block {
				t.Errorf("required strengths = %v, want none", d.RequiredStrengths)
			}
		})
	}
}

func TestEvaluateCollectsEveryUnmetStrengthOnce(t *testing.T) {
	a, b := pol(StrengthPhishingResistant), pol(onlyYubi)
	c := pol(StrengthPhishingResistant)
	c.ID = "again"
	set, err := NewSet([]Policy{a, b, c}, custom, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := set.Evaluate(req())
	var ids []string
	for _, s := range d.RequiredStrengths {
		ids = append(ids, s.ID)
	}
	if want := []string{StrengthPhishingResistant, onlyYubi}; !slices.Equal(ids, want) {
		t.Fatalf("required = %v, want %v", ids, want)
	}
	if got := d.RequiredStrengths[1].AllowedAAGUIDs(); !slices.Equal(got, []string{yubikey}) {
		t.Fatalf("the step-up cannot name the allowed model: %v", got)
	}
	// The allowed model satisfies both at once.
	if d := set.Evaluate(req(func(r *Request) { r.Proof = yubi })); d.Decision != Grant {
		t.Fatalf("a YubiKey sign-in: %s", d.Decision)
	}
}

func TestReportedControls(t *testing.T) {
	p := pol(StrengthPhishingResistant)
	p.SessionControls = &SessionControls{SignInFrequency: &SignInFrequency{Value: 4, Type: "hours", IsEnabled: true}}
	set, _ := NewSet([]Policy{p, blockPolicy()}, nil, nil)
	d := set.Evaluate(req())
	if g := d.Policies[0].EnforcedGrantControls; !slices.Equal(g, []string{"RequireAuthenticationStrength"}) {
		t.Errorf("grant controls = %v", g)
	}
	if s := d.Policies[0].EnforcedSessionControls; !slices.Equal(s, []string{"SignInFrequency"}) {
		t.Errorf("session controls = %v", s)
	}
	if g := d.Policies[1].EnforcedGrantControls; !slices.Equal(g, []string{"Block"}) {
		t.Errorf("block controls = %v", g)
	}
	if d.BlockedBy != "policy" {
		t.Errorf("blocked by %q", d.BlockedBy)
	}
}

func TestMethodsFromAMR(t *testing.T) {
	tests := []struct {
		amr   []string
		multi bool
		want  []string
	}{
		{[]string{"pwd", "otp", "mfa"}, false, []string{ModePassword, ModeSoftOATH}},
		{[]string{"hwk", "user", "pin"}, false, []string{ModeFido2}},
		{[]string{"swk", "hwk"}, false, []string{ModeFido2}},
		{[]string{"tap"}, false, []string{ModeTAPOnce}},
		{[]string{"tap"}, true, []string{ModeTAPMulti}},
		{nil, false, nil},
	}
	for _, tt := range tests {
		if got := MethodsFromAMR(tt.amr, tt.multi); !slices.Equal(got, tt.want) {
			t.Errorf("MethodsFromAMR(%v) = %v, want %v", tt.amr, got, tt.want)
		}
	}
}

func TestNewSetRefusesAMalformedRange(t *testing.T) {
	_, err := NewSet(nil, nil, []Location{{ID: office, DisplayName: "x", IPRanges: []IPRange{{CIDRAddress: "203.0.113.0"}}}})
	if err == nil {
		t.Fatal("a range without a prefix length was compiled")
	}
}

func BenchmarkEvaluate(b *testing.B) {
	var policies []Policy
	for i := range 20 {
		p := pol(StrengthPhishingResistant)
		p.Conditions.Users = UsersCondition{IncludeGroups: []string{staff}, ExcludeUsers: []string{bob}}
		p.Conditions.Applications = ApplicationsCondition{IncludeApplications: []string{wiki, payroll}}
		p.Conditions.Locations = &LocationsCondition{IncludeLocations: []string{All}, ExcludeLocations: []string{AllTrusted}}
		if i%2 == 0 {
			p.State = StateReportOnly
		}
		policies = append(policies, p)
	}
	set, err := NewSet(policies, custom, locations)
	if err != nil {
		b.Fatal(err)
	}
	r := req(func(r *Request) { r.Proof = yubi })
	b.ReportAllocs()
	for b.Loop() {
		if d := set.Evaluate(r); d.Decision != Grant {
			b.Fatal(d.Decision)
		}
	}
}
