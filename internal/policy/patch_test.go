package policy

import (
	"encoding/json"
	"testing"
)

func TestPatchSendsOnlyWhatItSets(t *testing.T) {
	t.Parallel()
	types := DeviceBound
	tests := []struct {
		name  string
		patch Patch
		want  string
	}{
		{"nothing", Patch{}, `{}`},
		{"state_alone", Patch{State: new(StateEnabled)}, `{"state":"enabled"}`},
		{"false_is_sent", Patch{IsSelfServiceRegistrationAllowed: new(false)}, `{"isSelfServiceRegistrationAllowed":false}`},
		{"an_empty_list_empties", Patch{ExcludeTargets: &[]ExcludeTarget{}}, `{"excludeTargets":[]}`},
		{"a_profile_by_id_alone_stays", Patch{PasskeyProfiles: &[]ProfilePatch{{ID: DefaultProfileID}}},
			`{"passkeyProfiles":[{"id":"` + DefaultProfileID + `"}]}`},
		{"profile_fields", Patch{PasskeyProfiles: &[]ProfilePatch{{ID: "p", PasskeyTypes: &types,
			KeyRestrictions: &KeyRestrictionsPatch{IsEnforced: new(false)}}}},
			`{"passkeyProfiles":[{"id":"p","passkeyTypes":"deviceBound","keyRestrictions":{"isEnforced":false}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tt.patch)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPatchAppliesAsItsJSONDoes(t *testing.T) {
	t.Parallel()
	types := DeviceBound
	data, err := json.Marshal(Patch{
		State:          new(StateEnabled),
		IncludeTargets: &[]IncludeTarget{{TargetType: TargetTypeGroup, ID: AllUsers}},
		PasskeyProfiles: &[]ProfilePatch{{ID: DefaultProfileID, PasskeyTypes: &types,
			KeyRestrictions: &KeyRestrictionsPatch{IsEnforced: new(true), EnforcementType: new(EnforcementBlock),
				AAGUIDs: &[]string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Apply(Default(), data)
	if err != nil {
		t.Fatal(err)
	}
	p := f.PasskeyProfiles[0]
	if f.State != StateEnabled || f.IncludeTargets[0].AllowedPasskeyProfiles[0] != DefaultProfileID ||
		p.PasskeyTypes != DeviceBound || !p.KeyRestrictions.IsEnforced || len(p.KeyRestrictions.AAGUIDs) != 1 {
		t.Fatalf("applied %+v", f)
	}
	if p.Name != DefaultProfileName || !f.IsSelfServiceRegistrationAllowed {
		t.Fatalf("a field the patch left out changed: %+v", f)
	}
}
