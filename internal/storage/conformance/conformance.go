// Package conformance is the one test suite every storage backend passes, so
// that SQLite and PostgreSQL behave identically to the code above them.
//
// A backend's test calls Run with a function that returns a fresh, migrated,
// empty store for each subtest and closes it in t.Cleanup.
package conformance

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// Opener returns a clean, migrated store for one subtest.
type Opener func(t *testing.T) storage.Storage

type test struct {
	name string
	fn   func(t *testing.T, s storage.Storage)
}

// Run runs every conformance test, each on a store from open.
func Run(t *testing.T, open Opener) {
	suites := []struct {
		name  string
		tests []test
	}{
		{"users", userTests},
		{"import_users", importTests},
		{"users_by_name", nameListTests},
		{"paging", pagingTests},
		{"groups", groupTests},
		{"members", memberTests},
		{"api_tokens", apiTokenTests},
		{"one_time_tokens", oneTimeTokenTests},
		{"first_user", firstUserTests},
		{"sessions", sessionTests},
		{"sealed_challenges", sealedChallengeTests},
		{"credentials", credentialTests},
		{"deadlocks", deadlockTests},
		{"sign_in", signInTests},
		{"policies", policyTests},
		{"audit", auditTests},
		{"audited_changes", auditedTests},
		{"logs", logTests},
		{"reports", reportTests},
		{"registrations", registrationTests},
		{"registration_counts", registrationCountTests},
		{"registration_filters", registrationFilterTests},
		{"capable_counts", capableCountTests},
		{"daily_counts", dailyTests},
		{"mds", mdsTests},
		{"mds_chunks", mdsChunkTests},
		{"people", personTests},
		{"totp", totpTests},
		{"temporary_access_passes", tapTests},
		{"rate_limits", rateLimitTests},
		{"applications", applicationTests},
		{"signing_keys", signingKeyTests},
		{"auth_requests", authRequestTests},
		{"oidc_tokens", oidcTokenTests},
		{"conditional_access", accessTests},
		{"alerts", alertTests},
		{"lockout_guard", lockoutTests},
	}
	for _, suite := range suites {
		t.Run(suite.name, func(t *testing.T) {
			for _, tc := range suite.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, open(t))
				})
			}
		})
	}
}

// t0 is the suite's "now": microsecond-aligned, as every backend stores times.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func newUser(upn string) storage.User {
	return storage.User{
		ID:                uuid.NewString(),
		UserPrincipalName: upn,
		DisplayName:       "User " + upn,
		AccountEnabled:    true,
		CreatedAt:         t0,
		UpdatedAt:         t0,
	}
}

func mustUser(t *testing.T, s storage.Storage, upn string) storage.User {
	t.Helper()
	u := newUser(upn)
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("create user %s: %v", upn, err)
	}
	return u
}

func newGroup(name string) storage.Group {
	return storage.Group{ID: uuid.NewString(), DisplayName: name, Description: "about " + name,
		CreatedAt: t0, UpdatedAt: t0}
}

func mustGroup(t *testing.T, s storage.Storage, name string) storage.Group {
	t.Helper()
	g := newGroup(name)
	if err := s.CreateGroup(t.Context(), g); err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
	return g
}

func newCredential(userID string) storage.Credential {
	return storage.Credential{
		ID:                      uuid.NewString(),
		UserID:                  userID,
		CredentialID:            randomBytes(32),
		PublicKey:               randomBytes(77),
		AAGUID:                  "cb69481e-8ff7-4039-93ec-0a2729a154a8",
		Model:                   "YubiKey 5 Series",
		DisplayName:             "Blue key",
		AttestationFormat:       "packed",
		AttestationType:         "basic_full",
		AttestationLevel:        storage.AttestationAttested,
		AttestationCertSubjects: []string{"CN=Yubico U2F EE Serial 1", "CN=Yubico FIDO Root CA"},
		Transports:              []string{"nfc", "usb"},
		UserVerified:            true,
		BackupEligible:          false,
		SignCount:               7,
		CreatedAt:               t0,
	}
}

func mustCredential(t *testing.T, s storage.Storage, userID string) storage.Credential {
	t.Helper()
	c := newCredential(userID)
	if err := s.CreateCredential(t.Context(), c); err != nil {
		t.Fatalf("create credential: %v", err)
	}
	return c
}

func newSession(userID string) storage.Session {
	return storage.Session{
		ID:          uuid.NewString(),
		UserID:      userID,
		AuthMethods: []string{"hwk", "pop", "mfa"},
		MFAAt:       t0,
		CreatedAt:   t0,
		LastSeenAt:  t0,
		ExpiresAt:   at(12 * time.Hour),
		IP:          "192.0.2.7",
		UserAgent:   "Firefox",
		AAGUID:      "cb69481e-8ff7-4039-93ec-0a2729a154a8",
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func is(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

// show renders a value readably, following pointers (times, optional fields).
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// errFn is what a failing CAS function returns; the store must return it as is.
var errFn = errors.New("fn refuses")
