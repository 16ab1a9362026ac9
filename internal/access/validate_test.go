package access

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/apperr"
)

var known = Known{
	Strength: func(id string) bool { return id == onlyYubi },
	Location: func(id string) bool { return id == office || id == lab6 },
}

func TestValidatePolicy(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Policy)
		want string // a problem the error must name; "" = valid
	}{
		{"valid", func(*Policy) {}, ""},
		{"empty_name", func(p *Policy) { p.DisplayName = "  " }, "displayName: must not be empty"},
		{"bad_state", func(p *Policy) { p.State = "on" }, `state: must be "enabled"`},
		{"nobody_included", func(p *Policy) { p.Conditions.Users = UsersCondition{ExcludeUsers: []string{alice}} }, "must include someone"},
		{"all_not_alone", func(p *Policy) { p.Conditions.Users.IncludeUsers = []string{All, alice} }, `"All" must be the only entry`},
		{"user_id_not_uuid", func(p *Policy) { p.Conditions.Users.IncludeUsers = []string{"alice"} }, `includeUsers[0]: "alice" is not an ID`},
		{"unknown_role", func(p *Policy) { p.Conditions.Users.IncludeRoles = []string{"root"} }, `"root" is not an admin role`},
		{"no_apps", func(p *Policy) { p.Conditions.Applications = ApplicationsCondition{} }, "must include applications"},
		{"apps_and_action", func(p *Policy) {
			p.Conditions.Applications.IncludeUserActions = []string{UserActionRegisterSecurityInfo}
		}, "cannot both be set"},
		{"unknown_action", func(p *Policy) {
			p.Conditions.Applications = ApplicationsCondition{IncludeUserActions: []string{"urn:user:registerdevice"}}
		}, "is not a user action"},
		{"unknown_location", func(p *Policy) {
			p.Conditions.Locations = &LocationsCondition{IncludeLocations: []string{bob}}
		}, "there is no named location"},
		{"exclude_without_include", func(p *Policy) {
			p.Conditions.Locations = &LocationsCondition{ExcludeLocations: []string{office}}
		}, "must be set when excludeLocations is"},
		{"mfa_and_strength", func(p *Policy) { p.GrantControls.BuiltInControls = []string{ControlMFA} }, "cannot require both mfa and an authentication strength"},
		{"block_and_strength", func(p *Policy) { p.GrantControls.BuiltInControls = []string{ControlBlock} }, "block cannot be combined"},
		{"unknown_control", func(p *Policy) { p.GrantControls.BuiltInControls = []string{"compliantDevice"} }, `"compliantDevice" is not a control`},
		{"unknown_strength", func(p *Policy) { p.GrantControls.AuthenticationStrength.ID = bob }, "there is no authentication strength"},
		{"bad_operator", func(p *Policy) { p.GrantControls.Operator = "XOR" }, `operator: must be "OR" or "AND"`},
		{"no_controls", func(p *Policy) { p.GrantControls = nil }, "grantControls: must be set"},
		{"frequency_alone_is_enough", func(p *Policy) {
			p.GrantControls = nil
			p.SessionControls = &SessionControls{SignInFrequency: &SignInFrequency{Value: 4, Type: "hours", IsEnabled: true}}
		}, ""},
		{"frequency_too_long_in_hours", func(p *Policy) {
			p.SessionControls = &SessionControls{SignInFrequency: &SignInFrequency{Value: 24, Type: "hours", IsEnabled: true}}
		}, "must be 1 to 23 hours"},
		{"frequency_bad_type", func(p *Policy) {
			p.SessionControls = &SessionControls{SignInFrequency: &SignInFrequency{Value: 2, Type: "weeks", IsEnabled: true}}
		}, `type: must be "hours" or "days"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pol(onlyYubi)
			tt.edit(&p)
			_, err := ValidatePolicy(p, known)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("want a 400, got %v", err)
			}
			if !strings.Contains(ae.Message, tt.want) {
				t.Fatalf("message %q does not say %q", ae.Message, tt.want)
			}
		})
	}
}

func TestValidatePolicyNormalises(t *testing.T) {
	p := pol(strings.ToUpper(onlyYubi))
	p.DisplayName = "  Admins  "
	p.GrantControls.Operator = ""
	p.Conditions.Users = UsersCondition{IncludeUsers: []string{strings.ToUpper(alice), alice},
		IncludeRoles: []string{"62e90394-69f5-4237-9190-012177145e10", "Global-Admin"}}
	out, err := ValidatePolicy(p, known)
	if err != nil {
		t.Fatal(err)
	}
	if out.DisplayName != "Admins" || out.GrantControls.Operator != OperatorOR || out.GrantControls.AuthenticationStrength.ID != onlyYubi {
		t.Errorf("not normalised: %+v %+v", out, out.GrantControls)
	}
	if !slices.Equal(out.Conditions.Users.IncludeUsers, []string{alice}) || !slices.Equal(out.Conditions.Users.IncludeRoles, []string{"global-admin"}) {
		t.Errorf("users = %+v", out.Conditions.Users)
	}
	if out.Conditions.Users.ExcludeGroups == nil {
		t.Error("empty lists should be [] in JSON, not null")
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	p := pol(bob)
	p.DisplayName, p.State = "", "x"
	_, err := ValidatePolicy(p, known)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestValidateStrength(t *testing.T) {
	base := func() Strength {
		return Strength{DisplayName: "Keys", AllowedCombinations: []string{ModeFido2},
			CombinationConfigurations: []CombinationConfiguration{{AppliesToCombinations: []string{ModeFido2}, AllowedAAGUIDs: []string{strings.ToUpper(yubikey)}}}}
	}
	out, err := ValidateStrength(base())
	if err != nil {
		t.Fatal(err)
	}
	if out.PolicyType != PolicyTypeCustom || out.RequirementsSatisfied != RequirementsMFA ||
		out.CombinationConfigurations[0].AllowedAAGUIDs[0] != yubikey || out.CombinationConfigurations[0].ODataType != ODataFido2Combination {
		t.Errorf("not normalised: %+v", out)
	}
	tests := []struct {
		name string
		edit func(*Strength)
		want string
	}{
		{"unknown_combination", func(s *Strength) { s.AllowedCombinations = []string{"sms"} }, `"sms" is not a combination`},
		{"no_combination", func(s *Strength) { s.AllowedCombinations = nil; s.CombinationConfigurations = nil }, "must allow at least one"},
		{"zero_aaguid", func(s *Strength) { s.CombinationConfigurations[0].AllowedAAGUIDs = []string{zeroAAGUID} }, "all-zero AAGUID"},
		{"bad_aaguid", func(s *Strength) { s.CombinationConfigurations[0].AllowedAAGUIDs = []string{"yubikey"} }, "is not an AAGUID"},
		{"empty_allow_list", func(s *Strength) { s.CombinationConfigurations[0].AllowedAAGUIDs = nil }, "at least one key model"},
		{"config_without_fido2", func(s *Strength) { s.AllowedCombinations = []string{ComboPassTOTP} }, "which allowedCombinations does not allow"},
		{"config_for_other_combination", func(s *Strength) {
			s.CombinationConfigurations[0].AppliesToCombinations = []string{ComboPassTOTP}
		}, `must be ["fido2"]`},
		{"built_in_type", func(s *Strength) { s.PolicyType = PolicyTypeBuiltIn }, "read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.edit(&s)
			_, err := ValidateStrength(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	s := base()
	s.AllowedCombinations = []string{ModePassword, ModeFido2}
	if out, _ := ValidateStrength(s); out.RequirementsSatisfied != RequirementsNone {
		t.Errorf("a strength a password alone meets satisfies %q", out.RequirementsSatisfied)
	}
}

func TestValidateLocation(t *testing.T) {
	out, err := ValidateLocation(Location{DisplayName: "Office", IPRanges: []IPRange{
		{CIDRAddress: "203.0.113.77/24"}, {CIDRAddress: "203.0.113.0/24"}, {CIDRAddress: "2001:DB8::/32"}, {CIDRAddress: "::ffff:198.51.100.0/120"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(out.IPRanges)
	want := `[{"@odata.type":"#microsoft.graph.iPv4CidrRange","cidrAddress":"203.0.113.0/24"},` +
		`{"@odata.type":"#microsoft.graph.iPv6CidrRange","cidrAddress":"2001:db8::/32"},` +
		`{"@odata.type":"#microsoft.graph.iPv4CidrRange","cidrAddress":"198.51.100.0/24"}]`
	if string(got) != want {
		t.Errorf("ranges = %s\nwant %s", got, want)
	}
	for _, bad := range []struct{ cidr, want string }{
		{"203.0.113.1", "is not a CIDR range"},
		{"0.0.0.0/0", "covers every address"},
		{"::/0", "covers every address"},
		{"300.1.1.1/8", "is not a CIDR range"},
	} {
		_, err := ValidateLocation(Location{DisplayName: "x", IPRanges: []IPRange{{CIDRAddress: bad.cidr}}})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want %q", bad.cidr, err, bad.want)
		}
	}
	if _, err := ValidateLocation(Location{DisplayName: "x"}); err == nil {
		t.Error("a location without ranges was accepted")
	}
}
