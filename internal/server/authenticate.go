package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// Principal kinds.
const (
	PrincipalToken = "token" // an admin API token
	PrincipalUser  = "user"  // a signed-in user (session cookie)
)

// Principal is who is making the request.
type Principal struct {
	Kind    string // PrincipalToken or PrincipalUser
	Name    string // the token's name, or the user's userPrincipalName
	Role    string // admin role (storage.Role*); "" = none
	UserID  string // the user's ID (users only)
	Session *storage.Session
	User    *storage.User // the signed-in person's record as loaded for this request (users only)
	// MFAMissing marks a person holding an admin role whose session proved
	// one factor only, while admin work needs two (require_mfa_for_admins):
	// RequireRole refuses them with mfaRequired, the admin pages send them to
	// My security info to add a second method.
	MFAMissing bool
	// checkAccess asks conditional access whether the session may be used
	// for an app or a user action (nil: no conditional access).
	checkAccess func(ctx context.Context, appID, userAction string) error
}

// CheckAccess asks conditional access whether the person's session may be
// used for Keyward's surface appID (or, with userAction, for that action).
// API tokens are not sessions and are never asked.
func (p Principal) CheckAccess(ctx context.Context, appID, userAction string) error {
	if p.Kind != PrincipalUser || p.checkAccess == nil {
		return nil
	}
	return p.checkAccess(ctx, appID, userAction)
}

