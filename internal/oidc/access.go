package oidc

// What a request needs beyond the browser's session comes from two places:
// the app's own acr_values (here) and conditional access (Config.Access,
// whose AccessVerdict may name an ACR). Continue turns an unmet need into a
// step: the generic passkey step-up page for phr and phrh, the sign-in page
// for the rest, interaction_required under prompt=none.

// Need is what a request needs beyond the session; the zero Need asks for
// nothing more.
type Need struct {
	// ACR is the weakest acr the sign-in must reach ("" = any).
	ACR string
}

// NeedOfACRValues is what an app's acr_values ask for: the weakest value
// Keyward knows among them (any one will do; unknown values are ignored).
func NeedOfACRValues(requested []string) Need {
	best := ""
	for _, v := range requested {
		if r, ok := acrRank[v]; ok && (best == "" || r < acrRank[best]) {
			best = v
		}
	}
	return Need{ACR: best}
}

// Combine is the need of two rules at once: the stronger acr.
func Combine(a, b Need) Need {
	if acrRank[b.ACR] > acrRank[a.ACR] {
		return b
	}
	return a
}

// MeetsACR reports whether a sign-in with acr got meets need ("" = any).
func MeetsACR(got, need string) bool {
	return need == "" || acrRank[got] >= acrRank[need]
}

// IsPasskeyACR reports whether only a passkey reaches acr, so a step-up
// with a passkey is the way to it.
func IsPasskeyACR(acr string) bool {
	return acr == ACRPhishingResistant || acr == ACRPhishingResistantHardware
}
