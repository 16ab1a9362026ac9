package passkey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// Assertion is what a sign-in ceremony starts with.
type Assertion struct {
	Options   *protocol.CredentialAssertion
	ExpiresAt time.Time
}

// SignIn is a successful passkey sign-in: the session is already stored; the
// caller hands SessionSecret to the client (cookie).
type SignIn struct {
	User          storage.User
	Credential    storage.Credential
	Session       storage.Session
	SessionSecret string
}

// BeginLogin starts a sign-in. With the username of an enabled account that
// has passkeys the options list them (allowCredentials); otherwise — no
// username, an unknown one, a disabled account, or one without passkeys — they
// ask for a discoverable credential, so the answer does not tell whether an
// account exists or is disabled.
func (s *Service) BeginLogin(ctx context.Context, username string) (Assertion, error) {
	var (
		userID string
		creds  []storage.Credential
		user   storage.User
	)
	if username = strings.TrimSpace(username); username != "" {
		// The user and their passkeys: one query.
		u, list, err := s.cfg.Store.GetUserCredentialsByUPN(ctx, username)
		switch {
		case err == nil && !u.AccountEnabled:
			// As for an unknown user: listing a disabled account's keys would
			// tell that it exists (FinishLogin refuses it anyway).
		case err == nil:
			user, creds, userID = u, list, u.ID
		case !errors.Is(err, storage.ErrNotFound): // unknown, or no passkey
			return Assertion{}, fmt.Errorf("look up user: %w", err)
		}
	}
	// WebAuthn Level 2 §5.5 userVerification "required", which §7.2 step 17
	// then holds the response to (the UV flag must be set).
	uv := webauthn.WithUserVerification(protocol.VerificationRequired)
	var (
		assertion *protocol.CredentialAssertion
		sd        *webauthn.SessionData
		err       error
	)
	if userID != "" {
		assertion, sd, err = s.wa.BeginLogin(newWAUser(user, creds), uv)
	} else {
		assertion, sd, err = s.wa.BeginDiscoverableLogin(uv)
	}
	if err != nil {
		return Assertion{}, fmt.Errorf("begin login: %w", err)
	}
	assertion.Response.Timeout = int(s.cfg.ChallengeTTL / time.Millisecond)
	expires, err := s.sealLogin(ctx, userID, sd, (*[]byte)(&assertion.Response.Challenge))
	if err != nil {
		return Assertion{}, err
	}
	return Assertion{Options: assertion, ExpiresAt: expires}, nil
}

// FinishLogin verifies an assertion, applies the policy (scope and key
// restrictions hold at every sign-in), refuses a counter that went backwards,
// and stores the counter, the session and the sign-in log line in one
// transaction. Refusals are logged too.
func (s *Service) FinishLogin(ctx context.Context, response []byte, c session.Client) (SignIn, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return SignIn{}, responseError("sign-in response", err)
	}
	sd, challenge, err := s.openLogin(ctx, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return SignIn{}, err
	}
	event := storage.SignInEvent{ID: uuid.NewString(), Time: s.now(), Method: "passkey", IP: c.IP, UserAgent: c.UserAgent}

	// The credential, its owner and the owner's groups: one query.
	owner, err := s.cfg.Store.GetCredentialOwner(ctx, parsed.RawID)
	if errors.Is(err, storage.ErrNotFound) {
		return SignIn{}, s.fail(ctx, challenge, event, errUnknownCredential, "")
	}
	if err != nil {
		return SignIn{}, fmt.Errorf("look up credential: %w", err)
	}
	cred, user := owner.Credential, owner.User
	event.CredentialID, event.AAGUID, event.Model = cred.ID, cred.AAGUID, cred.Model
	event.PasskeyType = policy.Key{BackupEligible: cred.BackupEligible}.Type().String()
	event.UserID, event.UserPrincipalName = user.ID, user.UserPrincipalName

	// WebAuthn Level 2 §7.2 step 13: C.origin must be Keyward's origin.
	if err := s.checkOrigin(parsed.Response.CollectedClientData.Origin, http.StatusUnauthorized); err != nil {
		return SignIn{}, s.fail(ctx, challenge, event, err, "")
	}
	wc, err := s.verifyAssertion(user, cred, sd, parsed)
	if err != nil {
		return SignIn{}, s.fail(ctx, challenge, event, err, "")
	}
	if cred.CloneWarning { // stays refused until an administrator clears the flag
		return SignIn{}, s.fail(ctx, challenge, event, errFlaggedClone, "")
	}
	// WebAuthn Level 2 §7.2 step 21 and §6.1.1 (Signature Counter
	// Considerations): a counter that did not go up signals a possible clone,
	// and the step leaves the consequence to the relying party. Keyward
	// refuses the sign-in and flags the key.
	if wc.Authenticator.CloneWarning {
		return SignIn{}, s.fail(ctx, challenge, event, errPossibleClone, cred.ID)
	}
	if !user.AccountEnabled {
		return SignIn{}, s.fail(ctx, challenge, event, errAccountDisabled, "")
	}
	pol, _, err := s.cfg.Policies.Fido2AtVersion(ctx, owner.Fido2PolicyVersion)
	if err != nil {
		return SignIn{}, err
	}
	if d := methodpolicy.PasskeySignIn(pol, owner.GroupIDs, cred, s.distrust(ctx)); !d.Allowed {
		return SignIn{}, s.fail(ctx, challenge, event, s.wayForward(ctx, s.refusal(ctx, d), pol, owner), "")
	}

	now := s.now()
	cred.SignCount = wc.Authenticator.SignCount
	cred.BackupState = wc.Flags.BackupState // may change between ceremonies (WebAuthn Level 3 §6.1.3)
	cred.UserVerified = cred.UserVerified || wc.Flags.UserVerified
	cred.LastUsedAt = &now
	sessionSecret, sess := s.cfg.Sessions.NewSession(user.ID, c, amr(cred), true)
	sess.AAGUID = cred.AAGUID // conditional access strengths may name key models
	event.Result = storage.ResultSuccess
	// The counter update is conditional: a sign-in with this key that stored
	// a later counter meanwhile makes this one a possible clone.
	err = s.cfg.Store.RecordSignIn(ctx, storage.SignInRecord{Used: challenge, Credential: &cred,
		Session: &sess, Event: event, CloneReason: errPossibleClone.Message})
	if errors.Is(err, storage.ErrNotFound) { // a concurrent request used the challenge first
		return SignIn{}, errChallenge
	}
	if errors.Is(err, storage.ErrPossibleClone) {
		s.cfg.Logger.InfoContext(ctx, "passkey sign-in refused", "user", event.UserPrincipalName,
			"aaguid", event.AAGUID, "code", errPossibleClone.Code, "reason", "counter lost a race or went back")
		return SignIn{}, errPossibleClone
	}
	if err != nil {
		return SignIn{}, fmt.Errorf("record sign-in: %w", err)
	}
	return SignIn{User: user, Credential: cred, Session: sess, SessionSecret: sessionSecret}, nil
}

