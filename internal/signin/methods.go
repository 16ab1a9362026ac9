package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// Options are the ways the sign-in page offers for a username.
type Options struct {
	Passkey             bool `json:"passkey"`
	Password            bool `json:"password"`
	TemporaryAccessPass bool `json:"temporaryAccessPass"`
}

// unknownOptions is the answer for a name that is not an enabled user: the
// same as for a user without a passkey, so the answer does not tell them apart.
var unknownOptions = Options{Password: true, TemporaryAccessPass: true}

// OptionsFor says how the user named username may sign in. Passkey is true
// only for an enabled user who holds a passkey and whom the FIDO2 policy
// covers, so a user outside the policy's groups never sees the option.
// Password is false only for such a passkey user who has no password.
func (s *Service) OptionsFor(ctx context.Context, username string) (Options, error) {
	u, ok, err := s.lookup(ctx, username)
	if err != nil || !ok {
		return unknownOptions, err
	}
	creds, err := s.Store.ListUserCredentials(ctx, u.ID)
	if err != nil {
		return Options{}, apperr.Internal(fmt.Errorf("list passkeys: %w", err))
	}
	if len(creds) == 0 {
		return unknownOptions, nil
	}
	pol, groups, err := s.Policies.ForUser(ctx, u.ID)
	if err != nil {
		return Options{}, err
	}
	if _, d := pol.Scope(groups); !d.Allowed {
		return unknownOptions, nil
	}
	return Options{Passkey: true, Password: u.PasswordHash != "", TemporaryAccessPass: true}, nil
}

// PasskeyRegistration says whether the policy lets the user start adding a
// passkey themselves, and the reason when not (naming an excluding group).
// canTurnOn is true when passkeys are off and u is an administrator who may
// turn them on: telling them to "ask an administrator" would send them to
// themselves.
func (s *Service) PasskeyRegistration(ctx context.Context, u storage.User) (allowed bool, reason string, canTurnOn bool, err error) {
	pol, groups, err := s.Policies.ForUser(ctx, u.ID)
	if err != nil {
		return false, "", false, err
	}
	d := pol.CheckRegistrationStart(groups, false)
	if d.Allowed {
		return true, "", false, nil
	}
	if d.Code == policy.CodeMethodDisabled && authz.MayEditMethodPolicies(authz.Person(u)) == nil {
		return false, "passkeys (FIDO2) are turned off for your organisation; as an administrator you can turn them on in the admin center, under Authentication methods → Passkey (FIDO2)", true, nil
	}
	return false, s.Policies.Explain(ctx, d).Reason, false, nil
}

// PasswordStatus is the line under "Password" in a list of a user's
// methods, from what the account really has.
func PasswordStatus(hasPassword, hasApp bool, passkeys int) string {
	switch {
	case !hasPassword:
		return ""
	case hasApp:
		return "Used together with a code from your authenticator app"
	case passkeys > 0:
		return "Used alone, without a second factor: add an authenticator app to protect it"
	}
	return "Used alone, without a second factor: add a passkey or an authenticator app"
}

// MFARecent reports whether the session proved multi-factor recently enough
// to add a sign-in method (authz.RecentMFA, at the service's time).
func (s *Service) MFARecent(sess storage.Session) bool {
	return authz.RecentMFA(sess, s.now())
}

// --- authenticator app (self-service) ---

var errAppExists = apperr.New(http.StatusConflict, "authenticatorAppExists",
	"you already have an authenticator app; delete it first to set up another one")

// AuthenticatorApp returns the user's confirmed app, or ok=false.
func (s *Service) AuthenticatorApp(ctx context.Context, userID string) (storage.TOTPMethod, bool, error) {
	m, err := s.Store.GetTOTP(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.TOTPMethod{}, false, nil
	}
	if err != nil {
		return storage.TOTPMethod{}, false, apperr.Internal(fmt.Errorf("load authenticator app: %w", err))
	}
	return m, m.Confirmed, nil
}

