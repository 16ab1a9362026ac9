package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// SetupPurpose is the OneTimeToken purpose of the first-run setup link that
// `keyward serve` prints while there are no users.
const SetupPurpose = "setup"

var (
	errSetupTokenInvalid = apperr.New(http.StatusNotFound, "setupTokenInvalid",
		"this setup link is not valid: it has expired or was already used; restart keyward serve to print a new one")
	errAlreadySetUp = apperr.New(http.StatusNotFound, "setupTokenInvalid",
		"Keyward is already set up: its first administrator exists; sign in instead")
)

// SetupInput is the first administrator the setup page creates.
type SetupInput struct {
	Token             string
	UserPrincipalName string
	DisplayName       string
	Password          string
	// EnablePasskeys turns the FIDO2 method on (for the targets stored: all
	// users with the default profile on a new install) when it is still
	// off, so the new administrator can register a passkey at once.
	EnablePasskeys bool
}

// CheckSetupToken reports whether token is an unused, unexpired setup link
// while no user exists yet, without using it.
func (s *Service) CheckSetupToken(ctx context.Context, token string) error {
	if err := s.requireNoUsers(ctx); err != nil {
		return err
	}
	if token == "" || len(token) > 256 {
		return errSetupTokenInvalid
	}
	t, err := s.Store.GetOneTimeToken(ctx, SetupPurpose, secret.Hash(token))
	if errors.Is(err, storage.ErrNotFound) {
		return errSetupTokenInvalid
	}
	if err != nil {
		return apperr.Internal(fmt.Errorf("look up setup link: %w", err))
	}
	if t.UsedAt != nil || !s.now().Before(t.ExpiresAt) {
		return errSetupTokenInvalid
	}
	return nil
}

func (s *Service) requireNoUsers(ctx context.Context) error {
	n, err := s.Store.CountUsers(ctx)
	if err != nil {
		return apperr.Internal(fmt.Errorf("count users: %w", err))
	}
	if n > 0 {
		return errAlreadySetUp
	}
	return nil
}

// Setup creates the first global administrator with a password, using up
// the setup link, and signs them in. The session counts as multi-factor —
// the link itself was a second proof, read from the server's own output —
// so they can register a passkey right away. Input is validated before the
// link is used, so a typo does not burn it. With EnablePasskeys, the
// administrator also turns the FIDO2 method on (see enablePasskeys).
func (s *Service) Setup(ctx context.Context, c session.Client, in SetupInput) (Result, error) {
	if err := required("token", in.Token); err != nil {
		return Result{}, err
	}
	role := storage.RoleGlobalAdmin
	user := directory.UserInput{UserPrincipalName: &in.UserPrincipalName, DisplayName: &in.DisplayName,
		Password: &in.Password, AdminRole: &role}
	norm, err := directory.NewUser(user) // validates the UPN and display name
	if err != nil {
		return Result{}, err
	}
	if err := mfa.CheckPassword(in.Password, norm.UserPrincipalName); err != nil {
		return Result{}, err
	}
	if err := s.requireNoUsers(ctx); err != nil { // the common case, before hashing the password
		return Result{}, err
	}
	if len(in.Token) > 256 {
		return Result{}, errSetupTokenInvalid
	}
	// "No users yet", using up the link and creating the administrator are
	// one transaction: links used at once make one administrator, not several.
	u, err := s.Directory.CreateFirstUser(ctx, authz.Setup(), user, SetupPurpose, secret.Hash(in.Token))
	switch {
	case errors.Is(err, storage.ErrConflict):
		return Result{}, errAlreadySetUp
	case errors.Is(err, storage.ErrNotFound):
		return Result{}, errSetupTokenInvalid
	case err != nil:
		return Result{}, err
	}
	if in.EnablePasskeys {
		s.enablePasskeys(ctx, u)
	}
	e := s.event("setup", u.UserPrincipalName, c)
	sec, sess := s.Sessions.NewSession(u.ID, c, []string{"pwd", "mfa"}, true)
	return s.complete(ctx, u, e, sec, sess)
}

// enablePasskeys turns the FIDO2 method on in the new administrator's name
// (so the audit log says who did it) unless it is on already; only the
// state changes, so targets and profiles stay as stored. A failure is
// logged, not returned: the administrator exists and the link is used, so
// failing the request would only hide the new account. My security info
// then shows passkeys as off and leads the administrator to turn them on.
func (s *Service) enablePasskeys(ctx context.Context, admin storage.User) {
	cur, err := s.Policies.Fido2(ctx)
	if err == nil && cur.State != policy.StateDisabled {
		return
	}
	if err == nil {
		patch := []byte(`{"state":"` + policy.StateEnabled + `"}`)
		_, err = s.Policies.UpdateFido2(ctx, authz.Person(admin), patch)
	}
	if err != nil {
		s.log().ErrorContext(ctx, "setup: turn passkeys on", "admin", admin.UserPrincipalName, "err", err)
	}
}
