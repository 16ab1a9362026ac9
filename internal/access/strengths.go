package access

import (
	"slices"
	"strings"
)

// Authentication method modes Keyward has, in Graph's vocabulary. A
// combination is one or more modes joined by commas ("password,softwareOath").
const (
	ModeFido2      = "fido2"
	ModePassword   = "password"
	ModeSoftOATH   = "softwareOath"
	ModeTAPOnce    = "temporaryAccessPassOneTime"
	ModeTAPMulti   = "temporaryAccessPassMultiUse"
	ComboPassTOTP  = ModePassword + "," + ModeSoftOATH
	zeroAAGUID     = "00000000-0000-0000-0000-000000000000"
	maxCombination = 4
)

// Combinations lists every combination Keyward can satisfy: what a custom
// strength may allow.
var Combinations = []string{ModeFido2, ComboPassTOTP, ModeTAPOnce, ModeTAPMulti, ModePassword}

// Built-in strengths, with Graph's IDs and names; each holds the subset of
// Graph's combinations that Keyward has.
const (
	StrengthMFA                = "00000000-0000-0000-0000-000000000002"
	StrengthPasswordlessMFA    = "00000000-0000-0000-0000-000000000003"
	StrengthPhishingResistant  = "00000000-0000-0000-0000-000000000004"
	MaxCustomStrengths         = 15
	maxAAGUIDsPerConfiguration = 200
)

// BuiltInStrengths returns the three read-only strengths (a fresh copy).
func BuiltInStrengths() []Strength {
	return []Strength{
		{ID: StrengthMFA, DisplayName: "Multifactor authentication",
			Description: "Combinations of methods that satisfy strong authentication, such as a password + an authenticator app",
			PolicyType:  PolicyTypeBuiltIn, RequirementsSatisfied: RequirementsMFA,
			AllowedCombinations: []string{ModeFido2, ModeTAPOnce, ModeTAPMulti, ComboPassTOTP}},
		{ID: StrengthPasswordlessMFA, DisplayName: "Passwordless MFA",
			Description: "Passwordless methods that satisfy strong authentication",
			PolicyType:  PolicyTypeBuiltIn, RequirementsSatisfied: RequirementsMFA,
			AllowedCombinations: []string{ModeFido2}},
		{ID: StrengthPhishingResistant, DisplayName: "Phishing-resistant MFA",
			Description: "Phishing-resistant, passwordless methods for the strongest authentication, such as a FIDO2 security key",
			PolicyType:  PolicyTypeBuiltIn, RequirementsSatisfied: RequirementsMFA,
			AllowedCombinations: []string{ModeFido2}},
	}
}

// IsBuiltInStrength reports whether id is one of the built-in strengths.
func IsBuiltInStrength(id string) bool {
	return id == StrengthMFA || id == StrengthPasswordlessMFA || id == StrengthPhishingResistant
}

// Proof is what a session has proven: its methods in the strengths'
// vocabulary (ModeFido2, ModePassword, ...) and, when a passkey was used, its
// AAGUID (lower-case, hyphenated).
type Proof struct {
	Methods []string
	AAGUID  string
}

// MethodsFromAMR maps a session's RFC 8176 amr values to method modes: hwk and
// swk (a passkey) are fido2, pwd password, otp softwareOath, tap a Temporary
// Access Pass (one-time unless multiUse).
func MethodsFromAMR(amr []string, multiUseTAP bool) []string {
	var out []string
	add := func(m string) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	for _, a := range amr {
		switch a {
		case "hwk", "swk":
			add(ModeFido2)
		case "pwd":
			add(ModePassword)
		case "otp":
			add(ModeSoftOATH)
		case "tap":
			if multiUseTAP {
				add(ModeTAPMulti)
			} else {
				add(ModeTAPOnce)
			}
		}
	}
	return out
}

// satisfies reports whether the proof meets one of the strength's allowed
// combinations: every mode of the combination was proven, and a fido2 mode
// restricted by a combination configuration was proven with an allowed
// model. The all-zero AAGUID never meets a restriction.
func (s Strength) satisfies(p Proof) bool {
	for _, combo := range s.AllowedCombinations {
		if s.comboMet(combo, p) {
			return true
		}
	}
	return false
}

func (s Strength) comboMet(combo string, p Proof) bool {
	for mode := range strings.SplitSeq(combo, ",") {
		if !slices.Contains(p.Methods, mode) {
			return false
		}
	}
	for _, c := range s.CombinationConfigurations {
		if !slices.Contains(c.AppliesToCombinations, combo) {
			continue
		}
		if p.AAGUID == "" || p.AAGUID == zeroAAGUID || !slices.Contains(c.AllowedAAGUIDs, p.AAGUID) {
			return false
		}
	}
	return true
}

// AllowedAAGUIDs returns the key models the strength restricts fido2 to, nil
// when any model will do: what a step-up prompt names.
func (s Strength) AllowedAAGUIDs() []string {
	var out []string
	for _, c := range s.CombinationConfigurations {
		if slices.Contains(c.AppliesToCombinations, ModeFido2) {
			out = append(out, c.AllowedAAGUIDs...)
		}
	}
	return out
}

// NeedsFido2 reports whether fido2 is the only way to satisfy the strength.
func (s Strength) NeedsFido2() bool {
	for _, c := range s.AllowedCombinations {
		if !slices.Contains(strings.Split(c, ","), ModeFido2) {
			return false
		}
	}
	return len(s.AllowedCombinations) > 0
}
