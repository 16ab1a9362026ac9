// Package policy holds the passkey (FIDO2) authentication method policy: the
// configuration an administrator edits, shaped like Microsoft Graph's
// fido2AuthenticationMethodConfiguration with passkey profiles, and the pure
// functions that decide whether a user may register or sign in with a key.
//
// Nothing here does I/O. Callers load the policy (Load), the user's group IDs
// and what they know about the key, call a Check function, and act on the
// Decision, whose Reason is a sentence the user or an administrator can act on.
package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
)

// Graph names and fixed values.
const (
	// ODataType is the "@odata.type" the configuration carries in JSON.
	ODataType = "#microsoft.graph.fido2AuthenticationMethodConfiguration"
	// ConfigurationID is the configuration's "id" in JSON, as in Graph.
	ConfigurationID = "Fido2"
	// AllUsers is the include target ID that targets every user.
	AllUsers = "all_users"
	// TargetTypeGroup is the only target type (all_users is a group target in Graph too).
	TargetTypeGroup = "group"
	// DefaultProfileID identifies the default passkey profile, which cannot be deleted.
	DefaultProfileID = "default"
	// DefaultProfileName is the default profile's name on a new install.
	DefaultProfileName = "Default passkey profile"
)

// Method states.
const (
	StateEnabled  = "enabled"
	StateDisabled = "disabled"
)

// Attestation enforcement values.
const (
	AttestationDisabled         = "disabled"
	AttestationRegistrationOnly = "registrationOnly"
)

// Key restriction enforcement types.
const (
	EnforcementAllow = "allow"
	EnforcementBlock = "block"
)

// Limits.
const (
	MaxProfiles       = 3
	MaxProfileNameLen = 64
	MaxAAGUIDs        = 1000
)

// Fido2 is the passkey (FIDO2) authentication method configuration.
type Fido2 struct {
	// State is StateEnabled or StateDisabled.
	State string
	// IsSelfServiceRegistrationAllowed lets users register their own passkeys;
	// when false only an administrator can register one on their behalf.
	IsSelfServiceRegistrationAllowed bool
	// IsAutomaticUpgradeAllowed is Keyward's own field (Graph has none): a
	// user in scope who may self-register and has no passkey yet is offered
	// one right after a password sign-in, which the browser may create
	// without asking (WebAuthn Level 3 conditional create). Default true.
	IsAutomaticUpgradeAllowed bool
	IncludeTargets            []IncludeTarget
	ExcludeTargets            []ExcludeTarget
	PasskeyProfiles           []PasskeyProfile
}

// IncludeTarget brings a group (or all users) into scope with the passkey
// profiles its members may use.
type IncludeTarget struct {
	TargetType             string   `json:"targetType"`
	ID                     string   `json:"id"` // a group ID or AllUsers
	AllowedPasskeyProfiles []string `json:"allowedPasskeyProfiles"`
}

// ExcludeTarget takes a group out of scope; exclusion beats inclusion.
type ExcludeTarget struct {
	TargetType string `json:"targetType"`
	ID         string `json:"id"`
}

// PasskeyProfile is a set of rules a key must satisfy; a key is acceptable
// when it satisfies any one profile assigned to the user.
type PasskeyProfile struct {
	ID                     string          `json:"id"`
	Name                   string          `json:"name"`
	PasskeyTypes           PasskeyTypes    `json:"passkeyTypes"`
	AttestationEnforcement string          `json:"attestationEnforcement"`
	KeyRestrictions        KeyRestrictions `json:"keyRestrictions"`
	// BlockCompromisedModels is Keyward's own field (Graph has none): when
	// set, a passkey whose model the FIDO Metadata Service reports with an
	// undesired status (REVOKED, a compromise, a UV bypass) no longer
	// satisfies the profile at sign-in.
	BlockCompromisedModels bool `json:"blockCompromisedModels"`
}

// BlocksCompromisedModels reports whether any profile refuses keys of
// models MDS distrusts, so sign-in looks the model up only then.
func (f Fido2) BlocksCompromisedModels() bool {
	for _, p := range f.PasskeyProfiles {
		if p.BlockCompromisedModels {
			return true
		}
	}
	return false
}

// KeyRestrictions allow or block key models by AAGUID. They apply at
// registration and at every sign-in.
type KeyRestrictions struct {
	IsEnforced      bool     `json:"isEnforced"`
	EnforcementType string   `json:"enforcementType"`
	AAGUIDs         []string `json:"aaGuids"` // lower-case, hyphenated
}

// Default is the configuration of a new install: disabled, self-service
// allowed, all users included with the default profile, which accepts every
// passkey type without attestation or key restrictions.
func Default() Fido2 {
	return Fido2{
		State:                            StateDisabled,
		IsSelfServiceRegistrationAllowed: true,
		IsAutomaticUpgradeAllowed:        true,
		IncludeTargets: []IncludeTarget{{
			TargetType: TargetTypeGroup, ID: AllUsers, AllowedPasskeyProfiles: []string{DefaultProfileID},
		}},
		ExcludeTargets:  []ExcludeTarget{},
		PasskeyProfiles: []PasskeyProfile{DefaultProfile()},
	}
}

