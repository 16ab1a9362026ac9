package methodpolicy

import (
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

const (
	goodModel    = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	blockedModel = "ee882879-721c-4913-9775-3dfcce97072a"
	excluded     = "9f0e5b0c-3e8e-4c43-8a3e-7a9a7e2c0001"
	keyGroup     = "9f0e5b0c-3e8e-4c43-8a3e-7a9a7e2c0002"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// enabled is a policy with passkeys on for all users under the default
// profile, changed by edit.
func enabled(edit func(*policy.Fido2)) policy.Fido2 {
	f := policy.Default()
	f.State = policy.StateEnabled
	if edit != nil {
		edit(&f)
	}
	return f
}

func blocking(aaguids ...string) func(*policy.Fido2) {
	return func(f *policy.Fido2) {
		f.PasskeyProfiles[0].KeyRestrictions = policy.KeyRestrictions{IsEnforced: true,
			EnforcementType: policy.EnforcementBlock, AAGUIDs: aaguids}
	}
}

func key(id, aaguid string) storage.Credential {
	return storage.Credential{ID: id, AAGUID: aaguid, DisplayName: id}
}

func tap(id string, start, expires time.Duration, once bool, used bool) storage.TemporaryAccessPass {
	p := storage.TemporaryAccessPass{ID: id, StartAt: t0.Add(start), ExpiresAt: t0.Add(expires), IsUsableOnce: once}
	if used {
		at := t0.Add(-time.Minute)
		p.UsedAt = &at
	}
	return p
}

// distrusting distrusts the models named, as a blob with an undesired
// status report for them would.
func distrusting(aaguids ...string) Distrust {
	return func(c storage.Credential) string {
		if slices.Contains(aaguids, c.AAGUID) {
			return "the FIDO Alliance reports this model as USER_VERIFICATION_BYPASS"
		}
		return ""
	}
}

// The one notion of a way to sign in: each method judged as its sign-in
// would judge it now, the one being removed left out.
func TestWaysIn(t *testing.T) {
	alice := storage.User{ID: "u1", UserPrincipalName: "alice@contoso.com", AccountEnabled: true}
	withPassword := alice
	withPassword.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	cloned := key("cloned", goodModel)
	cloned.CloneWarning = true
	blockCompromised := func(f *policy.Fido2) { f.PasskeyProfiles[0].BlockCompromisedModels = true }

	tests := []struct {
		name     string
		pol      policy.Fido2
		m        storage.UserMethods
		distrust Distrust
		removing Removing
		want     Ways
	}{
		{name: "a_passkey_the_policy_accepts", pol: enabled(nil),
			m:    storage.UserMethods{User: alice, Credentials: []storage.Credential{key("a", goodModel)}},
			want: Ways{Passkeys: []string{"a"}}},
		{name: "the_passkey_being_removed_does_not_count", pol: enabled(nil),
			m:        storage.UserMethods{User: alice, Credentials: []storage.Credential{key("a", goodModel)}},
			removing: Removing{CredentialID: "a"}, want: Ways{}},
		{name: "a_blocked_model_is_no_way_in", pol: enabled(blocking(blockedModel)),
			m:        storage.UserMethods{User: alice, Credentials: []storage.Credential{key("blocked", blockedModel), key("good", goodModel)}},
			removing: Removing{CredentialID: "good"}, want: Ways{}},
		{name: "a_model_off_the_allow_list_is_no_way_in", pol: enabled(func(f *policy.Fido2) {
			f.PasskeyProfiles[0].KeyRestrictions = policy.KeyRestrictions{IsEnforced: true,
				EnforcementType: policy.EnforcementAllow, AAGUIDs: []string{goodModel}}
		}),
			m:    storage.UserMethods{User: alice, Credentials: []storage.Credential{key("blocked", blockedModel), key("good", goodModel)}},
			want: Ways{Passkeys: []string{"good"}}},
		{name: "passkeys_turned_off_leave_no_passkey_way_in", pol: policy.Default(),
			m:    storage.UserMethods{User: alice, Credentials: []storage.Credential{key("a", goodModel)}},
			want: Ways{}},
		{name: "a_user_in_an_excluded_group_has_no_passkey_way_in", pol: enabled(func(f *policy.Fido2) {
			f.ExcludeTargets = []policy.ExcludeTarget{{TargetType: policy.TargetTypeGroup, ID: excluded}}
		}),
			m:    storage.UserMethods{User: alice, GroupIDs: []string{excluded}, Credentials: []storage.Credential{key("a", goodModel)}},
			want: Ways{}},
		{name: "a_user_outside_the_targets_has_no_passkey_way_in", pol: enabled(func(f *policy.Fido2) {
			f.IncludeTargets[0].ID = keyGroup
		}),
			m:    storage.UserMethods{User: alice, Credentials: []storage.Credential{key("a", goodModel)}},
			want: Ways{}},
		{name: "a_member_of_the_targeted_group_has_one", pol: enabled(func(f *policy.Fido2) {
			f.IncludeTargets[0].ID = keyGroup
		}),
			m:    storage.UserMethods{User: alice, GroupIDs: []string{keyGroup}, Credentials: []storage.Credential{key("a", goodModel)}},
			want: Ways{Passkeys: []string{"a"}}},
		{name: "a_distrusted_model_counts_while_no_profile_blocks_such_models", pol: enabled(nil),
			m:        storage.UserMethods{User: alice, Credentials: []storage.Credential{key("a", blockedModel)}},
			distrust: distrusting(blockedModel), want: Ways{Passkeys: []string{"a"}}},
		{name: "a_distrusted_model_is_no_way_in_under_blockCompromisedModels", pol: enabled(blockCompromised),
			m:        storage.UserMethods{User: alice, Credentials: []storage.Credential{key("a", blockedModel), key("b", goodModel)}},
			distrust: distrusting(blockedModel), want: Ways{Passkeys: []string{"b"}}},
		{name: "without_an_MDS_blob_nothing_is_distrusted", pol: enabled(blockCompromised),
			m:    storage.UserMethods{User: alice, Credentials: []storage.Credential{key("a", blockedModel)}},
			want: Ways{Passkeys: []string{"a"}}},
		{name: "a_key_flagged_as_a_possible_clone_is_no_way_in", pol: enabled(nil),
			m:    storage.UserMethods{User: alice, Credentials: []storage.Credential{cloned}},
			want: Ways{}},
		{name: "a_password_is_a_way_in_whatever_the_passkey_policy", pol: enabled(blocking(blockedModel)),
			m:        storage.UserMethods{User: withPassword, Credentials: []storage.Credential{key("blocked", blockedModel), key("good", goodModel)}},
			removing: Removing{CredentialID: "good"}, want: Ways{Password: true}},
		{name: "a_pass_usable_now_or_later_is_a_way_in", pol: enabled(blocking(blockedModel)),
			m: storage.UserMethods{User: alice, Credentials: []storage.Credential{key("blocked", blockedModel)},
				TAPs: []storage.TemporaryAccessPass{tap("now", -time.Hour, time.Hour, false, false), tap("later", time.Hour, 2*time.Hour, true, false)}},
			want: Ways{TAPs: []string{"now", "later"}}},
		{name: "spent_and_expired_passes_are_not", pol: enabled(nil),
			m: storage.UserMethods{User: alice, TAPs: []storage.TemporaryAccessPass{
				tap("spent", -time.Hour, time.Hour, true, true), tap("expired", -2*time.Hour, -time.Hour, false, false),
				tap("multi", -time.Hour, time.Hour, false, true)}},
			want: Ways{TAPs: []string{"multi"}}},
		{name: "the_pass_being_removed_does_not_count", pol: enabled(blocking(blockedModel)),
			m: storage.UserMethods{User: alice, Credentials: []storage.Credential{key("blocked", blockedModel)},
				TAPs: []storage.TemporaryAccessPass{tap("now", -time.Hour, time.Hour, false, false)}},
			removing: Removing{TAPID: "now"}, want: Ways{}},
		{name: "a_disabled_account_keeps_its_methods", pol: enabled(nil),
			m:    storage.UserMethods{User: storage.User{ID: "u2"}, Credentials: []storage.Credential{key("a", goodModel)}},
			want: Ways{Passkeys: []string{"a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WaysIn(tc.pol, tc.m, tc.distrust, t0, tc.removing)
			if got.Password != tc.want.Password || !slices.Equal(got.Passkeys, tc.want.Passkeys) || !slices.Equal(got.TAPs, tc.want.TAPs) {
				t.Fatalf("WaysIn = %+v, want %+v", got, tc.want)
			}
			if got.Any() != (tc.want.Password || len(tc.want.Passkeys) > 0 || len(tc.want.TAPs) > 0) {
				t.Fatalf("Any() = %v for %+v", got.Any(), got)
			}
		})
	}
}

// A passkey works exactly when the sign-in's own decision accepts it.
func TestPasskeySignInCountsDistrustOnlyWhereAProfileBlocksIt(t *testing.T) {
	asked := 0
	d := func(storage.Credential) string { asked++; return "revoked" }
	c := key("a", blockedModel)
	if got := PasskeySignIn(enabled(nil), nil, c, d); !got.Allowed || asked != 0 {
		t.Fatalf("without blockCompromisedModels: %+v, blob asked %d times", got, asked)
	}
	got := PasskeySignIn(enabled(func(f *policy.Fido2) { f.PasskeyProfiles[0].BlockCompromisedModels = true }), nil, c, d)
	if got.Allowed || got.Code != policy.CodeModelCompromised || asked != 1 {
		t.Fatalf("with blockCompromisedModels: %+v, blob asked %d times", got, asked)
	}
}

// The policy-change guard names the privileged accounts that the change
// takes from having a way in to having none, by the same WaysIn.
func TestLockoutsAgreeWithWaysIn(t *testing.T) {
	admin := storage.User{ID: "admin", UserPrincipalName: "root@contoso.com", AccountEnabled: true, AdminRole: storage.RoleGlobalAdmin}
	glass := storage.User{ID: "glass", UserPrincipalName: "glass@contoso.com", AccountEnabled: true, IsEmergencyAccess: true}
	disabled := storage.User{ID: "off", UserPrincipalName: "off@contoso.com", AdminRole: storage.RoleGlobalAdmin}
	withPass := storage.User{ID: "pass", UserPrincipalName: "pass@contoso.com", AccountEnabled: true, AdminRole: storage.RoleGlobalAdmin}
	clonedAdmin := storage.User{ID: "clone", UserPrincipalName: "clone@contoso.com", AccountEnabled: true, AdminRole: storage.RoleGlobalAdmin}
	cloned := key("c1", goodModel)
	cloned.CloneWarning = true
	methods := []storage.UserMethods{
		{User: admin, Credentials: []storage.Credential{key("a1", blockedModel)}},
		{User: glass, Credentials: []storage.Credential{key("g1", blockedModel), key("g2", goodModel)}},
		{User: disabled, Credentials: []storage.Credential{key("d1", blockedModel)}},
		{User: withPass, Credentials: []storage.Credential{key("p1", blockedModel)},
			TAPs: []storage.TemporaryAccessPass{tap("t", -time.Hour, time.Hour, false, false)}},
		// Locked out already: a change cannot take away what they lack.
		{User: clonedAdmin, Credentials: []storage.Credential{cloned}},
	}
	cur := enabled(nil)
	blockCompromised := enabled(func(f *policy.Fido2) { f.PasskeyProfiles[0].BlockCompromisedModels = true })
	tests := []struct {
		name     string
		next     policy.Fido2
		distrust Distrust
		want     []string
	}{
		{"blocking_a_model", enabled(blocking(blockedModel)), nil, []string{"root@contoso.com"}},
		{"turning_passkeys_off", policy.Default(), nil, []string{"root@contoso.com", "glass@contoso.com"}},
		{"blocking_compromised_models_with_one_distrusted", blockCompromised, distrusting(blockedModel), []string{"root@contoso.com"}},
		{"blocking_compromised_models_with_none_distrusted", blockCompromised, distrusting(), nil},
		{"blocking_another_model", enabled(blocking(goodModel)), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, l := range lockouts(cur, tc.next, methods, tc.distrust, t0) {
				got = append(got, l.UserPrincipalName)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("locked out = %v, want %v", got, tc.want)
			}
		})
	}
}
