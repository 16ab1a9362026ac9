package passkey

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/storage"
)

// A step-up is a passkey sign-in by a user who is signed in already, asked
// for because something (an app's acr_values, conditional access) needs a
// stronger sign-in than their session's. It offers only the user's keys
// that give the strength asked for, so the ceremony cannot end in a sign-in
// that is still too weak; FinishLogin completes it like any sign-in.

// StepUpKeys returns the user's passkeys that can step a sign-in up:
// device-bound ones only when deviceBound, and never a key flagged as a
// possible clone (it is refused until an administrator clears the flag).
// models, when not empty, are the only key models (AAGUIDs) that will do:
// a strength restricted to some models is met by no other.
func (s *Service) StepUpKeys(ctx context.Context, userID string, deviceBound bool, models []string) ([]storage.Credential, error) {
	creds, err := s.cfg.Store.ListUserCredentials(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	out := creds[:0]
	for _, c := range creds {
		if !c.CloneWarning && (!deviceBound || !c.BackupEligible) && (len(models) == 0 || slices.Contains(models, strings.ToLower(c.AAGUID))) {
			out = append(out, c)
		}
	}
	return out, nil
}

// ErrNoStepUpKey: the user has no passkey of the kind the step-up needs.
var ErrNoStepUpKey = apperr.New(http.StatusConflict, "noSuitablePasskey",
	"your account has no passkey that gives the sign-in this needs; add one in My security info")

// BeginStepUp starts a step-up for user: options that allow only the keys
// StepUpKeys returns. A user without one gets ErrNoStepUpKey.
func (s *Service) BeginStepUp(ctx context.Context, user storage.User, deviceBound bool, models []string) (Assertion, error) {
	creds, err := s.StepUpKeys(ctx, user.ID, deviceBound, models)
	if err != nil {
		return Assertion{}, err
	}
	if len(creds) == 0 {
		return Assertion{}, ErrNoStepUpKey
	}
	assertion, sd, err := s.wa.BeginLogin(newWAUser(user, creds), webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Assertion{}, fmt.Errorf("begin step-up: %w", err)
	}
	assertion.Response.Timeout = int(s.cfg.ChallengeTTL / time.Millisecond)
	expires, err := s.sealLogin(ctx, user.ID, sd, (*[]byte)(&assertion.Response.Challenge))
	if err != nil {
		return Assertion{}, err
	}
	return Assertion{Options: assertion, ExpiresAt: expires}, nil
}
