package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/apperr"
)

const (
	groupAdmins      = "6f1c2a7e-0d7b-4c1e-9a55-3b7f0e2d1a10"
	groupContractors = "6f1c2a7e-0d7b-4c1e-9a55-3b7f0e2d1a11"
	icloud           = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
	unknownModel     = "11111111-2222-4333-8444-555555555555"
)

// mustApply builds a policy from a patch over Default(), enabled.
func mustApply(t *testing.T, patch string) Fido2 {
	t.Helper()
	f, err := Apply(Default(), []byte(`{"state":"enabled"}`))
	if err != nil {
		t.Fatal(err)
	}
	if f, err = Apply(f, []byte(patch)); err != nil {
		t.Fatalf("Apply(%s): %v", patch, err)
	}
	return f
}

// withProfile is an enabled policy whose default profile is changed by
// profileJSON (fields of the profile object) and that includes all users.
func withProfile(t *testing.T, profileJSON string) Fido2 {
	t.Helper()
	return mustApply(t, `{"passkeyProfiles":[{"id":"default",`+profileJSON+`}]}`)
}

var (
	yubiKey    = Key{AAGUID: yubi52, Attested: true}
	syncedKey  = Key{AAGUID: icloud, BackupEligible: true, AttestationProblem: "the key sent no attestation certificate (self or none attestation)"}
	zeroKey    = Key{AAGUID: ZeroAAGUID, BackupEligible: true}
	unknownKey = Key{AAGUID: unknownModel, Attested: true}
)

func TestScope(t *testing.T) {
	base := `{"includeTargets":[{"id":"` + groupEng + `","allowedPasskeyProfiles":["default"]},
		{"id":"` + groupAdmins + `","allowedPasskeyProfiles":["hw"]}],
		"excludeTargets":[{"id":"` + groupContractors + `"}],
		"passkeyProfiles":[{"id":"default"},{"id":"hw","name":"Hardware","passkeyTypes":"deviceBound"}]}`
	tests := []struct {
		name     string
		policy   Fido2
		groups   []string
		code     string
		profiles []string
	}{
		{"disabled_method_refuses_everyone", Default(), []string{groupEng}, CodeMethodDisabled, nil},
		{"all_users_includes_a_user_in_no_group", mustApply(t, `{}`), nil, "", []string{"default"}},
		{"member_group_includes", mustApply(t, base), []string{groupEng}, "", []string{"default"}},
		{"group_ids_compare_ignoring_case", mustApply(t, base), []string{strings.ToUpper(groupEng)}, "", []string{"default"}},
		{"profiles_of_all_member_groups_are_united", mustApply(t, base), []string{groupAdmins, groupEng}, "", []string{"default", "hw"}},
		{"not_targeted_when_no_group_matches", mustApply(t, base), []string{groupSales}, CodeNotTargeted, nil},
		{"exclusion_beats_inclusion", mustApply(t, base), []string{groupEng, groupContractors}, CodeExcludedByGroup, nil},
		{"exclusion_beats_all_users", mustApply(t, `{"excludeTargets":[{"id":"`+groupContractors+`"}]}`), []string{groupContractors}, CodeExcludedByGroup, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			profiles, d := tt.policy.Scope(tt.groups)
			if d.Code != tt.code || d.Allowed != (tt.code == "") {
				t.Fatalf("decision %+v, want code %q", d, tt.code)
			}
			if !d.Allowed && d.Reason == "" {
				t.Error("a refusal without a reason")
			}
			var ids []string
			for _, p := range profiles {
				ids = append(ids, p.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.profiles, ",") {
				t.Errorf("profiles %q, want %q", ids, tt.profiles)
			}
		})
	}
}

func TestRefusalReasonsAreActionable(t *testing.T) {
	_, d := Default().Scope(nil)
	if d.Reason != "passkeys (FIDO2) are turned off for your organisation; ask an administrator to turn them on" {
		t.Errorf("disabled reason %q", d.Reason)
	}
	f := mustApply(t, `{"excludeTargets":[{"id":"`+groupContractors+`"}]}`)
	_, d = f.Scope([]string{groupContractors})
	if !strings.Contains(d.Reason, "excluded from passkeys (FIDO2) by group "+groupContractors) || d.Group != groupContractors {
		t.Errorf("excluded decision %+v", d)
	}
	named := d.WithGroupName("Contractors")
	if !strings.Contains(named.Reason, `by group "Contractors"`) || named.Code != CodeExcludedByGroup {
		t.Errorf("named reason %q", named.Reason)
	}
	if other := (Decision{Code: CodeNotTargeted, Reason: "x"}).WithGroupName("G"); other.Reason != "x" {
		t.Errorf("WithGroupName changed a %s reason: %q", other.Code, other.Reason)
	}
}