// EnrollTOTP starts adding an authenticator app: a new secret, stored
// unconfirmed (replacing an unconfirmed one) until ConfirmTOTP.
//
// A session that has not proved a second factor recently may add one only
// while the account has no passkey: that is how a person signed in with a
// password gets their first second factor, but with a passkey on the account
// it would let a stolen password make itself multi-factor.
func (s *Service) EnrollTOTP(ctx context.Context, u storage.User, sess storage.Session) (mfa.TOTPEnrollment, error) {
	if err := s.checkAppEnrollment(ctx, u, sess); err != nil {
		return mfa.TOTPEnrollment{}, err
	}
	cur, err := s.Store.GetTOTP(ctx, u.ID)
	switch {
	case err == nil && cur.Confirmed:
		return mfa.TOTPEnrollment{}, errAppExists
	case err == nil:
		if err := s.Store.DeleteTOTP(ctx, u.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return mfa.TOTPEnrollment{}, apperr.Internal(fmt.Errorf("replace unconfirmed authenticator app: %w", err))
		}
	case !errors.Is(err, storage.ErrNotFound):
		return mfa.TOTPEnrollment{}, apperr.Internal(fmt.Errorf("load authenticator app: %w", err))
	}
	e, err := mfa.NewTOTP(u.UserPrincipalName)
	if err != nil {
		return mfa.TOTPEnrollment{}, apperr.Internal(err)
	}
	err = s.Store.CreateTOTP(ctx, storage.TOTPMethod{UserID: u.ID, Secret: e.Secret, CreatedAt: s.now()})
	if errors.Is(err, storage.ErrAlreadyExists) { // a concurrent enrollment won
		return mfa.TOTPEnrollment{}, apperr.Conflict("another authenticator app setup started at the same time; start again")
	}
	if err != nil {
		return mfa.TOTPEnrollment{}, apperr.Internal(fmt.Errorf("store authenticator app: %w", err))
	}
	return e, nil
}

var errAppNeedsMFA = apperr.New(http.StatusForbidden, "mfaRequired",
	"your account has a passkey: to add an authenticator app, sign in with your passkey first (within the last 10 minutes)")

// checkAppEnrollment refuses to let a session without a recent second factor
// add an authenticator app to an account that has a passkey.
func (s *Service) checkAppEnrollment(ctx context.Context, u storage.User, sess storage.Session) error {
	if s.MFARecent(sess) {
		return nil
	}
	creds, err := s.Store.ListUserCredentials(ctx, u.ID)
	if err != nil {
		return apperr.Internal(fmt.Errorf("list passkeys: %w", err))
	}
	if len(creds) > 0 {
		return errAppNeedsMFA
	}
	return nil
}

