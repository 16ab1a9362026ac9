// Package secret makes the random bearer secrets Keyward hands out (API
// tokens, session cookies, setup links) and the hashes it stores instead of
// them. Secrets carry 256 bits of entropy, so a plain SHA-256 is a safe
// at-rest form and lets a lookup by hash stay a single indexed query.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/google/uuid"
)

// New returns prefix followed by 32 random bytes in unpadded base64url.
func New(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is the stored form of a secret.
func Hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// HashHex is Hash as lower-case hex, for text keys such as session IDs.
func HashHex(s string) string {
	return hex.EncodeToString(Hash(s))
}

// NewKeyed returns a new secret beginning with prefix (four characters, the
// last "_"), and its ID, the row that stores it. The secret is prefix, a
// time-ordered key (a UUIDv7 in 32 hex digits), "_" and 256 random bits in
// base64url; its ID is the key, ".", and the secret's hex SHA-256 — the
// database never holds the secret. The key orders the rows by issue: each
// new row goes at the end of its table's key instead of on a random page,
// so a batch of concurrent requests writes a few pages, not one each
// (docs/performance.md, "One page instead of one each"). It tells whoever
// holds the secret when it was made, which its expiry tells them too.
func NewKeyed(prefix string) (value, id string) {
	k := uuid.Must(uuid.NewV7())
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	value = prefix + hex.EncodeToString(k[:]) + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	return value, KeyedID(value)
}

// KeyedID is the ID of a secret's row: key.hash for one NewKeyed made, and
// the hex SHA-256 alone for any other — one New made, stored under its hash
// by an earlier version, keeps working until it expires.
func KeyedID(value string) string {
	h := HashHex(value)
	if len(value) != 4+32+1+43 {
		return h
	}
	rest := value[4:]
	if rest[32] != '_' || !isLowerHex(rest[:32]) {
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