func TestCheckRegistrationStart(t *testing.T) {
	selfServiceOff := mustApply(t, `{"isSelfServiceRegistrationAllowed":false,"excludeTargets":[{"id":"`+groupContractors+`"}]}`)
	tests := []struct {
		name    string
		policy  Fido2
		groups  []string
		byAdmin bool
		code    string
	}{
		{"self_service_allows_user", mustApply(t, `{}`), nil, false, ""},
		{"self_service_off_refuses_user", selfServiceOff, nil, false, CodeSelfServiceDisabled},
		{"self_service_off_allows_admin_provisioning", selfServiceOff, nil, true, ""},
		{"admin_provisioning_still_needs_scope", selfServiceOff, []string{groupContractors}, true, CodeExcludedByGroup},
		{"admin_provisioning_refused_when_method_disabled", Default(), nil, true, CodeMethodDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.policy.CheckRegistrationStart(tt.groups, tt.byAdmin)
			if d.Code != tt.code || d.Allowed != (tt.code == "") {
				t.Errorf("decision %+v, want code %q", d, tt.code)
			}
		})
	}
	d := selfServiceOff.CheckRegistrationStart(nil, false)
	if d.Reason != "self-service passkey registration is turned off; ask an administrator to register a key for you" {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestCheckRegistration(t *testing.T) {
	allowYubi := `"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + yubi52 + `"]}`
	blockYubi := `"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + yubi52 + `"]}`
	tests := []struct {
		name    string
		policy  Fido2
		byAdmin bool
		key     Key
		code    string
		reason  string // substring
	}{
		{"default_profile_accepts_any_key", mustApply(t, `{}`), false, zeroKey, "", ""},
		{"allows_listed_aaguid_under_allow_list", withProfile(t, allowYubi), false, yubiKey, "", ""},
		{"matches_allow_list_whatever_the_aaguid_spelling", withProfile(t, allowYubi), false, Key{AAGUID: strings.ToUpper(strings.ReplaceAll(yubi52, "-", ""))}, "", ""},
		{"rejects_zero_aaguid_under_allow_list", withProfile(t, `"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["`+yubi52+`","`+ZeroAAGUID+`"]}`), false, zeroKey, CodeKeyRestricted, "its AAGUID is all zeros"},
		{"rejects_malformed_aaguid_under_allow_list", withProfile(t, allowYubi), false, Key{AAGUID: "garbage"}, CodeKeyRestricted, "did not say which model it is and"},
		{"rejects_unlisted_model_under_allow_list", withProfile(t, allowYubi), false, syncedKey, CodeKeyRestricted,
			"this key model, Apple Passwords (AAGUID " + icloud + "), is not on your organisation's list of allowed keys"},
		{"block_list_refuses_listed_model_naming_it", withProfile(t, blockYubi), false, Key{AAGUID: yubi52, Model: "YubiKey 5 NFC"}, CodeKeyRestricted,
			"your organisation does not accept this key model, YubiKey 5 NFC (AAGUID " + yubi52 + "): it is blocked by your organisation's policy; use a passkey or security key of another model"},
		{"block_list_names_model_from_builtin_list_when_mds_has_none", withProfile(t, blockYubi), false, Key{AAGUID: yubi52}, CodeKeyRestricted,
			"YubiKey 5 Series (AAGUID " + yubi52 + ")"},
		{"block_list_names_unknown_model_by_aaguid", withProfile(t, `"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["`+unknownModel+`"]}`), false, unknownKey, CodeKeyRestricted,
			"an unnamed model (AAGUID " + unknownModel + "): it is blocked"},
		{"block_list_allows_unlisted_model", withProfile(t, blockYubi), false, syncedKey, "", ""},
		{"block_list_allows_zero_aaguid", withProfile(t, blockYubi), false, zeroKey, "", ""},
		{"restrictions_not_enforced_ignore_the_list", withProfile(t, `"keyRestrictions":{"isEnforced":false,"enforcementType":"allow","aaGuids":["`+yubi52+`"]}`), false, syncedKey, "", ""},
		{"synced_refused_under_device_bound_only", withProfile(t, `"passkeyTypes":"deviceBound"`), false, syncedKey, CodePasskeyTypeNotAllowed,
			"synced passkeys are not allowed; use a device-bound security key"},
		{"device_bound_refused_under_synced_only", withProfile(t, `"passkeyTypes":"synced"`), false, yubiKey, CodePasskeyTypeNotAllowed,
			"device-bound security keys are not allowed"},
		{"attestation_required_refuses_unattested_saying_why", withProfile(t, `"attestationEnforcement":"registrationOnly"`), false, syncedKey, CodeAttestationRequired,
			"this key could not be verified as genuine (the key sent no attestation certificate (self or none attestation)): your organisation requires attested keys"},
		{"attestation_required_accepts_attested", withProfile(t, `"attestationEnforcement":"registrationOnly"`), false, yubiKey, "", ""},
		{"attestation_required_applies_to_admin_provisioning", withProfile(t, `"attestationEnforcement":"registrationOnly"`), true, Key{AAGUID: yubi52}, CodeAttestationRequired, "could not be verified as genuine: your organisation"},
		{"self_service_off_refuses_user_before_looking_at_key", mustApply(t, `{"isSelfServiceRegistrationAllowed":false}`), false, yubiKey, CodeSelfServiceDisabled, ""},
		{"self_service_off_admin_registers", mustApply(t, `{"isSelfServiceRegistrationAllowed":false}`), true, yubiKey, "", ""},
		{"lists_every_broken_rule_of_the_profile", withProfile(t, `"passkeyTypes":"deviceBound","attestationEnforcement":"registrationOnly",`+allowYubi), false, syncedKey, CodePasskeyTypeNotAllowed,
			"synced passkeys are not allowed; use a device-bound security key; also, this key could not be verified as genuine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.policy.CheckRegistration(nil, tt.byAdmin, tt.key)
			checkDecision(t, d, tt.code, tt.reason)
		})
	}
}