// DefaultProfile is the default passkey profile as a new install has it.
func DefaultProfile() PasskeyProfile {
	return PasskeyProfile{
		ID:                     DefaultProfileID,
		Name:                   DefaultProfileName,
		PasskeyTypes:           DeviceBound | Synced,
		AttestationEnforcement: AttestationDisabled,
		KeyRestrictions:        KeyRestrictions{EnforcementType: EnforcementBlock, AAGUIDs: []string{}},
	}
}

// Load reads a stored configuration (the JSON MarshalJSON wrote); empty data
// means nothing is stored yet and gives Default().
func Load(data []byte) (Fido2, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return Default(), nil
	}
	f, err := Apply(Default(), data)
	if err != nil {
		// Stored data is written by this package; if it does not load, the
		// database was edited or corrupted: an operator's problem, not the user's.
		return Default(), apperr.Internal(fmt.Errorf("loading the stored passkey (FIDO2) policy: %w", err))
	}
	return f, nil
}

// fido2JSON fixes the field order of the JSON form.
type fido2JSON struct {
	ODataType                        string           `json:"@odata.type"`
	ID                               string           `json:"id"`
	State                            string           `json:"state"`
	IsSelfServiceRegistrationAllowed bool             `json:"isSelfServiceRegistrationAllowed"`
	IsAutomaticUpgradeAllowed        bool             `json:"isAutomaticUpgradeAllowed"`
	IncludeTargets                   []IncludeTarget  `json:"includeTargets"`
	ExcludeTargets                   []ExcludeTarget  `json:"excludeTargets"`
	PasskeyProfiles                  []PasskeyProfile `json:"passkeyProfiles"`
}

// MarshalJSON writes Graph's shape, with "@odata.type" and "id". Nil lists
// are written as [] so clients never see null.
func (f Fido2) MarshalJSON() ([]byte, error) {
	out := fido2JSON{
		ODataType: ODataType, ID: ConfigurationID,
		State:                            f.State,
		IsSelfServiceRegistrationAllowed: f.IsSelfServiceRegistrationAllowed,
		IsAutomaticUpgradeAllowed:        f.IsAutomaticUpgradeAllowed,
		IncludeTargets:                   nonNil(f.IncludeTargets),
		ExcludeTargets:                   nonNil(f.ExcludeTargets),
		PasskeyProfiles:                  nonNil(f.PasskeyProfiles),
	}
	for i, t := range out.IncludeTargets {
		out.IncludeTargets[i].AllowedPasskeyProfiles = nonNil(t.AllowedPasskeyProfiles)
	}
	for i, p := range out.PasskeyProfiles {
		out.PasskeyProfiles[i].KeyRestrictions.AAGUIDs = nonNil(p.KeyRestrictions.AAGUIDs)
	}
	return json.Marshal(out)
}

// nonNil returns a copy of s that is never nil (so it marshals as []).
func nonNil[T any](s []T) []T {
	out := make([]T, len(s))
	copy(out, s)
	return out
}

// GroupIDs lists the distinct group IDs the targets name (not AllUsers), so
// the caller can check that they exist.
func (f Fido2) GroupIDs() []string {
	seen := map[string]bool{}
	var ids []string
	add := func(id string) {
		if id != AllUsers && id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, t := range f.IncludeTargets {
		add(t.ID)
	}
	for _, t := range f.ExcludeTargets {
		add(t.ID)
	}
	return ids
}

// Profile returns the profile with the given ID.
func (f Fido2) Profile(id string) (PasskeyProfile, bool) {
	for _, p := range f.PasskeyProfiles {
		if p.ID == id {
			return p, true
		}
	}
	return PasskeyProfile{}, false
}

// PasskeyTypes is Graph's passkeyTypes flags enum.
type PasskeyTypes uint8

// Passkey types, told apart by the backup-eligible flag of the credential.
const (
	DeviceBound PasskeyTypes = 1 << iota // stays on one authenticator (security key, TPM)
	Synced                               // backup eligible: synced by a passkey provider
)

var passkeyTypeNames = []struct {
	t    PasskeyTypes
	name string
}{{DeviceBound, "deviceBound"}, {Synced, "synced"}}

// String gives Graph's form: "deviceBound,synced", "synced", "".
func (t PasskeyTypes) String() string {
	var names []string
	for _, n := range passkeyTypeNames {
		if t&n.t != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// Has reports whether every type in u is in t.
func (t PasskeyTypes) Has(u PasskeyTypes) bool { return t&u == u }

// ParsePasskeyTypes reads Graph's comma-separated form ("deviceBound,synced").
func ParsePasskeyTypes(s string) (PasskeyTypes, error) {
	var t PasskeyTypes
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := parsePasskeyType(part)
		if err != nil {
			return 0, err
		}
		t |= v
	}
	return t, nil
}

func parsePasskeyType(s string) (PasskeyTypes, error) {
	for _, n := range passkeyTypeNames {
		if s == n.name {
			return n.t, nil
		}
	}
	return 0, fmt.Errorf("%q is not a passkey type (use deviceBound or synced)", s)
}

// MarshalJSON writes the string form Graph uses for flags enums.
func (t PasskeyTypes) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON accepts "deviceBound,synced" and ["deviceBound","synced"].
func (t *PasskeyTypes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParsePasskeyTypes(s)
		if err != nil {
			return err
		}
		*t = v
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("passkeyTypes must be a string like \"deviceBound,synced\" or an array of strings")
	}
	var v PasskeyTypes
	for _, s := range list {
		p, err := parsePasskeyType(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		v |= p
	}
	*t = v
	return nil
}
