package reports

import (
	"context"
	"slices"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Preview is what a proposed passkey policy would change for the people who
// hold passkeys, before it is saved.
type Preview struct {
	Summary PreviewSummary `json:"summary"`
	// UsersLosingPasskeySignIn could sign in with a passkey and could not.
	UsersLosingPasskeySignIn []AffectedUser `json:"usersLosingPasskeySignIn"`
	// KeysThatStopWorking sign in today and would be refused.
	KeysThatStopWorking []AffectedKey `json:"keysThatStopWorking"`
	// UsersInScopeWithoutAcceptableKey are in the proposed policy's scope and
	// hold passkeys, none of which it accepts.
	UsersInScopeWithoutAcceptableKey []AffectedUser `json:"usersInScopeWithoutAcceptableKey"`
	// PrivilegedUsersAffected are the global administrators and emergency
	// accounts with a key that stops working.
	PrivilegedUsersAffected []AffectedUser `json:"privilegedUsersAffected"`
}

// PreviewSummary counts the lists.
type PreviewSummary struct {
	UsersLosingPasskeySignIn         int `json:"usersLosingPasskeySignIn"`
	KeysThatStopWorking              int `json:"keysThatStopWorking"`
	UsersInScopeWithoutAcceptableKey int `json:"usersInScopeWithoutAcceptableKey"`
	PrivilegedUsersAffected          int `json:"privilegedUsersAffected"`
}

// AffectedUser is a person a change reaches.
type AffectedUser struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	IsGlobalAdmin     bool   `json:"isGlobalAdmin"`
	IsEmergencyAccess bool   `json:"isEmergencyAccess"`
	// Models are the models of the user's keys that stop working.
	Models []string `json:"models"`
	// AcceptableKeysLeft counts the user's keys the proposed policy accepts.
	AcceptableKeysLeft int `json:"acceptableKeysLeft"`
}

// AffectedKey is a passkey that stops working, and why.
type AffectedKey struct {
	ID                string `json:"id"`
	UserID            string `json:"userId"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	AAGUID            string `json:"aaGuid"`
	Model             string `json:"model"`
	Code              string `json:"code"`
	Reason            string `json:"reason"`
}

// Compare judges every key under the current and the proposed policy, by
// the sign-in's own decision (methodpolicy.PasskeySignIn, with distrust
// saying which models MDS distrusts). Keys of disabled accounts and keys
// flagged as possible clones sign in under neither, so they change nothing.
func Compare(cur, next policy.Fido2, owners []storage.CredentialOwner, distrust methodpolicy.Distrust) Preview {
	p := Preview{UsersLosingPasskeySignIn: []AffectedUser{}, KeysThatStopWorking: []AffectedKey{},
		UsersInScopeWithoutAcceptableKey: []AffectedUser{}, PrivilegedUsersAffected: []AffectedUser{}}
	type tally struct {
		user          AffectedUser
		groups        []string
		before, after int
		lost          bool
		order         int
	}
	users := map[string]*tally{}
	for _, o := range owners {
		if !o.User.AccountEnabled || o.Credential.CloneWarning {
			continue
		}
		t, ok := users[o.User.ID]
		if !ok {
			t = &tally{user: AffectedUser{ID: o.User.ID, UserPrincipalName: o.User.UserPrincipalName,
				DisplayName: o.User.DisplayName, IsGlobalAdmin: o.User.AdminRole == storage.RoleGlobalAdmin,
				IsEmergencyAccess: o.User.IsEmergencyAccess, Models: []string{}}, groups: o.GroupIDs, order: len(users)}
			users[o.User.ID] = t
		}
		c := o.Credential
		was, now := methodpolicy.PasskeySignIn(cur, o.GroupIDs, c, distrust), methodpolicy.PasskeySignIn(next, o.GroupIDs, c, distrust)
		if was.Allowed {
			t.before++
		}
		if now.Allowed {
			t.after++
			continue
		}
		if !was.Allowed {
			continue
		}
		model := c.Model
		if model == "" {
			model = c.AAGUID
		}
		if !slices.Contains(t.user.Models, model) {
			t.user.Models = append(t.user.Models, model)
		}
		t.lost = true
		p.KeysThatStopWorking = append(p.KeysThatStopWorking, AffectedKey{ID: c.ID, UserID: o.User.ID,
			UserPrincipalName: o.User.UserPrincipalName, DisplayName: c.DisplayName, AAGUID: c.AAGUID,
			Model: c.Model, Code: now.Code, Reason: now.Reason})
	}
	ordered := make([]*tally, len(users))
	for _, t := range users {
		ordered[t.order] = t
	}
	for _, t := range ordered {
		t.user.AcceptableKeysLeft = t.after
		if t.before > 0 && t.after == 0 {
			p.UsersLosingPasskeySignIn = append(p.UsersLosingPasskeySignIn, t.user)
		}
		if _, d := next.Scope(t.groups); d.Allowed && t.after == 0 {
			p.UsersInScopeWithoutAcceptableKey = append(p.UsersInScopeWithoutAcceptableKey, t.user)
		}
		if t.lost && (t.user.IsGlobalAdmin || t.user.IsEmergencyAccess) {
			p.PrivilegedUsersAffected = append(p.PrivilegedUsersAffected, t.user)
		}
	}
	p.Summary = PreviewSummary{UsersLosingPasskeySignIn: len(p.UsersLosingPasskeySignIn),
		KeysThatStopWorking: len(p.KeysThatStopWorking), UsersInScopeWithoutAcceptableKey: len(p.UsersInScopeWithoutAcceptableKey),
		PrivilegedUsersAffected: len(p.PrivilegedUsersAffected)}
	return p
}

// Fido2Source is where the reports read the current policy, and the
// preview what a PATCH would make of it.
type Fido2Source interface {
	Fido2(ctx context.Context) (policy.Fido2, error)
	// Propose returns the current policy and the one a PATCH with patch
	// would save, refusing what the PATCH would refuse.
	Propose(ctx context.Context, patch []byte) (cur, next policy.Fido2, err error)
}

// PreviewFido2 applies patch (the body a PATCH of the policy takes) to the
// current policy without saving it and compares the two. A patch the PATCH
// would refuse is refused the same way, and targets naming deleted groups
// are dropped from both as the PATCH drops them.
func (s *Service) PreviewFido2(ctx context.Context, policies Fido2Source, patch []byte) (Preview, error) {
	cur, next, err := policies.Propose(ctx, patch)
	if err != nil {
		return Preview{}, err
	}
	owners, err := s.Store.ListCredentialOwners(ctx)
	if err != nil {
		return Preview{}, apperr.Internal(err)
	}
	// A key of a model MDS distrusts stops working where a profile starts
	// to block such models, as the lockout guard judges it.
	var distrust methodpolicy.Distrust
	if s.Metadata != nil {
		blob, err := s.Metadata.Current(ctx)
		if err != nil {
			return Preview{}, apperr.Internal(err)
		}
		distrust = methodpolicy.DistrustIn(blob, s.Now())
	}
	return Compare(cur, next, owners, distrust), nil
}
