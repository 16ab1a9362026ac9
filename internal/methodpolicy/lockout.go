package methodpolicy

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/policy"
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
// leaves with no way to sign in: enabled global administrators and
// emergency-access accounts (of methods) that have a way in under cur and
// none under next, both judged by WaysIn — the notion of a way in that the
// last-method check uses too.
func lockouts(cur, next policy.Fido2, methods []storage.UserMethods, distrust Distrust, now time.Time) []LockedOut {
	var out []LockedOut
	for _, m := range methods {
		u := m.User
		if !u.AccountEnabled || (u.AdminRole != storage.RoleGlobalAdmin && !u.IsEmergencyAccess) {
			continue
		}
		if WaysIn(cur, m, distrust, now, Removing{}).Any() && !WaysIn(next, m, distrust, now, Removing{}).Any() {
			out = append(out, LockedOut{ID: u.ID, UserPrincipalName: u.UserPrincipalName,
				IsGlobalAdmin: u.AdminRole == storage.RoleGlobalAdmin, IsEmergencyAccess: u.IsEmergencyAccess})
		}
	}
	return out
}

// checkLockout reads, with ctx (inside the policy's writing transaction),
// what lockouts needs and refuses a change that locks someone out. It locks
// the privileged accounts' rows first, so a method deletion (which locks its
// user's row) cannot slip between this read and the commit. Only the
// privileged accounts' passkeys are read (with their owners): a policy
// change cannot take the way in of anyone without a passkey, and nobody
// else's matters here.
func (p *Service) checkLockout(ctx context.Context, cur, next policy.Fido2, distrust Distrust) ([]LockedOut, error) {
	if err := p.Store.LockPrivilegedUsers(ctx); err != nil {
		return nil, apperr.Internal(err)
	}
	owners, err := p.Store.ListPrivilegedCredentialOwners(ctx)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	var methods []storage.UserMethods
	index := map[string]int{}
	for _, o := range owners {
		u := o.User
		if u.AdminRole != storage.RoleGlobalAdmin && !u.IsEmergencyAccess {
			continue
		}
		i, seen := index[u.ID]
		if !seen {
			taps, err := p.Store.ListUserTAPs(ctx, u.ID)
			if err != nil {
				return nil, apperr.Internal(err)
			}
			i = len(methods)
			index[u.ID] = i
			methods = append(methods, storage.UserMethods{User: u, GroupIDs: o.GroupIDs, TAPs: taps})
		}
		methods[i].Credentials = append(methods[i].Credentials, o.Credential)
	}
	return lockouts(cur, next, methods, distrust, p.Now()), nil
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
