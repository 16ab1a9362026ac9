package policy

import (
	"strings"

	"github.com/keyward/keyward/internal/keymodels"
)

// Provider is a well-known passkey provider or key family, offered by the UI
// as a quick way to add its AAGUIDs to a key restriction list.
type Provider struct {
	Name    string   `json:"name"`
	AAGUIDs []string `json:"aaGuids"`
}

// knownModel names one AAGUID. Sources: Microsoft's Entra documentation
// (Authenticator), Yubico's "YubiKey Hardware FIDO2 AAGUIDs" page (only
// firmware 5.1–5.4 models, whose AAGUIDs are long published) and the
// passkeydeveloper/passkey-authenticator-aaguids community list.
type knownModel struct{ provider, aaguid, model string }

var knownModels = []knownModel{
	{"Microsoft Authenticator", "de1e552d-db1d-4423-a619-566b625cdc84", "Microsoft Authenticator (Android)"},
	{"Microsoft Authenticator", "90a3ccdf-635c-4729-a248-9b709135078f", "Microsoft Authenticator (iOS)"},
	{"YubiKey 5 Series", "cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series (firmware 5.1)"},
	{"YubiKey 5 Series", "ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series (firmware 5.2, 5.4)"},
	{"YubiKey 5 Series", "fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 Series with NFC (firmware 5.1)"},
	{"YubiKey 5 Series", "2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5 Series with NFC (firmware 5.2, 5.4)"},
	{"YubiKey 5 Series", "73bb0cd4-e502-49b8-9c6f-b59445bf720b", "YubiKey 5 FIPS Series (firmware 5.4)"},
	{"YubiKey 5 Series", "c1f9a0bc-1dd2-404a-b27f-8e29047a43fd", "YubiKey 5 FIPS Series with NFC (firmware 5.4)"},
	{"YubiKey 5 Series", "c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "YubiKey 5Ci (firmware 5.2, 5.4)"},
	{"YubiKey 5 Series", "85203421-48f9-4355-9bc8-8a53846e5083", "YubiKey 5Ci FIPS (firmware 5.4)"},
	{"Google Password Manager", "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"},
	{"iCloud Keychain", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"},
	{"iCloud Keychain", "dd4ec289-e01d-41c9-bb89-70fa845d4bf2", "iCloud Keychain (Managed)"},
	{"Windows Hello", "08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"},
	{"Windows Hello", "9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"},
	{"Windows Hello", "6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"},
}

var modelNames = func() map[string]string {
	m := make(map[string]string, len(knownModels))
	for _, k := range knownModels {
		m[k.aaguid] = k.model
	}
	return m
}()

// WellKnownProviders lists the quick-add providers in a stable order; each
// call returns a fresh copy the caller may change.
func WellKnownProviders() []Provider {
	var out []Provider
	for _, k := range knownModels {
		if n := len(out); n > 0 && out[n-1].Name == k.provider {
			out[n-1].AAGUIDs = append(out[n-1].AAGUIDs, k.aaguid)
			continue
		}
		out = append(out, Provider{Name: k.provider, AAGUIDs: []string{k.aaguid}})
	}
	return out
}

// ModelName names a key model offline, "" when unknown: the embedded table
// of known AAGUIDs (keymodels) first, then the quick-add list for the models
// that table lacks (Microsoft Authenticator). The FIDO Metadata Service's
// description takes precedence; callers ask MDS first.
func ModelName(aaguid string) string {
	n, err := NormalizeAAGUID(aaguid)
	if err != nil {
		return ""
	}
	if name := keymodels.Name(n); name != "" {
		return name
	}
	return modelNames[n]
}

// ModelNames names key models in words for a person: each AAGUID's model
// name, or the AAGUID itself when unknown, joined with "or".
func ModelNames(aaguids []string) string {
	names := make([]string, 0, len(aaguids))
	for _, id := range aaguids {
		if n := ModelName(id); n != "" {
			names = append(names, n)
		} else {
			names = append(names, id)
		}
	}
	return strings.Join(names, " or ")
}
