// Package conditionalaccess serves the stored conditional access
// configuration: it reads policies, custom strengths and named locations,
// keeps them compiled in memory behind a cheap version check, and saves
// changes through storage.ChangeAccess, so the rules that span documents (a
// strength or location in use cannot be deleted, at most 15 custom
// strengths, no policy may silently lock out an emergency account) are
// judged inside the writing transaction. Package access decides; this one
// loads, stores and explains.
package conditionalaccess

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

// Error codes of refusals.
const (
	CodeEmergencyAccount = "emergencyAccountAffected"
	CodeInUse            = "inUse"
	CodeLimit            = "limitReached"
	CodeReadOnly         = "readOnly"
	// CodeAdminLockout: the change would leave no global administrator able
	// to use the admin center.
	CodeAdminLockout = "lastAdminLockout"
	// CodeStepUp: the session must sign in again with a stronger method.
	CodeStepUp = "stepUpRequired"
	// CodeBlocked: a conditional access policy blocks the session here.
	CodeBlocked = "conditionalAccessBlocked"
)

// Service serves conditional access. Its zero value is not usable: set
// Store and Now.
type Service struct {
	Store storage.Storage
	Now   func() time.Time

	mu     sync.RWMutex
	loaded bool
	config Config
}

// Config is the whole configuration at one version, decoded and compiled.
type Config struct {
	Version   int64
	Policies  []access.Policy
	Strengths []access.Strength // custom ones only
	Locations []access.Location
	Set       *access.Set
}

// Current returns the configuration, reloading it only when its version
// changed (one cheap query per call), so a change saved on any node takes
// effect on every node at its next request.
func (s *Service) Current(ctx context.Context) (Config, error) {
	v, err := s.Store.AccessVersion(ctx)
	if err != nil {
		return Config{}, fmt.Errorf("read conditional access version: %w", err)
	}
	s.mu.RLock()
	if s.loaded && s.config.Version == v {
		c := s.config
		s.mu.RUnlock()
		return c, nil
	}
	s.mu.RUnlock()
	objs, err := s.Store.ListAccessObjects(ctx, "")
	if err != nil {
		return Config{}, fmt.Errorf("load conditional access: %w", err)
	}
	st, err := decodeState(storage.AccessState{Version: v, Objects: objs})
	if err != nil {
		return Config{}, err
	}
	set, err := access.NewSet(st.policies, st.strengths, st.locations)
	if err != nil {
		return Config{}, fmt.Errorf("compile conditional access: %w", err)
	}
	c := Config{Version: v, Policies: st.policies, Strengths: st.strengths, Locations: st.locations, Set: set}
	s.mu.Lock()
	if !s.loaded || s.config.Version < v {
		s.config, s.loaded = c, true
	}
	s.mu.Unlock()
	return c, nil
}

// state is a storage.AccessState decoded.
type state struct {
	raw       storage.AccessState
	policies  []access.Policy
	strengths []access.Strength
	locations []access.Location
	accounts  []access.Account
}

func decodeState(raw storage.AccessState) (*state, error) {
	st := &state{raw: raw}
	for _, o := range raw.Objects {
		created, modified := o.CreatedAt, o.ModifiedAt
		var err error
		switch o.Kind {
		case storage.AccessPolicy:
			var p access.Policy
			err = json.Unmarshal(o.Data, &p)
			p.ID, p.CreatedDateTime, p.ModifiedDateTime = o.ID, &created, &modified
			st.policies = append(st.policies, p)
		case storage.AccessStrength:
			var x access.Strength
			err = json.Unmarshal(o.Data, &x)
			x.ID, x.CreatedDateTime, x.ModifiedDateTime = o.ID, &created, &modified
			st.strengths = append(st.strengths, x)
		case storage.AccessLocation:
			var l access.Location
			err = json.Unmarshal(o.Data, &l)
			l.ID, l.CreatedDateTime, l.ModifiedDateTime = o.ID, &created, &modified
			st.locations = append(st.locations, l)
		}
		if err != nil {
			return nil, fmt.Errorf("decode stored %s %q: %w", o.Kind, o.ID, err)
		}
	}
	st.accounts = accounts(raw.Emergency)
	return st, nil
}

