package access

import "testing"

func TestCanReach(t *testing.T) {
	admins := pol(StrengthPhishingResistant, func(p *Policy) {
		p.Conditions.Users = UsersCondition{IncludeRoles: []string{"global-admin"}}
		p.Conditions.Applications = ApplicationsCondition{IncludeApplications: []string{AppAdmin}}
	})
	yubiOnly := pol(onlyYubi, func(p *Policy) {
		p.Conditions.Applications = ApplicationsCondition{IncludeApplications: []string{AppAdmin}}
	})
	block := blockPolicy(func(p *Policy) {
		p.Conditions.Applications = ApplicationsCondition{IncludeApplications: []string{AppAdmin}}
	})
	admin := Subject{ID: alice, Role: "global-admin"}
	tests := []struct {
		name     string
		policies []Policy
		means    Means
		want     bool
	}{
		{"no_policies_password", nil, Means{Password: true}, true},
		{"no_means_at_all", nil, Means{}, false},
		{"phishing_resistant_with_a_passkey", []Policy{admins}, Means{PasskeyAAGUIDs: []string{otherKey}, Password: true}, true},
		{"phishing_resistant_with_password_and_app", []Policy{admins}, Means{Password: true, AuthenticatorApp: true}, false},
		{"model_restricted_with_another_model", []Policy{yubiOnly}, Means{PasskeyAAGUIDs: []string{otherKey}}, false},
		{"model_restricted_with_one_allowed_key_among_others", []Policy{yubiOnly}, Means{PasskeyAAGUIDs: []string{otherKey, yubikey}}, true},
		{"blocked", []Policy{block}, Means{PasskeyAAGUIDs: []string{yubikey}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := NewSet(tt.policies, custom, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.CanReach(admin, tt.means, AppAdmin, now); got != tt.want {
				t.Fatalf("CanReach = %v, want %v", got, tt.want)
			}
		})
	}
}
