package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/apperr"
)

const (
	groupEng   = "6f1c2a7e-0d7b-4c1e-9a55-3b7f0e2d1a01"
	groupSales = "6f1c2a7e-0d7b-4c1e-9a55-3b7f0e2d1a02"
	yubi52     = "ee882879-721c-4913-9775-3dfcce97072a"
	yubi51     = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
)

// problemsOf returns the problems of a validation error, failing the test
// when err is not the 400 *apperr.Error that Apply promises.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *apperr.Error", err, err)
	}
	if ae.Status != 400 || ae.Code != "invalidRequest" {
		t.Fatalf("got status %d code %q, want 400 invalidRequest", ae.Status, ae.Code)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v carries no *ValidationError", err)
	}
	for _, p := range ve.Problems {
		if !strings.Contains(ae.Message, p) {
			t.Errorf("message %q does not list problem %q", ae.Message, p)
		}
	}
	return ve.Problems
}

func TestApplyAcceptsAndNormalises(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		check func(t *testing.T, got Fido2)
	}{
		{"enables_method_and_keeps_other_fields", `{"state":"enabled"}`, func(t *testing.T, got Fido2) {
			want := Default()
			want.State = StateEnabled
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		}},
		{"turns_self_service_off", `{"isSelfServiceRegistrationAllowed":false}`, func(t *testing.T, got Fido2) {
			if got.IsSelfServiceRegistrationAllowed {
				t.Error("self-service still allowed")
			}
		}},
		{"replaces_include_targets_whole", `{"includeTargets":[{"targetType":"group","id":"` + groupEng + `","allowedPasskeyProfiles":["default"]}]}`, func(t *testing.T, got Fido2) {
			if len(got.IncludeTargets) != 1 || got.IncludeTargets[0].ID != groupEng {
				t.Errorf("include targets %+v", got.IncludeTargets)
			}
		}},
		{"include_target_without_profiles_gets_default_profile", `{"includeTargets":[{"id":"` + groupEng + `"}]}`, func(t *testing.T, got Fido2) {
			tg := got.IncludeTargets[0]
			if tg.TargetType != "group" || !reflect.DeepEqual(tg.AllowedPasskeyProfiles, []string{DefaultProfileID}) {
				t.Errorf("target %+v", tg)
			}
		}},
		{"null_allowed_profiles_means_default_profile", `{"includeTargets":[{"id":"all_users","allowedPasskeyProfiles":null}]}`, func(t *testing.T, got Fido2) {
			if !reflect.DeepEqual(got.IncludeTargets[0].AllowedPasskeyProfiles, []string{DefaultProfileID}) {
				t.Errorf("target %+v", got.IncludeTargets[0])
			}
		}},
		{"normalises_group_ids_to_lower_case", `{"includeTargets":[{"id":"` + strings.ToUpper(groupEng) + `"}],"excludeTargets":[{"id":"{` + groupSales + `}"}]}`, func(t *testing.T, got Fido2) {
			if got.IncludeTargets[0].ID != groupEng || got.ExcludeTargets[0].ID != groupSales {
				t.Errorf("ids %q %q", got.IncludeTargets[0].ID, got.ExcludeTargets[0].ID)
			}
		}},
		{"removes_duplicate_exclusions", `{"excludeTargets":[{"id":"` + groupSales + `"},{"targetType":"group","id":"` + groupSales + `"}]}`, func(t *testing.T, got Fido2) {
			if len(got.ExcludeTargets) != 1 {
				t.Errorf("exclusions %+v", got.ExcludeTargets)
			}
		}},
		{"normalises_and_dedupes_aaguids", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":[
			"EE882879-721C-4913-9775-3DFCCE97072A","{ee882879-721c-4913-9775-3dfcce97072a}","cb69481e8ff7403993ec0a2729a154a8"," urn:uuid:cb69481e-8ff7-4039-93ec-0a2729a154a8 "]}}]}`, func(t *testing.T, got Fido2) {
			want := []string{yubi52, yubi51}
			if g := got.PasskeyProfiles[0].KeyRestrictions.AAGUIDs; !reflect.DeepEqual(g, want) {
				t.Errorf("aaGuids %q, want %q", g, want)
			}
		}},
		{"passkey_types_accepts_graph_string", `{"passkeyProfiles":[{"id":"default","passkeyTypes":"deviceBound"}]}`, func(t *testing.T, got Fido2) {
			if got.PasskeyProfiles[0].PasskeyTypes != DeviceBound {
				t.Errorf("types %v", got.PasskeyProfiles[0].PasskeyTypes)
			}
		}},
		{"passkey_types_accepts_array", `{"passkeyProfiles":[{"id":"default","passkeyTypes":["synced","deviceBound"]}]}`, func(t *testing.T, got Fido2) {
			if got.PasskeyProfiles[0].PasskeyTypes != DeviceBound|Synced {
				t.Errorf("types %v", got.PasskeyProfiles[0].PasskeyTypes)
			}
		}},
		{"merges_profile_fields_by_id", `{"passkeyProfiles":[{"id":"default","attestationEnforcement":"registrationOnly"}]}`, func(t *testing.T, got Fido2) {
			p := got.PasskeyProfiles[0]
			if p.Name != DefaultProfileName || p.AttestationEnforcement != AttestationRegistrationOnly || p.PasskeyTypes != DeviceBound|Synced {
				t.Errorf("profile %+v", p)
			}
		}},
		{"key_restrictions_partial_update_keeps_list", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true}}]}`, func(t *testing.T, got Fido2) {
			kr := got.PasskeyProfiles[0].KeyRestrictions
			if !kr.IsEnforced || kr.EnforcementType != EnforcementBlock || len(kr.AAGUIDs) != 0 {
				t.Errorf("restrictions %+v", kr)
			}
		}},
		{"adds_profile_with_generated_id", `{"passkeyProfiles":[{"id":"default"},{"name":"Hardware keys","passkeyTypes":"deviceBound"}]}`, func(t *testing.T, got Fido2) {
			p := got.PasskeyProfiles[1]
			if len(p.ID) != 36 || p.Name != "Hardware keys" || p.AttestationEnforcement != AttestationDisabled ||
				p.KeyRestrictions.EnforcementType != EnforcementBlock || p.KeyRestrictions.AAGUIDs == nil {
				t.Errorf("new profile %+v", p)
			}
		}},
		{"adds_profile_with_chosen_id_referenced_by_target", `{
			"passkeyProfiles":[{"id":"default"},{"id":"hardware","name":"Hardware keys","passkeyTypes":"deviceBound"}],
			"includeTargets":[{"id":"` + groupEng + `","allowedPasskeyProfiles":["hardware","default","hardware"]}]}`, func(t *testing.T, got Fido2) {
			if got.PasskeyProfiles[1].ID != "hardware" {
				t.Errorf("profile id %q", got.PasskeyProfiles[1].ID)
			}
			if want := []string{"hardware", "default"}; !reflect.DeepEqual(got.IncludeTargets[0].AllowedPasskeyProfiles, want) {
				t.Errorf("allowed %q, want %q", got.IncludeTargets[0].AllowedPasskeyProfiles, want)
			}
		}},
		{"trims_profile_names", `{"passkeyProfiles":[{"id":"default","name":"  Everyone  "}]}`, func(t *testing.T, got Fido2) {
			if got.PasskeyProfiles[0].Name != "Everyone" {
				t.Errorf("name %q", got.PasskeyProfiles[0].Name)
			}
		}},
		{"accepts_its_own_output_with_odata_annotations", mustJSON(t, Default()), func(t *testing.T, got Fido2) {
			if !reflect.DeepEqual(got, Default()) {
				t.Errorf("got %+v", got)
			}
		}},
		{"ignores_odata_context_annotation", `{"@odata.context":"https://graph.microsoft.com/beta/$metadata#x","state":"enabled"}`, func(t *testing.T, got Fido2) {
			if got.State != StateEnabled {
				t.Errorf("state %q", got.State)
			}
		}},
		{"empty_object_changes_nothing", `{}`, func(t *testing.T, got Fido2) {
			if !reflect.DeepEqual(got, Default()) {
				t.Errorf("got %+v", got)
			}
		}},
		{"null_lists_become_empty", `{"excludeTargets":null}`, func(t *testing.T, got Fido2) {
			if got.ExcludeTargets == nil || len(got.ExcludeTargets) != 0 {
				t.Errorf("exclusions %#v", got.ExcludeTargets)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(Default(), []byte(tt.patch))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			tt.check(t, got)
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyRejects(t *testing.T) {
	tooMany := make([]string, MaxAAGUIDs+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf(`"%08x-0000-4000-8000-000000000000"`, i+1)
	}
	tests := []struct {
		name  string
		patch string
		want  []string // each must appear in some problem
	}{
		{"empty_body", ``, []string{"the request body is empty"}},
		{"body_not_json", `{"state":`, []string{"not valid JSON"}},
		{"body_not_an_object", `["state"]`, []string{"must be a JSON object, not an array"}},
		{"trailing_garbage", `{"state":"enabled"} x`, []string{"not valid JSON"}},
		{"unknown_top_level_field", `{"stat":"enabled"}`, []string{`stat: unknown field`}},
		{"unknown_profile_field_named_with_path", `{"passkeyProfiles":[{"id":"default","nmae":"x"}]}`, []string{"passkeyProfiles[0].nmae: unknown field"}},
		{"unknown_key_restrictions_field", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"aaguids":[]}}]}`, []string{"passkeyProfiles[0].keyRestrictions.aaguids: unknown field"}},
		{"unknown_target_field", `{"includeTargets":[{"id":"all_users","isRegistrationRequired":true}]}`, []string{"includeTargets[0].isRegistrationRequired: unknown field"}},
		{"state_wrong_type", `{"state":1}`, []string{"state: must be a string, not a number"}},
		{"self_service_wrong_type", `{"isSelfServiceRegistrationAllowed":"yes"}`, []string{"isSelfServiceRegistrationAllowed: must be true or false, not a string"}},
		{"include_targets_wrong_type", `{"includeTargets":{"id":"all_users"}}`, []string{"includeTargets: must be an array, not an object"}},
		{"profile_not_an_object", `{"passkeyProfiles":["default"]}`, []string{"passkeyProfiles[0]: must be an object, not a string"}},
		{"aaguid_wrong_type", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"aaGuids":[1]}}]}`, []string{"aaGuids[0]: must be a string, not a number"}},
		{"invalid_state_value", `{"state":"on"}`, []string{`state: must be "enabled" or "disabled", not "on"`}},
		{"wrong_odata_type", `{"@odata.type":"#microsoft.graph.emailAuthenticationMethodConfiguration"}`, []string{"@odata.type: must be"}},
		{"wrong_configuration_id", `{"id":"Email"}`, []string{`id: must be "Fido2"`}},
		{"more_than_three_profiles", `{"passkeyProfiles":[{"id":"default"},{"name":"a"},{"name":"b"},{"name":"c"}]}`, []string{"at most 3 passkey profiles"}},
		{"missing_default_profile", `{"passkeyProfiles":[{"id":"other","name":"Other"}],"includeTargets":[{"id":"all_users","allowedPasskeyProfiles":["other"]}]}`, []string{"the default profile", "cannot be deleted"}},
		{"empty_profile_name", `{"passkeyProfiles":[{"id":"default","name":"  "}]}`, []string{"passkeyProfiles[0].name: must not be empty"}},
		{"profile_name_too_long", `{"passkeyProfiles":[{"id":"default","name":"` + strings.Repeat("é", 65) + `"}]}`, []string{"at most 64 characters, not 65"}},
		{"duplicate_profile_names_ignoring_case", `{"passkeyProfiles":[{"id":"default"},{"name":"default PASSKEY profile"}]}`, []string{"passkeyProfiles[1].name", "names must be unique"}},
		{"duplicate_profile_ids", `{"passkeyProfiles":[{"id":"default"},{"id":"default","name":"Again"}]}`, []string{`"default" is used by more than one profile`}},
		{"invalid_profile_id", `{"passkeyProfiles":[{"id":"default"},{"id":"has space","name":"x"}]}`, []string{"not a valid profile id"}},
		{"target_references_unknown_profile", `{"includeTargets":[{"id":"all_users","allowedPasskeyProfiles":["nope"]}]}`, []string{`includeTargets[0].allowedPasskeyProfiles[0]: no passkey profile has id "nope"`}},
		{"include_target_with_empty_profile_list", `{"includeTargets":[{"id":"all_users","allowedPasskeyProfiles":[]}]}`, []string{"must name at least one passkey profile"}},
		{"target_type_not_group", `{"includeTargets":[{"targetType":"user","id":"all_users"}]}`, []string{`includeTargets[0].targetType: must be "group", not "user"`}},
		{"include_target_without_id", `{"includeTargets":[{"targetType":"group"}]}`, []string{"includeTargets[0].id: must name a group id"}},
		{"include_target_id_not_a_group_id", `{"includeTargets":[{"id":"Sales"}]}`, []string{`"Sales" is not a group id`}},
		{"include_target_listed_twice", `{"includeTargets":[{"id":"` + groupEng + `"},{"id":"` + groupEng + `"}]}`, []string{"already targeted by includeTargets[0]"}},
		{"exclude_all_users", `{"excludeTargets":[{"id":"all_users"}]}`, []string{`cannot exclude "all_users"`}},
		{"exclude_target_type_not_group", `{"excludeTargets":[{"targetType":"role","id":"` + groupEng + `"}]}`, []string{`excludeTargets[0].targetType: must be "group"`}},
		{"empty_passkey_types_string", `{"passkeyProfiles":[{"id":"default","passkeyTypes":""}]}`, []string{"passkeyTypes: must allow at least one passkey type"}},
		{"empty_passkey_types_array", `{"passkeyProfiles":[{"id":"default","passkeyTypes":[]}]}`, []string{"passkeyTypes: must allow at least one passkey type"}},
		{"unknown_passkey_type", `{"passkeyProfiles":[{"id":"default","passkeyTypes":"deviceBound,cloud"}]}`, []string{`"cloud" is not a passkey type`}},
		{"passkey_types_wrong_type", `{"passkeyProfiles":[{"id":"default","passkeyTypes":3}]}`, []string{"passkeyTypes: must be a string"}},
		{"invalid_attestation_enforcement", `{"passkeyProfiles":[{"id":"default","attestationEnforcement":"always"}]}`, []string{`attestationEnforcement: must be "disabled" or "registrationOnly", not "always"`}},
		{"invalid_enforcement_type", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"enforcementType":"deny"}}]}`, []string{`enforcementType: must be "allow" or "block", not "deny"`}},
		{"malformed_aaguid_named", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"aaGuids":["` + yubi52 + `","ee882879-721c-4913-9775-3dfcce97072"]}}]}`, []string{`aaGuids[1]: "ee882879-721c-4913-9775-3dfcce97072" is not an AAGUID`}},
		{"too_many_aaguids", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"aaGuids":[` + strings.Join(tooMany, ",") + `]}}]}`, []string{"at most 1000 AAGUIDs are allowed, not 1001"}},
		{"enforced_empty_allow_list", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"allow"}}]}`, []string{"an enforced allow list must name at least one AAGUID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := Default()
			got, err := Apply(cur, []byte(tt.patch))
			if err == nil {
				t.Fatalf("Apply accepted %s: %+v", tt.patch, got)
			}
			if !reflect.DeepEqual(got, Default()) {
				t.Errorf("a refused patch changed the policy: %+v", got)
			}
			ps := problemsOf(t, err)
			all := strings.Join(ps, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems %q do not mention %q", ps, w)
				}
			}
		})
	}
}

