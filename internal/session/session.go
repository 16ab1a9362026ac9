// Package session keeps signed-in browser sessions. The cookie holds a random
// secret; the database holds only its SHA-256 behind the secret's
// time-ordered key (the session ID, secret.NewKeyed), so a leaked database
// does not let anyone ride a session, each sign-in's session lands at the
// end of the table instead of on a random page, and every node sees every
// session. Expiry is both idle (no request for IdleTimeout) and absolute.
package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/textlimit"
)

// Defaults for a zero Manager field.
const (
	DefaultIdleTimeout     = 8 * time.Hour
	DefaultAbsoluteTimeout = 24 * time.Hour
	DefaultCookieName      = "keyward_session"
	// SecureCookieName is the cookie's name over https: the __Host- prefix
	// makes browsers accept it only with Secure, Path=/ and no Domain, so a
	// sibling subdomain or a plain-http page cannot plant or shadow it.
	SecureCookieName = "__Host-" + DefaultCookieName

	// touchInterval bounds LastSeenAt writes to one a minute per session, so
	// a busy page does not turn every request into a database write.
	touchInterval = time.Minute
	// MaxUserAgent (bytes) keeps a hostile header from bloating the sign-in
	// log and the sessions table.
	MaxUserAgent = 512
	// SecretPrefix marks session secrets so a leaked one is recognisable.
	SecretPrefix = "kws_"
)

// ErrNoSession is returned by Load when the request carries no usable session:
// no cookie, an unknown secret, or an expired session. Callers treat it as
// "not signed in"; the wrapped reason is for logs.
var ErrNoSession = errors.New("no valid session")

// Manager creates, loads and ends sessions.
type Manager struct {
	Store           storage.Storage
	Now             func() time.Time // nil = time.Now
	IdleTimeout     time.Duration    // 0 = DefaultIdleTimeout
	AbsoluteTimeout time.Duration    // 0 = DefaultAbsoluteTimeout
	CookieName      string           // "" = SecureCookieName when Secure, else DefaultCookieName
	Secure          bool             // set the cookie's Secure flag (HTTPS deployments)
}

// NewSecret returns a fresh cookie secret and the session ID derived from it.
func NewSecret() (secretValue, id string) {
	return secret.NewKeyed(SecretPrefix)
}

