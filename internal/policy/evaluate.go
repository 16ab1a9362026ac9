package policy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
)

// Decision codes: stable, machine-readable, used as the apperr code of a refusal.
const (
	CodeMethodDisabled        = "methodDisabled"
	CodeNotTargeted           = "notTargeted"
	CodeExcludedByGroup       = "excludedByGroup"
	CodeSelfServiceDisabled   = "selfServiceDisabled"
	CodePasskeyTypeNotAllowed = "passkeyTypeNotAllowed"
	CodeAttestationRequired   = "attestationRequired"
	CodeKeyRestricted         = "keyRestricted"
	CodeModelCompromised      = "modelCompromised"
	CodeAutomaticUpgradeOff   = "automaticUpgradeDisabled"
	CodeHasPasskey            = "alreadyHasPasskey"
)

// Decision is the outcome of a policy check.
type Decision struct {
	Allowed bool
	// Code is one of the Code* constants when refused, "" when allowed.
	Code string
	// Reason is a sentence a person can act on, "" when allowed.
	Reason string
	// Profile is the ID of the passkey profile that accepted the key, or whose
	// rule the Reason comes from.
	Profile string
	// Group is the excluding group's ID for CodeExcludedByGroup (see WithGroupName).
	Group string
}

var allowed = Decision{Allowed: true}

// Err turns a refusal into a 403 *apperr.Error carrying Code and Reason; nil when allowed.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return apperr.New(http.StatusForbidden, d.Code, "%s", d.Reason)
}

// WithGroupName rewrites an excludedByGroup reason to name the group by its
// display name instead of its ID; callers look the name up only on refusal.
func (d Decision) WithGroupName(name string) Decision {
	if d.Code == CodeExcludedByGroup && name != "" {
		d.Reason = excludedReason(fmt.Sprintf("%q", name))
	}
	return d
}

func excludedReason(group string) string {
	return "your account is excluded from passkeys (FIDO2) by group " + group + "; ask an administrator if you need a passkey"
}

// Key is what the caller knows about a key being registered or used.
type Key struct {
	AAGUID string // any spelling NormalizeAAGUID accepts
	// Model is the model name from MDS, "" when unknown (ModelName is used then).
	Model string
	// BackupEligible marks a synced passkey; otherwise the key is device-bound.
	BackupEligible bool
	// Attested is true when the attestation chains to an MDS root of a model in good standing.
	Attested bool
	// AttestationProblem says why the key is not attested (mds.CheckAttestation's reason).
	AttestationProblem string
	// Compromised, at sign-in, says why the FIDO Metadata Service now
	// distrusts the key's model (mds.Entry.Undesired's reason); "" = it does not.
	Compromised string
}

// Type is the key's passkey type: Synced when it is backup-eligible,
// DeviceBound otherwise.
func (k Key) Type() PasskeyTypes {
	if k.BackupEligible {
		return Synced
	}
	return DeviceBound
}

// Scope returns the passkey profiles a member of groupIDs may use, in policy
// order. The method must be enabled; an excluded group beats any inclusion;
// all_users or a group the user belongs to includes the user, and the
// allowed profiles of every matching include target are united.
func (f Fido2) Scope(groupIDs []string) ([]PasskeyProfile, Decision) {
	if f.State != StateEnabled {
		return nil, Decision{Code: CodeMethodDisabled,
			Reason: "passkeys (FIDO2) are turned off for your organisation; ask an administrator to turn them on"}
	}
	member := make(map[string]bool, len(groupIDs))
	for _, g := range groupIDs {
		member[strings.ToLower(g)] = true
	}
	for _, t := range f.ExcludeTargets {
		if member[strings.ToLower(t.ID)] {
			return nil, Decision{Code: CodeExcludedByGroup, Reason: excludedReason(t.ID), Group: t.ID}
		}
	}
	want := map[string]bool{}
	for _, t := range f.IncludeTargets {
		if t.ID == AllUsers || member[strings.ToLower(t.ID)] {
			for _, id := range t.AllowedPasskeyProfiles {
				want[id] = true
			}
		}
	}
	var profiles []PasskeyProfile
	for _, p := range f.PasskeyProfiles {
		if want[p.ID] {
			profiles = append(profiles, p)
		}
	}
	if len(profiles) == 0 {
		return nil, Decision{Code: CodeNotTargeted,
			Reason: "passkeys (FIDO2) are not turned on for your account; ask an administrator to add you to a group that may use them"}
	}
	return profiles, allowed
}

// CheckRegistrationStart decides whether a registration may begin. byAdmin
// is true when an administrator provisions a key on the user's behalf, which
// works even when self-service registration is off; the rest of the policy
// still applies to the key itself (CheckRegistration).
func (f Fido2) CheckRegistrationStart(groupIDs []string, byAdmin bool) Decision {
	_, d := f.registrationScope(groupIDs, byAdmin)
	return d
}

