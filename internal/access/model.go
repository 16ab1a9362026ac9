// Package access decides conditional access: which sign-ins to which
// applications must use which authentication strength, from which places,
// and how recently. Its types are Microsoft Graph's conditionalAccessPolicy,
// authenticationStrengthPolicy and ipNamedLocation; its decisions are pure
// functions of values (no I/O, the time passed in), so the same Set answers
// a sign-in, a what-if and a lint.
package access

import "time"

// Policy states (Graph's conditionalAccessPolicyState).
const (
	StateEnabled    = "enabled"
	StateDisabled   = "disabled"
	StateReportOnly = "enabledForReportingButNotEnforced"
)

// Special values of the user and application conditions.
const (
	All  = "All"
	None = "None"
	// AllTrusted in includeLocations/excludeLocations stands for every named
	// location marked isTrusted.
	AllTrusted = "AllTrusted"
)

// UserActionRegisterSecurityInfo is the user action of adding a sign-in
// method in My security info (Graph's includeUserActions value).
const UserActionRegisterSecurityInfo = "urn:user:registersecurityinfo"

// Keyward's own surfaces are applications with fixed app IDs, so policies can
// name them like any OIDC application.
const (
	// AppAdmin is the admin center and the admin API used with a session
	// ("Keyward admin"). API tokens are not sessions and are not subject to it.
	AppAdmin = "4b455957-0000-4000-8000-000000000001"
	// AppMySecurityInfo is My security info, where users manage their methods.
	AppMySecurityInfo = "4b455957-0000-4000-8000-000000000002"
)

// BuiltInApps names Keyward's own applications.
var BuiltInApps = map[string]string{
	AppAdmin:          "Keyward admin",
	AppMySecurityInfo: "My security info",
}

// Grant controls (Graph's builtInControls) and operators.
const (
	ControlBlock = "block"
	ControlMFA   = "mfa"
	OperatorOR   = "OR"
	OperatorAND  = "AND"
)

// Policy is Graph's conditionalAccessPolicy, with the conditions and controls
// Keyward has.
type Policy struct {
	ID               string           `json:"id"`
	DisplayName      string           `json:"displayName"`
	State            string           `json:"state"`
	Conditions       Conditions       `json:"conditions"`
	GrantControls    *GrantControls   `json:"grantControls"`
	SessionControls  *SessionControls `json:"sessionControls"`
	CreatedDateTime  *time.Time       `json:"createdDateTime,omitempty"`
	ModifiedDateTime *time.Time       `json:"modifiedDateTime,omitempty"`
}

// Conditions say to which sign-ins a policy applies; all must match.
type Conditions struct {
	Users        UsersCondition        `json:"users"`
	Applications ApplicationsCondition `json:"applications"`
	Locations    *LocationsCondition   `json:"locations"`
}

// UsersCondition is Graph's conditionalAccessUsers. Roles are Keyward's admin
// roles, by name ("global-admin") or by Graph's role template ID.
type UsersCondition struct {
	IncludeUsers  []string `json:"includeUsers"`
	ExcludeUsers  []string `json:"excludeUsers"`
	IncludeGroups []string `json:"includeGroups"`
	ExcludeGroups []string `json:"excludeGroups"`
	IncludeRoles  []string `json:"includeRoles"`
	ExcludeRoles  []string `json:"excludeRoles"`
}

// ApplicationsCondition is Graph's conditionalAccessApplications.
type ApplicationsCondition struct {
	IncludeApplications []string `json:"includeApplications"`
	ExcludeApplications []string `json:"excludeApplications"`
	IncludeUserActions  []string `json:"includeUserActions"`
}

// LocationsCondition is Graph's conditionalAccessLocations: named location
// IDs, All or AllTrusted.
type LocationsCondition struct {
	IncludeLocations []string `json:"includeLocations"`
	ExcludeLocations []string `json:"excludeLocations"`
}

// GrantControls is Graph's conditionalAccessGrantControls. A policy blocks,
// or requires multi-factor authentication, or requires an authentication
// strength — never both mfa and a strength.
type GrantControls struct {
	Operator               string       `json:"operator"`
	BuiltInControls        []string     `json:"builtInControls"`
	AuthenticationStrength *StrengthRef `json:"authenticationStrength"`
}

// StrengthRef names a strength in a policy; the API fills in the display name.
type StrengthRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
}

// SessionControls is Graph's conditionalAccessSessionControls.
type SessionControls struct {
	SignInFrequency *SignInFrequency `json:"signInFrequency"`
}

// SignInFrequency is Graph's signInFrequencySessionControl: a sign-in older
// than Value hours or days must be repeated.
type SignInFrequency struct {
	Value     int    `json:"value"`
	Type      string `json:"type"` // hours | days
	IsEnabled bool   `json:"isEnabled"`
}

// Strength policy types and requirement levels.
const (
	PolicyTypeBuiltIn = "builtIn"
	PolicyTypeCustom  = "custom"
	RequirementsNone  = "none"
	RequirementsMFA   = "mfa"
)

// Strength is Graph's authenticationStrengthPolicy.
type Strength struct {
	ID                        string                     `json:"id"`
	DisplayName               string                     `json:"displayName"`
	Description               string                     `json:"description"`
	PolicyType                string                     `json:"policyType"`
	RequirementsSatisfied     string                     `json:"requirementsSatisfied"`
	AllowedCombinations       []string                   `json:"allowedCombinations"`
	CombinationConfigurations []CombinationConfiguration `json:"combinationConfigurations"`
	CreatedDateTime           *time.Time                 `json:"createdDateTime,omitempty"`
	ModifiedDateTime          *time.Time                 `json:"modifiedDateTime,omitempty"`
}

// ODataFido2Combination is the @odata.type of a fido2CombinationConfiguration.
const ODataFido2Combination = "#microsoft.graph.fido2CombinationConfiguration"

// CombinationConfiguration is Graph's fido2CombinationConfiguration: only the
// listed key models satisfy the fido2 combination of the strength.
type CombinationConfiguration struct {
	ODataType             string   `json:"@odata.type"`
	ID                    string   `json:"id,omitempty"`
	AppliesToCombinations []string `json:"appliesToCombinations"`
	AllowedAAGUIDs        []string `json:"allowedAAGUIDs"`
}

// ODataIPNamedLocation is the @odata.type of an ipNamedLocation.
const ODataIPNamedLocation = "#microsoft.graph.ipNamedLocation"

// Location is Graph's ipNamedLocation.
type Location struct {
	ODataType        string     `json:"@odata.type"`
	ID               string     `json:"id"`
	DisplayName      string     `json:"displayName"`
	IPRanges         []IPRange  `json:"ipRanges"`
	IsTrusted        bool       `json:"isTrusted"`
	CreatedDateTime  *time.Time `json:"createdDateTime,omitempty"`
	ModifiedDateTime *time.Time `json:"modifiedDateTime,omitempty"`
}

// IPRange is Graph's iPv4CidrRange / iPv6CidrRange.
type IPRange struct {
	ODataType   string `json:"@odata.type,omitempty"`
	CIDRAddress string `json:"cidrAddress"`
}
