package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/storage"
)

// userFields lists the settable fields, for "nothing to change" messages.
const userFields = "userPrincipalName, displayName, accountEnabled, isEmergencyAccess, passwordProfile, adminRole, mail"

// NormalizeUserInput validates the fields that are set and returns them
// trimmed. It touches nothing, so callers can validate before any write.
func NormalizeUserInput(in UserInput) (UserInput, error) {
	out := in
	if in.UserPrincipalName != nil {
		upn, err := NormalizeUPN(*in.UserPrincipalName)
		if err != nil {
			return UserInput{}, err
		}
		out.UserPrincipalName = &upn
	}
	if in.DisplayName != nil {
		name, err := NormalizeDisplayName(*in.DisplayName)
		if err != nil {
			return UserInput{}, err
		}
		out.DisplayName = &name
	}
	if in.Mail != nil {
		mail, err := NormalizeMail(*in.Mail)
		if err != nil {
			return UserInput{}, err
		}
		out.Mail = &mail
	}
	if in.AdminRole != nil {
		role, err := NormalizeAdminRole(*in.AdminRole)
		if err != nil {
			return UserInput{}, err
		}
		out.AdminRole = &role
	}
	if in.Password != nil {
		// The name rule needs the final UPN; CreateUser and UpdateUser check it again.
		if err := mfa.CheckPassword(*in.Password, ""); err != nil {
			return UserInput{}, err
		}
	}
	return out, nil
}

// NormalizeAdminRole checks role is "" or one of the admin roles.
func NormalizeAdminRole(role string) (string, error) {
	role = strings.TrimSpace(role)
	if role == "" || authz.IsRole(role) {
		return role, nil
	}
	return "", apperr.BadRequest("adminRole %s is not a role; use %q (none), %q, %q, %q or %q", quote(role),
		"", storage.RoleGlobalAdmin, storage.RolePrivilegedAuthenticationAdmin, storage.RoleAuthenticationAdmin, storage.RoleReader)
}

// hashPassword checks the password rules against the user's final UPN and
// returns the hash to store ("" when in sets no password). It runs before
// any write, so a refused password changes nothing.
func hashPassword(in UserInput, upn string) (string, error) {
	if in.Password == nil {
		return "", nil
	}
	if err := mfa.CheckPassword(*in.Password, upn); err != nil {
		return "", err
	}
	h, err := mfa.HashPassword(*in.Password)
	if err != nil {
		return "", apperr.Internal(err)
	}
	return h, nil
}

// NewUser builds the user a create request describes (without ID or times).
func NewUser(in UserInput) (storage.User, error) {
	if in.UserPrincipalName == nil {
		return storage.User{}, apperr.BadRequest("userPrincipalName is required, for example alice@example.com")
	}
	if in.DisplayName == nil {
		return storage.User{}, apperr.BadRequest("displayName is required, for example \"Alice Smith\"")
	}
	in, err := NormalizeUserInput(in)
	if err != nil {
		return storage.User{}, err
	}
	u := storage.User{AccountEnabled: true}
	return applyUser(u, in), nil
}

// applyUser copies the set fields of a normalized input onto u.
func applyUser(u storage.User, in UserInput) storage.User {
	if in.UserPrincipalName != nil {
		u.UserPrincipalName = *in.UserPrincipalName
	}
	if in.DisplayName != nil {
		u.DisplayName = *in.DisplayName
	}
	if in.AccountEnabled != nil {
		u.AccountEnabled = *in.AccountEnabled
	}
	if in.IsEmergencyAccess != nil {
		u.IsEmergencyAccess = *in.IsEmergencyAccess
	}
	if in.AdminRole != nil {
		u.AdminRole = *in.AdminRole
	}
	if in.Mail != nil {
		u.Mail = *in.Mail
	}
	return u
}

// changesMoreThanPassword reports whether in sets any field but the password.
func (in UserInput) changesMoreThanPassword() bool {
	in.Password = nil
	return in != UserInput{}
}

