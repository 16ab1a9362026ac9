// Package storage defines Keyward's persistence contract: the records every
// backend stores, the Storage interface, and the sentinel errors callers test
// for with errors.Is. Backends live in sub-packages (sqlite, postgres) and all
// pass the same conformance suite (storage/conformance).
package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Backends wrap them with context; callers use errors.Is.
var (
	// ErrNotFound: the record does not exist (or a single-use record was already used).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique key (UPN, group name, credential ID, ...) is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a compare-and-swap update lost a race, or a referenced record is missing.
	ErrConflict = errors.New("conflict")
	// ErrBadCursor: Page.After is not a cursor this backend returned (bad client input).
	ErrBadCursor = errors.New("invalid page cursor")
	// ErrPossibleClone: a sign-in's signature counter is not above the stored
	// one (or the key is flagged), so the key may have been cloned.
	ErrPossibleClone = errors.New("signature counter did not increase: possible cloned authenticator")
)

// Page asks for one page of a list ordered by the list's natural key.
type Page struct {
	// Limit is the page size; backends clamp 0 to 100 and anything above 1000 to 1000.
	Limit int
	// After is the opaque cursor returned as Next by the previous page ("" = first page).
	After string
	// Prefix, when set, keeps records whose key (UPN for users, displayName for
	// groups) starts with it, compared case-insensitively.
	Prefix string
}

