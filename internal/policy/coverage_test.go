package policy

import (
	"slices"
	"testing"
)

func TestCoverage(t *testing.T) {
	const staff, contractors = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	two := mustApply(t, `{"state":"enabled","includeTargets":[{"id":"`+staff+`","allowedPasskeyProfiles":["keys"]},{"id":"all_users"}],
		"excludeTargets":[{"id":"`+contractors+`"}],
		"passkeyProfiles":[{"id":"default","name":"Default passkey profile"},{"id":"keys","name":"Security keys"}]}`)
	for _, tc := range []struct {
		name     string
		pol      Fido2
		groups   []string
		covered  bool
		code     string
		profiles []string
		included []string
	}{
		{"off_covers_nobody_though_targeted", Default(), []string{staff}, false, CodeMethodDisabled, nil, []string{AllUsers}},
		{"all_users_and_a_group", two, []string{staff}, true, "", []string{"default", "keys"}, []string{staff, AllUsers}},
		{"all_users_only", two, nil, true, "", []string{"default"}, []string{AllUsers}},
		{"exclusion_wins_but_inclusion_is_still_named", two, []string{staff, contractors}, false, CodeExcludedByGroup, nil, []string{staff, AllUsers}},
		{"not_targeted", mustApply(t, `{"state":"enabled","includeTargets":[{"id":"`+staff+`"}]}`), nil, false, CodeNotTargeted, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.pol.Coverage(tc.groups)
			var ids []string
			for _, p := range c.Profiles {
				ids = append(ids, p.ID)
			}
			if c.Covered != tc.covered || c.Refusal.Code != tc.code || !slices.Equal(ids, tc.profiles) || !slices.Equal(c.IncludedBy, tc.included) {
				t.Fatalf("Coverage = %+v (profiles %v), want covered %v code %q profiles %v included by %v", c, ids, tc.covered, tc.code, tc.profiles, tc.included)
			}
		})
	}
}
