// Package methodpolicy serves the stored authentication methods policy: it
// reads it through the validating policy.Load, caches it behind a cheap
// version check, and saves changes with a compare-and-swap update. The
// policy package decides; this one loads, stores and explains.
package methodpolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Service serves the FIDO2 method policy from memory. Each read costs one
// cheap version query, so a change saved on any node takes effect on every
// node at its next request, and the JSON is decoded only when it changed.
type Service struct {
	Store storage.Storage
	Now   func() time.Time
	// Metadata, when set, lets the lockout guards count a passkey of a model
	// MDS distrusts as no way in where a profile blocks such models.
	Metadata Metadata

	mu      sync.RWMutex
	version int64
	loaded  bool
	fido2   policy.Fido2
}

// Fido2 returns the current policy (the defaults when none was ever saved).
func (p *Service) Fido2(ctx context.Context) (policy.Fido2, error) {
	f, _, err := p.Fido2Version(ctx)
	return f, err
}

// Fido2Version returns the current policy and its version: 0 while none was
// ever saved, then one more with every change. Editors send it back (the
// API's ETag and If-Match) so a change made meanwhile is not overwritten.
func (p *Service) Fido2Version(ctx context.Context) (policy.Fido2, int64, error) {
	versions, err := p.Store.PolicyVersions(ctx)
	if err != nil {
		return policy.Fido2{}, 0, fmt.Errorf("read policy versions: %w", err)
	}
	return p.Fido2AtVersion(ctx, versions[policy.StorageName])
}

// Fido2AtVersion is Fido2Version for a caller that has just read the
// stored policy's version v itself (storage.CredentialOwner reads it with
// the credential): the cached policy when it is at v, else a fresh load.
func (p *Service) Fido2AtVersion(ctx context.Context, v int64) (policy.Fido2, int64, error) {
	p.mu.RLock()
	if p.loaded && p.version == v {
		f := p.fido2
		p.mu.RUnlock()
		return f, v, nil
	}
	p.mu.RUnlock()

	f, v, err := p.load(ctx)
	if err != nil {
		return policy.Fido2{}, 0, err
	}
	p.mu.Lock()
	p.fido2, p.version, p.loaded = f, v, true
	p.mu.Unlock()
	return f, v, nil
}

// StaleError refuses a change made to a version of the policy that is no
// longer the current one; it carries the current policy and version.
type StaleError struct {
	Current policy.Fido2
	Version int64
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the passkey (FIDO2) policy was changed meanwhile; it is now at version %d", e.Version)
}

// UpdateFido2IfVersion is UpdateFido2 for an editor that read the policy at
// some version: match says whether the stored version is one the editor
// accepts (nil = any). A mismatch changes nothing and returns a *StaleError.
// The check is made inside the compare-and-swap update, so of two editors
// who read the same version only the first one's change is saved.
//
// A change that would leave a global administrator or an emergency-access
// account with no way to sign in is refused (409 wouldLockOut, naming them)
// unless force is set; a forced change's audit record names them.
func (p *Service) UpdateFido2IfVersion(ctx context.Context, actor authz.Actor, match func(version int64) bool, patch []byte, force bool) (policy.Fido2, int64, error) {
	return p.update(ctx, actor, match, force, func(policy.Fido2) ([]byte, error) { return patch, nil })
}

func (p *Service) load(ctx context.Context) (policy.Fido2, int64, error) {
	stored, err := p.Store.GetPolicy(ctx, policy.StorageName)
	if errors.Is(err, storage.ErrNotFound) {
		return policy.Default(), 0, nil
	}
	if err != nil {
		return policy.Fido2{}, 0, fmt.Errorf("load fido2 policy: %w", err)
	}
	f, err := policy.Load(stored.Data)
	if err != nil {
		return policy.Fido2{}, 0, err
	}
	return f, stored.Version, nil
}

// UpdateFido2 applies a PATCH document to the stored policy, checks that the
// groups it names exist, saves it with a new version and records who did it.
func (p *Service) UpdateFido2(ctx context.Context, actor authz.Actor, patch []byte) (policy.Fido2, error) {
	return p.UpdateFido2With(ctx, actor, false, func(policy.Fido2) ([]byte, error) { return patch, nil })
}

// UpdateFido2With is UpdateFido2 for a patch that depends on the policy it
// changes (such as "add this AAGUID to the list"): build gets the current
// policy inside the compare-and-swap update, so a change saved meanwhile by
// someone else is neither lost nor overwritten. build must not write.
// force is UpdateFido2IfVersion's.
func (p *Service) UpdateFido2With(ctx context.Context, actor authz.Actor, force bool, build func(cur policy.Fido2) ([]byte, error)) (policy.Fido2, error) {
	f, _, err := p.update(ctx, actor, nil, force, build)
	return f, err
}

