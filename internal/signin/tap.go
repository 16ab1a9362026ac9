package signin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/textlimit"
)

// TAP signs a user in with a Temporary Access Pass. The session counts as
// multi-factor (the admin vouched for the person when issuing the pass), so
// the user can register a passkey at once.
func (s *Service) TAP(ctx context.Context, c session.Client, username, pass string) (Result, error) {
	a, e, u, ok, err := s.start(ctx, c, "tap", username, "temporaryAccessPass", pass)
	if err != nil {
		return Result{}, err
	}
	defer s.settle(ctx, a)
	norm := mfa.NormalizeTAP(pass)
	switch {
	case u.ID == "":
		return Result{}, s.failed(ctx, a, e, "unknown user", errInvalidTAP)
	case !ok:
		return Result{}, s.failed(ctx, a, e, "account disabled", errInvalidTAP)
	case norm == "":
		return Result{}, s.failed(ctx, a, e, "not a Temporary Access Pass", errInvalidTAP)
	}
	if reason, err := s.useTAP(ctx, u.ID, mfa.HashTAP(norm)); err != nil {
		return Result{}, err
	} else if reason != "" {
		return Result{}, s.failed(ctx, a, e, reason, errInvalidTAP)
	}
	sec, sess := s.Sessions.NewSession(u.ID, c, []string{"tap", "mfa"}, true)
	return s.complete(ctx, u, e, sec, sess)
}

// useTAP spends the user's pass with this hash. The pass is looked up among
// the user's own first, so a pass typed with the wrong username is never
// spent. It returns why the pass was refused ("" when accepted).
func (s *Service) useTAP(ctx context.Context, userID string, hash []byte) (string, error) {
	taps, err := s.Store.ListUserTAPs(ctx, userID)
	if err != nil {
		return "", apperr.Internal(fmt.Errorf("list temporary access passes: %w", err))
	}
	var match *storage.TemporaryAccessPass
	for i := range taps {
		if subtle.ConstantTimeCompare(taps[i].Hash, hash) == 1 {
			match = &taps[i]
		}
	}
	if match == nil {
		return "wrong Temporary Access Pass", nil
	}
	used, err := s.Store.UseTAP(ctx, hash, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		_, why := TAPUsability(*match, s.now())
		return "Temporary Access Pass not usable: " + why, nil
	}
	if err != nil {
		return "", apperr.Internal(fmt.Errorf("use temporary access pass: %w", err))
	}
	if used.UserID != userID { // cannot happen with unique hashes; never let it sign anyone in
		return "Temporary Access Pass of another user", nil
	}
	return "", nil
}

// Graph's methodUsabilityReason values.
const (
	TAPUsable      = "EnabledByPolicy"
	TAPExpired     = "Expired"
	TAPNotYetValid = "NotYetValid"
	TAPOneTimeUsed = "OneTimeUsed"
)

// TAPUsability says whether a pass can sign in at now, and why not.
func TAPUsability(t storage.TemporaryAccessPass, now time.Time) (bool, string) {
	switch {
	case t.IsUsableOnce && t.UsedAt != nil:
		return false, TAPOneTimeUsed
	case !now.Before(t.ExpiresAt):
		return false, TAPExpired
	case now.Before(t.StartAt):
		return false, TAPNotYetValid
	}
	return true, TAPUsable
}

// TAPRequest is an administrator's request for a pass (nil = default).
type TAPRequest struct {
	LifetimeInMinutes *int
	IsUsableOnce      *bool
	StartDateTime     *time.Time
}

// IssuedTAP is a new pass: Pass is shown once and never stored.
type IssuedTAP struct {
	storage.TemporaryAccessPass
	Pass string
}

// Passes administers Temporary Access Passes: issuing, listing and deleting
// them needs the store alone, so the CLI uses Passes without a sign-in
// service (and its session manager and policy).
type Passes struct {
	Store storage.Storage
	Now   func() time.Time // nil = time.Now
}

func (s *Service) passes() *Passes {
	return &Passes{Store: s.Store, Now: s.Now}
}

// IssueTAP is Passes.Issue.
func (s *Service) IssueTAP(ctx context.Context, actor authz.Actor, u storage.User, req TAPRequest) (IssuedTAP, error) {
	return s.passes().Issue(ctx, actor, u, req)
}

// TAPConfig is Passes.Config.
func (s *Service) TAPConfig(ctx context.Context) (policy.TAPConfig, error) {
	return s.passes().Config(ctx)
}

// TAPConfigVersion is Passes.ConfigVersion.
func (s *Service) TAPConfigVersion(ctx context.Context) (policy.TAPConfig, int64, error) {
	return s.passes().ConfigVersion(ctx)
}

// UpdateTAPConfigIfVersion is Passes.UpdateConfigIfVersion.
func (s *Service) UpdateTAPConfigIfVersion(ctx context.Context, actor authz.Actor, match func(int64) bool, patch []byte) (policy.TAPConfig, int64, error) {
	return s.passes().UpdateConfigIfVersion(ctx, actor, match, patch)
}