func accounts(es []storage.EmergencyAccount) []access.Account {
	out := make([]access.Account, 0, len(es))
	for _, e := range es {
		out = append(out, access.Account{UserPrincipalName: e.User.UserPrincipalName,
			Subject: access.Subject{ID: e.User.ID, GroupIDs: e.GroupIDs, Role: e.User.AdminRole, IsEmergencyAccess: true}})
	}
	return out
}

func (st *state) known() access.Known {
	return access.Known{
		Strength: func(id string) bool { return st.find(storage.AccessStrength, id) != nil },
		Location: func(id string) bool { return st.find(storage.AccessLocation, id) != nil },
	}
}

func (st *state) find(kind, id string) *storage.AccessObject {
	for i, o := range st.raw.Objects {
		if o.Kind == kind && o.ID == id {
			return &st.raw.Objects[i]
		}
	}
	return nil
}

// usedBy names the policies that reference a strength or a location.
func (st *state) usedBy(id string) []string {
	var out []string
	for _, p := range st.policies {
		uses := p.GrantControls != nil && p.GrantControls.AuthenticationStrength != nil && p.GrantControls.AuthenticationStrength.ID == id
		if l := p.Conditions.Locations; l != nil {
			for _, x := range append(append([]string{}, l.IncludeLocations...), l.ExcludeLocations...) {
				uses = uses || x == id
			}
		}
		if uses {
			out = append(out, fmt.Sprintf("%q", p.DisplayName))
		}
	}
	return out
}

// StaleError refuses a change to a document that changed since the editor
// read it (If-Match); it carries the current document and its ETag.
type StaleError struct {
	Current any
	ETag    string
}

func (e *StaleError) Error() string { return "changed meanwhile; it is now " + e.ETag }

// ETagOf is a document's entity tag: a digest of what is stored.
func ETagOf(o storage.AccessObject) string {
	sum := sha256.Sum256(o.Data)
	return hex.EncodeToString(sum[:12])
}

// SaveOptions are an editor's conditions on a save.
type SaveOptions struct {
	// Match says whether the document's current ETag is one the editor
	// accepts (nil = any).
	Match func(etag string) bool
	// Force saves a policy that affects emergency-access accounts; the
	// audit record says so and names them.
	Force bool
}

func mayEdit(a authz.Actor) error {
	if a.Kind == authz.KindOperator || a.Role == storage.RoleGlobalAdmin {
		return nil
	}
	return apperr.Forbidden("changing conditional access needs the role %s", storage.RoleGlobalAdmin)
}

// change runs one ChangeAccess with the state decoded and drops the cache.
func (s *Service) change(ctx context.Context, actor authz.Actor, fn func(st *state) (storage.AccessChange, error)) error {
	if err := mayEdit(actor); err != nil {
		return err
	}
	_, err := s.Store.ChangeAccess(ctx, func(raw storage.AccessState) (storage.AccessChange, error) {
		st, err := decodeState(raw)
		if err != nil {
			return storage.AccessChange{}, err
		}
		return fn(st)
	})
	return err
}

func audit(actor authz.Actor, now time.Time, action, target string, details map[string]any) storage.AuditEvent {
	var b []byte
	if details != nil {
		b, _ = json.Marshal(details) // strings, bools and lists always marshal
	}
	return storage.AuditEvent{Time: now, Actor: actor.String(), Action: action, Target: target, Details: b}
}

// mergePatch applies an RFC 7396 JSON merge patch to a JSON object.
func mergePatch(doc, patch []byte) ([]byte, error) {
	var d, p any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("stored document: %w", err)
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, apperr.BadRequest("the body is not JSON: %v", err)
	}
	if _, ok := p.(map[string]any); !ok {
		return nil, apperr.BadRequest("the body must be a JSON object")
	}
	return json.Marshal(merge(d, p))
}

func merge(d, p any) any {
	pm, ok := p.(map[string]any)
	if !ok {
		return p
	}
	dm, ok := d.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = merge(dm[k], v)
	}
	return dm
}

// decodeDoc decodes a request document strictly: unknown fields are named.
func decodeDoc(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.BadRequest("the document is not valid: %v", err)
	}
	return nil
}

func notFound(kind, id string) error {
	return apperr.NotFound("there is no %s %q", nouns[kind], id)
}

var nouns = map[string]string{
	storage.AccessPolicy:   "conditional access policy",
	storage.AccessStrength: "authentication strength",
	storage.AccessLocation: "named location",
}

func conflict(code, format string, args ...any) error {
	return apperr.New(http.StatusConflict, code, format, args...)
}
