package mfa_test

import (
	"encoding/base64"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/mfa"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	phc, err := mfa.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not use argon2id with the default parameters", phc)
	}
	tests := []struct {
		name, password string
		match          bool
	}{
		{"right_password_matches", "correct horse battery", true},
		{"wrong_password_does_not", "correct horse batterY", false},
		{"empty_password_does_not", "", false},
		{"prefix_does_not", "correct horse", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := mfa.VerifyPassword(phc, tc.password)
			if err != nil || ok != tc.match {
				t.Fatalf("VerifyPassword = %v, %v; want %v", ok, err, tc.match)
			}
		})
	}
	other, _ := mfa.HashPassword("correct horse battery")
	if other == phc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if mfa.NeedsRehash(phc) {
		t.Fatal("a fresh hash needs a rehash")
	}
}

func TestVerifyPasswordRejectsMalformedHashes(t *testing.T) {
	good, _ := mfa.HashPassword("whatever-it-is")
	parts := strings.Split(good, "$")
	tests := map[string]string{
		"empty":             "",
		"bcrypt":            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":           strings.Replace(good, "argon2id", "argon2i", 1),
		"old_version":       strings.Replace(good, "v=19", "v=16", 1),
		"missing_part":      strings.Join(parts[:5], "$"),
		"huge_memory":       strings.Replace(good, "m=19456", "m=99999999", 1),
		"zero_time":         strings.Replace(good, "t=2", "t=0", 1),
		"junk_in_params":    strings.Replace(good, "p=1", "p=1,x=2", 1),
		"salt_not_base64":   strings.Join(append(append([]string{}, parts[:4]...), "!!!", parts[5]), "$"),
		"hash_too_short":    strings.Join(append(append([]string{}, parts[:5]...), "AAAA"), "$"),
		"trailing_dollar":   good + "$",
		"leading_character": "x" + good,
	}
	for name, phc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := mfa.VerifyPassword(phc, "whatever-it-is")
			if ok || !errors.Is(err, mfa.ErrMalformedHash) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", phc, ok, err)
			}
			if !mfa.NeedsRehash(phc) {
				t.Fatal("a malformed hash does not need a rehash")
			}
		})
	}
}

