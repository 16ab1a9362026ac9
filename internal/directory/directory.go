// Package directory is Keyward's user and group domain: validation, identity
// resolution (ID or userPrincipalName), storage calls and the audit trail. The
// admin API and the CLI both go through it, so a rule added here holds for
// both. Every error it returns is an *apperr.Error.
package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

// Service manages users, groups and memberships.
type Service struct {
	Store storage.Storage
	Now   func() time.Time // nil = time.Now
}

// UserInput carries the user fields to set. A nil field is left unchanged on
// update; on create, UserPrincipalName and DisplayName are required and
// AccountEnabled defaults to true.
type UserInput struct {
	UserPrincipalName *string
	DisplayName       *string
	AccountEnabled    *bool
	IsEmergencyAccess *bool
	// Password sets (or resets) the password; it is checked against the
	// password rules and stored as an argon2id hash. "" is refused: a user
	// without a password is one created without this field.
	Password *string
	// AdminRole is "" (none) or one of storage.Role*. The edges decide who may
	// set it (the API: global admins only).
	AdminRole *string
	// Mail is the user's e-mail address (Graph's mail property); "" clears it.
	Mail *string
}

// GroupInput carries the group fields to set (nil = unchanged; DisplayName is
// required on create).
type GroupInput struct {
	DisplayName *string
	Description *string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// newID returns a time-ordered UUID (v7): new rows land at the end of the
// primary-key index instead of at random places in it.
func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// canonicalID returns the canonical lower-case form of a UUID, or "" when s is
// not one. Callers answer "not found" for a non-UUID instead of letting the
// database see (and maybe choke on) an arbitrary string.
func canonicalID(s string) string { return CanonicalID(s) }

// CanonicalID is canonicalID, for a handler that hands a user's ID on to a
// service that reads the user itself.
func CanonicalID(s string) string {
	if len(s) > 45 { // the longest form uuid.Parse accepts is the urn form
		return ""
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return ""
	}
	return id.String()
}

// storeErr turns a storage error into the user-facing error: ErrNotFound and
// ErrAlreadyExists become 404/409 with the given messages, anything else a 500
// that keeps the cause (with what for context) for the log.
func storeErr(err error, what string, notFound, exists *apperr.Error) error {
	switch {
	case errors.Is(err, storage.ErrBadCursor):
		return apperr.BadRequest("the page cursor is not valid; use the cursor (or nextLink) the previous page returned").Wrap(err)
	case errors.Is(err, storage.ErrNotFound) && notFound != nil:
		return notFound.Wrap(err)
	case errors.Is(err, storage.ErrAlreadyExists) && exists != nil:
		return exists.Wrap(err)
	default:
		return apperr.Internal(fmt.Errorf("%s: %w", what, err))
	}
}

// audited makes change and its audit record in one transaction
// (storage.Record): a change is never stored without its record, nor a
// record without its change.
func (s *Service) audited(ctx context.Context, actor authz.Actor, action, target string, details any, change func(ctx context.Context) error) error {
	e := storage.AuditEvent{ID: newID(), Time: s.now(), Actor: actor.String(), Action: action, Target: target}
	return storage.Record(ctx, s.Store, e, details, change)
}

func userNotFound(idOrUPN string) *apperr.Error {
	if strings.Contains(idOrUPN, "@") {
		return apperr.NotFound("no user with userPrincipalName %s", quote(idOrUPN))
	}
	return apperr.NotFound("no user with id %s", quote(idOrUPN))
}

func groupNotFound(id string) *apperr.Error {
	return apperr.NotFound("no group with id %s", quote(id))
}
