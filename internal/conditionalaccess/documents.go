package conditionalaccess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

// Document is one stored document as an editor sees it: decoded (an
// access.Policy, access.Strength or access.Location) with its ETag.
type Document struct {
	Value any
	ETag  string
}

func decodeObject(o storage.AccessObject) (any, error) {
	st, err := decodeState(storage.AccessState{Objects: []storage.AccessObject{o}})
	if err != nil {
		return nil, err
	}
	switch {
	case len(st.policies) == 1:
		return st.policies[0], nil
	case len(st.strengths) == 1:
		return st.strengths[0], nil
	case len(st.locations) == 1:
		return st.locations[0], nil
	}
	return nil, fmt.Errorf("decode %s %q: unknown kind", o.Kind, o.ID)
}

// Get reads one document with its ETag.
func (s *Service) Get(ctx context.Context, kind, id string) (Document, error) {
	if kind == storage.AccessStrength && access.IsBuiltInStrength(id) {
		for _, b := range access.BuiltInStrengths() {
			if b.ID == id {
				return Document{Value: b, ETag: "builtIn"}, nil
			}
		}
	}
	o, err := s.Store.GetAccessObject(ctx, kind, id)
	if errors.Is(err, storage.ErrNotFound) {
		return Document{}, notFound(kind, id)
	}
	if err != nil {
		return Document{}, err
	}
	v, err := decodeObject(o)
	if err != nil {
		return Document{}, err
	}
	return Document{Value: v, ETag: ETagOf(o)}, nil
}

// preparer turns a document (a new one, or a stored one with a patch
// merged in) into what is stored, judging it against the whole
// configuration; details go into the audit record.
type preparer func(st *state, data []byte, creating bool) (name string, stored []byte, details map[string]any, err error)

// Create stores a new document of a kind from its JSON.
func (s *Service) Create(ctx context.Context, actor authz.Actor, kind string, body []byte, opts SaveOptions) (Document, error) {
	return s.save(ctx, actor, kind, "", body, opts)
}

// Update applies a JSON merge patch (Graph's PATCH) to a stored document.
func (s *Service) Update(ctx context.Context, actor authz.Actor, kind, id string, patch []byte, opts SaveOptions) (Document, error) {
	if kind == storage.AccessStrength && access.IsBuiltInStrength(id) {
		return Document{}, conflict(CodeReadOnly, "the built-in authentication strengths cannot be changed; create a custom one")
	}
	return s.save(ctx, actor, kind, id, patch, opts)
}

func (s *Service) prepare(kind string, opts SaveOptions) preparer {
	switch kind {
	case storage.AccessPolicy:
		return preparePolicy(opts)
	case storage.AccessStrength:
		return prepareStrength
	}
	return prepareLocation
}

func (s *Service) save(ctx context.Context, actor authz.Actor, kind, id string, body []byte, opts SaveOptions) (Document, error) {
	if _, ok := nouns[kind]; !ok {
		return Document{}, fmt.Errorf("save: unknown kind %q", kind)
	}
	var saved storage.AccessObject
	err := s.change(ctx, actor, func(st *state) (storage.AccessChange, error) {
		now := s.Now().UTC().Truncate(time.Microsecond) // as stored
		creating := id == ""
		obj := storage.AccessObject{Kind: kind, ID: id, CreatedAt: now, ModifiedAt: now}
		data := body
		if creating {
			obj.ID = uuid.NewString()
		} else {
			cur := st.find(kind, id)
			if cur == nil {
				return storage.AccessChange{}, notFound(kind, id)
			}
			if opts.Match != nil && !opts.Match(ETagOf(*cur)) {
				v, err := decodeObject(*cur)
				if err != nil {
					return storage.AccessChange{}, err
				}
				return storage.AccessChange{}, &StaleError{Current: v, ETag: ETagOf(*cur)}
			}
			obj.CreatedAt = cur.CreatedAt
			var err error
			if data, err = mergePatch(cur.Data, body); err != nil {
				return storage.AccessChange{}, err
			}
		}
		name, stored, details, err := s.prepare(kind, opts)(st, data, creating)
		if err != nil {
			return storage.AccessChange{}, err
		}
		obj.DisplayName, obj.Data = name, stored
		if err := keepsAnAdmin(st, obj, now); err != nil {
			return storage.AccessChange{}, err
		}
		saved = obj
		action := "access." + kind + ".update"
		if creating {
			action = "access." + kind + ".create"
		}
		if details == nil {
			details = map[string]any{}
		}
		details["displayName"] = name
		return storage.AccessChange{Put: []storage.AccessObject{obj},
			Audit: []storage.AuditEvent{audit(actor, now, action, obj.ID, details)}}, nil
	})
	if err != nil {
		return Document{}, err
	}
	v, err := decodeObject(saved)
	if err != nil {
		return Document{}, err
	}
	return Document{Value: v, ETag: ETagOf(saved)}, nil
}

// preparePolicy validates a policy and refuses one that could block an
// emergency-access account unless opts.Force; the store keeps the ID and the
// times beside the document, so they are cleared from it.
func preparePolicy(opts SaveOptions) preparer {
	return func(st *state, data []byte, _ bool) (string, []byte, map[string]any, error) {
		var p access.Policy
		if err := decodeDoc(data, &p); err != nil {
			return "", nil, nil, err
		}
		p, err := access.ValidatePolicy(p, st.known())
		if err != nil {
			return "", nil, nil, err
		}
		p.ID, p.CreatedDateTime, p.ModifiedDateTime = "", nil, nil
		var details map[string]any
		if affected := access.Affected(p, st.accounts); len(affected) > 0 {
			if !opts.Force {
				return "", nil, nil, conflict(CodeEmergencyAccount,
					"policy %q could block the emergency-access account(s) %s: exclude them (conditions.users.excludeUsers, or a group in excludeGroups) so that they can always sign in, or save with force if you mean it (audited)",
					p.DisplayName, strings.Join(affected, ", "))
			}
			details = map[string]any{"force": true, "emergencyAccounts": affected}
		}
		b, err := json.Marshal(p)
		return p.DisplayName, b, details, err
	}
}

