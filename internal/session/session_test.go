package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func openStore(t *testing.T) storage.Storage {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "keyward.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// setup returns a manager on a real store with one user, and the user's ID.
func setup(t *testing.T) (*session.Manager, *clock, string) {
	t.Helper()
	st := openStore(t)
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	u := storage.User{ID: uuid.NewString(), UserPrincipalName: "alice@example.com", DisplayName: "Alice",
		AccountEnabled: true, CreatedAt: c.t, UpdatedAt: c.t}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	m := &session.Manager{Store: st, Now: c.now, IdleTimeout: time.Hour, AbsoluteTimeout: 4 * time.Hour, Secure: true}
	return m, c, u.ID
}

// create makes a session and returns a request carrying its cookie.
func create(t *testing.T, m *session.Manager, userID string) (storage.Session, *http.Request, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	s, err := m.Create(context.Background(), w, session.NewClient("192.0.2.1", "test-agent"), userID, []string{"hwk", "mfa"}, true)
	if err != nil {
		t.Fatal(err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("want one cookie, got %v", cookies)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookies[0])
	return s, req, cookies[0]
}

func TestCreateSetsHardenedCookieAndStoresOnlyTheHash(t *testing.T) {
	m, c, userID := setup(t)
	s, req, ck := create(t, m, userID)
	if ck.Name != "__Host-keyward_session" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("cookie attributes wrong: %+v", ck)
	}
	if !strings.HasPrefix(ck.Value, "kws_") {
		t.Errorf("cookie value %q lacks the kws_ prefix", ck.Value)
	}
	// The ID is the secret's time-ordered key and its hash, never the secret.
	if s.ID != ck.Value[4:36]+"."+secret.HashHex(ck.Value) || strings.Contains(s.ID, ck.Value[37:]) {
		t.Errorf("session ID %q must be the cookie secret's key and hash", s.ID)
	}
	if !ck.Expires.Equal(c.t.Add(4*time.Hour).Truncate(time.Second)) || !s.ExpiresAt.Equal(c.t.Add(4*time.Hour)) {
		t.Errorf("expiry: cookie %v, session %v", ck.Expires, s.ExpiresAt)
	}
	if !s.MFAAt.Equal(c.t) || s.UserAgent != "test-agent" || s.IP == "" {
		t.Errorf("session fields not filled: %+v", s)
	}
	got, u, err := m.Load(req)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != userID || strings.Join(got.AuthMethods, ",") != "hwk,mfa" {
		t.Errorf("loaded %+v", got)
	}
	if u.ID != userID {
		t.Errorf("loaded with the user %+v, want %s", u, userID)
	}
}

func TestLoadRefusesMissingAndUnknownCookies(t *testing.T) {
	m, _, _ := setup(t)
	cases := map[string]*http.Cookie{
		"no_cookie":      nil,
		"unknown_secret": {Name: "keyward_session", Value: "kws_nope"},
		"empty_value":    {Name: "keyward_session", Value: ""},
		"huge_value":     {Name: "keyward_session", Value: strings.Repeat("x", 5000)},
	}
	for name, ck := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if ck != nil {
				r.AddCookie(ck)
			}
			if _, _, err := m.Load(r); !errors.Is(err, session.ErrNoSession) {
				t.Fatalf("Load = %v, want ErrNoSession", err)
			}
		})
	}
}

func TestLoadExpiry(t *testing.T) {
	cases := []struct {
		name  string
		steps []time.Duration // time passes, then a Load that must succeed, for all but the last
		valid bool
	}{
		{"valid_just_before_idle_timeout", []time.Duration{59 * time.Minute}, true},
		{"expires_after_idle_timeout", []time.Duration{time.Hour}, false},
		{"activity_extends_idle_window", []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, true},
		{"expires_at_absolute_lifetime_despite_activity",
			[]time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 40 * time.Minute}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, c, userID := setup(t)
			_, req, _ := create(t, m, userID)
			var err error
			for i, d := range tc.steps {
				c.advance(d)
				_, _, err = m.Load(req)
				if i < len(tc.steps)-1 && err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if tc.valid && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tc.valid && !errors.Is(err, session.ErrNoSession) {
				t.Fatalf("want ErrNoSession, got %v", err)
			}
		})
	}
}

