package storage

import (
	"context"
	"time"
)

// Kinds of conditional access objects.
const (
	AccessPolicy   = "policy"   // a conditionalAccessPolicy
	AccessStrength = "strength" // a custom authenticationStrengthPolicy
	AccessLocation = "location" // an ipNamedLocation
)

// AccessStorage keeps conditional access: policies, custom authentication
// strengths and named locations, each a JSON document in Graph's shape
// (package access decodes and judges them). Every change goes through
// ChangeAccess, one transaction that sees the whole configuration as it is
// and stays serialised against every other change of it, so rules that span
// documents ("a strength in use cannot be deleted", "at most 15 custom
// strengths", "no policy may lock out an emergency account") hold inside the
// writing transaction on any number of nodes.
type AccessStorage interface {
	// AccessVersion is the cheap check of the configuration: it goes up with
	// every change, so each node reloads its compiled copy only when needed.
	AccessVersion(ctx context.Context) (int64, error)
	// ListAccessObjects lists the objects of one kind ("" = every kind),
	// ordered by kind, lower(DisplayName), then ID.
	ListAccessObjects(ctx context.Context, kind string) ([]AccessObject, error)
	GetAccessObject(ctx context.Context, kind, id string) (AccessObject, error)
	// ListEmergencyAccounts lists the users marked IsEmergencyAccess with
	// their groups, ordered by lower(UPN).
	ListEmergencyAccounts(ctx context.Context) ([]EmergencyAccount, error)
	// ChangeAccess locks the configuration (a row lock on PostgreSQL, the
	// single writer on SQLite), reads it with the emergency-access accounts,
	// calls fn, and applies what fn returns in the same transaction with the
	// version incremented. An error from fn rolls back and is returned as is.
	// fn must not use the store. A Put of a new key inserts, of an existing
	// key replaces (CreatedAt is kept); a Delete of a missing key is
	// ErrNotFound. It returns the new version.
	ChangeAccess(ctx context.Context, fn func(AccessState) (AccessChange, error)) (int64, error)
}

// AccessObject is one stored conditional access document.
type AccessObject struct {
	Kind        string
	ID          string // UUID
	DisplayName string
	Data        []byte // the Graph JSON document
	CreatedAt   time.Time
	ModifiedAt  time.Time
}

// EmergencyAccount is a user marked IsEmergencyAccess, with their groups.
type EmergencyAccount struct {
	User     User
	GroupIDs []string // sorted
}

// AccountMethods is an account with what it can sign in with.
type AccountMethods struct {
	User     User
	GroupIDs []string // sorted
	// PasskeyAAGUIDs are the models of its passkeys (not those flagged as
	// possible clones, which cannot sign in).
	PasskeyAAGUIDs      []string
	HasPassword         bool
	HasAuthenticatorApp bool // a confirmed one
}

// AccessState is what ChangeAccess reads under its lock.
type AccessState struct {
	Version   int64
	Objects   []AccessObject // every kind, ordered as ListAccessObjects
	Emergency []EmergencyAccount
	// Admins are the enabled global administrators with their methods, so a
	// change can be refused that would leave none able to use the admin center.
	Admins []AccountMethods
}

// AccessKey names one object.
type AccessKey struct{ Kind, ID string }

// AccessChange is what ChangeAccess writes.
type AccessChange struct {
	Put    []AccessObject
	Delete []AccessKey
	Audit  []AuditEvent
}
