package policy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ZeroAAGUID is what browsers report under "none" attestation and what
// authenticators without a model identifier send. It never satisfies an allow list.
const ZeroAAGUID = "00000000-0000-0000-0000-000000000000"

// NormalizeAAGUID returns the lower-case hyphenated form of an AAGUID given
// in any common spelling: upper-case, without hyphens, in braces, or as a
// urn:uuid: URN.
func NormalizeAAGUID(s string) (string, error) {
	u, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q is not an AAGUID (expected 32 hexadecimal digits such as ee882879-721c-4913-9775-3dfcce97072a)", s)
	}
	return u.String(), nil
}

// profileIDPattern keeps client-chosen profile IDs safe to put in URLs and CLI flags.
var profileIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Validate checks f and returns it normalised: AAGUIDs and group IDs
// lower-case and hyphenated, duplicate AAGUIDs and excluded groups removed,
// names trimmed, missing profile IDs generated, an include target without
// profiles given the default one, nil lists made empty. Every problem is
// reported at once in one 400 *apperr.Error.
func (f Fido2) Validate() (Fido2, error) {
	out, ps := validate(f)
	if err := ps.err(); err != nil {
		return f, err
	}
	return out, nil
}

func validate(f Fido2) (Fido2, problems) {
	var ps problems
	out := f.clone()
	if out.State != StateEnabled && out.State != StateDisabled {
		ps.add("state", "must be %q or %q, not %q", StateEnabled, StateDisabled, out.State)
	}
	ids := validateProfiles(&ps, out.PasskeyProfiles)
	validateIncludes(&ps, out.IncludeTargets, ids)
	out.ExcludeTargets = validateExcludes(&ps, out.ExcludeTargets)
	return out, ps
}

// validateProfiles normalises profiles in place and returns the set of IDs.
func validateProfiles(ps *problems, profiles []PasskeyProfile) map[string]bool {
	const path = "passkeyProfiles"
	if len(profiles) > MaxProfiles {
		ps.add(path, "at most %d passkey profiles are allowed, not %d", MaxProfiles, len(profiles))
	}
	ids := map[string]bool{}
	names := map[string]int{}
	for i := range profiles {
		p := &profiles[i]
		at := index(path, i)
		if p.ID == "" {
			p.ID = uuid.NewString()
		} else if !profileIDPattern.MatchString(p.ID) {
			ps.add(join(at, "id"), "%q is not a valid profile id (letters, digits, - and _, at most 64 characters)", p.ID)
		}
		if ids[p.ID] {
			ps.add(join(at, "id"), "%q is used by more than one profile", p.ID)
		}
		ids[p.ID] = true
		p.Name = strings.TrimSpace(p.Name)
		switch {
		case p.Name == "":
			ps.add(join(at, "name"), "must not be empty")
		case utf8.RuneCountInString(p.Name) > MaxProfileNameLen:
			ps.add(join(at, "name"), "must be at most %d characters, not %d", MaxProfileNameLen, utf8.RuneCountInString(p.Name))
		}
		if j, dup := names[strings.ToLower(p.Name)]; dup && p.Name != "" {
			ps.add(join(at, "name"), "%q is already the name of passkeyProfiles[%d]; names must be unique", p.Name, j)
		} else {
			names[strings.ToLower(p.Name)] = i
		}
		validateProfileRules(ps, at, p)
	}
	if !ids[DefaultProfileID] {
		ps.add(path, "the default profile (id %q) must be present: it cannot be deleted", DefaultProfileID)
	}
	return ids
}