// ConfirmTOTP finishes adding an authenticator app with a code from it. The
// user has now shown a second factor in this session, so the session counts
// as multi-factor from now: it gains "otp" and "mfa" and a fresh MFAAt.
func (s *Service) ConfirmTOTP(ctx context.Context, actor authz.Actor, c session.Client, u storage.User, sess storage.Session, code string) (storage.TOTPMethod, storage.Session, error) {
	if err := s.checkAppEnrollment(ctx, u, sess); err != nil { // a passkey added since the app was begun
		return storage.TOTPMethod{}, sess, err
	}
	k := keysFor(u.UserPrincipalName, c)
	a, err := s.reserve(ctx, k)
	if err != nil {
		return storage.TOTPMethod{}, sess, err
	}
	defer s.settle(ctx, a)
	if !mfa.ValidTOTPFormat(code) {
		return storage.TOTPMethod{}, sess, errBadCodeFormat
	}
	now := s.now()
	var m storage.TOTPMethod
	err = s.audited(ctx, actor, "user.softwareOathMethod.create", u.ID, nil, func(ctx context.Context) (err error) {
		m, err = s.Store.UpdateTOTP(ctx, u.ID, func(m storage.TOTPMethod) (storage.TOTPMethod, error) {
			if m.Confirmed {
				return m, errAppExists
			}
			step, ok := mfa.ValidateTOTP(m.Secret, code, now, m.LastUsedStep)
			if !ok {
				return m, errCodeRefused
			}
			m.Confirmed, m.LastUsedStep, m.LastUsedAt = true, step, &now
			return m, nil
		})
		return err
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.TOTPMethod{}, sess, apperr.New(http.StatusConflict, "noAuthenticatorAppSetup",
			"there is no authenticator app being set up; start again with \"Add sign-in method\"")
	case errors.Is(err, errCodeRefused):
		e := s.event("totp", u.UserPrincipalName, c)
		e.UserID = u.ID
		return storage.TOTPMethod{}, sess, s.failed(ctx, a, e, "wrong code while adding an authenticator app", errInvalidCode)
	case err != nil:
		return storage.TOTPMethod{}, sess, apperr.As(err)
	}
	sess, err = s.Store.UpdateSession(ctx, sess.ID, func(ss storage.Session) (storage.Session, error) {
		ss.AuthMethods, ss.MFAAt = withMethods(ss.AuthMethods, "otp", "mfa"), now
		return ss, nil
	})
	if err != nil {
		return m, sess, apperr.Internal(fmt.Errorf("mark session multi-factor: %w", err))
	}
	return m, sess, nil
}

// DeleteTOTP removes the user's authenticator app (confirmed or not). It
// cannot lock anyone out: an app alone never signs a user in.
func (s *Service) DeleteTOTP(ctx context.Context, actor authz.Actor, u storage.User) error {
	if err := authz.MayChangeMethods(actor, authz.RemoveAuthenticatorApp, u); err != nil {
		return err
	}
	return s.audited(ctx, actor, "user.softwareOathMethod.delete", u.ID, nil, func(ctx context.Context) error {
		err := s.Store.DeleteTOTP(ctx, u.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return apperr.NotFound("%s has no authenticator app", u.UserPrincipalName)
		}
		if err != nil {
			return apperr.Internal(fmt.Errorf("delete authenticator app: %w", err))
		}
		return nil
	})
}

// PasskeyRemovalCheck is the check for storage.DeleteUserCredential that
// refuses to let a person remove their own passkey credID when it would
// leave them no way to sign in (RemovalCheck with themselves as the actor).
func (s *Service) PasskeyRemovalCheck(ctx context.Context, credID string) func(storage.UserMethods) error {
	return s.RemovalCheck(ctx, authz.Actor{}, credID, "", false)
}

// RemovalCheck is the check for storage.DeleteUserCredential (credID) or
// DeleteUserTAP (tapID) when actor removes a method of a user. A way to sign
// in is one that works now: a password, a passkey the passkey policy accepts
// at sign-in (methodpolicy.WaysIn, with the policy and the user's groups as
// the deleting transaction read them, and the current MDS blob's verdicts),
// a Temporary Access Pass usable now or later. Nobody removes their own last
// way in. Anyone else — an administrator — is warned instead (409
// confirmationRequired) and may remove it when the request says confirmed.
// It judges the methods inside the deleting transaction, with the user's
// row locked, so two methods removed at once cannot both go.
func (s *Service) RemovalCheck(ctx context.Context, actor authz.Actor, credID, tapID string, confirmed bool) func(storage.UserMethods) error {
	now := s.now()
	distrust, err := s.Policies.Distrust(ctx)
	if err != nil { // as at sign-in, which then accepts the key too
		s.log().ErrorContext(ctx, "load MDS blob", "err", err)
	}
	removing := methodpolicy.Removing{CredentialID: credID, TAPID: tapID}
	return func(m storage.UserMethods) error {
		pol, err := s.Policies.Fido2Of(m.Fido2Policy)
		if err != nil {
			return apperr.Internal(fmt.Errorf("load FIDO2 policy: %w", err))
		}
		if methodpolicy.WaysIn(pol, m, distrust, now, removing).Any() {
			return nil
		}
		others := refusedPasskeys(pol, m, distrust, credID)
		self := actor.Kind == "" || (actor.Kind == authz.KindUser && actor.UserID == m.User.ID)
		switch {
		case self && tapID != "":
			return withOthers(errLastMethodTAP, others, "your")
		case self:
			return withOthers(errLastMethod, others, "your")
		case confirmed:
			return nil
		}
		return withOthers(apperr.New(http.StatusConflict, "confirmationRequired",
			"this is the only way %s can sign in: without it they cannot sign in until they are given a password or a Temporary Access Pass; to remove it anyway, send the request again with confirm=true",
			m.User.UserPrincipalName), others, "their")
	}
}

var (
	errLastMethod = apperr.New(http.StatusConflict, "lastMethod",
		"this passkey is the only way you can sign in, so it cannot be removed; add another passkey first (or ask your administrator to set a password or issue a Temporary Access Pass)")
	errLastMethodTAP = apperr.New(http.StatusConflict, "lastMethod",
		"this Temporary Access Pass is the only way you can sign in, so you cannot remove it; add a passkey first")
)

// refusedPasskeys says, for each passkey of m other than credID, why it
// cannot sign in: these are why the method being removed is the last one.
func refusedPasskeys(pol policy.Fido2, m storage.UserMethods, distrust methodpolicy.Distrust, credID string) []string {
	var out []string
	for _, c := range m.Credentials {
		if c.ID == credID {
			continue
		}
		why := "it is flagged as a possible clone until an administrator clears the flag"
		if !c.CloneWarning {
			why = methodpolicy.PasskeySignIn(pol, m.GroupIDs, c, distrust).Reason
		}
		out = append(out, fmt.Sprintf("%q cannot sign in (%s)", c.DisplayName, why))
	}
	return out
}

// withOthers adds to a last-method refusal why the account's other
// passkeys do not count, so nobody wonders why a key they see is ignored.
func withOthers(e *apperr.Error, others []string, whose string) error {
	if len(others) == 0 {
		return e
	}
	what := "passkey"
	if len(others) > 1 {
		what = "passkeys"
	}
	return apperr.New(e.Status, e.Code, "%s; %s other %s: %s", e.Message, whose, what, strings.Join(others, "; "))
}
