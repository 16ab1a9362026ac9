package policy

import (
	"bytes"
	"encoding/json"
	"strings"
)

var (
	topFields     = []string{"@odata.type", "id", "state", "isSelfServiceRegistrationAllowed", "isAutomaticUpgradeAllowed", "includeTargets", "excludeTargets", "passkeyProfiles"}
	includeFields = []string{"targetType", "id", "allowedPasskeyProfiles"}
	excludeFields = []string{"targetType", "id"}
	profileFields = []string{"id", "name", "passkeyTypes", "attestationEnforcement", "keyRestrictions", "blockCompromisedModels"}
	keyResFields  = []string{"isEnforced", "enforcementType", "aaGuids"}
)

// Apply applies a PATCH body to cur and returns the validated, normalised
// result. Top-level fields present in the patch replace the current ones
// (lists are replaced whole). A profile in passkeyProfiles whose id names an
// existing profile starts from that profile, so its absent fields keep their
// values; a profile with a new or no id starts from the defaults (both
// passkey types, attestation disabled, no enforced restrictions) and gets a
// generated id when it has none. An include target without
// allowedPasskeyProfiles gets the default profile.
//
// Unknown fields, wrong types and every validation problem are reported
// together in one 400 *apperr.Error (code invalidRequest) whose cause is a
// *ValidationError; cur is returned unchanged then.
func Apply(cur Fido2, patch []byte) (Fido2, error) {
	var ps problems
	top, ok := decodeTop(&ps, patch)
	if !ok {
		return cur, ps.err()
	}
	next := cur.clone()
	decodeFido2(&ps, &next, top, cur.PasskeyProfiles)
	out, found := validate(next)
	for _, p := range found {
		if !ps.covers(p.path) {
			ps = append(ps, p)
		}
	}
	if err := ps.err(); err != nil {
		return cur, err
	}
	return out, nil
}

