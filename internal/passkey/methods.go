package passkey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

// DeleteCredential removes a user's passkey and records who did it. Whether
// actor may touch the owner's methods is authz.MayChangeMethods's decision.
// check, when not nil, may refuse on the user's methods as they are at the
// moment of deletion (see storage.DeleteUserCredential); its error is returned.
func (s *Service) DeleteCredential(ctx context.Context, actor authz.Actor, c storage.Credential, check func(storage.UserMethods) error) error {
	owner, err := s.cfg.Store.GetUser(ctx, c.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return apperr.NotFound("the passkey %s no longer exists", c.ID)
	}
	if err != nil {
		return fmt.Errorf("load passkey owner: %w", err)
	}
	if err := authz.MayChangeMethods(actor, authz.DeletePasskey, owner); err != nil {
		return err
	}
	return s.audited(ctx, actor, "user.fido2Method.delete", c.UserID, map[string]any{
		"methodId": c.ID, "aaGuid": c.AAGUID, "model": c.Model, "displayName": c.DisplayName,
	}, func(ctx context.Context) error {
		err := s.cfg.Store.DeleteUserCredential(ctx, c.UserID, c.ID, check)
		if errors.Is(err, storage.ErrNotFound) {
			return apperr.NotFound("the passkey %s no longer exists", c.ID)
		}
		var refused *apperr.Error // the check's answer
		if errors.As(err, &refused) {
			return refused
		}
		if err != nil {
			return fmt.Errorf("delete credential: %w", err)
		}
		return nil
	})
}

// ClearCloneWarning lifts a passkey's possible-clone flag, once an
// administrator has checked the key, so it signs in again. The stored
// counter stays: the key's next assertion must still go above it. Clearing
// an unflagged key changes nothing and is not audited. Whether actor may is
// authz.MayChangeMethods's decision: clearing gives a way back in.
func (s *Service) ClearCloneWarning(ctx context.Context, actor authz.Actor, c storage.Credential) (storage.Credential, error) {
	owner, err := s.cfg.Store.GetUser(ctx, c.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Credential{}, apperr.NotFound("the passkey %s no longer exists", c.ID)
	}
	if err != nil {
		return storage.Credential{}, fmt.Errorf("load passkey owner: %w", err)
	}
	if err := authz.MayChangeMethods(actor, authz.ClearCloneWarning, owner); err != nil {
		return storage.Credential{}, err
	}
	var updated storage.Credential
	err = s.cfg.Store.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
		was := false
		var err error
		updated, err = s.cfg.Store.UpdateCredential(ctx, c.ID, func(old storage.Credential) (storage.Credential, error) {
			was, old.CloneWarning = old.CloneWarning, false
			return old, nil
		})
		if errors.Is(err, storage.ErrNotFound) {
			return nil, apperr.NotFound("the passkey %s no longer exists", c.ID)
		}
		if err != nil || !was {
			return nil, err
		}
		e, err := storage.WithDetails(s.auditEvent(actor, "user.fido2Method.update", c.UserID),
			map[string]any{"methodId": c.ID, "cloneWarning": false, "signCount": updated.SignCount})
		return []storage.AuditEvent{e}, err
	})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return storage.Credential{}, ae
		}
		return storage.Credential{}, fmt.Errorf("clear clone warning: %w", err)
	}
	return updated, nil
}

// RenameCredential changes a passkey's display name.
func (s *Service) RenameCredential(ctx context.Context, actor authz.Actor, c storage.Credential, name string) (storage.Credential, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxDisplayNameLength {
		return storage.Credential{}, apperr.BadRequest("displayName must be 1 to %d characters", MaxDisplayNameLength)
	}
	var updated storage.Credential
	err := s.audited(ctx, actor, "user.fido2Method.update", c.UserID, map[string]any{"methodId": c.ID, "displayName": name},
		func(ctx context.Context) (err error) {
			updated, err = s.cfg.Store.UpdateCredential(ctx, c.ID, func(old storage.Credential) (storage.Credential, error) {
				old.DisplayName = name
				return old, nil
			})
			if errors.Is(err, storage.ErrNotFound) {
				return apperr.NotFound("the passkey %s no longer exists", c.ID)
			}
			if err != nil {
				return fmt.Errorf("rename credential: %w", err)
			}
			return nil
		})
	if err != nil {
		return storage.Credential{}, err
	}
	return updated, nil
}