// UserTAPs is Passes.List.
func (s *Service) UserTAPs(ctx context.Context, userID string) ([]storage.TemporaryAccessPass, error) {
	return s.passes().List(ctx, userID)
}

// DeleteTAP is Passes.Delete with the last-method check (RemovalCheck):
// nobody deletes their own last way in, and an administrator deleting a
// user's last one must say confirmed.
func (s *Service) DeleteTAP(ctx context.Context, actor authz.Actor, u storage.User, id string, confirmed bool) error {
	return s.passes().Delete(ctx, actor, u, id, s.RemovalCheck(ctx, actor, "", id, confirmed))
}

// Issue makes a pass for the user. A user holds one pass at a time, as in
// Entra ID: issuing a new one replaces any other, in the same transaction,
// so passes issued at once still leave exactly one. Who may issue one for
// whom is authz.MayChangeMethods's decision: never for oneself, and for
// another administrator only as a global administrator.
func (s *Passes) Issue(ctx context.Context, actor authz.Actor, u storage.User, req TAPRequest) (IssuedTAP, error) {
	if err := authz.MayChangeMethods(actor, authz.IssueTAP, u); err != nil {
		return IssuedTAP{}, err
	}
	now := clock(s.Now)
	cfg, err := s.Config(ctx)
	if err != nil {
		return IssuedTAP{}, err
	}
	minute := func(m int) time.Duration { return time.Duration(m) * time.Minute }
	start, expires, err := mfa.TAPWindowWithin(now, req.LifetimeInMinutes, req.StartDateTime, mfa.TAPLimits{
		Default: minute(cfg.DefaultLifetimeInMinutes), Min: minute(cfg.MinimumLifetimeInMinutes), Max: minute(cfg.MaximumLifetimeInMinutes)})
	if err != nil {
		return IssuedTAP{}, err
	}
	once := cfg.IsUsableOnce
	if req.IsUsableOnce != nil {
		once = *req.IsUsableOnce
	}
	pass, hash := mfa.NewTAPOfLength(cfg.DefaultLength)
	t := storage.TemporaryAccessPass{ID: uuid.NewString(), UserID: u.ID, Hash: hash,
		IsUsableOnce: once,
		CreatedAt:    now, StartAt: start, ExpiresAt: expires, CreatedBy: actor.String()}
	err = s.Store.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
		replaced, err := s.Store.ReplaceTAP(ctx, t)
		if errors.Is(err, storage.ErrConflict) {
			return nil, apperr.NotFound("user %s no longer exists", u.UserPrincipalName).Wrap(err)
		}
		if err != nil {
			return nil, apperr.Internal(fmt.Errorf("store temporary access pass: %w", err))
		}
		e, err := storage.WithDetails(auditEvent(now, actor, "user.temporaryAccessPassMethod.create", u.ID), map[string]any{
			"methodId": t.ID, "startDateTime": start, "lifetimeInMinutes": int(expires.Sub(start) / time.Minute),
			"isUsableOnce": t.IsUsableOnce, "replaced": replaced,
		})
		return []storage.AuditEvent{e}, err
	})
	if err != nil {
		return IssuedTAP{}, err
	}
	return IssuedTAP{TemporaryAccessPass: t, Pass: pass}, nil
}

// Config reads the Temporary Access Pass method policy (the defaults when
// none was saved).
func (s *Passes) Config(ctx context.Context) (policy.TAPConfig, error) {
	c, _, err := s.ConfigVersion(ctx)
	return c, err
}

// ConfigVersion is Config with the policy's version: 0 while it was never
// saved, then one more with every change. Editors send it back (the API's
// ETag and If-Match) so a change saved meanwhile is not overwritten.
func (s *Passes) ConfigVersion(ctx context.Context) (policy.TAPConfig, int64, error) {
	p, err := s.Store.GetPolicy(ctx, policy.TAPStorageName)
	if errors.Is(err, storage.ErrNotFound) {
		return policy.DefaultTAP(), 0, nil
	}
	if err != nil {
		return policy.TAPConfig{}, 0, apperr.Internal(fmt.Errorf("read the Temporary Access Pass policy: %w", err))
	}
	c, err := policy.LoadTAP(p.Data)
	if err != nil {
		return policy.TAPConfig{}, 0, apperr.Internal(fmt.Errorf("the stored Temporary Access Pass policy does not load: %w", err))
	}
	return c, p.Version, nil
}

// StaleTAPConfigError refuses a change made to a version of the Temporary
// Access Pass policy that is no longer the current one; it carries the
// current policy and its version.
type StaleTAPConfigError struct {
	Current policy.TAPConfig
	Version int64
}

