package policy

// Patch is a PATCH document for Apply built in Go rather than received as
// JSON: a nil field is left out of the document and keeps its value, a list
// given replaces the current one whole (a pointer to an empty list empties
// it). json.Marshal gives the document.
type Patch struct {
	State                            *string          `json:"state,omitempty"`
	IsSelfServiceRegistrationAllowed *bool            `json:"isSelfServiceRegistrationAllowed,omitempty"`
	IsAutomaticUpgradeAllowed        *bool            `json:"isAutomaticUpgradeAllowed,omitempty"`
	IncludeTargets                   *[]IncludeTarget `json:"includeTargets,omitempty"` // nil AllowedPasskeyProfiles: the default profile
	ExcludeTargets                   *[]ExcludeTarget `json:"excludeTargets,omitempty"`
	PasskeyProfiles                  *[]ProfilePatch  `json:"passkeyProfiles,omitempty"`
}

// ProfilePatch changes the passkey profile with its ID; a profile listed by
// ID alone stays as it is.
type ProfilePatch struct {
	ID                     string                `json:"id"`
	PasskeyTypes           *PasskeyTypes         `json:"passkeyTypes,omitempty"`
	AttestationEnforcement *string               `json:"attestationEnforcement,omitempty"`
	KeyRestrictions        *KeyRestrictionsPatch `json:"keyRestrictions,omitempty"`
	BlockCompromisedModels *bool                 `json:"blockCompromisedModels,omitempty"`
}

// KeyRestrictionsPatch changes a profile's key restrictions.
type KeyRestrictionsPatch struct {
	IsEnforced      *bool     `json:"isEnforced,omitempty"`
	EnforcementType *string   `json:"enforcementType,omitempty"`
	AAGUIDs         *[]string `json:"aaGuids,omitempty"`
}