func checkDecision(t *testing.T, d Decision, code, reason string) {
	t.Helper()
	if d.Code != code || d.Allowed != (code == "") {
		t.Fatalf("decision %+v, want code %q", d, code)
	}
	if !strings.Contains(d.Reason, reason) {
		t.Errorf("reason %q does not contain %q", d.Reason, reason)
	}
	if !d.Allowed && (d.Reason == "" || strings.Contains(d.Reason, "denied")) {
		t.Errorf("reason %q is not one a person can act on", d.Reason)
	}
}

// Two profiles assigned through two groups: hardware keys (device-bound,
// attested, YubiKeys only) for admins, and synced passkeys for engineers.
func twoProfiles(t *testing.T) Fido2 {
	return mustApply(t, `{
		"passkeyProfiles":[
			{"id":"default","passkeyTypes":"synced","keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["`+unknownModel+`"]}},
			{"id":"hw","name":"Hardware keys","passkeyTypes":"deviceBound","attestationEnforcement":"registrationOnly",
			 "keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["`+yubi52+`"]}}],
		"includeTargets":[{"id":"`+groupEng+`","allowedPasskeyProfiles":["default"]},{"id":"`+groupAdmins+`","allowedPasskeyProfiles":["hw"]}]}`)
}

func TestCheckRegistrationWithSeveralProfiles(t *testing.T) {
	f := twoProfiles(t)
	tests := []struct {
		name    string
		groups  []string
		key     Key
		code    string
		profile string
		reason  string
	}{
		{"any_profile_accepting_suffices", []string{groupEng, groupAdmins}, yubiKey, "", "hw", ""},
		{"first_accepting_profile_is_reported", []string{groupEng, groupAdmins}, syncedKey, "", "default", ""},
		{"reason_from_best_matching_profile", []string{groupEng, groupAdmins}, unknownKey, CodeKeyRestricted, "hw", "is not on your organisation's list of allowed keys"},
		{"ties_go_to_the_first_profile_in_policy_order", []string{groupEng, groupAdmins}, Key{AAGUID: yubi52}, CodePasskeyTypeNotAllowed, "default", "device-bound security keys are not allowed"},
		{"attestation_reason_when_only_attestation_fails", []string{groupAdmins}, Key{AAGUID: yubi52}, CodeAttestationRequired, "hw", "could not be verified as genuine"},
		{"profile_of_other_group_does_not_apply", []string{groupEng}, yubiKey, CodePasskeyTypeNotAllowed, "default", "device-bound security keys are not allowed"},
		{"best_matching_profile_breaking_one_rule_wins", []string{groupEng, groupAdmins}, Key{AAGUID: unknownModel, BackupEligible: true}, CodeKeyRestricted, "default", "(AAGUID " + unknownModel + "): it is blocked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := f.CheckRegistration(tt.groups, false, tt.key)
			checkDecision(t, d, tt.code, tt.reason)
			if d.Profile != tt.profile {
				t.Errorf("profile %q, want %q", d.Profile, tt.profile)
			}
		})
	}
}

