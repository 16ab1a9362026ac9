package reports

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// capableByRule is what the storage's query decides for one person under r.
func capableByRule(r storage.PasswordlessRule, groups []string, aaguids []string) bool {
	for _, g := range r.ExcludeGroups {
		if slices.Contains(groups, g) {
			return false
		}
	}
	for _, t := range r.Targets {
		if t.GroupID != "" && !slices.Contains(groups, t.GroupID) {
			continue
		}
		for _, a := range aaguids {
			if slices.Contains(t.AAGUIDs, a) != t.Except {
				return true
			}
		}
	}
	return false
}

func TestPasswordlessRuleDecidesAsCheckSignIn(t *testing.T) {
	models := []string{policy.ZeroAAGUID, "cb69481e-8ff7-4039-93ec-0a2729a154a8",
		"ee882879-721c-4913-9775-3dfcce97072a", "fa2b99dc-9e39-4257-8f92-4a30d23c4118"}
	groups := []string{"g1", "g2", "g3"}
	rng := rand.New(rand.NewPCG(9, 9))
	subset := func(from []string) []string {
		var out []string
		for _, s := range from {
			if rng.IntN(2) == 0 {
				out = append(out, s)
			}
		}
		return out
	}
	for i := range 3000 {
		pol := policy.Fido2{State: policy.StateEnabled}
		if rng.IntN(10) == 0 {
			pol.State = policy.StateDisabled
		}
		for p := range 1 + rng.IntN(3) {
			prof := policy.PasskeyProfile{ID: string(rune('a' + p))}
			switch rng.IntN(3) {
			case 1:
				prof.KeyRestrictions = policy.KeyRestrictions{IsEnforced: true, EnforcementType: policy.EnforcementAllow, AAGUIDs: subset(models)}
			case 2:
				prof.KeyRestrictions = policy.KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: subset(models)}
			}
			pol.PasskeyProfiles = append(pol.PasskeyProfiles, prof)
		}
		var ids []string
		for _, p := range pol.PasskeyProfiles {
			ids = append(ids, p.ID)
		}
		for range rng.IntN(3) {
			id := policy.AllUsers
			if rng.IntN(3) > 0 {
				id = groups[rng.IntN(len(groups))]
			}
			pol.IncludeTargets = append(pol.IncludeTargets, policy.IncludeTarget{ID: id, AllowedPasskeyProfiles: subset(ids)})
		}
		if rng.IntN(3) == 0 {
			pol.ExcludeTargets = []policy.ExcludeTarget{{ID: groups[rng.IntN(len(groups))]}}
		}
		rule := PasswordlessRule(pol)
		for range 10 {
			member, keys := subset(groups), subset(models)
			want := false
			for _, a := range keys {
				if pol.CheckSignIn(member, policy.Key{AAGUID: a}).Allowed {
					want = true
				}
			}
			if got := capableByRule(rule, member, keys); got != want {
				t.Fatalf("case %d: policy %+v, groups %v, keys %v: rule %+v says %v, CheckSignIn %v",
					i, pol, member, keys, rule, got, want)
			}
		}
	}
}
