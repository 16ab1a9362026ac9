package signin

import (
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

func TestIPBucket(t *testing.T) {
	tests := map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":      "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":          "::ffff:192.0.2.7", // an IPv4 client on a dual stack
		"not an address":            "not an address",
		"2001:db8:1:3:3:4:5:6":      "2001:db8:1:3::/64",
		"fe80::1%eth0":              "fe80::1%eth0",
		"2001:0db8:0001:0002::0001": "2001:db8:1:2::/64",
	}
	for in, want := range tests {
		if got := ipBucket(in); got != want {
			t.Errorf("ipBucket(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWindowEndIsTheNextEpochAlignedBoundary(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	tests := []struct {
		w    time.Duration
		want time.Time
	}{
		{15 * time.Minute, time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)},
		{time.Hour, time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)},
		{time.Minute, time.Date(2026, 3, 14, 9, 27, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		if got := windowEnd(at, tc.w); !got.Equal(tc.want) {
			t.Errorf("windowEnd(%v) = %v, want %v", tc.w, got, tc.want)
		}
	}
	if got := windowEnd(at.Truncate(time.Hour), time.Hour); !got.Equal(at.Truncate(time.Hour).Add(time.Hour)) {
		t.Errorf("a window starting now ends in a full window, got %v", got)
	}
}

func TestTAPUsability(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	used := now.Add(-time.Minute)
	base := storage.TemporaryAccessPass{StartAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
	with := func(f func(*storage.TemporaryAccessPass)) storage.TemporaryAccessPass {
		t := base
		f(&t)
		return t
	}
	tests := []struct {
		name   string
		tap    storage.TemporaryAccessPass
		usable bool
		reason string
	}{
		{"valid", base, true, TAPUsable},
		{"multi_use_used_is_still_valid", with(func(t *storage.TemporaryAccessPass) { t.UsedAt = &used }), true, TAPUsable},
		{"one_time_used", with(func(t *storage.TemporaryAccessPass) { t.UsedAt, t.IsUsableOnce = &used, true }), false, TAPOneTimeUsed},
		{"expires_now", with(func(t *storage.TemporaryAccessPass) { t.ExpiresAt = now }), false, TAPExpired},
		{"starts_later", with(func(t *storage.TemporaryAccessPass) { t.StartAt = now.Add(time.Second) }), false, TAPNotYetValid},
		{"starts_now", with(func(t *storage.TemporaryAccessPass) { t.StartAt = now }), true, TAPUsable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			usable, reason := TAPUsability(tc.tap, now)
			if usable != tc.usable || reason != tc.reason {
				t.Fatalf("TAPUsability = %v, %q; want %v, %q", usable, reason, tc.usable, tc.reason)
			}
		})
	}
}

func TestWithMethodsAddsOnlyWhatIsMissing(t *testing.T) {
	amr := []string{"pwd"}
	got := withMethods(amr, "otp", "mfa", "pwd")
	if len(got) != 3 || got[0] != "pwd" || got[1] != "otp" || got[2] != "mfa" || len(amr) != 1 {
		t.Fatalf("withMethods = %v (input now %v)", got, amr)
	}
}