func (f Fido2) registrationScope(groupIDs []string, byAdmin bool) ([]PasskeyProfile, Decision) {
	profiles, d := f.Scope(groupIDs)
	if !d.Allowed {
		return nil, d
	}
	if !byAdmin && !f.IsSelfServiceRegistrationAllowed {
		return nil, Decision{Code: CodeSelfServiceDisabled,
			Reason: "self-service passkey registration is turned off; ask an administrator to register a key for you"}
	}
	return profiles, allowed
}

// CheckAutomaticUpgrade decides whether a user who has just signed in with
// a password may be offered a passkey the browser creates without asking
// (conditional create): the user must be in scope, may register in
// self-service, has no passkey yet, and the policy's switch is on. The key
// itself still has to pass CheckRegistration.
func (f Fido2) CheckAutomaticUpgrade(groupIDs []string, hasPasskey bool) Decision {
	if _, d := f.registrationScope(groupIDs, false); !d.Allowed {
		return d
	}
	if !f.IsAutomaticUpgradeAllowed {
		return Decision{Code: CodeAutomaticUpgradeOff,
			Reason: "automatic passkey creation after a password sign-in is turned off; add a passkey from My security info"}
	}
	if hasPasskey {
		return Decision{Code: CodeHasPasskey,
			Reason: "you already have a passkey; add another one from My security info"}
	}
	return allowed
}

// CheckRegistration decides whether key k may be registered. It passes when
// any assigned profile accepts the key's passkey type, attestation (when the
// profile enforces it) and key restrictions. When every profile refuses, the
// reason comes from the profile that broke the fewest rules and names them.
func (f Fido2) CheckRegistration(groupIDs []string, byAdmin bool, k Key) Decision {
	profiles, d := f.registrationScope(groupIDs, byAdmin)
	if !d.Allowed {
		return d
	}
	return bestOf(profiles, func(p PasskeyProfile) []failure {
		var fs []failure
		if fl, ok := checkPasskeyType(p, k); !ok {
			fs = append(fs, fl)
		}
		if fl, ok := checkAttestation(p, k); !ok {
			fs = append(fs, fl)
		}
		if fl, ok := checkRestrictions(p, k, false); !ok {
			fs = append(fs, fl)
		}
		return fs
	})
}

// CheckSignIn decides whether a registered key may sign in: the user must be
// in scope and some assigned profile's key restrictions must accept the key.
// Passkey type and attestation are registration-time rules: a key registered
// before they were tightened keeps working.
func (f Fido2) CheckSignIn(groupIDs []string, k Key) Decision {
	profiles, d := f.Scope(groupIDs)
	if !d.Allowed {
		return d
	}
	return bestOf(profiles, func(p PasskeyProfile) []failure {
		var fs []failure
		if fl, ok := checkRestrictions(p, k, true); !ok {
			fs = append(fs, fl)
		}
		if p.BlockCompromisedModels && k.Compromised != "" {
			fs = append(fs, failure{CodeModelCompromised,
				k.Compromised + ", and your organisation no longer accepts keys of this model: register a new passkey or security key (sign in another way, then add it in My security info)"})
		}
		return fs
	})
}

type failure struct{ code, reason string }

// bestOf accepts with the first profile that check finds no failure in, or
// refuses with the failures of the profile that has the fewest.
func bestOf(profiles []PasskeyProfile, check func(PasskeyProfile) []failure) Decision {
	var best []failure
	bestID := ""
	for _, p := range profiles {
		fs := check(p)
		if len(fs) == 0 {
			return Decision{Allowed: true, Profile: p.ID}
		}
		if best == nil || len(fs) < len(best) {
			best, bestID = fs, p.ID
		}
	}
	reasons := make([]string, len(best))
	for i, fl := range best {
		reasons[i] = fl.reason
	}
	return Decision{Code: best[0].code, Reason: strings.Join(reasons, "; also, "), Profile: bestID}
}

func checkPasskeyType(p PasskeyProfile, k Key) (failure, bool) {
	switch {
	case k.BackupEligible && !p.PasskeyTypes.Has(Synced):
		return failure{CodePasskeyTypeNotAllowed,
			"synced passkeys are not allowed; use a device-bound security key"}, false
	case !k.BackupEligible && !p.PasskeyTypes.Has(DeviceBound):
		return failure{CodePasskeyTypeNotAllowed,
			"device-bound security keys are not allowed; use a synced passkey, such as one saved by your phone or password manager"}, false
	}
	return failure{}, true
}

func checkAttestation(p PasskeyProfile, k Key) (failure, bool) {
	if p.AttestationEnforcement != AttestationRegistrationOnly || k.Attested {
		return failure{}, true
	}
	why := ""
	if k.AttestationProblem != "" {
		why = " (" + k.AttestationProblem + ")"
	}
	return failure{CodeAttestationRequired,
		"this key could not be verified as genuine" + why + ": your organisation requires attested keys; use a security key model listed in the FIDO Metadata Service"}, false
}