func TestExpiredSessionIsDeleted(t *testing.T) {
	m, c, userID := setup(t)
	s, req, _ := create(t, m, userID)
	c.advance(2 * time.Hour)
	if _, _, err := m.Load(req); !errors.Is(err, session.ErrNoSession) {
		t.Fatal(err)
	}
	if _, err := m.Store.GetSession(context.Background(), s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired session still stored: %v", err)
	}
}

func TestLoadTouchesLastSeenAtAtMostOnceAMinute(t *testing.T) {
	m, c, userID := setup(t)
	s, req, _ := create(t, m, userID)
	start := c.t
	c.advance(30 * time.Second)
	got, _, err := m.Load(req)
	if err != nil || !got.LastSeenAt.Equal(start) {
		t.Fatalf("within a minute LastSeenAt must stay %v, got %v (%v)", start, got.LastSeenAt, err)
	}
	c.advance(31 * time.Second)
	if got, _, err = m.Load(req); err != nil || !got.LastSeenAt.Equal(c.t) {
		t.Fatalf("after a minute LastSeenAt must be %v, got %v (%v)", c.t, got.LastSeenAt, err)
	}
	stored, err := m.Store.GetSession(context.Background(), s.ID)
	if err != nil || !stored.LastSeenAt.Equal(c.t) {
		t.Fatalf("stored LastSeenAt = %v (%v), want %v", stored.LastSeenAt, err, c.t)
	}
}

func TestDestroyDeletesSessionAndClearsCookie(t *testing.T) {
	m, _, userID := setup(t)
	s, req, _ := create(t, m, userID)
	w := httptest.NewRecorder()
	if err := m.Destroy(context.Background(), w, req); err != nil {
		t.Fatal(err)
	}
	cleared := w.Result().Cookies()
	if len(cleared) != 1 || cleared[0].MaxAge >= 0 || cleared[0].Value != "" {
		t.Errorf("cookie not cleared: %+v", cleared)
	}
	if _, err := m.Store.GetSession(context.Background(), s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session still stored: %v", err)
	}
	if _, _, err := m.Load(req); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Load after Destroy = %v", err)
	}
	// Signing out twice, or without a cookie, is not an error.
	if err := m.Destroy(context.Background(), httptest.NewRecorder(), req); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestNewSessionForRecordSignIn(t *testing.T) {
	m, c, userID := setup(t)
	sec, s := m.NewSession(userID, session.Client{}, []string{"swk"}, false)
	if s.ID != secret.KeyedID(sec) || !s.MFAAt.IsZero() || !s.ExpiresAt.Equal(c.t.Add(4*time.Hour)) {
		t.Fatalf("unexpected session %+v", s)
	}
	if err := m.Store.RecordSignIn(context.Background(), storage.SignInRecord{Session: &s,
		Event: storage.SignInEvent{ID: uuid.NewString(), Time: c.t, UserID: userID, Method: "passkey", Result: storage.ResultSuccess}}); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	m.SetCookie(w, sec, s.ExpiresAt)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(w.Result().Cookies()[0])
	if got, _, err := m.Load(r); err != nil || got.ID != s.ID {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if other, id := session.NewSecret(); other == sec || id <= s.ID {
		t.Fatalf("a later session's ID %s must differ from and sort after %s", id, s.ID)
	}
}

// A session signed in before session IDs had keys (its cookie 256 random
// bits, its row under the cookie's hash alone) is still found and ended.
func TestLoadFindsASessionMadeBeforeKeys(t *testing.T) {
	m, _, userID := setup(t)
	_, s := m.NewSession(userID, session.Client{}, []string{"hwk"}, false)
	sec := secret.New(session.SecretPrefix) // the form cookies had before
	s.ID = secret.HashHex(sec)
	if err := m.Store.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	m.SetCookie(w, sec, s.ExpiresAt)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(w.Result().Cookies()[0])
	if got, _, err := m.Load(r); err != nil || got.ID != s.ID || got.UserID != userID {
		t.Fatalf("Load of an old session = %+v, %v", got, err)
	}
	if err := m.Destroy(context.Background(), httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Store.GetSession(context.Background(), s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the old session outlived signing out: %v", err)
	}
}