// NewSecret is the package function, for callers holding a Manager.
func (m *Manager) NewSecret() (secretValue, id string) { return NewSecret() }

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Manager) idle() time.Duration {
	if m.IdleTimeout > 0 {
		return m.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (m *Manager) absolute() time.Duration {
	if m.AbsoluteTimeout > 0 {
		return m.AbsoluteTimeout
	}
	return DefaultAbsoluteTimeout
}

// Name is the cookie name in use.
func (m *Manager) Name() string {
	switch {
	case m.CookieName != "":
		return m.CookieName
	case m.Secure:
		return SecureCookieName
	}
	return DefaultCookieName
}

// Client is who is signing in, for the sign-in log, the session and the
// per-address rate limit. Build it with NewClient (the HTTP edge does, once
// per request), which caps the User-Agent, so no sign-in path can store a hostile header whole.
type Client struct {
	IP        string
	UserAgent string
}

// NewClient is the client at ip sending userAgent, capped at MaxUserAgent bytes.
func NewClient(ip, userAgent string) Client {
	return Client{IP: ip, UserAgent: textlimit.Truncate(userAgent, MaxUserAgent)}
}

// NewSession builds (but does not store) a session for userID signed in from
// c with the methods amr (which the session keeps; callers pass a fresh
// slice), and returns it with its cookie secret; mfa marks a multi-factor
// proof made now. Every sign-in — passkey, password (+ code), Temporary
// Access Pass, setup — builds its session here and stores it inside
// Storage.RecordSignIn, then calls SetCookie; Create does both in one call.
func (m *Manager) NewSession(userID string, c Client, amr []string, mfa bool) (secretValue string, s storage.Session) {
	secretValue, id := NewSecret()
	now := m.now()
	s = storage.Session{
		ID:          id,
		UserID:      userID,
		AuthMethods: amr,
		CreatedAt:   now,
		LastSeenAt:  now,
		ExpiresAt:   now.Add(m.absolute()),
		IP:          c.IP,
		UserAgent:   c.UserAgent,
	}
	if mfa {
		s.MFAAt = now
	}
	return secretValue, s
}

// Create stores a new session for userID signed in from c and sets its
// cookie on w.
func (m *Manager) Create(ctx context.Context, w http.ResponseWriter, c Client, userID string, amr []string, mfa bool) (storage.Session, error) {
	secretValue, s := m.NewSession(userID, c, amr, mfa)
	if err := m.Store.CreateSession(ctx, s); err != nil {
		return storage.Session{}, fmt.Errorf("create session for user %s: %w", userID, err)
	}
	m.SetCookie(w, secretValue, s.ExpiresAt)
	return s, nil
}

// SetCookie sets the session cookie: HttpOnly so scripts cannot read it,
// SameSite=Lax so cross-site POSTs do not carry it.
func (m *Manager) SetCookie(w http.ResponseWriter, secretValue string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     m.Name(),
		Value:    secretValue,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   m.Secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// clearCookie tells the browser to drop the cookie.
func (m *Manager) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: m.Name(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: m.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// Load returns the session named by the request's cookie, with its user,
// read together in one query. It returns an error wrapping ErrNoSession
// when there is none or it has expired (idle or absolute), and refreshes
// LastSeenAt at most once a minute.
func (m *Manager) Load(r *http.Request) (storage.Session, storage.User, error) {
	c, err := r.Cookie(m.Name())
	if err != nil || c.Value == "" {
		return storage.Session{}, storage.User{}, fmt.Errorf("%w: no %s cookie", ErrNoSession, m.Name())
	}
	if len(c.Value) > 256 { // real secrets are 80 characters (47 before keys); skip hashing junk
		return storage.Session{}, storage.User{}, fmt.Errorf("%w: cookie value too long", ErrNoSession)
	}
	ctx := r.Context()
	id := secret.KeyedID(c.Value)
	s, u, err := m.Store.GetSessionWithUser(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, storage.User{}, fmt.Errorf("%w: unknown session", ErrNoSession)
	}
	if err != nil {
		return storage.Session{}, storage.User{}, fmt.Errorf("load session: %w", err)
	}
	now := m.now()
	if reason := m.expired(s, now); reason != "" {
		// Best effort: an expired row is garbage either way, and the periodic
		// DeleteExpiredSessions only knows the absolute expiry.
		_ = m.Store.DeleteSession(ctx, id)
		return storage.Session{}, storage.User{}, fmt.Errorf("%w: %s", ErrNoSession, reason)
	}
	if now.Sub(s.LastSeenAt) < touchInterval {
		return s, u, nil
	}
	s, err = m.Store.UpdateSession(ctx, id, func(s storage.Session) (storage.Session, error) {
		if now.After(s.LastSeenAt) {
			s.LastSeenAt = now
		}
		return s, nil
	})
	if errors.Is(err, storage.ErrNotFound) { // signed out by another request meanwhile
		return storage.Session{}, storage.User{}, fmt.Errorf("%w: session ended", ErrNoSession)
	}
	if err != nil {
		return storage.Session{}, storage.User{}, fmt.Errorf("touch session: %w", err)
	}
	return s, u, nil
}

// expired returns why s is no longer valid at now, or "".
func (m *Manager) expired(s storage.Session, now time.Time) string {
	switch {
	case !now.Before(s.ExpiresAt):
		return "session reached its absolute lifetime"
	case !now.Before(s.CreatedAt.Add(m.absolute())):
		// A shorter AbsoluteTimeout configured after the session was made applies too.
		return "session reached its absolute lifetime"
	case now.Sub(s.LastSeenAt) >= m.idle():
		return "session idle for too long"
	}
	return ""
}

// Destroy ends the request's session, if any, and clears the cookie.
func (m *Manager) Destroy(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	m.clearCookie(w)
	c, err := r.Cookie(m.Name())
	if err != nil || c.Value == "" {
		return nil
	}
	err = m.Store.DeleteSession(ctx, secret.KeyedID(c.Value))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// CSRFHeader carries the CSRF token on state-changing requests that a
// session cookie authenticates.
const CSRFHeader = "X-CSRF-Token"

// CSRFToken is the anti-forgery token of a session. It is derived from the
// session ID (itself the hash of the cookie secret, never sent to the
// browser), so every node computes it without storing anything, and another
// site — which cannot read Keyward's pages — cannot learn it.
func CSRFToken(sessionID string) string {
	return secret.HashHex("csrf:" + sessionID)[:32]
}
