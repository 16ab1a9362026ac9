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
