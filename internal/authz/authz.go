// Package authz decides who may change what, and to whom: the admin roles,
// the typed actor every changing domain call receives, and Entra's rule that
// an administrator's sign-in methods are out of reach of lesser roles. Its
// functions take values and return a decision (nil, or a 403 *apperr.Error
// whose message says what to do instead); they do no I/O, so the domain
// services call them with the target they have just loaded, and the API, the
// web pages and the CLI all get the same answer.
package authz

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/storage"
)

// Roles lists the admin roles, most powerful first.
var Roles = []string{
	storage.RoleGlobalAdmin,
	storage.RolePrivilegedAuthenticationAdmin,
	storage.RoleAuthenticationAdmin,
	storage.RoleReader,
}

// IsRole reports whether role is one of Roles.
func IsRole(role string) bool { return slices.Contains(Roles, role) }

// Privileged reports whether a user holding role is an administrator whose
// methods only privileged roles may touch: every admin role but reader,
// which can change nothing.
func Privileged(role string) bool { return role != "" && role != storage.RoleReader }

// Kind is what sort of caller an Actor is.
type Kind string

// Actor kinds.
const (
	KindUser     Kind = "user"     // a person, with their session
	KindToken    Kind = "token"    // an admin API token
	KindOperator Kind = "operator" // the machine's operator: the CLI, first-run setup
)

// Actor is who makes a change, as the domain needs to judge it.
type Actor struct {
	Kind   Kind
	Name   string // the user's UPN, the token's name, or the operator's name
	Role   string // admin role (storage.Role*); "" = none. Operators need none.
	UserID string // the person's user ID (KindUser only)
}

// Person is a signed-in user acting with their own admin role.
func Person(u storage.User) Actor {
	return Actor{Kind: KindUser, Name: u.UserPrincipalName, Role: u.AdminRole, UserID: u.ID}
}

// Token is an admin API token.
func Token(name, role string) Actor { return Actor{Kind: KindToken, Name: name, Role: role} }

// CLI is the local operator running keyward's administration commands: whoever
// can run them can read the database anyway, so it may do everything.
func CLI() Actor { return Actor{Kind: KindOperator, Name: "cli"} }

// Setup is first-run setup creating the first administrator.
func Setup() Actor { return Actor{Kind: KindOperator, Name: "setup"} }

// String names the actor in audit records: "user:<upn>", "token:<name>",
// the operator's name ("cli", "setup"), or "anonymous" for no actor.
func (a Actor) String() string {
	switch a.Kind {
	case KindUser, KindToken:
		return string(a.Kind) + ":" + a.Name
	case KindOperator:
		return a.Name
	}
	return "anonymous"
}

// describe is the actor as a refusal names it.
func (a Actor) describe() string {
	who := fmt.Sprintf("%s %q", a.Kind, a.Name)
	if a.Role == "" {
		return who + " has no admin role"
	}
	return fmt.Sprintf("%s has the role %s", who, a.Role)
}

// MethodChange is a change to someone's sign-in methods.
type MethodChange int

// The method changes an administrator can make.
const (
	IssueTAP MethodChange = iota + 1
	DeleteTAP
	ProvisionPasskey
	DeletePasskey
	ResetPassword
	RemoveAuthenticatorApp
	// ClearCloneWarning lets a passkey flagged as a possible clone sign in again.
	ClearCloneWarning
)

// phrase is the change as a sentence says it: "issue a Temporary Access Pass for" …
func (c MethodChange) phrase() string {
	switch c {
	case IssueTAP:
		return "issue a Temporary Access Pass for"
	case DeleteTAP:
		return "delete a Temporary Access Pass of"
	case ProvisionPasskey:
		return "register a passkey for"
	case DeletePasskey:
		return "delete a passkey of"
	case ResetPassword:
		return "reset the password of"
	case RemoveAuthenticatorApp:
		return "remove the authenticator app of"
	case ClearCloneWarning:
		return "clear the possible-clone flag of a passkey of"
	}
	return "change the sign-in methods of"
}

// addsMethod reports whether the change gives someone a way to sign in as
// the target (rather than taking one away). Clearing a clone flag does: it
// lets a key that may be in someone else's hands sign in again.
func (c MethodChange) addsMethod() bool {
	return c == IssueTAP || c == ProvisionPasskey || c == ClearCloneWarning
}

// forbidden is the refusal of every rule here.
func forbidden(format string, args ...any) error {
	return apperr.New(http.StatusForbidden, "forbidden", format, args...)
}

// MayChangeMethods decides whether a may make change c to target's sign-in
// methods, following Entra ID:
//   - the operator (CLI, setup) may do everything;
//   - nobody issues a Temporary Access Pass for, or provisions a passkey to,
//     their own account: either would let a one-factor session make itself
//     multi-factor; people add their own passkeys in My security info, where
//     a recent multi-factor sign-in is required. Removing one's own methods
//     is allowed (My security info does it);
//   - global-admin may change anyone's methods;
//   - privileged-authentication-admin may change anyone's methods, except
//     that only a global administrator gives another administrator a new
//     way to sign in (a pass or a passkey);
//   - authentication-admin may change the methods of users without an admin
//     role or with reader only;
//   - anyone else (reader, no role) may change nobody's.
func MayChangeMethods(a Actor, c MethodChange, target storage.User) error {
	if a.Kind == KindOperator {
		return nil
	}
	if a.Kind == KindUser && a.UserID == target.ID {
		switch c {
		case IssueTAP:
			return forbidden("nobody may issue a Temporary Access Pass for their own account; ask another administrator to issue it")
		case ProvisionPasskey:
			return forbidden("an administrator cannot register a passkey for their own account on their behalf; add it yourself in My security info (/my/security-info)")
		case ClearCloneWarning:
			return forbidden("nobody may clear the possible-clone flag of their own passkey; ask another administrator to check the key and clear it")
		}
		return nil
	}
	admin := Privileged(target.AdminRole)
	switch a.Role {
	case storage.RoleGlobalAdmin:
		return nil
	case storage.RolePrivilegedAuthenticationAdmin:
		if admin && c.addsMethod() {
			return forbidden("only a global administrator may %s another administrator: %s has the role %s",
				c.phrase(), target.UserPrincipalName, target.AdminRole)
		}
		return nil
	case storage.RoleAuthenticationAdmin:
		if admin {
			return forbidden("an authentication administrator may %s only users without an admin role or with the role %s, and %s has the role %s; ask a privileged authentication administrator or a global administrator",
				c.phrase(), storage.RoleReader, target.UserPrincipalName, target.AdminRole)
		}
		return nil
	}
	return forbidden("only the roles %s, %s and %s may %s other users; %s",
		storage.RoleAuthenticationAdmin, storage.RolePrivilegedAuthenticationAdmin, storage.RoleGlobalAdmin,
		c.phrase(), a.describe())
}

