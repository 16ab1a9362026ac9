package passkey

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// useUp uses a registration's sealed challenge up after a refusal and
// returns cause: the ceremony cannot be tried again with it. When it was
// used already (a replay, or a racing request that won), that is the
// answer instead.
func (s *Service) useUp(ctx context.Context, used *storage.UsedChallenge, cause error) error {
	err := s.cfg.Store.UseChallenge(ctx, *used)
	if errors.Is(err, storage.ErrNotFound) {
		return errChallenge
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "use up a refused registration's challenge", "err", err)
	}
	return cause
}

// refusal turns a policy decision into the error shown to the person,
// naming an excluding group by its display name.
func (s *Service) refusal(ctx context.Context, d policy.Decision) error {
	return s.cfg.Policies.Explain(ctx, d).Err()
}

// auditEvent is the record of a change by actor to the passkeys of user target.
func (s *Service) auditEvent(actor authz.Actor, action, target string) storage.AuditEvent {
	return storage.AuditEvent{ID: uuid.NewString(), Time: s.now(), Actor: actor.String(), Action: action, Target: target}
}

// audited makes change and its audit record in one transaction
// (storage.Record): a change is never stored without its record.
func (s *Service) audited(ctx context.Context, actor authz.Actor, action, target string, details map[string]any, change func(ctx context.Context) error) error {
	return storage.Record(ctx, s.cfg.Store, s.auditEvent(actor, action, target), details, change)
}
