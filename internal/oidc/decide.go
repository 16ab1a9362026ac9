package oidc

import (
	"slices"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// ACR values. phr and phrh are the OpenID Enhanced Authentication Profile's
// phishing-resistant values; the two urn:keyward values are Keyward's own.
const (
	ACRPhishingResistantHardware = "phrh"                // a device-bound passkey with user verification
	ACRPhishingResistant         = "phr"                 // a synced passkey
	ACRMultiFactor               = "urn:keyward:acr:mfa" // any other multi-factor sign-in (password + code, TAP)
	ACRSingleFactor              = "urn:keyward:acr:sfa" // a password alone
)

// ACR is the acr of a sign-in whose RFC 8176 amr values are amr.
func ACR(amr []string) string {
	has := func(v string) bool { return slices.Contains(amr, v) }
	switch {
	case has("hwk") && has("user"):
		return ACRPhishingResistantHardware
	case has("swk") || has("hwk"):
		return ACRPhishingResistant
	case has("mfa"):
		return ACRMultiFactor
	}
	return ACRSingleFactor
}

// acrRank orders the values: a stronger sign-in satisfies a request for a weaker one.
var acrRank = map[string]int{
	ACRSingleFactor: 1, ACRMultiFactor: 2, ACRPhishingResistant: 3, ACRPhishingResistantHardware: 4,
}

// ACRSatisfies reports whether a sign-in with acr got answers an app's
// acr_values: one of the values Keyward knows must be met; values it does
// not know are ignored (OpenID Connect Core §3.1.2.1: acr_values is a
// voluntary claim unless the app marks it essential).
func ACRSatisfies(got string, requested []string) bool {
	best, known := 0, false
	for _, v := range requested {
		if r, ok := acrRank[v]; ok {
			known = true
			if best == 0 || r < best {
				best = r
			}
		}
	}
	return !known || acrRank[got] >= best
}

// WantsPasskey reports whether the requested acr_values can only be met
// with a passkey, so the sign-in page should lead with one.
func WantsPasskey(requested []string) bool {
	return !ACRSatisfies(ACRMultiFactor, requested)
}

// FreshEnough reports whether a sign-in at authTime is recent enough for a
// request made at requested with max_age maxAge (nil = no limit). prompt=login
// arrives here as max_age 0: only a sign-in made after the request counts.
// OpenID Connect Core §3.1.2.1 (max_age, prompt=login) and §3.1.2.3 (the
// server must authenticate the person again when the sign-in is too old).
func FreshEnough(authTime, requested, now time.Time, maxAge *uint) bool {
	if maxAge == nil {
		return true
	}
	if *maxAge == 0 {
		return !authTime.Before(requested)
	}
	return now.Sub(authTime) <= time.Duration(*maxAge)*time.Second
}

// The groups claims. groups holds group IDs, as Entra's does: they survive
// a rename, so an app's rule written with one keeps meaning the same group.
// group_names holds their display names, for apps whose rules are easier to
// read with names (oauth2-proxy: --oidc-groups-claim=group_names).
const (
	ClaimGroups     = "groups"
	ClaimGroupNames = "group_names"
)

// GroupClaims are the values of the groups and group_names claims, in the
// same order (by name); never nil, so a user in no group gets [] rather
// than no claim.
func GroupClaims(groups []storage.Group) (ids, names []string) {
	ids, names = make([]string, 0, len(groups)), make([]string, 0, len(groups))
	for _, g := range groups {
		ids, names = append(ids, g.ID), append(names, g.DisplayName)
	}
	return ids, names
}

// EmailClaim is the user's email claim: the mail property an administrator
// set, which is verified (email_verified true), or else the UPN, about which
// Keyward claims nothing: a UPN need not be a mailbox, and an app that links
// accounts by a verified address must not trust one that nobody checked.
// false leaves email_verified out of the token (it is omitted when false).
func EmailClaim(u storage.UserClaims) (email string, verified bool) {
	if u.Mail != "" {
		return u.Mail, true
	}
	return u.UserPrincipalName, false
}
