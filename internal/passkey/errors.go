package passkey

import (
	"errors"
	"net/http"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/keyward/keyward/internal/apperr"
)

// Errors a person can act on. Policy refusals carry the policy's own code
// and reason (see policy.Decision).
var (
	errChallenge = apperr.New(http.StatusBadRequest, "challengeNotFound",
		"this passkey request is unknown, was already used, or has expired; start again")
	errUnknownCredential = apperr.New(http.StatusUnauthorized, "unknownCredential",
		"this passkey is not registered with this sign-in service; sign in another way or register it first")
	errAccountDisabled = apperr.New(http.StatusForbidden, "accountDisabled",
		"this account is disabled; contact your administrator")
	errPossibleClone = apperr.New(http.StatusUnauthorized, "possibleClonedKey",
		"this security key's signature counter went backwards, which can mean the key was cloned; it has been flagged and the sign-in refused — contact your administrator")
	errFlaggedClone = apperr.New(http.StatusUnauthorized, "possibleClonedKey",
		"this security key is flagged as possibly cloned and cannot sign in until an administrator has checked it and cleared the flag — contact your administrator")
	errCredentialExists = apperr.New(http.StatusConflict, "credentialExists",
		"this passkey is already registered")
)

// responseError explains why a browser's response could not be read.
func responseError(what string, err error) *apperr.Error {
	return apperr.New(http.StatusBadRequest, "invalidResponse",
		"the %s could not be read: %s", what, protocolDetails(err)).Wrap(err)
}

// verifyError explains why go-webauthn refused a response (wrong origin,
// wrong RP ID, no user verification, bad signature, ...).
func verifyError(status int, err error) *apperr.Error {
	return apperr.New(status, "verificationFailed",
		"the passkey response failed verification: %s", protocolDetails(err)).Wrap(err)
}

func protocolDetails(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.Details != "" {
			return pe.Details
		}
		return pe.Type
	}
	return "malformed data"
}
