package methodpolicy

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/reports"
	"github.com/keyward/keyward/internal/storage"
)

// LockedOut is a global administrator or emergency-access account that a
// policy change would leave with no way to sign in.
type LockedOut struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	IsGlobalAdmin     bool   `json:"isGlobalAdmin"`
	IsEmergencyAccess bool   `json:"isEmergencyAccess"`
}

// lockouts decides which privileged accounts the change from cur to next
// leaves with no way to sign in: they sign in with a passkey under cur and
// with none under next, and have no password and no Temporary Access Pass
// usable now or later (taps holds each such account's passes).
func lockouts(cur, next policy.Fido2, owners []storage.CredentialOwner, taps map[string][]storage.TemporaryAccessPass, now time.Time) []LockedOut {
	users := map[string]storage.User{}
	for _, o := range owners {
		users[o.User.ID] = o.User
	}
	var out []LockedOut
	for _, a := range reports.Compare(cur, next, owners).PrivilegedUsersAffected {
		u := users[a.ID]
		if a.AcceptableKeysLeft > 0 || u.PasswordHash != "" {
			continue
		}
		usable := false
		for _, t := range taps[a.ID] {
			usable = usable || t.UsableNowOrLater(now)
		}
		if !usable {
			out = append(out, LockedOut{ID: a.ID, UserPrincipalName: a.UserPrincipalName,
				IsGlobalAdmin: a.IsGlobalAdmin, IsEmergencyAccess: a.IsEmergencyAccess})
		}
	}
	return out
}

// checkLockout reads, with ctx (inside the policy's writing transaction),
// what lockouts needs and refuses a change that locks someone out. It locks
// the privileged accounts' rows first, so a method deletion (which locks its
// user's row) cannot slip between this read and the commit.
func (p *Service) checkLockout(ctx context.Context, cur, next policy.Fido2) ([]LockedOut, error) {
	if err := p.Store.LockPrivilegedUsers(ctx); err != nil {
		return nil, apperr.Internal(err)
	}
	owners, err := p.Store.ListCredentialOwners(ctx)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	taps := map[string][]storage.TemporaryAccessPass{}
	for _, o := range owners {
		u := o.User
		if _, seen := taps[u.ID]; seen || (u.AdminRole != storage.RoleGlobalAdmin && !u.IsEmergencyAccess) {
			continue
		}
		if taps[u.ID], err = p.Store.ListUserTAPs(ctx, u.ID); err != nil {
			return nil, apperr.Internal(err)
		}
	}
	return lockouts(cur, next, owners, taps, p.Now()), nil
}

// lockoutError names the accounts a change would lock out.
func lockoutError(locked []LockedOut) error {
	names := make([]string, len(locked))
	for i, l := range locked {
		var what []string
		if l.IsGlobalAdmin {
			what = append(what, "global administrator")
		}
		if l.IsEmergencyAccess {
			what = append(what, "emergency access")
		}
		names[i] = l.UserPrincipalName + " (" + strings.Join(what, ", ") + ")"
	}
	return apperr.New(http.StatusConflict, "wouldLockOut",
		"this change would leave %s with no way to sign in: no passkey the new policy accepts, no password and no Temporary Access Pass; give them another way in first, or send the change again with force=true (keyward policy passkey set --force)",
		strings.Join(names, ", "))
}