// Storage is everything Keyward keeps. Every method is safe for concurrent use
// by many goroutines and by many processes sharing one database (PostgreSQL).
type Storage interface {
	// Close releases connections.
	Close() error
	// Ping reports whether the database is reachable and fully migrated.
	Ping(ctx context.Context) error

	// Users. GetUser accepts an ID; GetUserByUPN matches case-insensitively.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUPN(ctx context.Context, upn string) (User, error)
	// UpdateUser loads the user, calls fn, and stores its result atomically.
	// ID and CreatedAt cannot be changed; UpdatedAt is set by the caller.
	UpdateUser(ctx context.Context, id string, fn func(User) (User, error)) (User, error)
	// DeleteUser removes the user with memberships, credentials, sessions and TAPs.
	DeleteUser(ctx context.Context, id string) error
	// CreateFirstUser creates u only while there are no users at all, using up
	// the one-time token of that purpose and hash (unused, unexpired at now)
	// in the same transaction: of any number of callers racing on any nodes,
	// at most one creates a user. When a user exists it is ErrConflict, when
	// the token is not usable ErrNotFound; either way nothing changes.
	CreateFirstUser(ctx context.Context, u User, purpose string, tokenHash []byte, now time.Time) error
	// ListUsers orders by lower(UPN).
	ListUsers(ctx context.Context, p Page) (users []User, next string, err error)
	// ListUsersByName orders by lower(display name), then lower(UPN); Prefix
	// matches the display name, case-insensitively. Its cursors are its own.
	ListUsersByName(ctx context.Context, p Page) (users []User, next string, err error)
	CountUsers(ctx context.Context) (int, error)

	// Groups. DisplayName is unique case-insensitively.
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, id string) (Group, error)
	UpdateGroup(ctx context.Context, id string, fn func(Group) (Group, error)) (Group, error)
	DeleteGroup(ctx context.Context, id string) error
	// DeleteGroupWith deletes the group (ErrNotFound when there is none) in
	// one transaction with what the deletion implies for the named policy:
	// edit gets the policy, locked against concurrent updates (a zero Policy
	// with Name set when none is stored), and returns the new policy, if it
	// changes. An error from edit rolls the deletion back and is returned as
	// is. (Its audit records: call it inside Audited.)
	DeleteGroupWith(ctx context.Context, id, policyName string, edit func(Policy) (GroupDeletion, error)) error
	// ListGroups orders by lower(DisplayName).
	ListGroups(ctx context.Context, p Page) (groups []Group, next string, err error)

	// Membership. AddMember returns ErrAlreadyExists for a repeat and ErrNotFound
	// when the group or the user does not exist.
	AddMember(ctx context.Context, groupID, userID string) error
	RemoveMember(ctx context.Context, groupID, userID string) error
	// ListMembers orders members by lower(UPN).
	ListMembers(ctx context.Context, groupID string, p Page) (users []User, next string, err error)
	// UserGroupIDs lists the IDs of the groups the user belongs to (hot path: sign-in).
	UserGroupIDs(ctx context.Context, userID string) ([]string, error)
	// UserGroups lists the groups the user belongs to, ordered by lower(DisplayName).
	UserGroups(ctx context.Context, userID string) ([]Group, error)

	// Admin API tokens. The secret is never stored, only SecretHash.
	CreateAPIToken(ctx context.Context, t APIToken) error
	GetAPITokenByHash(ctx context.Context, secretHash []byte) (APIToken, error)
	ListAPITokens(ctx context.Context) ([]APIToken, error)
	// RevokeAPIToken marks the token revoked; idOrName matches the ID or the Name.
	RevokeAPIToken(ctx context.Context, idOrName string, at time.Time) error

	// One-time tokens (first-run setup link, and later similar single-use links).
	CreateOneTimeToken(ctx context.Context, t OneTimeToken) error
	// ConsumeOneTimeToken atomically marks an unexpired, unused token of that
	// purpose used and returns it; otherwise ErrNotFound.
	ConsumeOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) (OneTimeToken, error)
	// GetOneTimeToken returns the token without consuming it (to show a page before using it).
	GetOneTimeToken(ctx context.Context, purpose string, hash []byte) (OneTimeToken, error)

	// Sessions (browser and API). ID is a hash of the cookie secret.
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	// GetSessionWithUser is GetSession with the session's user, in one read
	// (a request with a session cookie needs both).
	GetSessionWithUser(ctx context.Context, id string) (Session, User, error)
	UpdateSession(ctx context.Context, id string, fn func(Session) (Session, error)) (Session, error)
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions deletes at most max sessions whose ExpiresAt is
	// at or before now, the earliest expired first, and returns how many:
	// a sweep calls it until it deletes fewer than max, so that no one
	// statement holds the writer (SQLite) or many row locks (PostgreSQL)
	// for long however many expired at once.
	DeleteExpiredSessions(ctx context.Context, now time.Time, max int) (int, error)
	// DeleteUserSessions ends every session of a user (account disabled,
	// password reset) but the one whose ID is except ("" for none: a
	// password change keeps the session that made it) and returns how many
	// it ended.
	DeleteUserSessions(ctx context.Context, userID, except string) (int, error)

	// WebAuthn ceremony challenges are sealed, not stored (docs/design.md,
	// Sign-in): only the used ones' IDs and the sealing keys are kept.
	// DeleteExpiredChallenges deletes at most max used challenges expired
	// at now, the earliest first, and, when fewer than max were left, the
	// challenge keys expired at now; it returns how many rows it deleted.
	// A sweep calls it until it deletes fewer than max (see
	// DeleteExpiredSessions).
	DeleteExpiredChallenges(ctx context.Context, now time.Time, max int) (int, error)
	// ListChallengeKeys returns the keys that seal challenges and have not
	// expired at now, newest first.
	ListChallengeKeys(ctx context.Context, now time.Time) ([]ChallengeKey, error)
	// CreateChallengeKey stores a new challenge key; a taken ID is
	// ErrAlreadyExists.
	CreateChallengeKey(ctx context.Context, k ChallengeKey) error
	// UseChallenge uses a sealed challenge up outside a sign-in (a
	// registration's: RecordSignIn uses a sign-in's): its ID is inserted
	// into the used challenges, where it stays until it expires. One used
	// already — by either — is ErrNotFound and changes nothing. With the ctx
	// of an Audited change it joins that transaction, so the challenge is
	// used up exactly when the change commits.
	UseChallenge(ctx context.Context, u UsedChallenge) error

	// ImportUsers stores many users with their passkeys at once, in one
	// transaction (or the ambient one) with multi-row inserts: the bulk path
	// of keyward bench's large directories. Every record is checked as
	// CreateUser and CreateCredential check one; any failure (a taken UPN,
	// ID or credential ID) stores nothing.
	ImportUsers(ctx context.Context, users []UserImport) error
	// ImportSignIns stores many sign-in records at once with multi-row
	// inserts, in one transaction (or the ambient one): the bulk path of
	// keyward bench's reports scenario. Records without an ID get one; the
	// roll-ups count them as they count recorded sign-ins.
	ImportSignIns(ctx context.Context, events []SignInEvent) error

	// Passkey credentials (FIDO2 methods). CredentialID is unique across all users.
	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, id string) (Credential, error)
	GetCredentialByCredentialID(ctx context.Context, credentialID []byte) (Credential, error)
	ListUserCredentials(ctx context.Context, userID string) ([]Credential, error)
	// GetCredentialOwner reads a credential (by WebAuthn credential ID), its
	// user and the user's group IDs in one query: what a sign-in needs.
	GetCredentialOwner(ctx context.Context, credentialID []byte) (CredentialOwner, error)
	// GetRegistrant reads, in one query, what a passkey registration needs
	// about the user userID: the user, their group IDs (sorted), the stored
	// "fido2" policy's version and the newest MDS blob's number, and, when
	// keys is set, the WebAuthn IDs and transports of their passkeys (oldest
	// first). ErrNotFound when there is no such user.
	GetRegistrant(ctx context.Context, userID string, keys bool) (Registrant, error)
	// GetUserCredentialsByUPN reads a user (by UPN, case-insensitively) and
	// their credentials, oldest first, in one query: what passkey options
	// for a named user need. ErrNotFound when there is no such user or the
	// user has no credential.
	GetUserCredentialsByUPN(ctx context.Context, upn string) (User, []Credential, error)
	UpdateCredential(ctx context.Context, id string, fn func(Credential) (Credential, error)) (Credential, error)
	DeleteCredential(ctx context.Context, id string) error
	// DeleteUserCredential deletes the user's credential id once check (when
	// not nil) approves of the user's sign-in methods as they are: the user's
	// row is locked (or the single writer held) from that read to the commit,
	// so deletions racing for one user are judged one after the other, each
	// seeing the others' result. An error from check is returned as is and
	// nothing changes; a user without that credential is ErrNotFound. check
	// must not use the store (on SQLite it would wait for itself).
	DeleteUserCredential(ctx context.Context, userID, id string, check func(UserMethods) error) error
	// DeleteUserTAP is DeleteUserCredential for one of the user's Temporary
	// Access Passes.
	DeleteUserTAP(ctx context.Context, userID, id string, check func(UserMethods) error) error

	// RecordSignIn stores the outcome of a sign-in in one transaction: the
	// challenge used up (when Used is set: the sealed one's ID inserted), the credential's new
	// counter/flags/last use (when Credential is non-nil), a credential flagged
	// (FlagCredential), the new session (when Session is non-nil) and the
	// sign-in log event. A challenge that is already gone (or used) makes it ErrNotFound
	// and writes nothing, so of two sign-ins racing with one challenge exactly
	// one is recorded.
	//
	// The credential's update is conditional, in the same statement: its
	// stored counter must be below the new one (or both 0: an authenticator
	// without a counter, WebAuthn §6.1.1) and it must not be flagged. When it
	// is not — a sign-in with a later counter won a race, or the key was
	// cloned — the key is flagged instead, the challenge is still used up, no
	// session is stored, Event is logged as a failure with CloneReason, and
	// RecordSignIn returns ErrPossibleClone.
	//
	// An event without a CorrelationID gets the request ID ctx carries
	// (package correlation), as do audit events.
	RecordSignIn(ctx context.Context, r SignInRecord) error
	ListSignInEvents(ctx context.Context, f EventFilter) ([]SignInEvent, error)

	// ListSignIns pages through the sign-in log, newest first (see SignInQuery).
	ListSignIns(ctx context.Context, q SignInQuery) (events []SignInEvent, next string, err error)
	// DeleteSignInsBefore deletes at most max sign-in records older than
	// before, oldest first, and returns how many it deleted.
	DeleteSignInsBefore(ctx context.Context, before time.Time, max int) (int, error)
	// DeleteSignInRollupsBefore deletes the sign-in log's roll-ups of the
	// days before before's UTC day, and at most max of the people's latest
	// sign-in days per key model before that day; it returns how many latest
	// days it deleted. The retention sweep calls it with the log's cutoff.
	DeleteSignInRollupsBefore(ctx context.Context, before time.Time, max int) (int, error)

	// PasskeyModels counts registered passkeys and their sign-ins per AAGUID,
	// ordered by AAGUID: every model with a registered passkey (of the group's
	// members, when GroupID is set).
	PasskeyModels(ctx context.Context, q PasskeyModelQuery) ([]PasskeyModelUsage, error)

	// ListCredentialOwners reads every credential with its user and the
	// user's group IDs (sorted), ordered by UPN: what a policy preview judges.
	ListCredentialOwners(ctx context.Context) ([]CredentialOwner, error)

	// ListPrivilegedCredentialOwners is ListCredentialOwners of the
	// credentials of global administrators and emergency-access accounts
	// only (enabled or not): what the passkey policy's lockout guard judges.
	ListPrivilegedCredentialOwners(ctx context.Context) ([]CredentialOwner, error)

	// EachKeyFacts calls each with what the passkey policy judges of every
	// passkey that can sign in today — its owner's account is enabled and it
	// is not flagged as a possible clone — ordered by the owner's ID (so one
	// owner's keys are consecutive), then by the key's ID, without holding
	// them all. It stops at the first error each returns and returns it.
	// kind numbers the key's kind within the call: two keys have the same
	// number exactly when their AAGUID, Model, AttestationKeyID and
	// BackupEligible are equal, and the numbers are 0, 1, 2 and so on, one
	// for each kind read. Each carries its owner's memberships of groupIDs
	// only: the groups a policy names, the only ones that can change its
	// verdict. The facts are read as of one moment.
	EachKeyFacts(ctx context.Context, groupIDs []string, each func(kind int, f KeyFacts) error) error

	// ListCredentialOwnersByID reads the credentials with the given IDs
	// (Credential.ID) with their owners, in no particular order; IDs of no
	// credential are left out.
	ListCredentialOwnersByID(ctx context.Context, ids []string) ([]CredentialOwner, error)

	// LockPrivilegedUsers locks the rows of every global administrator and
	// emergency-access account, in ID order, until the change whose ctx it
	// is given ends (see Audited). A decision about their ways in made after
	// it cannot be undone meanwhile by a method deletion, which locks the
	// user's row too. Where a writing transaction already excludes every
	// other writer (SQLite) it does nothing.
	LockPrivilegedUsers(ctx context.Context) error

	// ListUserRegistrations pages through users as ListUsers does, each with
	// their passkeys, groups, confirmed authenticator app and the passes
	// usable at now. Only the users f keeps are read, so every page but the
	// last is full.
	ListUserRegistrations(ctx context.Context, p Page, now time.Time, f RegistrationFilter) (regs []UserRegistration, next string, err error)
	// CountRegistrations counts the users, the people who registered each
	// method (passes: usable at now), the people rule makes passwordless
	// capable, and both per group, with counting queries over indexes.
	CountRegistrations(ctx context.Context, now time.Time, rule PasswordlessRule) (RegistrationCounts, error)

	// SignInsPerDay counts successful sign-ins per UTC day from since's day
	// on (from the daily roll-ups); Key is the method, and for a passkey
	// "passkey/<passkeyType>".
	SignInsPerDay(ctx context.Context, since time.Time) ([]DailyCount, error)
	// PasskeysRegisteredPerDay counts the passkeys registered on since's UTC
	// day or later that still exist, per UTC day (from a daily roll-up); Key
	// is deviceBound or synced.
	PasskeysRegisteredPerDay(ctx context.Context, since time.Time) ([]DailyCount, error)

	// Named policy documents (e.g. "fido2"), stored as JSON with a version that
	// every update increments, so nodes can cheaply see a change made elsewhere.
	GetPolicy(ctx context.Context, name string) (Policy, error)
	// PolicyVersions returns name → version for all policies (one cheap query).
	PolicyVersions(ctx context.Context) (map[string]int64, error)
	// UpdatePolicy creates the policy when missing (fn receives a zero Policy with
	// Name set) or updates it; the stored version is incremented atomically.
	UpdatePolicy(ctx context.Context, name string, fn func(Policy) (Policy, error)) (Policy, error)

	// Audit log of administrative changes. Audited is its one writer: it
	// makes a change and the change's audit records in one transaction.
	// change runs with a ctx that it must pass to every call on this store:
	// the writes made with it join the transaction (each method's in a
	// savepoint of its own, so an error a method returns undoes only its own
	// writes) and the reads see them. The records change returns are
	// appended before the commit. An error from change, or a record that
	// cannot be appended, rolls everything back and is returned: a change
	// cannot be committed without its audit record, nor a record without its
	// change. change must not use ctx after it returns, nor call the store
	// with another ctx (on SQLite that would wait for the writer it holds).
	Audited(ctx context.Context, change func(ctx context.Context) ([]AuditEvent, error)) error
	ListAudit(ctx context.Context, f EventFilter) ([]AuditEvent, error)
	// ListAuditEvents pages through the audit log, newest first (see AuditQuery).
	ListAuditEvents(ctx context.Context, q AuditQuery) (events []AuditEvent, next string, err error)
	// DeleteAuditBefore deletes at most max audit records older than before,
	// oldest first, and returns how many it deleted.
	DeleteAuditBefore(ctx context.Context, before time.Time, max int) (int, error)

	// FIDO MDS3 blobs. PutMDSBlob keeps the newest by Number (an older or equal
	// Number is ignored and returns ErrConflict). GetMDSBlob returns the newest.
	PutMDSBlob(ctx context.Context, b MDSBlob) error
	GetMDSBlob(ctx context.Context) (MDSBlob, error)
	// MDSBlobNumber is the cheap version check ("" blob = 0).
	MDSBlobNumber(ctx context.Context) (int, error)

	// Authenticator app (TOTP): at most one per user (ErrAlreadyExists).
	CreateTOTP(ctx context.Context, m TOTPMethod) error
	GetTOTP(ctx context.Context, userID string) (TOTPMethod, error)
	// UpdateTOTP is a CAS update; a code is accepted only when its time step is
	// greater than LastUsedStep, which makes each code single-use across nodes.
	UpdateTOTP(ctx context.Context, userID string, fn func(TOTPMethod) (TOTPMethod, error)) (TOTPMethod, error)
	DeleteTOTP(ctx context.Context, userID string) error

	// Temporary Access Passes. The pass itself is never stored, only Hash (unique).
	CreateTAP(ctx context.Context, t TemporaryAccessPass) error
	// ReplaceTAP stores t as its user's only pass: the user's other passes
	// are deleted in the same transaction, with the user's row locked (or the
	// single writer held), so passes issued at once leave exactly one. It
	// returns the IDs of the passes it replaced; an unknown user is ErrConflict.
	ReplaceTAP(ctx context.Context, t TemporaryAccessPass) (replaced []string, err error)
	ListUserTAPs(ctx context.Context, userID string) ([]TemporaryAccessPass, error)
	DeleteTAP(ctx context.Context, id string) error
	// UseTAP atomically finds the pass with this hash that is valid at now
	// (StartAt <= now < ExpiresAt, and unused when IsUsableOnce), sets its
	// UsedAt to now (so a one-time pass is spent), and returns it; otherwise
	// ErrNotFound.
	UseTAP(ctx context.Context, hash []byte, now time.Time) (TemporaryAccessPass, error)
	// DeleteExpiredTAPs removes passes whose ExpiresAt is at or before now.
	DeleteExpiredTAPs(ctx context.Context, now time.Time) (int, error)

	// ReserveRateLimits counts one attempt against every limit, in the fixed
	// window of the given length that contains now — but only when every
	// counter is below its Max: all counters go up by one or none does. It
	// returns -1 when the attempt is counted, otherwise the index (in limits)
	// of a full one. The check and the increment are one atomic step in the
	// database, so callers racing on any number of nodes are never counted
	// past Max together: reserve an attempt before judging it, and give back
	// with ReleaseRateLimits one that turns out not to count. Counters live in
	// the database so every node shares them; expired windows are removed by
	// DeleteExpiredRateLimits.
	ReserveRateLimits(ctx context.Context, limits []RateLimit, window time.Duration, now time.Time) (full int, err error)
	// ReleaseRateLimits takes back one attempt from each key's counter in the
	// window that contains now (pass the time the attempt was reserved at). A
	// counter never goes below 0; a window that is gone is left alone.
	ReleaseRateLimits(ctx context.Context, keys []string, window time.Duration, now time.Time) error
	// RateLimitCount reads the counter without changing it.
	RateLimitCount(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	DeleteExpiredRateLimits(ctx context.Context, now time.Time) (int, error)

	// OpenID Connect provider (see oidc.go).
	OIDCStorage
	// Conditional access (see access.go).
	AccessStorage
	// Emergency-access alerts (see alerts.go).
	AlertStorage
}

