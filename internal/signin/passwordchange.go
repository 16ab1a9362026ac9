package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

var (
	errChangeNeedsMFA = apperr.New(http.StatusForbidden, "mfaRequired",
		"to change your password, sign in with a second factor first (a passkey, or your password and authenticator app) — within the last 10 minutes")
	errNoPasswordToChange = apperr.BadRequest("your account has no password to change; it signs in without one")
	errWrongCurrent       = apperr.New(http.StatusBadRequest, "invalidCurrentPassword",
		"the current password is not right; nothing was changed")
	errSamePassword     = apperr.BadRequest("the new password is the same as the current one; choose another")
	errChangedMeanwhile = apperr.Conflict("your password was changed at the same time by someone else; nothing was changed — sign in again with the password now in force")
)

// ChangePassword is the self-service password change: the current password
// and a session that proved a second factor within authz.RecentMFAWindow,
// and a new password that meets the one password rule (mfa.CheckPassword).
// The new hash replaces the verified one by compare-and-swap, so a password
// an administrator set meanwhile is never overwritten. A wrong current
// password counts against the sign-in rate limits of the account and the
// address (reserved before the hash is checked, as at sign-in), so a stolen
// session cannot guess the password faster than the sign-in page can. A
// change ends the user's other sessions, in the same transaction, and keeps
// the one that made it.
func (s *Service) ChangePassword(ctx context.Context, c session.Client, u storage.User, sess storage.Session, current, next string) error {
	if !s.MFARecent(sess) {
		return errChangeNeedsMFA
	}
	if u.PasswordHash == "" {
		return errNoPasswordToChange
	}
	a, err := s.reserve(ctx, keysFor(u.UserPrincipalName, c))
	if err != nil {
		return err
	}
	defer s.settle(ctx, a)
	e := s.event("password", u.UserPrincipalName, c)
	e.UserID = u.ID
	const wrong = "wrong current password at a password change"
	if len(current) > 4*mfa.MaxPasswordLength { // no valid password is this long; do not hash it
		return s.failed(ctx, a, e, wrong, errWrongCurrent)
	}
	ok, err := mfa.VerifyPassword(u.PasswordHash, current)
	if err != nil {
		s.log().ErrorContext(ctx, "stored password hash is unusable", "user", u.ID, "err", err)
	}
	if !ok {
		return s.failed(ctx, a, e, wrong, errWrongCurrent)
	}
	if err := mfa.CheckPassword(next, u.UserPrincipalName); err != nil {
		return err
	}
	if next == current {
		return errSamePassword
	}
	hash, err := mfa.HashPassword(next)
	if err != nil {
		return apperr.Internal(err)
	}
	err = s.audited(ctx, authz.Person(u), "user.password.change", u.ID, nil, func(ctx context.Context) error {
		_, err := s.Store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
			if cur.PasswordHash != u.PasswordHash {
				return cur, errChangedMeanwhile
			}
			cur.PasswordHash = hash
			return cur, nil
		})
		if err != nil {
			return err
		}
		_, err = s.Store.DeleteUserSessions(ctx, u.ID, sess.ID)
		return err
	})
	switch {
	case errors.Is(err, errChangedMeanwhile):
		return errChangedMeanwhile
	case err != nil:
		return apperr.Internal(fmt.Errorf("store the new password: %w", err))
	}
	return nil
}