func TestCheckSignIn(t *testing.T) {
	blockYubi := withProfile(t, `"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["`+yubi52+`"]}`)
	tests := []struct {
		name   string
		policy Fido2
		groups []string
		key    Key
		code   string
	}{
		{"restrictions_apply_at_sign_in", blockYubi, nil, yubiKey, CodeKeyRestricted},
		{"removed_from_allow_list_stops_sign_in", withProfile(t, `"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["`+yubi51+`"]}`), nil, yubiKey, CodeKeyRestricted},
		{"rejects_zero_aaguid_under_allow_list", withProfile(t, `"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["`+yubi51+`"]}`), nil, zeroKey, CodeKeyRestricted},
		{"attestation_is_not_checked_at_sign_in", withProfile(t, `"attestationEnforcement":"registrationOnly"`), nil, syncedKey, ""},
		{"passkey_type_is_not_checked_at_sign_in", withProfile(t, `"passkeyTypes":"deviceBound"`), nil, syncedKey, ""},
		{"self_service_off_does_not_block_sign_in", mustApply(t, `{"isSelfServiceRegistrationAllowed":false}`), nil, syncedKey, ""},
		{"sign_in_refused_when_method_disabled", Default(), nil, yubiKey, CodeMethodDisabled},
		{"exclusion_beats_inclusion_at_sign_in", mustApply(t, `{"excludeTargets":[{"id":"`+groupContractors+`"}]}`), []string{groupContractors}, yubiKey, CodeExcludedByGroup},
		{"any_profile_accepting_suffices_at_sign_in", twoProfiles(t), []string{groupEng, groupAdmins}, Key{AAGUID: unknownModel}, CodeKeyRestricted},
		{"other_profile_lets_yubikey_sign_in", twoProfiles(t), []string{groupEng, groupAdmins}, yubiKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDecision(t, tt.policy.CheckSignIn(tt.groups, tt.key), tt.code, "")
		})
	}
	// A key that signed in before says, by name, that it is no longer accepted.
	checkDecision(t, blockYubi.CheckSignIn(nil, yubiKey), CodeKeyRestricted,
		"your organisation no longer accepts this key model, YubiKey 5 Series (AAGUID "+yubi52+"): it is blocked by your organisation's policy")
	checkDecision(t, withProfile(t, `"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["`+yubi51+`"]}`).CheckSignIn(nil, yubiKey), CodeKeyRestricted,
		"your organisation no longer accepts this key model, YubiKey 5 Series (AAGUID "+yubi52+"): it is not on the list of allowed keys")
}

func TestDecisionErr(t *testing.T) {
	if err := (Decision{Allowed: true}).Err(); err != nil {
		t.Errorf("allowed decision gave %v", err)
	}
	err := Default().CheckSignIn(nil, yubiKey).Err()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != CodeMethodDisabled || !strings.Contains(ae.Message, "turned off") {
		t.Errorf("got %#v", err)
	}
}

// TestCheckRegistrationFor: whether a user without a passkey a conditional
// access strength needs may set one up that would give it.
func TestCheckRegistrationFor(t *testing.T) {
	allowYubi := `"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + yubi52 + `"]}`
	blockYubi := `"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + yubi52 + `"]}`
	tests := []struct {
		name        string
		policy      Fido2
		groups      []string
		deviceBound bool
		models      []string
		code        string
	}{
		{"any_passkey_default_policy", mustApply(t, `{}`), nil, false, nil, ""},
		{"method_off", Default(), nil, false, nil, CodeMethodDisabled},
		{"excluded_group", mustApply(t, `{"excludeTargets":[{"id":"`+groupContractors+`"}]}`), []string{groupContractors}, false, nil, CodeExcludedByGroup},
		{"self_service_off", mustApply(t, `{"isSelfServiceRegistrationAllowed":false}`), nil, false, nil, CodeSelfServiceDisabled},
		{"model_on_the_allow_list", withProfile(t, allowYubi), nil, false, []string{unknownModel, yubi52}, ""},
		{"model_not_on_the_allow_list", withProfile(t, allowYubi), nil, false, []string{unknownModel}, CodeNoAcceptableModel},
		{"model_blocked", withProfile(t, blockYubi), nil, false, []string{yubi52}, CodeNoAcceptableModel},
		{"other_model_not_blocked", withProfile(t, blockYubi), nil, false, []string{unknownModel}, ""},
		{"device_bound_but_only_synced_allowed", withProfile(t, `"passkeyTypes":"synced"`), nil, true, nil, CodeNoAcceptableModel},
		{"any_passkey_synced_allowed", withProfile(t, `"passkeyTypes":"synced"`), nil, false, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.policy.CheckRegistrationFor(tt.groups, tt.deviceBound, tt.models)
			if d.Code != tt.code || d.Allowed != (tt.code == "") {
				t.Errorf("decision %+v, want code %q", d, tt.code)
			}
			if !d.Allowed && d.Reason == "" {
				t.Error("a refusal without a reason")
			}
		})
	}
	d := withProfile(t, allowYubi).CheckRegistrationFor(nil, false, []string{unknownModel})
	if !strings.Contains(d.Reason, "a passkey of model "+unknownModel) || !strings.Contains(d.Reason, "ask an administrator") {
		t.Errorf("reason %q", d.Reason)
	}
}