func prepareStrength(st *state, data []byte, creating bool) (string, []byte, map[string]any, error) {
	var x access.Strength
	if err := decodeDoc(data, &x); err != nil {
		return "", nil, nil, err
	}
	if creating && len(st.strengths) >= access.MaxCustomStrengths {
		return "", nil, nil, conflict(CodeLimit, "there are already %d custom authentication strengths, the most allowed; delete one you no longer use first", len(st.strengths))
	}
	x, err := access.ValidateStrength(x)
	if err != nil {
		return "", nil, nil, err
	}
	x.ID, x.CreatedDateTime, x.ModifiedDateTime = "", nil, nil
	b, err := json.Marshal(x)
	return x.DisplayName, b, nil, err
}

func prepareLocation(_ *state, data []byte, _ bool) (string, []byte, map[string]any, error) {
	var l access.Location
	if err := decodeDoc(data, &l); err != nil {
		return "", nil, nil, err
	}
	l, err := access.ValidateLocation(l)
	if err != nil {
		return "", nil, nil, err
	}
	l.ID, l.CreatedDateTime, l.ModifiedDateTime = "", nil, nil
	b, err := json.Marshal(l)
	return l.DisplayName, b, nil, err
}

// Delete removes a document. A strength or a named location that a policy
// uses is refused, naming the policies, judged inside the deleting
// transaction.
func (s *Service) Delete(ctx context.Context, actor authz.Actor, kind, id string) error {
	if kind == storage.AccessStrength && access.IsBuiltInStrength(id) {
		return conflict(CodeReadOnly, "the built-in authentication strengths cannot be deleted")
	}
	return s.change(ctx, actor, func(st *state) (storage.AccessChange, error) {
		cur := st.find(kind, id)
		if cur == nil {
			return storage.AccessChange{}, notFound(kind, id)
		}
		if kind != storage.AccessPolicy {
			if used := st.usedBy(id); len(used) > 0 {
				return storage.AccessChange{}, conflict(CodeInUse, "%s %q is used by the conditional access %s %s; change or delete %s first",
					nouns[kind], cur.DisplayName, plural(len(used), "policy", "policies"), strings.Join(used, ", "), plural(len(used), "it", "them"))
			}
		}
		return storage.AccessChange{Delete: []storage.AccessKey{{Kind: kind, ID: id}},
			Audit: []storage.AuditEvent{audit(actor, s.Now().UTC(), "access."+kind+".delete", id, map[string]any{"displayName": cur.DisplayName})}}, nil
	})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Strengths lists every strength: the built-ins, then the custom ones.
func (c Config) AllStrengths() []access.Strength {
	return append(access.BuiltInStrengths(), c.Strengths...)
}

// StrengthName is a strength's display name ("" when there is none).
func (c Config) StrengthName(id string) string {
	if st, ok := c.Set.Strength(id); ok {
		return st.DisplayName
	}
	return ""
}

// keepsAnAdmin refuses a change after which no enabled global administrator
// could use the admin center with the methods they hold, when one could
// before (judged inside the saving transaction, on the configuration as it
// would be). Administrators who hold no usable method yet are not locked out
// by a policy, so they do not stop a change.
func keepsAnAdmin(st *state, obj storage.AccessObject, now time.Time) error {
	if len(st.raw.Admins) == 0 {
		return nil
	}
	objs := make([]storage.AccessObject, 0, len(st.raw.Objects)+1)
	replaced := false
	for _, o := range st.raw.Objects {
		if o.Kind == obj.Kind && o.ID == obj.ID {
			o, replaced = obj, true
		}
		objs = append(objs, o)
	}
	if !replaced {
		objs = append(objs, obj)
	}
	before, err := access.NewSet(st.policies, st.strengths, st.locations)
	if err != nil {
		return err
	}
	next, err := decodeState(storage.AccessState{Objects: objs})
	if err != nil {
		return err
	}
	after, err := access.NewSet(next.policies, next.strengths, next.locations)
	if err != nil {
		return err
	}
	var names []string
	couldBefore := false
	for _, a := range st.raw.Admins {
		sub := access.Subject{ID: a.User.ID, GroupIDs: a.GroupIDs, Role: a.User.AdminRole, IsEmergencyAccess: a.User.IsEmergencyAccess}
		means := access.Means{PasskeyAAGUIDs: a.PasskeyAAGUIDs, Password: a.HasPassword, AuthenticatorApp: a.HasAuthenticatorApp}
		if after.CanReach(sub, means, access.AppAdmin, now) {
			return nil
		}
		couldBefore = couldBefore || before.CanReach(sub, means, access.AppAdmin, now)
		names = append(names, a.User.UserPrincipalName)
	}
	if !couldBefore {
		return nil
	}
	return conflict(CodeAdminLockout, "this change was not saved: afterwards no global administrator (%s) could use the admin center, "+
		"because none holds a sign-in method that the policies for Keyward admin (%s) accept; give one of them such a method first "+
		"(for example a passkey of an allowed model), or exclude an account from the policy",
		strings.Join(names, ", "), access.AppAdmin)
}