func TestApplyReportsEveryProblemAtOnce(t *testing.T) {
	patch := `{"state":"on","bogus":1,"passkeyProfiles":[
		{"id":"default","name":"","passkeyTypes":"","attestationEnforcement":"x","keyRestrictions":{"enforcementType":"y","aaGuids":["nope"]}}],
		"includeTargets":[{"targetType":"user","id":"Sales","allowedPasskeyProfiles":["missing"]}],
		"excludeTargets":[{"id":"all_users"}]}`
	_, err := Apply(Default(), []byte(patch))
	ps := problemsOf(t, err)
	want := []string{"bogus", "state", "passkeyProfiles[0].name", "passkeyProfiles[0].passkeyTypes",
		"passkeyProfiles[0].attestationEnforcement", "keyRestrictions.enforcementType", "aaGuids[0]",
		"includeTargets[0].targetType", "includeTargets[0].id", "allowedPasskeyProfiles[0]", "excludeTargets[0].id"}
	for _, w := range want {
		found := false
		for _, p := range ps {
			found = found || strings.HasPrefix(p, w+":") || strings.Contains(p, "."+w+":") || strings.Contains(p, w)
		}
		if !found {
			t.Errorf("no problem about %s in %q", w, ps)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d: %q", len(ps), len(want), ps)
	}
}

func TestApplyDoesNotRepeatDecodeProblemsInValidation(t *testing.T) {
	_, err := Apply(Default(), []byte(`{"state":5,"passkeyProfiles":[{"id":"default","passkeyTypes":7}]}`))
	ps := problemsOf(t, err)
	if len(ps) != 2 {
		t.Errorf("want one problem each for state and passkeyTypes, got %q", ps)
	}
}

func TestApplyRefusesDeletingAProfileStillInUse(t *testing.T) {
	cur, err := Apply(Default(), []byte(`{"passkeyProfiles":[{"id":"default"},{"id":"hw","name":"Hardware"}],
		"includeTargets":[{"id":"all_users","allowedPasskeyProfiles":["hw"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(cur, []byte(`{"passkeyProfiles":[{"id":"default"}]}`))
	ps := problemsOf(t, err)
	if len(ps) != 1 || !strings.Contains(ps[0], `includeTargets[0].allowedPasskeyProfiles[0]: no passkey profile has id "hw"`) {
		t.Errorf("problems %q", ps)
	}
}

func TestApplyDoesNotAliasCurrent(t *testing.T) {
	cur, err := Apply(Default(), []byte(`{"passkeyProfiles":[{"id":"default","keyRestrictions":{"aaGuids":["`+yubi52+`"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Apply(cur, []byte(`{"passkeyProfiles":[{"id":"default","keyRestrictions":{"aaGuids":["`+yubi51+`"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if cur.PasskeyProfiles[0].KeyRestrictions.AAGUIDs[0] != yubi52 || next.PasskeyProfiles[0].KeyRestrictions.AAGUIDs[0] != yubi51 {
		t.Errorf("cur %v next %v", cur.PasskeyProfiles[0].KeyRestrictions.AAGUIDs, next.PasskeyProfiles[0].KeyRestrictions.AAGUIDs)
	}
}

func TestValidateReportsProblemsOfGoValues(t *testing.T) {
	f := Default()
	f.State = ""
	f.PasskeyProfiles[0].PasskeyTypes = 0
	f.IncludeTargets[0].AllowedPasskeyProfiles = []string{}
	_, err := f.Validate()
	ps := problemsOf(t, err)
	if len(ps) != 3 {
		t.Errorf("want 3 problems, got %q", ps)
	}

	g := Default()
	g.IncludeTargets[0].AllowedPasskeyProfiles = nil
	g.ExcludeTargets = nil
	out, err := g.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, Default()) {
		t.Errorf("nil lists not normalised: %+v", out)
	}
}

func TestDefault(t *testing.T) {
	d := Default()
	if d.State != StateDisabled || !d.IsSelfServiceRegistrationAllowed || len(d.ExcludeTargets) != 0 {
		t.Errorf("default %+v", d)
	}
	want := IncludeTarget{TargetType: "group", ID: AllUsers, AllowedPasskeyProfiles: []string{DefaultProfileID}}
	if len(d.IncludeTargets) != 1 || !reflect.DeepEqual(d.IncludeTargets[0], want) {
		t.Errorf("include targets %+v", d.IncludeTargets)
	}
	p := d.PasskeyProfiles[0]
	if len(d.PasskeyProfiles) != 1 || p.ID != DefaultProfileID || p.Name != "Default passkey profile" ||
		p.PasskeyTypes != DeviceBound|Synced || p.AttestationEnforcement != AttestationDisabled ||
		p.KeyRestrictions.IsEnforced || p.KeyRestrictions.EnforcementType != EnforcementBlock || len(p.KeyRestrictions.AAGUIDs) != 0 {
		t.Errorf("default profile %+v", p)
	}
	if _, err := d.Validate(); err != nil {
		t.Errorf("default does not validate: %v", err)
	}
}

func TestMarshalJSONHasGraphShape(t *testing.T) {
	f := Default()
	f.ExcludeTargets = nil
	var got map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, f)), &got); err != nil {
		t.Fatal(err)
	}
	if got["@odata.type"] != ODataType || got["id"] != "Fido2" || got["state"] != "disabled" {
		t.Errorf("header fields %v", got)
	}
	if ex, ok := got["excludeTargets"].([]any); !ok || len(ex) != 0 {
		t.Errorf("excludeTargets should be [], got %#v", got["excludeTargets"])
	}
	p := got["passkeyProfiles"].([]any)[0].(map[string]any)
	if p["passkeyTypes"] != "deviceBound,synced" {
		t.Errorf("passkeyTypes %#v", p["passkeyTypes"])
	}
	if kr := p["keyRestrictions"].(map[string]any); kr["aaGuids"] == nil {
		t.Errorf("aaGuids should be [], got %#v", kr)
	}
}

func TestLoad(t *testing.T) {
	t.Run("empty_data_gives_default", func(t *testing.T) {
		got, err := Load(nil)
		if err != nil || !reflect.DeepEqual(got, Default()) {
			t.Errorf("got %+v, %v", got, err)
		}
	})
	t.Run("round_trips_marshalled_policy", func(t *testing.T) {
		f, err := Apply(Default(), []byte(`{"state":"enabled","passkeyProfiles":[{"id":"default"},
			{"id":"hw","name":"Hardware","passkeyTypes":"deviceBound","attestationEnforcement":"registrationOnly",
			 "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["`+yubi52+`"]}}],
			"includeTargets":[{"id":"`+groupEng+`","allowedPasskeyProfiles":["hw"]}],
			"excludeTargets":[{"id":"`+groupSales+`"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load([]byte(mustJSON(t, f)))
		if err != nil || !reflect.DeepEqual(got, f) {
			t.Errorf("got %+v, %v; want %+v", got, err, f)
		}
	})
	t.Run("corrupt_data_is_an_internal_error", func(t *testing.T) {
		_, err := Load([]byte(`{"state":"maybe"}`))
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Status != 500 {
			t.Errorf("got %v", err)
		}
	})
}

func TestGroupIDs(t *testing.T) {
	f, err := Apply(Default(), []byte(`{"includeTargets":[{"id":"all_users"},{"id":"`+groupEng+`"}],
		"excludeTargets":[{"id":"`+groupSales+`"},{"id":"`+groupEng+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.GroupIDs(), []string{groupEng, groupSales}; !reflect.DeepEqual(got, want) {
		t.Errorf("GroupIDs %q, want %q", got, want)
	}
}

func TestPasskeyTypes(t *testing.T) {
	tests := []struct {
		in   string
		want PasskeyTypes
		err  bool
	}{
		{`"deviceBound,synced"`, DeviceBound | Synced, false},
		{`"synced, deviceBound"`, DeviceBound | Synced, false},
		{`"synced"`, Synced, false},
		{`""`, 0, false},
		{`["deviceBound"]`, DeviceBound, false},
		{`"Synced"`, 0, true},
		{`[1]`, 0, true},
		{`{}`, 0, true},
	}
	for _, tt := range tests {
		var got PasskeyTypes
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("Unmarshal(%s) = %v, %v", tt.in, got, err)
		}
	}
	if s := (DeviceBound | Synced).String(); s != "deviceBound,synced" {
		t.Errorf("String %q", s)
	}
}
