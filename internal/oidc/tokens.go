package oidc

import (
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyward/keyward/internal/secret"
)

// Access token formats an application chooses between (accessTokenType).
const (
	// AccessTokenOpaque is the default: a random token that only Keyward
	// can read, at its userinfo and introspection endpoints.
	AccessTokenOpaque = "opaque"
	// AccessTokenJWT is a JWT signed like the ID token, for an app that
	// reads its access token's claims itself.
	AccessTokenJWT = "jwt"
)

// opaquePrefix begins every opaque access token, refreshPrefix every refresh
// token, codePrefix every authorization code.
const (
	opaquePrefix  = "kwa_"
	refreshPrefix = "kwr_"
	codePrefix    = "kwc_"
)

// newBearer returns a new opaque token beginning with prefix, and the ID of
// the row that stores it (secret.NewKeyed: the rows sort by issue).
func newBearer(prefix string) (token, id string) { return secret.NewKeyed(prefix) }

// bearerID is the row ID of an opaque access or refresh token; a token
// issued before tokens had keys is found under its hex SHA-256.
func bearerID(token string) string { return secret.KeyedID(token) }

// tokenCrypto is the library's Crypto with Keyward's opaque access tokens
// and authorization codes. The library makes an opaque ("bearer") access
// token by encrypting "id:subject" and reads one by decrypting it.
// Keyward's id for an opaque token is already the token (newAccessToken),
// so it is handed out as it is, and read back as its SHA-256, the ID of its
// row; the subject is left empty and taken from the row. The library makes
// a code by encrypting the authorization request's ID (no colon in it) and
// never decrypts one: Keyward finds a code's request by the code's hash
// (SaveAuthCode, AuthRequestByCode), so a code is 256 random bits
// (secret.New), not an encryption of what the database already holds. The
// rest goes to the AES-GCM crypto it wraps.
type tokenCrypto struct{ op.Crypto }

func (c tokenCrypto) Encrypt(s string) (string, error) {
	tok, _, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return secret.New(codePrefix), nil
	case strings.HasPrefix(tok, opaquePrefix):
		return tok, nil
	}
	return c.Crypto.Encrypt(s)
}

func (c tokenCrypto) Decrypt(s string) (string, error) {
	if strings.HasPrefix(s, opaquePrefix) {
		return bearerID(s) + ":", nil
	}
	return c.Crypto.Decrypt(s)
}
