package oidc

import (
	"testing"
	"time"
)

func TestACRFromAMR(t *testing.T) {
	for _, tc := range []struct {
		name string
		amr  []string
		want string
	}{
		{"device_bound_passkey_with_uv_is_phrh", []string{"hwk", "user", "mfa"}, "phrh"},
		{"synced_passkey_is_phr", []string{"swk", "user", "mfa"}, "phr"},
		{"password_and_code_is_keyward_mfa", []string{"pwd", "otp", "mfa"}, ACRMultiFactor},
		{"temporary_access_pass_is_keyward_mfa", []string{"tap", "mfa"}, ACRMultiFactor},
		{"password_alone_is_keyward_sfa", []string{"pwd"}, ACRSingleFactor},
		{"nothing_is_keyward_sfa", nil, ACRSingleFactor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ACR(tc.amr); got != tc.want {
				t.Fatalf("ACR(%v) = %q, want %q", tc.amr, got, tc.want)
			}
		})
	}
}

func TestACRSatisfies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got       string
		requested []string
		want      bool
	}{
		{"nothing_asked", ACRSingleFactor, nil, true},
		{"unknown_values_are_ignored", ACRSingleFactor, []string{"urn:other:gold"}, true},
		{"phrh_meets_phr", "phrh", []string{"phr"}, true},
		{"phr_does_not_meet_phrh", "phr", []string{"phrh"}, false},
		{"mfa_does_not_meet_phr", ACRMultiFactor, []string{"phr"}, false},
		{"any_listed_value_will_do", ACRMultiFactor, []string{"phrh", ACRMultiFactor}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ACRSatisfies(tc.got, tc.requested); got != tc.want {
				t.Fatalf("ACRSatisfies(%q, %v) = %v, want %v", tc.got, tc.requested, got, tc.want)
			}
		})
	}
	if !WantsPasskey([]string{"phr"}) || WantsPasskey([]string{ACRMultiFactor}) || WantsPasskey(nil) {
		t.Fatal("WantsPasskey must be true exactly when only a passkey meets the request")
	}
}

func TestFreshEnough(t *testing.T) {
	req := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	u := func(n uint) *uint { return &n }
	for _, tc := range []struct {
		name     string
		authTime time.Time
		now      time.Time
		maxAge   *uint
		want     bool
	}{
		{"no_max_age", req.Add(-24 * time.Hour), req, nil, true},
		{"prompt_login_needs_a_sign_in_after_the_request", req.Add(-time.Second), req, u(0), false},
		{"prompt_login_met_by_the_new_sign_in", req.Add(time.Second), req.Add(time.Second), u(0), true},
		{"max_age_met", req.Add(-5 * time.Minute), req, u(300), true},
		{"max_age_exceeded", req.Add(-301 * time.Second), req, u(300), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FreshEnough(tc.authTime, req, tc.now, tc.maxAge); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNeedsCombine(t *testing.T) {
	if n := NeedOfACRValues([]string{"urn:other", "phrh", "phr"}); n.ACR != "phr" {
		t.Fatalf("acr_values phrh phr: need %q, want phr (any listed value will do)", n.ACR)
	}
	if n := NeedOfACRValues([]string{"urn:other"}); n != (Need{}) {
		t.Fatalf("unknown acr_values ask for %+v", n)
	}
	if got := Combine(Need{ACR: ACRMultiFactor}, Need{ACR: ACRPhishingResistantHardware}); got.ACR != ACRPhishingResistantHardware {
		t.Fatalf("Combine keeps the stronger acr: %+v", got)
	}
	if got := Combine(Need{ACR: "phr"}, Need{}); got.ACR != "phr" {
		t.Fatalf("Combine with nothing: %+v", got)
	}
	for _, tc := range []struct {
		got, need string
		want      bool
	}{{"phrh", "phr", true}, {"phr", "phrh", false}, {ACRMultiFactor, "", true}, {ACRSingleFactor, ACRMultiFactor, false}} {
		if MeetsACR(tc.got, tc.need) != tc.want {
			t.Errorf("MeetsACR(%q, %q) != %v", tc.got, tc.need, tc.want)
		}
	}
	if !IsPasskeyACR("phr") || !IsPasskeyACR("phrh") || IsPasskeyACR(ACRMultiFactor) || IsPasskeyACR("") {
		t.Fatal("IsPasskeyACR")
	}
}
