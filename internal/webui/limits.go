package webui

import (
	"time"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/policy"
)

// limits are the bounds the server enforces that pages check before they
// send: the templates write them as maxlength/minlength and, for the
// scripts, as data-* attributes on <main> (see layout.html), so no page
// keeps a copy that can drift from the rule.
type limits struct {
	PasskeyName       int // characters in a passkey's name
	ProfileName       int // characters in a passkey profile's name
	Profiles          int // passkey profiles in the policy
	AAGUIDsPerRequest int // AAGUIDs one key-model lookup may ask about
	PasswordMin       int // characters in a password, at least
	PasswordMax       int // characters in a password, at most
	RecentMFAMinutes  int // how recent a multi-factor sign-in must be to add a method
}

var pageLimits = limits{
	PasskeyName:       passkey.MaxDisplayNameLength,
	ProfileName:       policy.MaxProfileNameLen,
	Profiles:          policy.MaxProfiles,
	AAGUIDsPerRequest: policy.MaxAAGUIDs,
	PasswordMin:       mfa.MinPasswordLength,
	PasswordMax:       mfa.MaxPasswordLength,
	RecentMFAMinutes:  int(authz.RecentMFAWindow / time.Minute),
}

// Limits gives the templates the server's limits.
func (view) Limits() limits { return pageLimits }