// LogStats is what a store that copies its write-ahead log back into the
// database itself (SQLite's checkpointer) has done since it was opened: the
// figures behind the keyward_sqlite_* metrics.
type LogStats struct {
	// Checkpoints are the checkpointer's passes that ran.
	Checkpoints uint64
	// Restarts are the times the log was made to start again from its
	// beginning, WritesHeld how long the one writer was held idle for them
	// in all: every write in that time waited.
	Restarts   uint64
	WritesHeld time.Duration
}

// RateLimit is one counter an attempt counts against, and how many attempts
// one window allows.
type RateLimit struct {
	Key string
	Max int // at least 1
}

// GroupDeletion is what deleting a group changes besides the group.
type GroupDeletion struct {
	// Policy, when non-nil, is stored in place of the policy edit was given,
	// with its version incremented.
	Policy *Policy
}

// TOTPMethod is a user's authenticator app (RFC 6238, SHA-1, 6 digits, 30 s).
type TOTPMethod struct {
	UserID       string
	Secret       string // base32, as in the otpauth URI
	Confirmed    bool   // false until the user proved the app with a code
	LastUsedStep int64  // time step of the last accepted code (replay protection)
	CreatedAt    time.Time
	LastUsedAt   *time.Time
}

// TemporaryAccessPass is an admin-issued, time-limited pass (Graph's
// temporaryAccessPassAuthenticationMethod).
type TemporaryAccessPass struct {
	ID           string // UUID
	UserID       string
	Hash         []byte // SHA-256 of the pass; unique
	IsUsableOnce bool
	CreatedAt    time.Time
	StartAt      time.Time
	ExpiresAt    time.Time
	UsedAt       *time.Time // last use (a one-time pass: its only use)
	CreatedBy    string     // actor
}

