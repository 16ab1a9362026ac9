package oidc

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"
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

// opaquePrefix begins every opaque access token, refreshPrefix every refresh token.
const (
	opaquePrefix  = "kwa_"
	refreshPrefix = "kwr_"
)

// newBearer returns a new opaque token beginning with prefix, and the ID of
// the row that stores it. The token is prefix, a time-ordered key (a UUIDv7
// in 32 hex digits), "_" and 256 random bits in base64url; the row's ID is
// the key, ".", and the token's hex SHA-256 — the database never holds the
// token. The key orders the rows by issue: each new row goes at the end of
// the table's index instead of on a random page, so a batch of concurrent
// token requests writes a few pages, not one each (docs/performance.md, "One
// page instead of one each"). It tells whoever holds the token when it was
// issued, which its expiry tells them too.
func newBearer(prefix string) (token, id string) {
	k := uuid.Must(uuid.NewV7())
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	token = prefix + hex.EncodeToString(k[:]) + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	return token, bearerID(token)
}

// bearerID is the row ID of an opaque access or refresh token: key.hash for
// a token newBearer made, and the hex SHA-256 alone for one issued before
// the key (its row has been stored under its hash since), so tokens issued
// by an earlier version keep working until they expire.
func bearerID(token string) string {
	h := secret.HashHex(token)
	if len(token) < 4 {
		return h
	}
	rest := token[4:]
	if len(rest) != 32+1+43 || rest[32] != '_' || !isLowerHex(rest[:32]) {
		return h
	}
	return rest[:32] + "." + h
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// tokenCrypto is the library's Crypto with Keyward's opaque access tokens.
// The library makes an opaque ("bearer") access token by encrypting
// "id:subject" and reads one by decrypting it. Keyward's id for an opaque
// token is already the token (newAccessToken), so it is handed out as it is,
// and read back as its SHA-256, the ID of its row; the subject is left empty
// and taken from the row. Everything else — the library's authorization
// codes — goes to the AES-GCM crypto it wraps.
type tokenCrypto struct{ op.Crypto }

func (c tokenCrypto) Encrypt(s string) (string, error) {
	if tok, _, ok := strings.Cut(s, ":"); ok && strings.HasPrefix(tok, opaquePrefix) {
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