// verifyAssertion runs go-webauthn's checks (challenge, origin, RP ID, user
// presence and verification, signature, counter: WebAuthn Level 2 §7.2 steps
// 11 to 21) for one stored credential, after Keyward's own steps 5 and 6.
func (s *Service) verifyAssertion(user storage.User, cred storage.Credential, sd webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData) (*webauthn.Credential, error) {
	wu := newWAUser(user, []storage.Credential{cred})
	if len(sd.UserID) == 0 {
		// §7.2 step 6, no user identified before the ceremony: the
		// userHandle must be present and name the credential's owner.
		_, wc, err := s.wa.ValidatePasskeyLogin(func(rawID, handle []byte) (webauthn.User, error) {
			if !bytes.Equal(handle, wu.WebAuthnID()) {
				return nil, fmt.Errorf("user handle does not belong to the credential's owner")
			}
			return wu, nil
		}, sd, parsed)
		if err != nil {
			return nil, verifyError(http.StatusUnauthorized, err)
		}
		return wc, nil
	}
	// §7.2 step 6, the user identified before the ceremony: the credential
	// must be theirs.
	if !bytes.Equal(sd.UserID, wu.WebAuthnID()) {
		return nil, verifyError(http.StatusUnauthorized, protocol.ErrBadRequest.WithDetails("this passkey belongs to another account"))
	}
	// §7.2 step 5: the credential must be one of allowCredentials. The
	// challenge listed all of the user's keys; only the one used is loaded.
	allowed := false
	for _, id := range sd.AllowedCredentialIDs {
		allowed = allowed || bytes.Equal(id, cred.CredentialID)
	}
	if !allowed {
		return nil, verifyError(http.StatusUnauthorized, protocol.ErrBadRequest.WithDetails("this passkey was not offered for this sign-in"))
	}
	sd.AllowedCredentialIDs = [][]byte{cred.CredentialID}
	wc, err := s.wa.ValidateLogin(wu, sd, parsed)
	if err != nil {
		return nil, verifyError(http.StatusUnauthorized, err)
	}
	return wc, nil
}

// fail records a refused sign-in (and flags the credential flagID, when
// set, as a possible clone), using up the challenge, and returns cause. When
// the challenge was already used by a concurrent request, that request's
// outcome stands and nothing is recorded.
func (s *Service) fail(ctx context.Context, challenge *storage.UsedChallenge, event storage.SignInEvent, cause error, flagID string) error {
	ae := apperr.As(cause)
	event.Result, event.FailureReason, event.FailureCode = storage.ResultFailure, ae.Message, ae.Code
	err := s.cfg.Store.RecordSignIn(ctx, storage.SignInRecord{Used: challenge, FlagCredential: flagID, Event: event})
	if errors.Is(err, storage.ErrNotFound) {
		return errChallenge
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "record failed sign-in", "err", err)
	}
	s.cfg.Logger.InfoContext(ctx, "passkey sign-in refused", "user", event.UserPrincipalName,
		"aaguid", event.AAGUID, "code", ae.Code, "reason", ae.Message)
	return cause
}

// amr lists RFC 8176 authentication method references for a passkey sign-in:
// a hardware- or software-secured key, with user verification making it
// multi-factor.
func amr(c storage.Credential) []string {
	key := "hwk"
	if c.BackupEligible {
		key = "swk"
	}
	return []string{key, "user", "mfa"}
}

// distrust says why the FIDO Metadata Service now distrusts the model of a
// registered key (methodpolicy.DistrustIn of the current blob) and "" when
// it does not, or when no blob is loaded. The blob is read only when the
// returned function is called, which methodpolicy.PasskeySignIn does only
// under a policy that blocks compromised models.
func (s *Service) distrust(ctx context.Context) methodpolicy.Distrust {
	return func(cred storage.Credential) string {
		if s.cfg.Metadata == nil {
			return ""
		}
		blob, err := s.cfg.Metadata.Current(ctx)
		if err != nil {
			s.cfg.Logger.ErrorContext(ctx, "load MDS blob", "err", err)
			return ""
		}
		if d := methodpolicy.DistrustIn(blob, s.now()); d != nil {
			return d(cred)
		}
		return ""
	}
}
