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
