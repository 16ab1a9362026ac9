package passkey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// saveChallenge stores the ceremony's session data under its challenge. The
// library's own expiry check uses the wall clock, so it is switched off and
// the database's expiry (on the injected clock) is the one that counts.
func (s *Service) saveChallenge(ctx context.Context, kind, userID string, sd *webauthn.SessionData, ttl time.Duration) (time.Time, error) {
	sd.Expires = time.Time{}
	data, err := sd.MarshalMsg(nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("encode session data: %w", err)
	}
	now := s.now()
	c := storage.Challenge{
		ID: sd.Challenge, Kind: kind, UserID: userID, Data: data,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := s.cfg.Store.CreateChallenge(ctx, c); err != nil {
		return time.Time{}, fmt.Errorf("store challenge: %w", err)
	}
	return c.ExpiresAt, nil
}

// consumeChallenge takes a challenge out of the database: it can be used once.
// A challenge of another kind or for another user counts as unknown.
func (s *Service) consumeChallenge(ctx context.Context, id, kind, userID string) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if id == "" {
		return sd, errChallenge
	}
	c, err := s.cfg.Store.ConsumeChallenge(ctx, id, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return sd, errChallenge
	}
	if err != nil {
		return sd, fmt.Errorf("consume challenge: %w", err)
	}
	if c.Kind != kind || (userID != "" && c.UserID != userID) {
		return sd, errChallenge
	}
	if _, err := sd.UnmarshalMsg(c.Data); err != nil {
		return sd, fmt.Errorf("decode session data: %w", err)
	}
	return sd, nil
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