func (e *StaleTAPConfigError) Error() string {
	return fmt.Sprintf("the Temporary Access Pass policy was changed meanwhile; it is now at version %d", e.Version)
}

// UpdateConfig applies a PATCH document to the Temporary Access Pass method
// policy inside a compare-and-swap update, audited with the old and the new
// value; only those who may edit method policies may change it.
func (s *Passes) UpdateConfig(ctx context.Context, actor authz.Actor, patch []byte) (policy.TAPConfig, error) {
	c, _, err := s.UpdateConfigIfVersion(ctx, actor, nil, patch)
	return c, err
}

// UpdateConfigIfVersion is UpdateConfig for an editor that read the policy
// at some version: match says whether the stored version is one the editor
// accepts (nil = any). The check is made on the locked row inside the
// writing transaction, so of two editors who read the same version only the
// first one's change is saved; the other gets a *StaleTAPConfigError and
// nothing changes.
func (s *Passes) UpdateConfigIfVersion(ctx context.Context, actor authz.Actor, match func(version int64) bool, patch []byte) (policy.TAPConfig, int64, error) {
	if err := authz.MayEditMethodPolicies(actor); err != nil {
		return policy.TAPConfig{}, 0, err
	}
	var prev, next policy.TAPConfig
	var version int64
	details := map[string]any{"oldValue": &prev, "newValue": &next}
	err := audited(ctx, s.Store, clock(s.Now), actor, "policy.temporaryAccessPass.update", policy.TAPStorageName, details, func(ctx context.Context) error {
		saved, err := s.Store.UpdatePolicy(ctx, policy.TAPStorageName, func(old storage.Policy) (storage.Policy, error) {
			cur, err := policy.LoadTAP(old.Data)
			if err != nil {
				return old, err
			}
			prev = cur
			if match != nil && !match(old.Version) {
				return old, &StaleTAPConfigError{Current: cur, Version: old.Version}
			}
			if next, err = policy.ApplyTAP(cur, patch); err != nil {
				return old, err
			}
			data, err := json.Marshal(next)
			if err != nil {
				return old, err
			}
			old.Data, old.UpdatedAt, old.UpdatedBy = data, clock(s.Now), actor.String()
			return old, nil
		})
		version = saved.Version
		return err
	})
	if err != nil {
		return policy.TAPConfig{}, 0, err
	}
	return next, version, nil
}

// List lists the user's passes (without the pass itself).
func (s *Passes) List(ctx context.Context, userID string) ([]storage.TemporaryAccessPass, error) {
	taps, err := s.Store.ListUserTAPs(ctx, userID)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("list temporary access passes: %w", err))
	}
	return taps, nil
}

// Delete removes one of the user's passes. check, when not nil, may refuse
// on the user's methods as they are inside the deleting transaction (see
// storage.DeleteUserTAP); its error is returned.
func (s *Passes) Delete(ctx context.Context, actor authz.Actor, u storage.User, id string, check func(storage.UserMethods) error) error {
	if err := authz.MayChangeMethods(actor, authz.DeleteTAP, u); err != nil {
		return err
	}
	taps, err := s.List(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, t := range taps {
		if t.ID != id {
			continue
		}
		return audited(ctx, s.Store, clock(s.Now), actor, "user.temporaryAccessPassMethod.delete", u.ID, map[string]any{"methodId": id},
			func(ctx context.Context) error {
				err := s.Store.DeleteUserTAP(ctx, u.ID, id, check)
				var refused *apperr.Error // the check's answer
				switch {
				case errors.As(err, &refused):
					return refused
				case err != nil && !errors.Is(err, storage.ErrNotFound):
					return apperr.Internal(fmt.Errorf("delete temporary access pass: %w", err))
				}
				return nil
			})
	}
	return apperr.New(http.StatusNotFound, "notFound", "user %s has no Temporary Access Pass %q", u.UserPrincipalName, textlimit.Truncate(id, 80))
}

// auditEvent is the record of a change made at by actor to the sign-in
// methods of user target.
func auditEvent(at time.Time, actor authz.Actor, action, target string) storage.AuditEvent {
	return storage.AuditEvent{ID: uuid.NewString(), Time: at, Actor: actor.String(), Action: action, Target: target}
}

// audited makes change and its audit record in one transaction
// (storage.Record): a change is never stored without its record.
func audited(ctx context.Context, st storage.Storage, at time.Time, actor authz.Actor, action, target string, details any, change func(ctx context.Context) error) error {
	return storage.Record(ctx, st, auditEvent(at, actor, action, target), details, change)
}

func (s *Service) audited(ctx context.Context, actor authz.Actor, action, target string, details any, change func(ctx context.Context) error) error {
	return audited(ctx, s.Store, s.now(), actor, action, target, details, change)
}

// clock is now (nil = time.Now) in UTC.
func clock(now func() time.Time) time.Time {
	if now != nil {
		return now().UTC()
	}
	return time.Now().UTC()
}
