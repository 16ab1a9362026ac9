package mfa

import (
	"crypto/rand"
	"math/big"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/secret"
)

// Temporary Access Pass lifetimes, as in Microsoft Entra ID.
const (
	MinTAPLifetime     = 10 * time.Minute
	MaxTAPLifetime     = 30 * 24 * time.Hour
	DefaultTAPLifetime = time.Hour
	// MaxTAPStartDelay bounds how far ahead a pass may be scheduled to start.
	MaxTAPStartDelay = 30 * 24 * time.Hour
	// tapStartSlack tolerates a start time a little in the past (clock skew
	// between the admin's machine and the server).
	tapStartSlack = 5 * time.Minute
)

// TAPLength is the number of characters of a pass: 16 from a 31-character
// alphabet is about 79 bits, beyond guessing even without rate limits.
const TAPLength = 16

// tapAlphabet leaves out characters people confuse when reading a pass aloud
// or copying it by hand: 0/O, 1/I/L.
const tapAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// Lengths a pass may have (the Temporary Access Pass policy's defaultLength).
const (
	MinTAPLength = 8
	MaxTAPLength = 48
)

// NewTAP returns a fresh pass of TAPLength characters (shown to the admin
// once) and its stored hash.
func NewTAP() (pass string, hash []byte) { return NewTAPOfLength(TAPLength) }

// NewTAPOfLength is NewTAP for a pass of n characters, n within
// MinTAPLength..MaxTAPLength (clamped).
func NewTAPOfLength(n int) (pass string, hash []byte) {
	n = min(max(n, MinTAPLength), MaxTAPLength)
	var b strings.Builder
	max := big.NewInt(int64(len(tapAlphabet)))
	for range n {
		n, err := rand.Int(rand.Reader, max)
		if err != nil { // crypto/rand does not fail on supported platforms
			panic("mfa: crypto/rand failed: " + err.Error())
		}
		b.WriteByte(tapAlphabet[n.Int64()])
	}
	pass = b.String()
	return pass, HashTAP(pass)
}

// NormalizeTAP is the canonical form of a pass as a person typed it: spaces
// and dashes dropped, upper case. It returns "" when the result cannot be a
// pass, so callers can answer without a lookup.
func NormalizeTAP(s string) string {
	if len(s) > 4*MaxTAPLength {
		return ""
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToUpper(s))
	if len(s) < MinTAPLength || len(s) > MaxTAPLength || strings.Trim(s, tapAlphabet) != "" {
		return ""
	}
	return s
}

// HashTAP is the stored form of a (normalized) pass.
func HashTAP(pass string) []byte { return secret.Hash("tap:" + pass) }

// TAPWindow validates an admin's request for a pass and returns when it
// starts and expires. lifetimeMinutes nil means DefaultTAPLifetime; start
// nil means now. Errors are *apperr.Error naming the rule.
func TAPWindow(now time.Time, lifetimeMinutes *int, start *time.Time) (time.Time, time.Time, error) {
	return TAPWindowWithin(now, lifetimeMinutes, start, TAPLimits{Default: DefaultTAPLifetime, Min: MinTAPLifetime, Max: MaxTAPLifetime})
}

// TAPLimits are the lifetimes the Temporary Access Pass policy sets.
type TAPLimits struct{ Default, Min, Max time.Duration }

// TAPWindowWithin is TAPWindow within the policy's lifetimes.
func TAPWindowWithin(now time.Time, lifetimeMinutes *int, start *time.Time, lim TAPLimits) (time.Time, time.Time, error) {
	life := lim.Default
	if lifetimeMinutes != nil {
		m := *lifetimeMinutes
		if m < int(lim.Min/time.Minute) || m > int(lim.Max/time.Minute) {
			return time.Time{}, time.Time{}, apperr.BadRequest(
				"lifetimeInMinutes must be from %d to %d (the Temporary Access Pass policy's minimum and maximum), not %d",
				int(lim.Min/time.Minute), int(lim.Max/time.Minute), m)
		}
		life = time.Duration(m) * time.Minute
	}
	from := now
	if start != nil {
		switch {
		case start.Before(now.Add(-tapStartSlack)):
			return time.Time{}, time.Time{}, apperr.BadRequest(
				"startDateTime %s is in the past; leave it out to start the pass now", start.UTC().Format(time.RFC3339))
		case start.After(now.Add(MaxTAPStartDelay)):
			return time.Time{}, time.Time{}, apperr.BadRequest(
				"startDateTime %s is more than 30 days away; a pass can be scheduled at most 30 days ahead", start.UTC().Format(time.RFC3339))
		case start.After(now):
			from = *start
		}
	}
	from = from.UTC()
	return from, from.Add(life), nil
}