// UsableNowOrLater reports whether the pass can still sign someone in: not
// expired at now, and not a one-time pass already used.
func (t TemporaryAccessPass) UsableNowOrLater(now time.Time) bool {
	return now.Before(t.ExpiresAt) && (!t.IsUsableOnce || t.UsedAt == nil)
}

// User is a directory user.
type User struct {
	ID                string // UUID
	UserPrincipalName string // unique, case-insensitive; stored as given
	DisplayName       string
	AccountEnabled    bool
	IsEmergencyAccess bool
	// PasswordHash is an argon2id PHC string, "" when the user has no password.
	PasswordHash string
	// AdminRole lets a person use the admin center and admin API with their
	// session: "" (none) or one of the Role* constants.
	AdminRole string
	// Mail is the user's e-mail address as an administrator set it (Graph's
	// mail property), "" when not set. Applications get it in the email claim.
	Mail      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Group is a security group.
type Group struct {
	ID          string // UUID
	DisplayName string // unique, case-insensitive
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Admin roles (package authz decides what each may do, and to whom).
const (
	RoleGlobalAdmin                   = "global-admin"
	RolePrivilegedAuthenticationAdmin = "privileged-authentication-admin"
	RoleAuthenticationAdmin           = "authentication-admin"
	RoleReader                        = "reader"
)

// APIToken authenticates an automation client on the admin API.
type APIToken struct {
	ID         string // UUID
	Name       string // unique
	Role       string
	SecretHash []byte // SHA-256 of the secret; unique
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// OneTimeToken is a single-use secret link (first-run setup, ...).
type OneTimeToken struct {
	Hash      []byte // SHA-256 of the secret; primary key together with Purpose
	Purpose   string // e.g. "setup"
	UserID    string // optional
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Session is a signed-in user's session.
type Session struct {
	ID     string // hex SHA-256 of the cookie secret
	UserID string
	// AuthMethods are RFC 8176 amr values proven in this session ("pwd", "otp", "hwk", "swk", "pop", "mfa", "tap").
	AuthMethods []string
	// MFAAt is when the session last proved multi-factor (zero = never).
	MFAAt      time.Time
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute lifetime
	IP         string
	UserAgent  string
	// SecondFactorPending marks a session that proved a password and still
	// owes its second factor: it authenticates nothing but that step.
	SecondFactorPending bool
	// AAGUID is the model of the passkey the session signed in with ("" when
	// none), for authentication strengths restricted to some models.
	AAGUID string
	// AccessLogged lists the surfaces (Keyward's app IDs, user actions),
	// each followed by a space, whose successful use with this session is
	// in the sign-in log already (see SignInRecord.Once). Read, and written
	// only by RecordSignIn.
	AccessLogged string
}

// Logged reports whether the session's successful use of surface is in the
// sign-in log already (AccessLogged).
func (s Session) Logged(surface string) bool {
	return strings.Contains(s.AccessLogged, surface+" ")
}

// OnceKey makes a sign-in record one per session and surface: RecordSignIn
// writes it only when the session has not logged the surface yet, marking
// it in the same transaction.
type OnceKey struct {
	SessionID, Surface string
}

// Challenge kinds.
const (
	ChallengeRegistration = "registration" // self-service passkey registration
	ChallengeProvisioning = "provisioning" // admin registers a key on behalf of a user
	ChallengeLogin        = "login"        // passkey sign-in
)

// ChallengeKey seals sign-in ceremony state handed to the client (an AEAD
// key); it opens challenges until ExpiresAt.
type ChallengeKey struct {
	ID        string
	Secret    []byte // 32 bytes
	CreatedAt time.Time
	ExpiresAt time.Time
}

// UsedChallenge is a sealed challenge used up: its ID stays refused until
// ExpiresAt, after which the challenge would be refused as expired anyway.
type UsedChallenge struct {
	ID        string
	ExpiresAt time.Time
}

// Attestation levels (Graph's attestationLevel).
const (
	AttestationAttested    = "attested"
	AttestationNotAttested = "notAttested"
)

// Credential is a registered passkey / security key (a FIDO2 method).
type Credential struct {
	ID                      string // UUID: the method ID in the API
	UserID                  string
	CredentialID            []byte // WebAuthn credential ID; unique
	PublicKey               []byte // COSE key
	AAGUID                  string // lower-case hyphenated UUID
	Model                   string // from MDS or the well-known list, "" when unknown
	DisplayName             string
	AttestationFormat       string // packed, tpm, none, ...
	AttestationType         string // basic_full, self, attca, none, ...
	AttestationLevel        string // attested | notAttested
	AttestationCertSubjects []string
	// AttestationKeyID names a U2F key's model in MDS (the hex SHA-1 of its
	// attestation certificate's public key; MDS3 attestationCertificateKeyIdentifiers);
	// "" for keys that name their model by AAGUID.
	AttestationKeyID string
	// Automatic: created by the browser without asking (conditional create)
	// right after a password sign-in, an automatic upgrade. Set at creation.
	Automatic      bool
	Transports     []string
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	SignCount      uint32
	CloneWarning   bool
	CreatedAt      time.Time
	LastUsedAt     *time.Time
}

// UserImport is one user with their passkeys, for Storage.ImportUsers. Each
// credential's UserID must be User.ID.
type UserImport struct {
	User        User
	Credentials []Credential
}

// UserMethods is a user with the sign-in methods they hold, read together
// with what decides whether those methods can sign in: the user's groups
// and the stored passkey policy.
type UserMethods struct {
	User        User
	GroupIDs    []string              // sorted; nil when the user is in no group
	Credentials []Credential          // oldest first
	TAPs        []TemporaryAccessPass // oldest first, expired and used ones too
	// Fido2Policy is the stored "fido2" policy as the same transaction read
	// it (the zero Policy when none was ever saved), so a check judges the
	// passkeys by the policy in force at that moment.
	Fido2Policy Policy
}

// CredentialOwner is a credential with its user and the user's groups.
type CredentialOwner struct {
	Credential Credential
	User       User
	GroupIDs   []string // sorted
	// Fido2PolicyVersion is the version of the stored "fido2" policy as the
	// same query read it (0 when none was saved; see PolicyVersions), so a
	// sign-in checks its cached policy without another round trip.
	Fido2PolicyVersion int64
}

// KeyFacts is what the passkey policy's verdict on a stored passkey depends
// on, with what an impact preview counts of its owner (Storage.EachKeyFacts).
// Equal facts (but the IDs) get equal verdicts.
type KeyFacts struct {
	CredentialID     string // Credential.ID
	UserID           string
	AAGUID           string
	Model            string
	AttestationKeyID string
	BackupEligible   bool
	// Privileged: the owner is a global administrator or an emergency-access
	// account.
	Privileged bool
	GroupIDs   []string // sorted; only the groups asked about
}

// Registrant is what a passkey registration reads about its user in one
// query (Storage.GetRegistrant).
type Registrant struct {
	User     User
	GroupIDs []string // sorted
	// Fido2PolicyVersion is the stored "fido2" policy's version (0 when none
	// was saved) and MDSBlobNumber the newest stored MDS blob's number (0
	// when none): the caches' version checks, read with the user.
	Fido2PolicyVersion int64
	MDSBlobNumber      int
	// Keys are the user's passkeys as excludeCredentials lists them, when
	// asked for.
	Keys []KeyRef
}

// KeyRef names a stored passkey to an authenticator: its WebAuthn
// credential ID and the transports it reported.
type KeyRef struct {
	CredentialID []byte
	Transports   []string
}

// SignInRecord is what one sign-in writes (see Storage.RecordSignIn).
type SignInRecord struct {
	// Used is the ceremony's sealed challenge, used up with the record.
	Used *UsedChallenge
	// Credential is the key that signed in; its SignCount, BackupState and
	// LastUsedAt are stored when the counter went up (see RecordSignIn).
	Credential *Credential
	// FlagCredential is the ID of a credential to flag as a possible clone
	// (a refused sign-in); nothing else of it changes.
	FlagCredential string
	Session        *Session
	Event          SignInEvent
	// CloneReason is the FailureReason logged when Credential's counter did
	// not go up.
	CloneReason string
	// Once, when set, writes Event only if the session has not logged
	// Once.Surface yet (or is gone), marking it by a conditional update in
	// the same transaction: of records raced with one key, one is written.
	// It is for a record with no session, challenge or credential.
	Once *OnceKey
}

// Sign-in results.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// FailureCodePossibleClone is the FailureCode RecordSignIn logs when a
// credential's counter did not go up.
const FailureCodePossibleClone = "possibleClonedKey"

// SignInEvent is one line of the sign-in log.
type SignInEvent struct {
	ID                string
	Time              time.Time
	UserID            string // "" when the user is unknown
	UserPrincipalName string
	Method            string // "passkey", "password", "totp", "tap"
	CredentialID      string // method ID (Credential.ID) when a passkey was used
	AAGUID            string
	Model             string
	Result            string // success | failure
	FailureReason     string
	// FailureCode is the refusal's stable code ("key_restricted", ...); "" on success.
	FailureCode string
	// PasskeyType is "deviceBound" or "synced" for a passkey sign-in, "" otherwise.
	PasskeyType   string
	IP            string
	UserAgent     string
	CorrelationID string // the request ID of the request that signed in
	// UserDisplayName is read, not written: the user's current display name
	// ("" once the user is deleted).
	UserDisplayName string
	// AppID and AppDisplayName name the application signed in to ("" for a
	// sign-in to Keyward itself).
	AppID          string
	AppDisplayName string
	// ConditionalAccessStatus is Graph's: success, failure or notApplied
	// ("" where conditional access was not asked).
	ConditionalAccessStatus string
	// AppliedConditionalAccessPolicies are the policies' results.
	AppliedConditionalAccessPolicies []AppliedConditionalAccessPolicy
	// AuthenticationRequirement is Graph's singleFactorAuthentication or
	// multiFactorAuthentication ("" where conditional access was not asked).
	AuthenticationRequirement string
}

// AppliedConditionalAccessPolicy is one policy's part in a sign-in (Graph's
// appliedConditionalAccessPolicy).
type AppliedConditionalAccessPolicy struct {
	ID                    string   `json:"id"`
	DisplayName           string   `json:"displayName"`
	EnforcedGrantControls []string `json:"enforcedGrantControls"`
	Result                string   `json:"result"`
}

// EventFilter selects log events, newest first.
type EventFilter struct {
	UserID string    // optional
	Since  time.Time // optional
	Limit  int       // 0 = 100
}

// Policy is a named JSON policy document.
type Policy struct {
	Name      string
	Data      []byte // JSON
	Version   int64
	UpdatedAt time.Time
	UpdatedBy string
}

// AuditEvent records an administrative change.
type AuditEvent struct {
	ID      string
	Time    time.Time
	Actor   string // "token:<name>", "user:<upn>", "cli"
	Action  string // e.g. "user.create", "policy.fido2.update"
	Target  string
	Details []byte // JSON, optional
	// CorrelationID is the request ID of the request that made the change.
	CorrelationID string
}

// MDSBlob is a verified FIDO MDS3 blob.
type MDSBlob struct {
	Number     int
	NextUpdate time.Time
	Raw        []byte // the JWT as downloaded
	Source     string // file path or URL
	ImportedAt time.Time
}

// SweepBatch is how many rows one statement of a sweep deletes, where the
// caller does not choose.
const SweepBatch = 1000

// Sweep calls del with batch until it deletes fewer than batch rows (or
// fails, or ctx ends) and returns how many it deleted in all: each call is
// its own statement, so other writes go in between.
func Sweep(ctx context.Context, batch int, del func(ctx context.Context, max int) (int, error)) (int, error) {
	total := 0
	for {
		n, err := del(ctx, batch)
		total += n
		if err != nil || n < batch || ctx.Err() != nil {
			return total, err
		}
	}
}

// Record makes change and one audit record e of it in one transaction (see
// Storage.Audited): details, unless nil, become e's Details as JSON. An error
// from change is returned as is and nothing is stored.
func Record(ctx context.Context, s Storage, e AuditEvent, details any, change func(ctx context.Context) error) error {
	return s.Audited(ctx, func(ctx context.Context) ([]AuditEvent, error) {
		if err := change(ctx); err != nil {
			return nil, err
		}
		e, err := WithDetails(e, details)
		return []AuditEvent{e}, err
	})
}

// WithDetails returns e with details, unless nil, as its JSON Details.
func WithDetails(e AuditEvent, details any) (AuditEvent, error) {
	if details == nil {
		return e, nil
	}
	b, err := json.Marshal(details)
	if err != nil {
		return e, fmt.Errorf("audit %s: encode details: %w", e.Action, err)
	}
	e.Details = b
	return e, nil
}
