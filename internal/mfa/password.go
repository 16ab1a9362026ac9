// Package mfa holds the sign-in factors other than passkeys as pure helpers:
// argon2id password hashes, authenticator-app (TOTP) codes, and Temporary
// Access Passes. It does no I/O; internal/signin and internal/directory load
// and store what these functions compute.
package mfa

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/keyward/keyward/internal/apperr"
)

// Password length limits, in characters. The upper bound keeps a hostile
// request from making argon2 hash megabytes.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

// Argon2Params are the cost parameters of an argon2id hash.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultArgon2 is OWASP's recommended minimum for argon2id (19 MiB, two
// passes, one lane): about 20–40 ms on a server core.
var DefaultArgon2 = Argon2Params{Memory: 19456, Time: 2, Threads: 1}

// Bounds accepted when reading a stored hash, so a corrupted or hostile row
// cannot make a verification allocate gigabytes or run for minutes.
const (
	maxMemory  = 1 << 20 // 1 GiB
	maxTime    = 16
	maxThreads = 16
	saltLen    = 16
	keyLen     = 32
)

// ErrMalformedHash means a stored password hash is not an argon2id PHC string
// this package can verify.
var ErrMalformedHash = errors.New("malformed argon2id password hash")

// hashSlots bounds how many hashes run at once: each takes Memory KiB, and a
// burst of sign-ins must queue rather than exhaust the machine's memory.
var hashSlots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

func idKey(password, salt []byte, p Argon2Params, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, n)
}

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC string of password with DefaultArgon2:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func HashPassword(password string) (string, error) {
	return HashPasswordWith(password, DefaultArgon2)
}

// HashPasswordWith returns the PHC string of password with the parameters p.
// Keyward hashes with DefaultArgon2; other parameters are for hashes made
// before they changed (and for tests of their upgrade, see NeedsRehash).
func HashPasswordWith(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := idKey([]byte(password), salt, p, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string phc, in time
// that does not depend on where the two differ. A malformed phc is an error
// wrapping ErrMalformedHash (and never a match).
func VerifyPassword(phc, password string) (bool, error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := idKey([]byte(password), salt, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether phc was made with other parameters than
// DefaultArgon2, so a caller can upgrade it after a successful sign-in.
func NeedsRehash(phc string) bool {
	p, _, want, err := parsePHC(phc)
	return err != nil || p != DefaultArgon2 || len(want) != keyLen
}

var (
	dummyOnce sync.Once
	dummyPHC  string
)

// VerifyDummy spends the time of one VerifyPassword against a hash of the
// default cost, for sign-ins of unknown, disabled or password-less accounts:
// the answer then takes as long as a wrong password would.
func VerifyDummy(password string) {
	dummyOnce.Do(func() {
		// A random password nobody knows; an error here only costs timing parity.
		dummyPHC, _ = HashPasswordWith(base64.RawURLEncoding.EncodeToString(randomBytes(16)), DefaultArgon2)
	})
	_, _ = VerifyPassword(dummyPHC, password)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}

// parsePHC reads $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func parsePHC(phc string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: not of the form $argon2id$v=19$m=…,t=…,p=…$salt$hash", ErrMalformedHash)
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	var threads uint32
	n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads)
	if err != nil || n != 3 || fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, threads) != parts[3] {
		return p, nil, nil, fmt.Errorf("%w: bad parameters %q", ErrMalformedHash, parts[3])
	}
	if p.Time < 1 || p.Time > maxTime || threads < 1 || threads > maxThreads ||
		p.Memory < 8*threads || p.Memory > maxMemory {
		return p, nil, nil, fmt.Errorf("%w: parameters %q out of range", ErrMalformedHash, parts[3])
	}
	p.Threads = uint8(threads)
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("%w: bad hash", ErrMalformedHash)
	}
	return p, salt, key, nil
}

// CheckPassword applies the password rules — 8 to 256 characters, not the
// user's name — and returns an *apperr.Error naming the broken rule. upn may
// be "" when the user name is not known yet.
func CheckPassword(password, upn string) error {
	if !utf8.ValidString(password) {
		return apperr.BadRequest("the password must be valid text (UTF-8)")
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength {
		return apperr.BadRequest("the password is %d characters long; it must have at least %d", n, MinPasswordLength)
	}
	if n > MaxPasswordLength {
		return apperr.BadRequest("the password is %d characters long; it must have at most %d", n, MaxPasswordLength)
	}
	if upn != "" {
		local, _, _ := strings.Cut(upn, "@")
		if strings.EqualFold(password, upn) || strings.EqualFold(password, local) {
			return apperr.BadRequest("the password must not be the user name; choose something others cannot guess")
		}
	}
	return nil
}
