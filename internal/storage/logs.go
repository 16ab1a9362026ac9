package storage

import "time"

// SignInQuery selects one page of the sign-in log, newest first. Every
// filter is optional; those set must all hold. Each filter the API offers has
// an index that starts with its column and goes on with the log's order, so a
// page reads an index range, not the log.
type SignInQuery struct {
	// Since and Until bound the record's time, both inclusive (zero = open).
	Since, Until time.Time
	UserID       string
	// UserPrincipalName matches the UPN the attempt named, case-insensitively.
	UserPrincipalName string
	AAGUID            string
	AppID             string // the application signed in to
	Result            string // "", ResultSuccess or ResultFailure
	// Limit is the page size (0 = 100, at most 1000).
	Limit int
	// After is the Next cursor of the previous page ("" = newest first).
	After string
}

// AuditQuery selects one page of the audit log, newest first; every filter is
// optional and those set must all hold.
type AuditQuery struct {
	Since, Until time.Time // inclusive bounds (zero = open)
	Actor        string    // exactly, as AuditEvent.Actor ("user:<upn>", "token:<name>", "cli")
	// Targets keeps records whose Target is any of these, exactly.
	Targets []string
	// ActionPrefix keeps actions that start with it ("policy.", "user.fido2Method.").
	ActionPrefix string
	Limit        int
	After        string
}

// PasskeyModelQuery selects what the key-models report counts.
type PasskeyModelQuery struct {
	// GroupID, when set, counts only passkeys and sign-ins of the group's members.
	GroupID string
	// Windows are the starts of the periods sign-ins are counted in (such as
	// the midnights 6, 29 and 89 days before today's); each period ends now.
	// Sign-ins are counted from daily roll-ups, so a period starts at the UTC
	// midnight on or before its start.
	Windows []time.Time
}

// PasskeyModelUsage is one key model (AAGUID) in the report.
type PasskeyModelUsage struct {
	AAGUID      string
	Model       string // a model name stored with its passkeys ("" when none had one)
	Passkeys    int
	Users       int // distinct users holding one
	DeviceBound int
	Synced      int
	Attested    int
	NotAttested int
	// SignIns and SignInUsers count successful passkey sign-ins and their
	// distinct users in each of the query's windows, in its order.
	SignIns     []int
	SignInUsers []int
	// LastUsed is the latest successful sign-in with the model that the
	// sign-in log's roll-ups still hold; for a group, the members' latest
	// in the query's windows.
	LastUsed *time.Time
}

// UserRegistration is a user with what they have registered to sign in
// with, for the registration-details report.
type UserRegistration struct {
	User User
	// Credentials are the user's passkeys (ID, AAGUID, Model, BackupEligible,
	// CloneWarning and CreatedAt are read), oldest first.
	Credentials []Credential
	GroupIDs    []string   // sorted
	TOTPAt      *time.Time // when a confirmed authenticator app was added; nil = none
	// TAPAt is when the newest pass usable at the query's time was issued; nil = none.
	TAPAt *time.Time
}

// DailyCount is how many records of one kind a UTC day holds.
type DailyCount struct {
	Day   time.Time // midnight UTC
	Key   string    // what was counted: see the method that returns it
	Count int
}

// DayNumber is t's UTC day as the sign-in roll-ups key it: days since
// 1970-01-01.
func DayNumber(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// DayStart is the UTC midnight on or before t.
func DayStart(t time.Time) time.Time {
	return time.Unix(DayNumber(t)*86400, 0).UTC()
}

// Registered methods, as the registration report names them (Graph's).
const (
	RegisteredPasskeyDeviceBound = "passKeyDeviceBound"
	RegisteredPasskeySynced      = "passKeySynced"
	RegisteredPassword           = "password"
	RegisteredSoftwareOath       = "softwareOath" // a confirmed authenticator app
	RegisteredTAP                = "temporaryAccessPass"
)

// PasswordlessRule is the passkey policy's sign-in decision for every key
// and person at once, in terms a query can test: a person is passwordless
// capable when their account is enabled, they are in none of ExcludeGroups,
// and they hold a passkey not flagged as a possible clone that one of
// Targets accepts.
type PasswordlessRule struct {
	ExcludeGroups []string
	Targets       []PasswordlessTarget
}

// PasswordlessTarget accepts the passkeys of a model set held by the members
// of a group (or by everyone).
type PasswordlessTarget struct {
	GroupID string // "" = everyone
	// AAGUIDs are the models accepted; with Except, every model but these.
	AAGUIDs []string
	Except  bool
}

// RegistrationFilter narrows the registration report's pages; the zero
// value keeps everyone.
type RegistrationFilter struct {
	// PasswordlessCapable, when set, keeps the people Rule makes (or does
	// not make) passwordless capable.
	PasswordlessCapable *bool
	Rule                PasswordlessRule
	// Method, when set, keeps the people who registered it (Registered*).
	Method string
}

// RegistrationCounts is the registration report's totals.
type RegistrationCounts struct {
	Users int
	// Methods counts the people who registered each method (Registered*).
	Methods             map[string]int
	PasswordlessCapable int
	// Groups are the groups with members, by ID.
	Groups map[string]GroupRegistrationCount
}

// GroupRegistrationCount is one group's members and how many of them are
// passwordless capable.
type GroupRegistrationCount struct {
	Users, PasswordlessCapable int
}
