package policy

import (
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
)

// StorageName is the name the FIDO2 policy is stored under, and AuditTarget
// the target of its audit events.
const (
	StorageName = "fido2"
	AuditTarget = "authenticationMethodConfigurations/fido2"
)

// WithoutDeletedGroup decides what deleting a group means for the policy. An
// include target naming it is removed (its members lose what the target gave
// them, which only narrows who may use passkeys), and changed says so. A
// group that is an exclude target is not removed: deleting it would silently
// let its members use passkeys again (exclusion beats inclusion), so the
// deletion is refused with a 409 that names the policy and what to do.
func (f Fido2) WithoutDeletedGroup(id, name string) (out Fido2, changed bool, err error) {
	for _, t := range f.ExcludeTargets {
		if strings.EqualFold(t.ID, id) {
			return f, false, apperr.Conflict("group %s is excluded from the passkey (FIDO2) policy, so deleting it would let its members use passkeys; "+
				"remove it from the policy's excludeTargets first, then delete it", strconv.Quote(name))
		}
	}
	out = f.WithoutGroups([]string{id})
	return out, len(out.IncludeTargets) != len(f.IncludeTargets), nil
}

// WithoutGroups returns f without the include and exclude targets that name
// any of ids. For groups that no longer exist this changes no decision: a
// deleted group has no members, so neither its inclusion nor its exclusion
// applies to anyone.
func (f Fido2) WithoutGroups(ids []string) Fido2 {
	gone := func(id string) bool {
		for _, g := range ids {
			if strings.EqualFold(g, id) {
				return true
			}
		}
		return false
	}
	out := f.clone()
	out.IncludeTargets = slices.DeleteFunc(out.IncludeTargets, func(t IncludeTarget) bool { return gone(t.ID) })
	out.ExcludeTargets = slices.DeleteFunc(out.ExcludeTargets, func(t ExcludeTarget) bool { return gone(t.ID) })
	return out
}