func decodeTop(ps *problems, patch []byte) (map[string]json.RawMessage, bool) {
	if len(bytes.TrimSpace(patch)) == 0 {
		ps.add("", "the request body is empty; send a JSON object with the fields to change")
		return nil, false
	}
	if !json.Valid(patch) {
		var v any
		err := json.Unmarshal(patch, &v)
		ps.add("", "the request body is not valid JSON: %v", err)
		return nil, false
	}
	if k := jsonKind(patch); k != "an object" {
		ps.add("", "the request body must be a JSON object, not %s", k)
		return nil, false
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(patch, &top); err != nil {
		ps.add("", "the request body is not a valid JSON object: %v", err)
		return nil, false
	}
	return top, true
}

func decodeFido2(ps *problems, f *Fido2, top map[string]json.RawMessage, current []PasskeyProfile) {
	checkFields(ps, "", top, topFields...)
	if raw, ok := top["@odata.type"]; ok {
		if s, ok := decodeString(ps, "@odata.type", raw); ok && s != ODataType {
			ps.add("@odata.type", "must be %q, not %q", ODataType, s)
		}
	}
	if raw, ok := top["id"]; ok {
		if s, ok := decodeString(ps, "id", raw); ok && !strings.EqualFold(s, ConfigurationID) {
			ps.add("id", "must be %q, not %q", ConfigurationID, s)
		}
	}
	field(ps, "", top, "state", &f.State, decodeString)
	field(ps, "", top, "isSelfServiceRegistrationAllowed", &f.IsSelfServiceRegistrationAllowed, decodeBool)
	field(ps, "", top, "isAutomaticUpgradeAllowed", &f.IsAutomaticUpgradeAllowed, decodeBool)
	if raw, ok := top["includeTargets"]; ok {
		if items, ok := decodeArray(ps, "includeTargets", raw); ok {
			f.IncludeTargets = make([]IncludeTarget, 0, len(items))
			for i, item := range items {
				f.IncludeTargets = append(f.IncludeTargets, decodeInclude(ps, index("includeTargets", i), item))
			}
		}
	}
	if raw, ok := top["excludeTargets"]; ok {
		if items, ok := decodeArray(ps, "excludeTargets", raw); ok {
			f.ExcludeTargets = make([]ExcludeTarget, 0, len(items))
			for i, item := range items {
				f.ExcludeTargets = append(f.ExcludeTargets, decodeExclude(ps, index("excludeTargets", i), item))
			}
		}
	}
	if raw, ok := top["passkeyProfiles"]; ok {
		if items, ok := decodeArray(ps, "passkeyProfiles", raw); ok {
			f.PasskeyProfiles = make([]PasskeyProfile, 0, len(items))
			for i, item := range items {
				f.PasskeyProfiles = append(f.PasskeyProfiles, decodeProfile(ps, index("passkeyProfiles", i), item, current))
			}
		}
	}
}

func decodeInclude(ps *problems, path string, raw json.RawMessage) IncludeTarget {
	t := IncludeTarget{TargetType: TargetTypeGroup}
	m, ok := decodeObject(ps, path, raw)
	if !ok {
		return t
	}
	checkFields(ps, path, m, includeFields...)
	field(ps, path, m, "targetType", &t.TargetType, decodeString)
	field(ps, path, m, "id", &t.ID, decodeString)
	// Absent or null means "the default profile" (filled in by validate);
	// an explicit [] is kept so that validate can refuse it.
	if raw, ok := m["allowedPasskeyProfiles"]; ok && jsonKind(raw) != "null" {
		t.AllowedPasskeyProfiles, _ = decodeStrings(ps, join(path, "allowedPasskeyProfiles"), raw)
	}
	return t
}

func decodeExclude(ps *problems, path string, raw json.RawMessage) ExcludeTarget {
	t := ExcludeTarget{TargetType: TargetTypeGroup}
	m, ok := decodeObject(ps, path, raw)
	if !ok {
		return t
	}
	checkFields(ps, path, m, excludeFields...)
	field(ps, path, m, "targetType", &t.TargetType, decodeString)
	field(ps, path, m, "id", &t.ID, decodeString)
	return t
}

// newProfile is what a profile added by a PATCH starts from.
func newProfile() PasskeyProfile {
	return PasskeyProfile{
		PasskeyTypes:           DeviceBound | Synced,
		AttestationEnforcement: AttestationDisabled,
		KeyRestrictions:        KeyRestrictions{EnforcementType: EnforcementBlock, AAGUIDs: []string{}},
	}
}

func decodeProfile(ps *problems, path string, raw json.RawMessage, current []PasskeyProfile) PasskeyProfile {
	p := newProfile()
	m, ok := decodeObject(ps, path, raw)
	if !ok {
		return p
	}
	checkFields(ps, path, m, profileFields...)
	if raw, ok := m["id"]; ok {
		if id, ok := decodeString(ps, join(path, "id"), raw); ok {
			for _, c := range current {
				if c.ID == id {
					p = c.clone()
				}
			}
			p.ID = id
		}
	}
	field(ps, path, m, "name", &p.Name, decodeString)
	field(ps, path, m, "passkeyTypes", &p.PasskeyTypes, decodePasskeyTypes)
	field(ps, path, m, "attestationEnforcement", &p.AttestationEnforcement, decodeString)
	if raw, ok := m["keyRestrictions"]; ok {
		decodeKeyRestrictions(ps, join(path, "keyRestrictions"), raw, &p.KeyRestrictions)
	}
	if raw, ok := m["blockCompromisedModels"]; ok {
		if v, ok := decodeBool(ps, join(path, "blockCompromisedModels"), raw); ok {
			p.BlockCompromisedModels = v
		}
	}
	return p
}

func decodePasskeyTypes(ps *problems, path string, raw json.RawMessage) (PasskeyTypes, bool) {
	k := jsonKind(raw)
	if k != "a string" && k != "an array" {
		ps.add(path, "must be a string like \"deviceBound,synced\" or an array of strings, not %s", k)
		return 0, false
	}
	var t PasskeyTypes
	if err := json.Unmarshal(raw, &t); err != nil {
		ps.add(path, "%v", err)
		return 0, false
	}
	return t, true
}

// decodeKeyRestrictions overwrites only the fields present in raw.
func decodeKeyRestrictions(ps *problems, path string, raw json.RawMessage, kr *KeyRestrictions) {
	m, ok := decodeObject(ps, path, raw)
	if !ok {
		return
	}
	checkFields(ps, path, m, keyResFields...)
	field(ps, path, m, "isEnforced", &kr.IsEnforced, decodeBool)
	field(ps, path, m, "enforcementType", &kr.EnforcementType, decodeString)
	field(ps, path, m, "aaGuids", &kr.AAGUIDs, decodeStrings)
}

// field decodes the member key of m into *dst when it is present and of the
// right type; a wrong one is a problem at path.key and leaves *dst as it was.
func field[T any](ps *problems, path string, m map[string]json.RawMessage, key string, dst *T,
	decode func(*problems, string, json.RawMessage) (T, bool)) {
	if raw, ok := m[key]; ok {
		if v, ok := decode(ps, join(path, key), raw); ok {
			*dst = v
		}
	}
}

// clone copies f so that changing the copy's lists leaves f alone.
func (f Fido2) clone() Fido2 {
	out := f
	out.IncludeTargets = make([]IncludeTarget, len(f.IncludeTargets))
	for i, t := range f.IncludeTargets {
		out.IncludeTargets[i] = t
		if t.AllowedPasskeyProfiles != nil {
			out.IncludeTargets[i].AllowedPasskeyProfiles = append([]string{}, t.AllowedPasskeyProfiles...)
		}
	}
	out.ExcludeTargets = append([]ExcludeTarget{}, f.ExcludeTargets...)
	out.PasskeyProfiles = make([]PasskeyProfile, len(f.PasskeyProfiles))
	for i, p := range f.PasskeyProfiles {
		out.PasskeyProfiles[i] = p.clone()
	}
	return out
}

func (p PasskeyProfile) clone() PasskeyProfile {
	out := p
	out.KeyRestrictions.AAGUIDs = append([]string{}, p.KeyRestrictions.AAGUIDs...)
	return out
}
