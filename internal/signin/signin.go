// Package signin runs the sign-in flows other than passkeys — password,
// password + authenticator app, Temporary Access Pass, first-run setup — and
// manages those methods for a signed-in user or an administrator. It decides
// with the pure helpers of internal/mfa, keeps rate-limit counters in the
// database (so every node shares them), writes the sign-in log, and creates
// sessions. Every error it returns for a person is an *apperr.Error.
package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/textlimit"
)

// PendingLifetime is how long a password sign-in waits for its second factor.
const PendingLifetime = 10 * time.Minute

// Limits bound failed sign-in attempts in fixed windows. A failure counts
// against the account (the username as typed, so unknown names count too
// and answers do not reveal which accounts exist) and against the client's
// address; either limit reached refuses further attempts until the window ends.
type Limits struct {
	Window     time.Duration // 0 = 15 minutes
	PerAccount int           // 0 = 10
	PerIP      int           // 0 = 50
}

func (l Limits) withDefaults() Limits {
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	if l.PerAccount <= 0 {
		l.PerAccount = 10
	}
	if l.PerIP <= 0 {
		l.PerIP = 50
	}
	return l
}

// Service runs the flows. Store, Sessions, Directory and Policies are required.
type Service struct {
	Store     storage.Storage
	Sessions  *session.Manager
	Directory *directory.Service
	Policies  *methodpolicy.Service
	Logger    *slog.Logger     // nil = slog.Default()
	Now       func() time.Time // nil = time.Now
	Limits    Limits
}

// Result is a successful step: the user, the new session and its cookie
// secret. SecondFactorRequired marks a pending session that only the TOTP
// step accepts.
type Result struct {
	User                 storage.User
	Session              storage.Session
	Secret               string
	SecondFactorRequired bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Errors a person sees. The password answer is the same for an unknown
// user, a wrong password and a disabled account.
var (
	errInvalidCredentials = apperr.New(http.StatusUnauthorized, "invalidCredentials",
		"that username and password don't match; check them and try again")
	errInvalidTAP = apperr.New(http.StatusUnauthorized, "invalidCredentials",
		"that username and Temporary Access Pass don't match, or the pass has expired or was already used; check them or ask your administrator for a new pass")
	errInvalidCode = apperr.New(http.StatusUnauthorized, "invalidCode",
		"that code is wrong or was already used; enter the current code from your authenticator app")
	errNoPendingSignIn = apperr.New(http.StatusUnauthorized, "signInExpired",
		"this sign-in has expired or was not started; enter your username and password again")
	errBadCodeFormat = apperr.BadRequest("code must be the 6 digits your authenticator app shows")
)

// RetryAfter is carried (as the cause) by a tooManyAttempts error, so the
// HTTP edge can set the Retry-After header.
type RetryAfter struct{ At time.Time }

func (e RetryAfter) Error() string { return "rate limited until " + e.At.Format(time.RFC3339) }

// limitKeys are the rate-limit counters one attempt counts against.
type limitKeys struct{ account, ip string }

func keysFor(username string, c session.Client) limitKeys {
	name := textlimit.Truncate(strings.ToLower(strings.TrimSpace(username)), 300)
	return limitKeys{account: "signin:account:" + name, ip: "signin:ip:" + ipBucket(c.IP)}
}

// ipBucket groups IPv6 addresses by /64, the block one customer usually
// holds, so stepping through addresses of one network does not escape the limit.
func ipBucket(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// attempt is one sign-in attempt counted in the rate limits before it is
// judged. A failed attempt keeps its place; any other outcome (success, a
// malformed request, an internal error) gives it back when the flow ends.
type attempt struct {
	keys   limitKeys
	at     time.Time
	failed bool
}

// reserve counts an attempt against both counters before anything is
// checked, so attempts sent at once cannot all be judged while the counters
// still look low; it refuses the attempt when either counter is full. The
// caller defers s.settle(ctx, a).
// start begins a sign-in step that names a user and proves it with secret
// (whose request field is secretField): both are required, the attempt is
// reserved against the account and the address, and the user is looked up
// (u.ID is "" for an unknown user, ok false for a disabled one). The caller
// settles the attempt.
func (s *Service) start(ctx context.Context, c session.Client, method, username, secretField, secret string) (
	a *attempt, e storage.SignInEvent, u storage.User, ok bool, err error) {
	if err := errors.Join(required("username", username), required(secretField, secret)); err != nil {
		return nil, e, u, false, err
	}
	if a, err = s.reserve(ctx, keysFor(username, c)); err != nil {
		return nil, e, u, false, err
	}
	e = s.event(method, username, c)
	if u, ok, err = s.lookup(ctx, username); err != nil {
		s.settle(ctx, a)
		return nil, e, u, false, err
	}
	e.UserID = u.ID
	return a, e, u, ok, nil
}

func (s *Service) reserve(ctx context.Context, k limitKeys) (*attempt, error) {
	l := s.Limits.withDefaults()
	now := s.now()
	limits := []storage.RateLimit{{Key: k.account, Max: l.PerAccount}, {Key: k.ip, Max: l.PerIP}}
	full, err := s.Store.ReserveRateLimits(ctx, limits, l.Window, now)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("count sign-in attempt: %w", err))
	}
	if full < 0 {
		return &attempt{keys: k, at: now}, nil
	}
	who := "for this account"
	if full == 1 {
		who = "from your network address"
	}
	until := windowEnd(now, l.Window)
	wait := until.Sub(now).Round(time.Minute)
	if wait < time.Minute {
		wait = time.Minute
	}
	return nil, apperr.New(http.StatusTooManyRequests, "tooManyAttempts",
		"too many failed sign-in attempts %s; try again after %s UTC (in about %d minutes)",
		who, until.Format("15:04"), int(wait/time.Minute)).Wrap(RetryAfter{At: until})
}

