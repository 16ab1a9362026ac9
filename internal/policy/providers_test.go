package policy

import (
	"slices"
	"testing"
)

func TestWellKnownProviders(t *testing.T) {
	got := map[string][]string{}
	seen := map[string]bool{}
	for _, p := range WellKnownProviders() {
		got[p.Name] = p.AAGUIDs
		for _, a := range p.AAGUIDs {
			if n, err := NormalizeAAGUID(a); err != nil || n != a {
				t.Errorf("%s: AAGUID %q is not normalised (%v)", p.Name, a, err)
			}
			if seen[a] {
				t.Errorf("AAGUID %s listed twice", a)
			}
			seen[a] = true
		}
	}
	required := map[string][]string{
		"Microsoft Authenticator": {"de1e552d-db1d-4423-a619-566b625cdc84", "90a3ccdf-635c-4729-a248-9b709135078f"},
		"YubiKey 5 Series":        {"ee882879-721c-4913-9775-3dfcce97072a", "cb69481e-8ff7-4039-93ec-0a2729a154a8"},
		"Google Password Manager": {"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"},
		"iCloud Keychain":         {"fbfc3007-154e-4ecc-8c0b-6e020557d7bd"},
		"Windows Hello":           {"08987058-cadc-4b81-b6e1-30de50dcbe96"},
	}
	for name, aaguids := range required {
		for _, a := range aaguids {
			if !slices.Contains(got[name], a) {
				t.Errorf("provider %q lacks %s (has %v)", name, a, got[name])
			}
		}
	}
}

func TestWellKnownProvidersReturnsACopy(t *testing.T) {
	p := WellKnownProviders()
	p[0].AAGUIDs[0] = "changed"
	if WellKnownProviders()[0].AAGUIDs[0] == "changed" {
		t.Error("changing the result changed the built-in list")
	}
}

func TestModelName(t *testing.T) {
	tests := map[string]string{
		"de1e552d-db1d-4423-a619-566b625cdc84":   "Microsoft Authenticator (Android)",
		"90A3CCDF-635C-4729-A248-9B709135078F":   "Microsoft Authenticator (iOS)",
		"{ee882879-721c-4913-9775-3dfcce97072a}": "YubiKey 5 Series",                  // the embedded table names it
		"de1e552d-db1d-4423-a619-566b625cdc84 ":  "Microsoft Authenticator (Android)", // only the quick-add list does
		"ea9b8d664d011d213ce4b6b48cb575d4":       "Google Password Manager",
		ZeroAAGUID:                               "",
		"not an aaguid":                          "",
	}
	for in, want := range tests {
		if got := ModelName(in); got != want {
			t.Errorf("ModelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// ModelNames names known models in words and unknown ones by AAGUID.
func TestModelNames(t *testing.T) {
	const yubiKey5 = "ee882879-721c-4913-9775-3dfcce97072a" // "YubiKey 5 Series" in the embedded table
	const unknown = "6b2c7c42-0d5d-4c11-8a4e-2a9bb1b2c3d4"
	if got, want := ModelNames([]string{yubiKey5, unknown}), "YubiKey 5 Series or "+unknown; got != want {
		t.Fatalf("ModelNames = %q, want %q", got, want)
	}
}