// checkRestrictions applies a profile's allow or block list. At sign-in the
// key was accepted once, so a refusal says the organisation no longer
// accepts its model; what to do instead is the caller's to add, since only
// it knows the account's other methods.
func checkRestrictions(p PasskeyProfile, k Key, atSignIn bool) (failure, bool) {
	kr := p.KeyRestrictions
	if !kr.IsEnforced {
		return failure{}, true
	}
	aaguid, err := NormalizeAAGUID(k.AAGUID)
	listed := err == nil && contains(kr.AAGUIDs, aaguid)
	switch kr.EnforcementType {
	case EnforcementAllow:
		if aaguid == ZeroAAGUID && k.Model != "" {
			// A U2F key named by its attestation certificate: an allow list
			// names AAGUIDs, and this model has none.
			return failure{CodeKeyRestricted,
				"this key (" + k.Model + ") is an older U2F security key that has no AAGUID, so your organisation's list of allowed key models cannot include it; use one of the allowed security keys"}, false
		}
		if aaguid == ZeroAAGUID || err != nil {
			why := ""
			if aaguid == ZeroAAGUID {
				why = " (its AAGUID is all zeros)"
			}
			return failure{CodeKeyRestricted,
				"this key did not say which model it is" + why + " and your organisation allows only listed key models; use one of the allowed security keys"}, false
		}
		if !listed && atSignIn {
			return failure{CodeKeyRestricted,
				"your organisation no longer accepts this key model, " + describeModel(k, aaguid) + ": it is not on the list of allowed keys"}, false
		}
		if !listed {
			return failure{CodeKeyRestricted,
				"this key model, " + describeModel(k, aaguid) + ", is not on your organisation's list of allowed keys; use an allowed model or ask an administrator to allow this one"}, false
		}
	case EnforcementBlock:
		if listed && atSignIn {
			return failure{CodeKeyRestricted,
				"your organisation no longer accepts this key model, " + describeModel(k, aaguid) + ": it is blocked by your organisation's policy"}, false
		}
		if listed {
			return failure{CodeKeyRestricted,
				"your organisation does not accept this key model, " + describeModel(k, aaguid) + ": it is blocked by your organisation's policy; use a passkey or security key of another model"}, false
		}
	}
	return failure{}, true
}

// describeModel gives "YubiKey 5 NFC (AAGUID ee88…)" or "an unnamed model
// (AAGUID ee88…)".
func describeModel(k Key, aaguid string) string {
	name := k.Model
	if name == "" {
		name = ModelName(aaguid)
	}
	if name == "" {
		name = "an unnamed model"
	}
	return name + " (AAGUID " + aaguid + ")"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// CodeNoAcceptableModel refuses a registration no key could pass: the
// profiles assigned to the user accept none of the key models (or not the
// passkey type) that something else — a conditional access strength —
// needs.
const CodeNoAcceptableModel = "noAcceptableModel"

// CheckRegistrationFor decides whether the user may register in
// self-service a passkey that would be of one of models (AAGUIDs; empty =
// any model) and, when deviceBound, stay on one device: the user must be in
// scope with self-service on, and some assigned profile must accept such a
// key's type and model. Attestation is left to the key itself (a genuine
// key of an accepted model passes it), as is everything CheckRegistration
// judges at the ceremony's end.
func (f Fido2) CheckRegistrationFor(groupIDs []string, deviceBound bool, models []string) Decision {
	profiles, d := f.registrationScope(groupIDs, false)
	if !d.Allowed {
		return d
	}
	for _, p := range profiles {
		if deviceBound && !p.PasskeyTypes.Has(DeviceBound) {
			continue
		}
		if p.PasskeyTypes == 0 {
			continue
		}
		if len(models) == 0 {
			if kr := p.KeyRestrictions; !kr.IsEnforced || kr.EnforcementType != EnforcementAllow || len(kr.AAGUIDs) > 0 {
				return Decision{Allowed: true, Profile: p.ID}
			}
			continue
		}
		for _, m := range models {
			if _, ok := checkRestrictions(p, Key{AAGUID: m}, false); ok {
				return Decision{Allowed: true, Profile: p.ID}
			}
		}
	}
	what := "a passkey"
	if deviceBound {
		what = "a device-bound passkey (a security key)"
	}
	if len(models) > 0 {
		names := make([]string, 0, len(models))
		for _, m := range models {
			if n := ModelName(m); n != "" {
				names = append(names, n)
			} else {
				names = append(names, m)
			}
		}
		what = "a passkey of model " + strings.Join(names, " or ")
	}
	return Decision{Code: CodeNoAcceptableModel,
		Reason: "your organisation's passkey settings do not let you register " + what + "; ask an administrator to register one for you or to allow it"}
}
