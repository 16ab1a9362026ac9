package conditionalaccess_test

import (
	"slices"
	"testing"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/conditionalaccess"
)

const (
	yubiKey5 = "ee882879-721c-4913-9775-3dfcce97072a" // "YubiKey 5 Series" in the embedded table
	other    = "6b2c7c42-0d5d-4c11-8a4e-2a9bb1b2c3d4" // not in it
)

func models(ids ...string) access.Strength {
	return access.Strength{AllowedCombinations: []string{access.ModeFido2},
		CombinationConfigurations: []access.CombinationConfiguration{{AppliesToCombinations: []string{access.ModeFido2}, AllowedAAGUIDs: ids}}}
}

// StepUpModels: the models a step-up passkey must be of are those every
// restricting strength allows; a strength without a restriction adds none.
func TestStepUpModels(t *testing.T) {
	anyKey := access.Strength{AllowedCombinations: []string{access.ModeFido2}}
	for name, c := range map[string]struct {
		strengths []access.Strength
		want      []string
		ok        bool
	}{
		"none":                    {nil, nil, true},
		"any_passkey":             {[]access.Strength{anyKey}, nil, true},
		"one_model":               {[]access.Strength{anyKey, models(yubiKey5)}, []string{yubiKey5}, true},
		"upper_case_and_repeated": {[]access.Strength{models("EE882879-721C-4913-9775-3DFCCE97072A", yubiKey5)}, []string{yubiKey5}, true},
		"both_restrict_overlap":   {[]access.Strength{models(yubiKey5, other), models(other)}, []string{other}, true},
		"both_restrict_disjoint":  {[]access.Strength{models(yubiKey5), models(other)}, nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := conditionalaccess.StepUpModels(c.strengths)
			if !slices.Equal(got, c.want) || ok != c.ok {
				t.Fatalf("StepUpModels = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}
