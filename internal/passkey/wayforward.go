package passkey

import (
	"context"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Ways to sign in instead of a refused key, as KeyRefused.Instead names them.
const (
	InsteadPassword = "password"
	InsteadPasskey  = "passkey"
)

// KeyRefused is a sign-in whose key the passkey policy's key restrictions no
// longer accept, with the account's way forward. The person has just proved
// they hold a key of the account, so naming the account's other methods
// tells nobody anything new.
type KeyRefused struct {
	Err      *apperr.Error
	Username string
	// Instead lists the account's registered methods that still sign in
	// (InsteadPassword, InsteadPasskey); empty: only a Temporary Access Pass
	// from an administrator helps.
	Instead []string
}

func (e *KeyRefused) Error() string { return e.Err.Error() }
func (e *KeyRefused) Unwrap() error { return e.Err }

// wayForward adds to a key-restriction refusal what the person can do:
// another registered method if the account has one, else ask for a pass.
func (s *Service) wayForward(ctx context.Context, refusal error, pol policy.Fido2, owner storage.CredentialOwner) error {
	ae := apperr.As(refusal)
	if ae.Code != policy.CodeKeyRestricted {
		return refusal
	}
	kr := &KeyRefused{Username: owner.User.UserPrincipalName}
	others, err := s.cfg.Store.ListUserCredentials(ctx, owner.User.ID)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "list the user's other passkeys for a refusal", "err", err)
	}
	var accepted []string
	distrust := s.distrust(ctx)
	for _, c := range others {
		if c.ID != owner.Credential.ID && methodpolicy.PasskeyWorks(pol, owner.GroupIDs, c, distrust) {
			accepted = append(accepted, strconv.Quote(c.DisplayName))
		}
	}
	if owner.User.PasswordHash != "" {
		kr.Instead = append(kr.Instead, InsteadPassword)
	}
	if len(accepted) > 0 {
		kr.Instead = append(kr.Instead, InsteadPasskey)
	}
	kr.Err = ae.Wrap(ae.Err)
	kr.Err.Message = ae.Message + "; " + advice(owner.User.PasswordHash != "", accepted)
	return kr
}

// advice says what to do after a refused key, in the order a person would
// try it.
func advice(password bool, passkeys []string) string {
	const register = ", then register a passkey or security key your organisation accepts"
	switch {
	case password && len(passkeys) > 0:
		return "sign in with your password or with another of your passkeys (" + strings.Join(passkeys, ", ") + ") instead"
	case password:
		return "sign in with your password instead" + register
	case len(passkeys) > 0:
		return "sign in with another of your passkeys (" + strings.Join(passkeys, ", ") + ") instead"
	}
	return "ask your administrator for a Temporary Access Pass" + register
}