// userDetails is the audit detail of a user change: the fields that were set.
func userDetails(in UserInput) map[string]any {
	d := map[string]any{}
	if in.UserPrincipalName != nil {
		d["userPrincipalName"] = *in.UserPrincipalName
	}
	if in.DisplayName != nil {
		d["displayName"] = *in.DisplayName
	}
	if in.AccountEnabled != nil {
		d["accountEnabled"] = *in.AccountEnabled
	}
	if in.IsEmergencyAccess != nil {
		d["isEmergencyAccess"] = *in.IsEmergencyAccess
	}
	if in.AdminRole != nil {
		d["adminRole"] = *in.AdminRole
	}
	if in.Mail != nil {
		d["mail"] = *in.Mail
	}
	if in.Password != nil {
		d["passwordChanged"] = true // never the password itself
	}
	return d
}

func upnTaken(upn string) *apperr.Error {
	return apperr.Conflict("a user with userPrincipalName %s already exists", quote(upn))
}

// CreateUser validates in, stores a new user and audits "user.create".
func (s *Service) CreateUser(ctx context.Context, actor authz.Actor, in UserInput) (storage.User, error) {
	if err := authz.MayManageDirectory(actor); err != nil {
		return storage.User{}, err
	}
	u, err := s.newUser(in)
	if err != nil {
		return storage.User{}, err
	}
	err = s.auditedCreate(ctx, actor, u, in, func(ctx context.Context) error {
		if err := s.Store.CreateUser(ctx, u); err != nil {
			return storeErr(err, "create user", nil, upnTaken(u.UserPrincipalName))
		}
		return nil
	})
	if err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// CreateFirstUser is CreateUser for the first-run setup: the user is created
// only while the directory is empty, using up the one-time token (purpose,
// tokenHash) in the same transaction. It returns storage.ErrConflict when a
// user exists and storage.ErrNotFound when the token is not usable (wrapped,
// for errors.Is), for the caller to explain in its own words.
func (s *Service) CreateFirstUser(ctx context.Context, actor authz.Actor, in UserInput, purpose string, tokenHash []byte) (storage.User, error) {
	u, err := s.newUser(in)
	if err != nil {
		return storage.User{}, err
	}
	err = s.auditedCreate(ctx, actor, u, in, func(ctx context.Context) error {
		err := s.Store.CreateFirstUser(ctx, u, purpose, tokenHash, u.CreatedAt)
		if err != nil && !errors.Is(err, storage.ErrConflict) && !errors.Is(err, storage.ErrNotFound) {
			return storeErr(err, "create first user", nil, upnTaken(u.UserPrincipalName))
		}
		return err
	})
	if err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// newUser validates in and builds the user to store, password hashed.
func (s *Service) newUser(in UserInput) (storage.User, error) {
	u, err := NewUser(in)
	if err != nil {
		return storage.User{}, err
	}
	if u.PasswordHash, err = hashPassword(in, u.UserPrincipalName); err != nil {
		return storage.User{}, err
	}
	u.ID = newID()
	u.CreatedAt = s.now()
	u.UpdatedAt = u.CreatedAt
	return u, nil
}

// auditedCreate stores user u with create and records "user.create".
func (s *Service) auditedCreate(ctx context.Context, actor authz.Actor, u storage.User, in UserInput, create func(ctx context.Context) error) error {
	details := userDetails(UserInput{UserPrincipalName: &u.UserPrincipalName, DisplayName: &u.DisplayName,
		AccountEnabled: &u.AccountEnabled, IsEmergencyAccess: &u.IsEmergencyAccess, AdminRole: &u.AdminRole,
		Mail: &u.Mail, Password: in.Password})
	return s.audited(ctx, actor, "user.create", "user:"+u.ID, details, create)
}

// GetUser finds a user by ID (a UUID) or by userPrincipalName
// (case-insensitive). Anything else is simply not found.
func (s *Service) GetUser(ctx context.Context, idOrUPN string) (storage.User, error) {
	var (
		u   storage.User
		err error
	)
	switch id := canonicalID(idOrUPN); {
	case id != "":
		u, err = s.Store.GetUser(ctx, id)
	case strings.Contains(idOrUPN, "@") && len(idOrUPN) <= 4*MaxUPNLength:
		u, err = s.Store.GetUserByUPN(ctx, idOrUPN)
	default:
		return storage.User{}, userNotFound(idOrUPN)
	}
	if err != nil {
		return storage.User{}, storeErr(err, "get user "+quote(idOrUPN), userNotFound(idOrUPN), nil)
	}
	return u, nil
}

// UpdateUser changes the set fields of in and audits "user.update". A
// password alone is a password reset, which authentication administrators may
// make too (authz.MayChangeMethods); every other field is global-admin's.
func (s *Service) UpdateUser(ctx context.Context, actor authz.Actor, idOrUPN string, in UserInput) (storage.User, error) {
	return s.UpdateUserIfMatch(ctx, actor, idOrUPN, in, nil)
}

// UpdateUserIfMatch is UpdateUser for an editor that read the user at some
// version: match says whether the stored version (UserVersion) is one it
// accepts (nil = any). A mismatch, checked inside the compare-and-swap
// update, changes nothing and returns a *StaleError with the current user.
func (s *Service) UpdateUserIfMatch(ctx context.Context, actor authz.Actor, idOrUPN string, in UserInput, match func(version string) bool) (storage.User, error) {
	in, err := NormalizeUserInput(in)
	if err != nil {
		return storage.User{}, err
	}
	if in == (UserInput{}) {
		return storage.User{}, apperr.BadRequest("nothing to change: set at least one of %s", userFields)
	}
	if in.changesMoreThanPassword() {
		if err := authz.MayManageDirectory(actor); err != nil {
			return storage.User{}, err
		}
	}
	cur, err := s.GetUser(ctx, idOrUPN)
	if err != nil {
		return storage.User{}, err
	}
	if in.Password != nil {
		if err := authz.MayChangeMethods(actor, authz.ResetPassword, cur); err != nil {
			return storage.User{}, err
		}
	}
	upn := cur.UserPrincipalName
	if in.UserPrincipalName != nil {
		upn = *in.UserPrincipalName
	}
	hash, err := hashPassword(in, upn)
	if err != nil {
		return storage.User{}, err
	}
	now := s.now()
	var u storage.User
	err = s.audited(ctx, actor, "user.update", "user:"+cur.ID, userDetails(in), func(ctx context.Context) error {
		var err error
		u, err = s.Store.UpdateUser(ctx, cur.ID, func(u storage.User) (storage.User, error) {
			if v := UserVersion(u); match != nil && !match(v) {
				return u, &StaleError{User: &u, Version: v}
			}
			u = applyUser(u, in)
			if in.Password != nil {
				u.PasswordHash = hash
			}
			u.UpdatedAt = now
			return u, nil
		})
		var stale *StaleError
		if errors.As(err, &stale) {
			return stale
		}
		if err != nil {
			return storeErr(err, "update user "+cur.ID, userNotFound(idOrUPN), upnTaken(upn))
		}
		// A disabled account, or one whose password an administrator reset, is
		// signed out everywhere at once — re-enabling it must not revive them.
		if (cur.AccountEnabled && !u.AccountEnabled) || in.Password != nil {
			if _, err := s.Store.DeleteUserSessions(ctx, u.ID, ""); err != nil {
				return apperr.Internal(fmt.Errorf("end sessions of user %s: %w", u.ID, err))
			}
		}
		return nil
	})
	if err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// DeleteUser removes the user (with memberships, credentials and sessions) and
// audits "user.delete".
func (s *Service) DeleteUser(ctx context.Context, actor authz.Actor, idOrUPN string) error {
	if err := authz.MayManageDirectory(actor); err != nil {
		return err
	}
	u, err := s.GetUser(ctx, idOrUPN)
	if err != nil {
		return err
	}
	return s.audited(ctx, actor, "user.delete", "user:"+u.ID, map[string]any{"userPrincipalName": u.UserPrincipalName},
		func(ctx context.Context) error {
			if err := s.Store.DeleteUser(ctx, u.ID); err != nil {
				return storeErr(err, "delete user "+u.ID, userNotFound(idOrUPN), nil)
			}
			return nil
		})
}

// ListUsersByName returns one page of users ordered by displayName (then
// userPrincipalName), p.Prefix matching the display name, and the cursor of
// the next page ("" on the last page).
func (s *Service) ListUsersByName(ctx context.Context, p storage.Page) ([]storage.User, string, error) {
	users, next, err := s.Store.ListUsersByName(ctx, p)
	if err != nil {
		return nil, "", storeErr(err, "list users", nil, nil)
	}
	return users, next, nil
}

// ListUsers returns one page of users ordered by userPrincipalName and the
// cursor of the next page ("" on the last page).
func (s *Service) ListUsers(ctx context.Context, p storage.Page) ([]storage.User, string, error) {
	users, next, err := s.Store.ListUsers(ctx, p)
	if err != nil {
		return nil, "", storeErr(err, "list users", nil, nil)
	}
	return users, next, nil
}
