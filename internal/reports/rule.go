package reports

import (
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// PasswordlessRule is pol's sign-in decision (policy.Fido2.CheckSignIn) for
// every key and person at once, as the storage can test it in a query: the
// excluded groups, and per include target the models one of its profiles
// accepts (the union of the profiles' allow and block lists).
func PasswordlessRule(pol policy.Fido2) storage.PasswordlessRule {
	var r storage.PasswordlessRule
	if pol.State != policy.StateEnabled {
		return r
	}
	for _, t := range pol.ExcludeTargets {
		r.ExcludeGroups = append(r.ExcludeGroups, strings.ToLower(t.ID))
	}
	for _, t := range pol.IncludeTargets {
		var set modelSet // accepts nothing until a profile accepts something
		for _, p := range pol.PasskeyProfiles {
			if slices.Contains(t.AllowedPasskeyProfiles, p.ID) {
				set = set.union(accepted(p.KeyRestrictions))
			}
		}
		target := storage.PasswordlessTarget{AAGUIDs: set.list(), Except: set.except}
		if t.ID != policy.AllUsers {
			target.GroupID = strings.ToLower(t.ID)
		}
		r.Targets = append(r.Targets, target)
	}
	return r
}

// modelSet is a set of AAGUIDs: those in models, or with except every one
// but those.
type modelSet struct {
	models map[string]bool
	except bool
}

// accepted is the models a profile's key restrictions accept at sign-in: an
// allow list never accepts the all-zero AAGUID.
func accepted(kr policy.KeyRestrictions) modelSet {
	if !kr.IsEnforced {
		return modelSet{except: true}
	}
	s := modelSet{models: map[string]bool{}, except: kr.EnforcementType != policy.EnforcementAllow}
	for _, a := range kr.AAGUIDs {
		n, err := policy.NormalizeAAGUID(a)
		if err != nil || !s.except && n == policy.ZeroAAGUID {
			continue
		}
		s.models[n] = true
	}
	return s
}

func (a modelSet) union(b modelSet) modelSet {
	out := modelSet{models: map[string]bool{}, except: a.except || b.except}
	switch {
	case a.except && b.except: // all but what both leave out
		for m := range a.models {
			if b.models[m] {
				out.models[m] = true
			}
		}
	case a.except || b.except: // all but what the except set leaves out and the other has not
		ex, in := a, b
		if b.except {
			ex, in = b, a
		}
		for m := range ex.models {
			if !in.models[m] {
				out.models[m] = true
			}
		}
	default:
		for m := range a.models {
			out.models[m] = true
		}
		for m := range b.models {
			out.models[m] = true
		}
	}
	return out
}

func (a modelSet) list() []string {
	out := make([]string, 0, len(a.models))
	for m := range a.models {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}