// Actor is the principal as the domain judges it and audit records name it
// ("token:<name>" or "user:<upn>").
func (p Principal) Actor() authz.Actor {
	if p.Kind == PrincipalUser {
		return authz.Actor{Kind: authz.KindUser, Name: p.Name, Role: p.Role, UserID: p.UserID}
	}
	return authz.Token(p.Name, p.Role)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p (for handlers that authenticate in
// another way, and for tests of code that reads PrincipalFrom).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the request's authenticated principal, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// actorFrom is the caller, for the domain's decisions and audit records.
func actorFrom(ctx context.Context) authz.Actor {
	if p, ok := PrincipalFrom(ctx); ok {
		return p.Actor()
	}
	return authz.Actor{}
}

// authenticate puts the caller's principal in the context. A request that
// presents a Bearer token must present a valid one (401 otherwise); a session
// cookie that no longer works is simply ignored, so a stale cookie never
// locks anyone out of public pages. Neither is required here: RequireRole
// (or the handler) decides whether a principal is needed. With csrf, a
// browser request that changes something must carry its session's CSRF
// token. The session the cookie names, if any, is kept in the context for
// the sign-in steps (see loadedSession), signed in or half signed in.
func (s *Server) authenticate(next http.Handler, csrf bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok, loaded, err := s.principal(r)
		if err != nil {
			if apperr.As(err).Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="keyward", error="invalid_token"`)
			}
			WriteError(w, r, err)
			return
		}
		if ok && csrf && p.Kind == PrincipalUser && !safeMethod(r.Method) &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get(session.CSRFHeader)), []byte(session.CSRFToken(p.Session.ID))) != 1 {
			WriteError(w, r, apperr.New(http.StatusForbidden, "csrfTokenInvalid",
				"this request changes something but lacks the page's CSRF token (header %s); reload the page and try again", session.CSRFHeader))
			return
		}
		ctx := r.Context()
		if loaded != nil {
			ctx = context.WithValue(ctx, loadedSessionKey{}, *loaded)
		}
		if ok {
			if info := infoFrom(ctx); info != nil {
				info.actor = p.Actor().String()
			}
			ctx = WithPrincipal(ctx, p)
		}
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

type loadedSessionKey struct{}

// loadedSession is the session the request's cookie named when the
// middleware loaded it, whether or not it authenticates anyone (a half
// finished sign-in, a disabled user's): the sign-in steps end it or finish
// it without loading it again.
func loadedSession(r *http.Request) (storage.Session, bool) {
	s, ok := r.Context().Value(loadedSessionKey{}).(storage.Session)
	return s, ok
}

// safeMethod reports whether a method only reads.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// principal resolves the caller, and returns the session the cookie named
// (nil when none was loaded).
func (s *Server) principal(r *http.Request) (Principal, bool, *storage.Session, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		p, err := s.tokenPrincipal(r.Context(), h)
		return p, err == nil, nil, err
	}
	if s.sessions != nil {
		return s.sessionPrincipal(r)
	}
	return Principal{}, false, nil, nil
}

const tokenHint = "create one with: keyward token create --name NAME --role ROLE"

func (s *Server) tokenPrincipal(ctx context.Context, header string) (Principal, error) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, apperr.Unauthorized("the Authorization header must be \"Bearer <token>\"")
	}
	if len(token) > 512 { // real tokens are 46 characters; do not hash junk
		return Principal{}, apperr.Unauthorized("the API token is not valid; %s", tokenHint)
	}
	t, err := s.store.GetAPITokenByHash(ctx, secret.Hash(token))
	if errors.Is(err, storage.ErrNotFound) {
		return Principal{}, apperr.Unauthorized("the API token is not valid; %s", tokenHint)
	}
	if err != nil {
		return Principal{}, apperr.Internal(fmt.Errorf("look up API token: %w", err))
	}
	if t.RevokedAt != nil {
		return Principal{}, apperr.Unauthorized("the API token %q was revoked; %s", t.Name, tokenHint)
	}
	return Principal{Kind: PrincipalToken, Name: t.Name, Role: t.Role}, nil
}

// sessionPrincipal resolves the session cookie. A disabled or deleted user's
// session stops working at once, not when it expires. The principal's role is
// the user's admin role, so a person signed in with a session can use the
// admin API their role allows.
func (s *Server) sessionPrincipal(r *http.Request) (Principal, bool, *storage.Session, error) {
	// The session with its user, in one read (a session's user is never
	// gone: deleting a user deletes their sessions).
	sess, u, err := s.sessions.Load(r)
	if errors.Is(err, session.ErrNoSession) {
		return Principal{}, false, nil, nil
	}
	if err != nil {
		return Principal{}, false, nil, apperr.Internal(err)
	}
	if sess.SecondFactorPending {
		// Half a sign-in authenticates nothing; only the TOTP step reads it.
		return Principal{}, false, &sess, nil
	}
	if !u.AccountEnabled {
		return Principal{}, false, &sess, nil
	}
	p := Principal{Kind: PrincipalUser, Name: u.UserPrincipalName, Role: u.AdminRole, UserID: u.ID, Session: &sess, User: &u,
		MFAMissing: u.AdminRole != "" && authz.MayAdministerWith(!s.allowSingleFactorAdmins, sess) != nil}
	if s.access != nil {
		ip := clientFrom(r).IP
		p.checkAccess = func(ctx context.Context, appID, userAction string) error {
			return s.access(ctx, sess, u, appID, userAction, ip)
		}
	}
	return p, true, &sess, nil
}

// RequireRole lets a request through only when its principal holds one of
// roles; global-admin may do everything and always passes. Without a
// principal it answers 401, with the wrong role 403 naming the roles needed,
// and to a person whose session lacks the multi-factor sign-in admin work
// needs, 403 mfaRequired. API tokens are never asked for one.
func RequireRole(roles ...string) func(http.Handler) http.Handler {
	allowed := append([]string{}, roles...)
	if !slices.Contains(allowed, storage.RoleGlobalAdmin) {
		allowed = append(allowed, storage.RoleGlobalAdmin)
	}
	need := "the role " + allowed[0]
	if len(allowed) > 1 {
		need = "one of the roles " + strings.Join(allowed, ", ")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="keyward"`)
				WriteError(w, r, apperr.Unauthorized(
					"this call needs an API token in the header Authorization: Bearer <token>; %s", tokenHint))
				return
			}
			if !slices.Contains(allowed, p.Role) {
				WriteError(w, r, apperr.Forbidden("this call needs %s; %s", need, describeRole(p)))
				return
			}
			if p.MFAMissing {
				WriteError(w, r, authz.ErrMFARequired)
				return
			}
			if err := p.CheckAccess(r.Context(), access.AppAdmin, ""); err != nil {
				WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Guards shared by the admin routes. Which target a method-changing call may
// touch is the domain's decision (package authz); these only keep out roles
// that may make no such call at all.
var (
	// anyAdminRole reads: every admin role.
	anyAdminRole = RequireRole(storage.RoleReader, storage.RoleAuthenticationAdmin, storage.RolePrivilegedAuthenticationAdmin)
	// methodAdmins change sign-in methods.
	methodAdmins = RequireRole(storage.RoleAuthenticationAdmin, storage.RolePrivilegedAuthenticationAdmin)
	// policyAdmins change the authentication method policies.
	policyAdmins = RequireRole(storage.RolePrivilegedAuthenticationAdmin)
	// directoryAdmins change users, groups and memberships.
	directoryAdmins = RequireRole(storage.RoleGlobalAdmin)
)

func describeRole(p Principal) string {
	who := fmt.Sprintf("%s %q", p.Kind, p.Name)
	if p.Role == "" {
		return who + " has no admin role"
	}
	return fmt.Sprintf("%s has the role %s", who, p.Role)
}