func (p *Service) update(ctx context.Context, actor authz.Actor, match func(int64) bool, force bool, build func(cur policy.Fido2) ([]byte, error)) (policy.Fido2, int64, error) {
	if err := authz.MayEditMethodPolicies(actor); err != nil {
		return policy.Fido2{}, 0, err
	}
	// The MDS blob is read before the transaction: it may be large, and the
	// lockout guard needs only its verdicts.
	// An unreadable blob distrusts nothing, as at sign-in.
	distrust, _ := p.Distrust(ctx)
	var prev, next policy.Fido2
	var stored storage.Policy
	e := storage.AuditEvent{ID: uuid.NewString(), Time: p.Now().UTC(), Actor: actor.String(),
		Action: "policy.fido2.update", Target: policy.AuditTarget}
	// Both values, so the audit log shows what changed (modifiedProperties);
	// read when the record is written, after the change.
	details := map[string]any{"oldValue": &prev, "newValue": &next}
	err := storage.Record(ctx, p.Store, e, details, func(ctx context.Context) (err error) {
		stored, err = p.Store.UpdatePolicy(ctx, policy.StorageName, func(old storage.Policy) (storage.Policy, error) {
			cur, err := policy.Load(old.Data)
			if err != nil {
				return old, err
			}
			prev = cur
			if match != nil && !match(old.Version) {
				return old, &StaleError{Current: cur, Version: old.Version}
			}
			if cur, err = p.withoutMissingGroups(ctx, cur); err != nil {
				return old, err
			}
			patch, err := build(cur)
			if err != nil {
				return old, err
			}
			next, err = policy.Apply(cur, patch)
			if err != nil {
				return old, err
			}
			if err := p.checkGroups(ctx, next.GroupIDs()); err != nil {
				return old, err
			}
			// Nobody gets locked out, judged on the methods as this
			// transaction sees them.
			locked, err := p.checkLockout(ctx, cur, next, distrust)
			if err != nil {
				return old, err
			}
			if len(locked) > 0 && !force {
				return old, lockoutError(locked)
			}
			if len(locked) > 0 {
				details["force"], details["lockedOut"] = true, locked
			}
			data, err := json.Marshal(next)
			if err != nil {
				return old, fmt.Errorf("encode fido2 policy: %w", err)
			}
			old.Data, old.UpdatedAt, old.UpdatedBy = data, p.Now().UTC(), actor.String()
			return old, nil
		})
		return err
	})
	if err != nil {
		return policy.Fido2{}, 0, err
	}
	return next, stored.Version, nil
}

// Propose is what a PATCH with patch would save, without saving it: the
// current policy (targets naming deleted groups dropped, as a PATCH drops
// them) and the proposal, refused as a PATCH refuses it — a body the
// policy does not accept, or a group that does not exist.
func (p *Service) Propose(ctx context.Context, patch []byte) (cur, next policy.Fido2, err error) {
	if cur, err = p.Fido2(ctx); err != nil {
		return cur, next, err
	}
	if cur, err = p.withoutMissingGroups(ctx, cur); err != nil {
		return cur, next, err
	}
	if next, err = policy.Apply(cur, patch); err != nil {
		return cur, next, err
	}
	return cur, next, p.checkGroups(ctx, next.GroupIDs())
}

// withoutMissingGroups drops targets naming groups that no longer exist. A
// group deleted before deletions kept the policy in step would otherwise make
// every later change fail the group check — even turning passkeys off. This
// changes no decision: a deleted group has no members to include or exclude.
func (p *Service) withoutMissingGroups(ctx context.Context, cur policy.Fido2) (policy.Fido2, error) {
	var missing []string
	for _, id := range cur.GroupIDs() {
		_, err := p.Store.GetGroup(ctx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			missing = append(missing, id)
		case err != nil:
			return cur, fmt.Errorf("check group %s: %w", id, err)
		}
	}
	if len(missing) == 0 {
		return cur, nil
	}
	return cur.WithoutGroups(missing), nil
}

func (p *Service) checkGroups(ctx context.Context, ids []string) error {
	var missing []string
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			missing = append(missing, id)
			continue
		}
		if _, err := p.Store.GetGroup(ctx, id); errors.Is(err, storage.ErrNotFound) {
			missing = append(missing, id)
		} else if err != nil {
			return fmt.Errorf("check group %s: %w", id, err)
		}
	}
	if len(missing) > 0 {
		return apperr.BadRequest("the policy names groups that do not exist: %v", missing)
	}
	return nil
}

// ForUser returns the FIDO2 policy and the IDs of the groups the user
// belongs to: what every per-user decision of the policy takes.
func (p *Service) ForUser(ctx context.Context, userID string) (policy.Fido2, []string, error) {
	pol, err := p.Fido2(ctx)
	if err != nil {
		return policy.Fido2{}, nil, apperr.Internal(fmt.Errorf("load FIDO2 policy: %w", err))
	}
	groups, err := p.Store.UserGroupIDs(ctx, userID)
	if err != nil {
		return policy.Fido2{}, nil, apperr.Internal(fmt.Errorf("load groups: %w", err))
	}
	return pol, groups, nil
}

// Explain rewrites a refusal for the person who reads it: an excluding
// group is named by its display name rather than its ID. The name is looked
// up only on refusal; when it cannot be read the ID stays.
func (p *Service) Explain(ctx context.Context, d policy.Decision) policy.Decision {
	if d.Code == policy.CodeExcludedByGroup && d.Group != "" {
		if g, err := p.Store.GetGroup(ctx, d.Group); err == nil {
			d = d.WithGroupName(g.DisplayName)
		}
	}
	return d
}