func validateProfileRules(ps *problems, at string, p *PasskeyProfile) {
	if p.PasskeyTypes&(DeviceBound|Synced) == 0 {
		ps.add(join(at, "passkeyTypes"), "must allow at least one passkey type (deviceBound, synced)")
	}
	p.PasskeyTypes &= DeviceBound | Synced
	if p.AttestationEnforcement != AttestationDisabled && p.AttestationEnforcement != AttestationRegistrationOnly {
		ps.add(join(at, "attestationEnforcement"), "must be %q or %q, not %q",
			AttestationDisabled, AttestationRegistrationOnly, p.AttestationEnforcement)
	}
	kr := &p.KeyRestrictions
	krPath := join(at, "keyRestrictions")
	if kr.EnforcementType != EnforcementAllow && kr.EnforcementType != EnforcementBlock {
		ps.add(join(krPath, "enforcementType"), "must be %q or %q, not %q", EnforcementAllow, EnforcementBlock, kr.EnforcementType)
	}
	kr.AAGUIDs = normalizeAAGUIDs(ps, join(krPath, "aaGuids"), kr.AAGUIDs)
	if len(kr.AAGUIDs) > MaxAAGUIDs {
		ps.add(join(krPath, "aaGuids"), "at most %d AAGUIDs are allowed, not %d", MaxAAGUIDs, len(kr.AAGUIDs))
	}
	if kr.IsEnforced && kr.EnforcementType == EnforcementAllow && len(kr.AAGUIDs) == 0 {
		ps.add(join(krPath, "aaGuids"), "an enforced allow list must name at least one AAGUID, otherwise it refuses every key")
	}
}

// normalizeAAGUIDs returns the normalised, de-duplicated list in input order.
func normalizeAAGUIDs(ps *problems, path string, in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		n, err := NormalizeAAGUID(s)
		if err != nil {
			ps.add(index(path, i), "%v", err)
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// normalizeGroupID accepts AllUsers or a UUID group ID.
func normalizeGroupID(id string) (string, bool) {
	if id == AllUsers {
		return id, true
	}
	u, err := uuid.Parse(strings.TrimSpace(id))
	if err != nil {
		return id, false
	}
	return u.String(), true
}

// validTargetType checks a target's type: group, the only kind (the
// default when none is given).
func validTargetType(ps *problems, at, targetType string) string {
	if targetType == "" {
		return TargetTypeGroup
	}
	if targetType != TargetTypeGroup {
		ps.add(join(at, "targetType"), "must be %q, not %q", TargetTypeGroup, targetType)
	}
	return targetType
}

func validateIncludes(ps *problems, targets []IncludeTarget, profileIDs map[string]bool) {
	seen := map[string]int{}
	for i := range targets {
		t := &targets[i]
		at := index("includeTargets", i)
		t.TargetType = validTargetType(ps, at, t.TargetType)
		id, ok := normalizeGroupID(t.ID)
		switch {
		case t.ID == "":
			ps.add(join(at, "id"), "must name a group id or %q", AllUsers)
		case !ok:
			ps.add(join(at, "id"), "%q is not a group id (a UUID) or %q", t.ID, AllUsers)
		default:
			t.ID = id
			if j, dup := seen[id]; dup {
				ps.add(join(at, "id"), "%q is already targeted by includeTargets[%d]; list each group once", id, j)
			}
			seen[id] = i
		}
		t.AllowedPasskeyProfiles = validateAllowedProfiles(ps, join(at, "allowedPasskeyProfiles"), t.AllowedPasskeyProfiles, profileIDs)
	}
}

func validateAllowedProfiles(ps *problems, path string, in []string, profileIDs map[string]bool) []string {
	if in == nil {
		return []string{DefaultProfileID}
	}
	if len(in) == 0 {
		ps.add(path, "must name at least one passkey profile (omit it to use the default profile)")
		return []string{}
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for j, id := range in {
		if !profileIDs[id] {
			ps.add(index(path, j), "no passkey profile has id %q", id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// validateExcludes returns the normalised exclusions with duplicates removed.
func validateExcludes(ps *problems, targets []ExcludeTarget) []ExcludeTarget {
	out := make([]ExcludeTarget, 0, len(targets))
	seen := map[string]bool{}
	for i, t := range targets {
		at := index("excludeTargets", i)
		t.TargetType = validTargetType(ps, at, t.TargetType)
		id, ok := normalizeGroupID(t.ID)
		switch {
		case t.ID == AllUsers:
			ps.add(join(at, "id"), "cannot exclude %q; set state to %q to turn passkeys off for everyone", AllUsers, StateDisabled)
			continue
		case t.ID == "":
			ps.add(join(at, "id"), "must name a group id")
			continue
		case !ok:
			ps.add(join(at, "id"), "%q is not a group id (a UUID)", t.ID)
			continue
		}
		t.ID = id
		if !seen[id] {
			seen[id] = true
			out = append(out, t)
		}
	}
	return out
}