// settle gives back an attempt that did not fail: only failures count. It
// runs even when the request was cancelled, so the place is not lost.
func (s *Service) settle(ctx context.Context, a *attempt) {
	if a == nil || a.failed {
		return
	}
	l := s.Limits.withDefaults()
	err := s.Store.ReleaseRateLimits(context.WithoutCancel(ctx), []string{a.keys.account, a.keys.ip}, l.Window, a.at)
	if err != nil {
		s.log().ErrorContext(ctx, "give back sign-in attempt", "err", err)
	}
}

// windowEnd is when the fixed window holding now ends (windows are aligned
// to the Unix epoch, as the store aligns them).
func windowEnd(now time.Time, w time.Duration) time.Time {
	us, wus := now.UnixMicro(), w.Microseconds()
	return time.UnixMicro(us - us%wus + wus).UTC()
}

// failed keeps the attempt counted, logs it, and returns the person's answer.
func (s *Service) failed(ctx context.Context, a *attempt, e storage.SignInEvent, reason string, answer error) error {
	a.failed = true
	e.Result, e.FailureReason, e.FailureCode = storage.ResultFailure, reason, apperr.As(answer).Code
	s.record(ctx, storage.SignInRecord{Event: e})
	s.log().InfoContext(ctx, "sign-in refused", "method", e.Method, "user", e.UserPrincipalName, "reason", reason, "ip", e.IP)
	return answer
}

// record writes a log-only sign-in record; a failure to log is logged, not
// returned: the person's answer does not depend on it.
func (s *Service) record(ctx context.Context, r storage.SignInRecord) {
	if err := s.Store.RecordSignIn(ctx, r); err != nil {
		s.log().ErrorContext(ctx, "record sign-in event", "err", err)
	}
}

// event starts the sign-in log line of an attempt; its address and
// User-Agent are the client's, as the session's are.
func (s *Service) event(method, upn string, c session.Client) storage.SignInEvent {
	return storage.SignInEvent{ID: uuid.NewString(), Time: s.now(), UserPrincipalName: textlimit.Truncate(upn, 300),
		Method: method, IP: c.IP, UserAgent: c.UserAgent}
}

// complete stores a successful sign-in (session and log line in one
// transaction) and returns its result.
func (s *Service) complete(ctx context.Context, u storage.User, e storage.SignInEvent, sec string, sess storage.Session) (Result, error) {
	e.UserID, e.UserPrincipalName, e.Result = u.ID, u.UserPrincipalName, storage.ResultSuccess
	if err := s.Store.RecordSignIn(ctx, storage.SignInRecord{Session: &sess, Event: e}); err != nil {
		return Result{}, apperr.Internal(fmt.Errorf("record %s sign-in: %w", e.Method, err))
	}
	return Result{User: u, Session: sess, Secret: sec, SecondFactorRequired: sess.SecondFactorPending}, nil
}

// lookup finds the user a sign-in names; ok is false when there is no
// enabled user of that name. Storage failures are errors.
func (s *Service) lookup(ctx context.Context, username string) (storage.User, bool, error) {
	username = strings.TrimSpace(username)
	if username == "" || len(username) > 4*directory.MaxUPNLength {
		return storage.User{}, false, nil
	}
	u, err := s.Store.GetUserByUPN(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, false, nil
	}
	if err != nil {
		return storage.User{}, false, apperr.Internal(fmt.Errorf("look up user: %w", err))
	}
	return u, u.AccountEnabled, nil
}

// required refuses an empty field before anything is looked up.
func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return apperr.BadRequest("%s is required", field)
	}
	return nil
}
