package mfa

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: what every authenticator app understands (RFC 6238 with
// SHA-1, 6 digits, 30-second steps).
const (
	TOTPIssuer = "Keyward"
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	// TOTPSkew is how many steps before or after now a code may come from,
	// for phone clocks that drift and people who type slowly.
	TOTPSkew = 1
	// qrSize is the QR code's width and height in pixels.
	qrSize = 240
)

// TOTPEnrollment is what a user needs to add Keyward to an authenticator app.
type TOTPEnrollment struct {
	Secret string // base32 without padding, as typed into an app by hand
	URI    string // otpauth://totp/Keyward:<upn>?secret=…&issuer=Keyward…
	QRCode string // the URI as a PNG QR code, as a data: URL for an <img>
}

// NewTOTP makes a fresh 160-bit secret for the user upn.
func NewTOTP(upn string) (TOTPEnrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: TOTPIssuer, AccountName: upn, Period: uint(TOTPPeriod / time.Second),
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	qr, err := qrDataURL(key)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: key.Secret(), URI: key.URL(), QRCode: qr}, nil
}

func qrDataURL(key *otp.Key) (string, error) {
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return "", fmt.Errorf("draw TOTP QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("encode TOTP QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// TOTPStep is the RFC 6238 time step that holds t.
func TOTPStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// TOTPCode is the code of secret at time t (for tests and tools).
func TOTPCode(secret string, t time.Time) (string, error) {
	return codeAt(secret, TOTPStep(t))
}

func codeAt(secret string, step int64) (string, error) {
	if step < 0 {
		return "", fmt.Errorf("TOTP step %d is before 1970", step)
	}
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
}

// ValidTOTPFormat reports whether code looks like a code at all: 6 digits.
func ValidTOTPFormat(code string) bool {
	if len(code) != TOTPDigits {
		return false
	}
	for _, c := range []byte(code) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidateTOTP checks code against secret at now, allowing TOTPSkew steps
// either side, and accepts only steps after the last one used (after), which
// makes every code single-use. It returns the step the code belongs to — the
// caller stores it as the new last used step — and whether it matched.
func ValidateTOTP(secret, code string, now time.Time, after int64) (int64, bool) {
	if !ValidTOTPFormat(code) {
		return 0, false
	}
	cur := TOTPStep(now)
	// Newest first, stopping at the last step used: a code already accepted,
	// or one older than it, never matches again.
	for step := cur + TOTPSkew; step >= cur-TOTPSkew; step-- {
		if step <= after {
			break
		}
		want, err := codeAt(secret, step)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}