func TestVerifyPasswordAcceptsOtherParameters(t *testing.T) {
	// A hash made elsewhere with other (cheaper, older) parameters verifies,
	// and is flagged for a rehash with the current ones.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("hunter22"), salt, 1, 64, 1, 32)
	enc := base64.RawStdEncoding.EncodeToString
	phc := "$argon2id$v=19$m=64,t=1,p=1$" + enc(salt) + "$" + enc(key)
	for pw, want := range map[string]bool{"hunter22": true, "hunter23": false} {
		ok, err := mfa.VerifyPassword(phc, pw)
		if err != nil || ok != want {
			t.Fatalf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if !mfa.NeedsRehash(phc) {
		t.Fatal("a hash with non-default parameters needs a rehash")
	}
}

func TestVerifyDummyDoesNotPanic(t *testing.T) {
	mfa.VerifyDummy("anything")
	mfa.VerifyDummy("")
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name, password, upn, fragment string
	}{
		{"seven_characters_are_too_few", "abcdefg", "", "at least 8"},
		{"eight_are_enough", "abcdefgh", "", ""},
		{"multibyte_characters_count_once", "ééééééé", "", "at least 8"},
		{"256_are_allowed", strings.Repeat("x", 256), "", ""},
		{"257_are_too_many", strings.Repeat("x", 257), "", "at most 256"},
		{"the_upn_is_refused", "Alice@Contoso.com", "alice@contoso.com", "user name"},
		{"the_local_part_is_refused", "ALICE.SMITH", "alice.smith@contoso.com", "user name"},
		{"something_else_is_fine", "alice.smith1", "alice.smith@contoso.com", ""},
		{"invalid_utf8_is_refused", "abcdefgh\xff", "", "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mfa.CheckPassword(tc.password, tc.upn)
			if tc.fragment == "" {
				if err != nil {
					t.Fatalf("CheckPassword = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(apperr.As(err).Message, tc.fragment) || apperr.As(err).Status != 400 {
				t.Fatalf("CheckPassword = %v, want a 400 mentioning %q", err, tc.fragment)
			}
		})
	}
}

func TestNewTOTP(t *testing.T) {
	e, err := mfa.NewTOTP("alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Secret) != 32 { // 20 bytes in base32
		t.Fatalf("secret %q is not 160 bits", e.Secret)
	}
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Keyward:alice@contoso.com" ||
		q.Get("secret") != e.Secret || q.Get("issuer") != "Keyward" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("otpauth URI = %s", e.URI)
	}
	data, ok := strings.CutPrefix(e.QRCode, "data:image/png;base64,")
	if !ok {
		t.Fatalf("QR code is not a PNG data URL: %.40s…", e.QRCode)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(strings.NewReader(string(raw)))
	if err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("QR code PNG: %v, %v", img, err)
	}
}

func TestValidateTOTP(t *testing.T) {
	// RFC 6238 appendix B's SHA-1 secret ("12345678901234567890" in base32).
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	now := time.Unix(59, 0)
	if c, _ := mfa.TOTPCode(secret, now); c != "287082" { // RFC: 94287082, 6 digits
		t.Fatalf("code at 59 s = %s, want 287082", c)
	}
	now = time.Date(2026, 3, 14, 9, 26, 40, 0, time.UTC) // 10 s into its step
	step := mfa.TOTPStep(now)
	code := func(d time.Duration) string {
		c, err := mfa.TOTPCode(secret, now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		code     string
		after    int64
		wantStep int64
		ok       bool
	}{
		{"current_code", code(0), 0, step, true},
		{"previous_step_is_allowed", code(-30 * time.Second), 0, step - 1, true},
		{"next_step_is_allowed", code(30 * time.Second), 0, step + 1, true},
		{"two_steps_back_is_refused", code(-60 * time.Second), 0, 0, false},
		{"two_steps_ahead_is_refused", code(60 * time.Second), 0, 0, false},
		{"a_used_step_is_refused", code(0), step, 0, false},
		{"an_older_step_than_the_last_used_is_refused", code(-30 * time.Second), step, 0, false},
		{"a_newer_step_than_the_last_used_is_fine", code(30 * time.Second), step, step + 1, true},
		{"wrong_code", "000000", 0, 0, false},
		{"too_short", code(0)[:5], 0, 0, false},
		{"not_digits", "12a456", 0, 0, false},
		{"padded", " " + code(0), 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "wrong_code" && code(0) == "000000" {
				t.Skip("the current code happens to be 000000")
			}
			got, ok := mfa.ValidateTOTP(secret, tc.code, now, tc.after)
			if ok != tc.ok || got != tc.wantStep {
				t.Fatalf("ValidateTOTP(%q, after %d) = %d, %v; want %d, %v", tc.code, tc.after, got, ok, tc.wantStep, tc.ok)
			}
		})
	}
	if _, ok := mfa.ValidateTOTP("not base32!", "123456", now, 0); ok {
		t.Fatal("a broken secret validated a code")
	}
}

func TestTAP(t *testing.T) {
	pass, hash := mfa.NewTAP()
	if len(pass) != mfa.TAPLength || mfa.NormalizeTAP(pass) != pass {
		t.Fatalf("pass %q is not a normalized %d-character pass", pass, mfa.TAPLength)
	}
	other, _ := mfa.NewTAP()
	if other == pass {
		t.Fatal("two passes are equal")
	}
	typed := strings.ToLower(pass[:4] + " " + pass[4:8] + "-" + pass[8:])
	if n := mfa.NormalizeTAP(typed); string(mfa.HashTAP(n)) != string(hash) {
		t.Fatalf("typed %q normalizes to %q, not the pass", typed, n)
	}
	// Passes are 8 to 48 characters (the policy's defaultLength).
	for _, n := range []int{mfa.MinTAPLength, 20, mfa.MaxTAPLength} {
		p, _ := mfa.NewTAPOfLength(n)
		if len(p) != n || mfa.NormalizeTAP(p) != p {
			t.Errorf("NewTAPOfLength(%d) = %q, not a normalized pass of that length", n, p)
		}
	}
	for _, bad := range []string{"", pass[:7], strings.Repeat("A", mfa.MaxTAPLength+1), "0000000000000000", "IIIIIIIIIIIIIIII", strings.Repeat("A", 200)} {
		if n := mfa.NormalizeTAP(bad); n != "" {
			t.Errorf("NormalizeTAP(%q) = %q, want \"\"", bad, n)
		}
	}
}

func TestTAPWindow(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	minutes := func(n int) *int { return &n }
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	tests := []struct {
		name       string
		lifetime   *int
		start      *time.Time
		wantStart  time.Time
		wantExpiry time.Time
		fragment   string
	}{
		{"default_is_one_hour_from_now", nil, nil, now, now.Add(time.Hour), ""},
		{"ten_minutes_is_the_minimum", minutes(10), nil, now, now.Add(10 * time.Minute), ""},
		{"nine_minutes_is_too_short", minutes(9), nil, time.Time{}, time.Time{}, "from 10"},
		{"thirty_days_is_the_maximum", minutes(43200), nil, now, now.Add(30 * 24 * time.Hour), ""},
		{"longer_is_refused", minutes(43201), nil, time.Time{}, time.Time{}, "to 43200"},
		{"negative_is_refused", minutes(-5), nil, time.Time{}, time.Time{}, "lifetimeInMinutes"},
		{"a_later_start_is_kept", minutes(60), at(2 * time.Hour), now.Add(2 * time.Hour), now.Add(3 * time.Hour), ""},
		{"a_start_slightly_past_means_now", nil, at(-time.Minute), now, now.Add(time.Hour), ""},
		{"a_start_long_past_is_refused", nil, at(-time.Hour), time.Time{}, time.Time{}, "in the past"},
		{"a_start_beyond_30_days_is_refused", nil, at(31 * 24 * time.Hour), time.Time{}, time.Time{}, "30 days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, expiry, err := mfa.TAPWindow(now, tc.lifetime, tc.start)
			if tc.fragment != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fragment) {
					t.Fatalf("TAPWindow = %v, want an error mentioning %q", err, tc.fragment)
				}
				return
			}
			if err != nil || !start.Equal(tc.wantStart) || !expiry.Equal(tc.wantExpiry) {
				t.Fatalf("TAPWindow = %v, %v, %v; want %v, %v", start, expiry, err, tc.wantStart, tc.wantExpiry)
			}
		})
	}
}