// MayEditMethodPolicies decides whether a may change the authentication
// method policies (the passkey policy): privileged-authentication-admin and
// global-admin may, and the operator.
func MayEditMethodPolicies(a Actor) error {
	if a.Kind == KindOperator || a.Role == storage.RoleGlobalAdmin || a.Role == storage.RolePrivilegedAuthenticationAdmin {
		return nil
	}
	return forbidden("changing the authentication method policies needs one of the roles %s, %s; %s",
		storage.RolePrivilegedAuthenticationAdmin, storage.RoleGlobalAdmin, a.describe())
}

// MayManageDirectory decides whether a may create, change or delete users
// and groups, memberships and admin roles: global-admin only, and the
// operator. (Resetting a password is a method change: MayChangeMethods.)
func MayManageDirectory(a Actor) error {
	if a.Kind == KindOperator || a.Role == storage.RoleGlobalAdmin {
		return nil
	}
	return forbidden("changing users and groups needs the role %s; %s", storage.RoleGlobalAdmin, a.describe())
}

// MultiFactor reports whether a session was signed in with more than one
// factor (a passkey with user verification, password and code, a Temporary
// Access Pass, first-run setup) or has proved a second one since.
func MultiFactor(s storage.Session) bool {
	return slices.Contains(s.AuthMethods, "mfa") || !s.MFAAt.IsZero()
}

// ErrMFARequired is the refusal of admin work from a one-factor session.
var ErrMFARequired = apperr.New(http.StatusForbidden, "mfaRequired",
	"administration needs a multi-factor sign-in, and this session was signed in with a password only; "+
		"sign in with a passkey or with your password and authenticator app, or, if you have no second method yet, "+
		"add an authenticator app in My security info (/my/security-info) first")

// MayAdministerWith decides whether a person holding an admin role may use it
// with session s: when requireMFA is set (Entra's security defaults), only
// from a multi-factor session.
func MayAdministerWith(requireMFA bool, s storage.Session) error {
	if requireMFA && !MultiFactor(s) {
		return ErrMFARequired
	}
	return nil
}

// RecentMFAWindow is how recent a multi-factor proof must be for a person to
// add a sign-in method to their own account (and for "mfaRecent" on the
// pages, which offer to sign in again when it is not).
const RecentMFAWindow = 10 * time.Minute

// RecentMFA reports whether session s proved a second factor within
// RecentMFAWindow before now.
func RecentMFA(s storage.Session, now time.Time) bool {
	return !s.MFAAt.IsZero() && now.Sub(s.MFAAt) <= RecentMFAWindow
}

// ErrRecentMFARequired refuses to add a passkey in self-service from a
// session without a recent multi-factor proof.
var ErrRecentMFARequired = apperr.New(http.StatusForbidden, "mfaRequired",
	"adding a passkey needs a multi-factor sign-in within the last 10 minutes; sign in again with a second factor (or set one up) first")

// Grants is what a role may change, in the admin center's terms, so the
// pages can show read-only what the API would refuse. It is derived from the
// decisions above, never decided apart from them; the API still judges
// every request.
type Grants struct {
	Directory      bool // users, groups, memberships, admin roles (MayManageDirectory)
	MethodPolicies bool // the authentication method policies (MayEditMethodPolicies)
	// Methods, MethodsOfAdmins and AddMethodsToAdmins: the sign-in methods
	// of users without a privileged role, any change to an administrator's,
	// and giving an administrator a new way in (MayChangeMethods).
	Methods, MethodsOfAdmins, AddMethodsToAdmins bool
	Applications                                 bool // app registrations: global-admin, as the API routes them
	ConditionalAccess                            bool // policies, strengths, named locations: global-admin, as the API routes them
}

// GrantsOf gives the grants of a person holding role, for another user.
func GrantsOf(role string) Grants {
	a := Actor{Kind: KindUser, Role: role, UserID: "self"}
	user := storage.User{ID: "other"}
	admin := storage.User{ID: "other", AdminRole: storage.RoleAuthenticationAdmin}
	return Grants{
		Directory:          MayManageDirectory(a) == nil,
		MethodPolicies:     MayEditMethodPolicies(a) == nil,
		Methods:            MayChangeMethods(a, DeleteTAP, user) == nil && MayChangeMethods(a, IssueTAP, user) == nil,
		MethodsOfAdmins:    MayChangeMethods(a, DeleteTAP, admin) == nil,
		AddMethodsToAdmins: MayChangeMethods(a, IssueTAP, admin) == nil,
		Applications:       role == storage.RoleGlobalAdmin,
		ConditionalAccess:  role == storage.RoleGlobalAdmin,
	}
}
