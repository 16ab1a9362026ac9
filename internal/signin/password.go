package signin

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// errCodeRefused is what a TOTP check inside a CAS update returns; it rolls
// the update back and is never shown.
var errCodeRefused = errors.New("code refused")

// Password signs a user in with their password. A user with a confirmed
// authenticator app gets a pending session (SecondFactorRequired) that only
// TOTP accepts; anyone else a single-factor session. An unknown user, a
// wrong password, a disabled account and an account without a password all
// get errInvalidCredentials after the same argon2id work.
func (s *Service) Password(ctx context.Context, c session.Client, username, password string) (Result, error) {
	a, e, u, ok, err := s.start(ctx, c, "password", username, "password", password)
	if err != nil {
		return Result{}, err
	}
	defer s.settle(ctx, a)
	reason := ""
	switch {
	case len(password) > 4*mfa.MaxPasswordLength: // no valid password is this long; do not hash it
		reason = "password too long"
	case u.ID == "":
		mfa.VerifyDummy(password)
		reason = "unknown user"
	case !ok:
		mfa.VerifyDummy(password)
		reason = "account disabled"
	case u.PasswordHash == "":
		mfa.VerifyDummy(password)
		reason = "account has no password"
	default:
		match, err := mfa.VerifyPassword(u.PasswordHash, password)
		if err != nil {
			s.log().ErrorContext(ctx, "stored password hash is unusable", "user", u.ID, "err", err)
		}
		if !match {
			reason = "wrong password"
		}
	}
	if reason != "" {
		return Result{}, s.failed(ctx, a, e, reason, errInvalidCredentials)
	}
	res, err := s.afterPassword(ctx, u, c, e)
	if err == nil {
		s.rehash(ctx, u, password)
	}
	return res, err
}

// errPasswordChanged stops a rehash whose user got another password meanwhile.
var errPasswordChanged = errors.New("password changed since it was checked")

// rehash replaces the user's stored hash with one of the current argon2id
// parameters when it was made with older ones, now that the password is known
// to be right. It replaces only the hash that was checked, so a password set
// meanwhile stays. A failure is logged, not returned: the sign-in stands, and
// the next one tries again. UpdatedAt is kept: nothing a person changed.
func (s *Service) rehash(ctx context.Context, u storage.User, password string) {
	if !mfa.NeedsRehash(u.PasswordHash) {
		return
	}
	hash, err := mfa.HashPassword(password)
	if err == nil {
		_, err = s.Store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
			if cur.PasswordHash != u.PasswordHash {
				return cur, errPasswordChanged
			}
			cur.PasswordHash = hash
			return cur, nil
		})
	}
	switch {
	case errors.Is(err, errPasswordChanged) || errors.Is(err, storage.ErrNotFound):
	case err != nil:
		s.log().ErrorContext(ctx, "rehash password with current parameters", "user", u.ID, "err", err)
	}
}

// afterPassword opens the session a correct password earns.
func (s *Service) afterPassword(ctx context.Context, u storage.User, c session.Client, e storage.SignInEvent) (Result, error) {
	app, err := s.Store.GetTOTP(ctx, u.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound) || (err == nil && !app.Confirmed):
		sec, sess := s.Sessions.NewSession(u.ID, c, []string{"pwd"}, false)
		return s.complete(ctx, u, e, sec, sess)
	case err != nil:
		return Result{}, apperr.Internal(fmt.Errorf("load authenticator app: %w", err))
	}
	// The password step is not logged as a sign-in: the TOTP step logs the
	// outcome of the whole sign-in.
	sec, sess := s.Sessions.NewSession(u.ID, c, []string{"pwd"}, false)
	sess.SecondFactorPending = true
	if limit := sess.CreatedAt.Add(PendingLifetime); limit.Before(sess.ExpiresAt) {
		sess.ExpiresAt = limit
	}
	if err := s.Store.CreateSession(ctx, sess); err != nil {
		return Result{}, apperr.Internal(fmt.Errorf("create pending session: %w", err))
	}
	return Result{User: u, Session: sess, Secret: sec, SecondFactorRequired: true}, nil
}

// TOTP completes a pending password sign-in with a code from the user's
// authenticator app. The pending session is replaced by a new multi-factor
// one (a new ID, so the pending cookie cannot ride the new session). Each
// code works once, across nodes: its time step must be after the last one
// used, checked and stored in one CAS update.
func (s *Service) TOTP(ctx context.Context, c session.Client, pending storage.Session, code string) (Result, error) {
	if !pending.SecondFactorPending {
		return Result{}, errNoPendingSignIn
	}
	u, err := s.Store.GetUser(ctx, pending.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !u.AccountEnabled) {
		_ = s.Store.DeleteSession(ctx, pending.ID)
		return Result{}, errNoPendingSignIn
	}
	if err != nil {
		return Result{}, apperr.Internal(fmt.Errorf("load pending session user: %w", err))
	}
	k := keysFor(u.UserPrincipalName, c)
	a, err := s.reserve(ctx, k)
	if err != nil {
		return Result{}, err
	}
	defer s.settle(ctx, a)
	if !mfa.ValidTOTPFormat(code) {
		return Result{}, errBadCodeFormat
	}
	e := s.event("totp", u.UserPrincipalName, c)
	e.UserID = u.ID
	if err := s.useCode(ctx, u.ID, code); errors.Is(err, errCodeRefused) || errors.Is(err, storage.ErrNotFound) {
		return Result{}, s.failed(ctx, a, e, "wrong or reused authenticator app code", errInvalidCode)
	} else if err != nil {
		return Result{}, apperr.Internal(fmt.Errorf("check authenticator app code: %w", err))
	}
	sec, sess := s.Sessions.NewSession(u.ID, c, []string{"pwd", "otp", "mfa"}, true)
	res, err := s.complete(ctx, u, e, sec, sess)
	if err != nil {
		return Result{}, err
	}
	if err := s.Store.DeleteSession(ctx, pending.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log().ErrorContext(ctx, "delete pending session", "err", err)
	}
	return res, nil
}

// useCode accepts code for the user's confirmed app and stores its step.
func (s *Service) useCode(ctx context.Context, userID, code string) error {
	now := s.now()
	_, err := s.Store.UpdateTOTP(ctx, userID, func(m storage.TOTPMethod) (storage.TOTPMethod, error) {
		if !m.Confirmed {
			return m, errCodeRefused
		}
		step, ok := mfa.ValidateTOTP(m.Secret, code, now, m.LastUsedStep)
		if !ok {
			return m, errCodeRefused
		}
		m.LastUsedStep, m.LastUsedAt = step, &now
		return m, nil
	})
	return err
}

// withMethods returns amr plus the methods it lacks, in order.
func withMethods(amr []string, add ...string) []string {
	out := slices.Clone(amr)
	for _, m := range add {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}
