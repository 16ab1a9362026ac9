package passkey

import (
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// waUser adapts a directory user and some of their credentials to go-webauthn.
// The user handle is the 16 bytes of the user's UUID: stable, not personal
// data, and it maps straight back to the user without a lookup table.
type waUser struct {
	user  storage.User
	creds []webauthn.Credential
}

func newWAUser(u storage.User, creds []storage.Credential) *waUser {
	w := &waUser{user: u, creds: make([]webauthn.Credential, 0, len(creds))}
	for _, c := range creds {
		w.creds = append(w.creds, toWebAuthn(c))
	}
	return w
}

func (w *waUser) WebAuthnID() []byte                         { return userHandle(w.user.ID) }
func (w *waUser) WebAuthnName() string                       { return w.user.UserPrincipalName }
func (w *waUser) WebAuthnDisplayName() string                { return w.user.DisplayName }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// UserHandle is the WebAuthn user handle of a user ID (the 16 bytes of the
// UUID), as the Signal API names the user; nil for a malformed ID.
func UserHandle(userID string) []byte { return userHandle(userID) }

// userHandle is the WebAuthn user handle of a user ID; nil for a malformed ID.
func userHandle(userID string) []byte {
	id, err := uuid.Parse(userID)
	if err != nil {
		return nil
	}
	return id[:]
}

func toWebAuthn(c storage.Credential) webauthn.Credential {
	var aaguid []byte
	if id, err := uuid.Parse(c.AAGUID); err == nil {
		aaguid = id[:]
	}
	transports := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
	for _, t := range c.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID:                c.CredentialID,
		PublicKey:         c.PublicKey,
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Transport:         transports,
		Flags: webauthn.CredentialFlags{
			UserPresent:    true,
			UserVerified:   c.UserVerified,
			BackupEligible: c.BackupEligible,
			BackupState:    c.BackupState,
		},
		Authenticator: webauthn.Authenticator{AAGUID: aaguid, SignCount: c.SignCount},
	}
}

func descriptors(keys []storage.KeyRef) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, 0, len(keys))
	for _, k := range keys {
		transports := make([]protocol.AuthenticatorTransport, 0, len(k.Transports))
		for _, t := range k.Transports {
			transports = append(transports, protocol.AuthenticatorTransport(t))
		}
		out = append(out, protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType,
			CredentialID: k.CredentialID, Transport: transports})
	}
	return out
}
