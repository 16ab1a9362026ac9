package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// opStorage is Keyward's storage as the zitadel/oidc provider uses it.
type opStorage struct{ p *Provider }

var (
	_ op.Storage                   = opStorage{}
	_ op.ClientCredentialsStorage  = opStorage{}
	_ op.CanSetUserinfoFromRequest = opStorage{}
)

// reqState is per-request scratch the library's calls share: the client
// the request authenticated as (its signing algorithm and object ID) with
// its count of wrong secrets, and the user the tokens are for. The library
// asks for the client twice in a token request (to authenticate it, then to
// check its grant types), a code exchange needs the code's request, its
// user and its client, and a refresh reads the user twice (may they sign
// in, then their claims): each is read from the database once per request,
// the client with its failures in one query, and in a code exchange the
// code with its user and its client in one query.
type reqState struct {
	app          *storage.Application
	failures     int  // wrong secrets of app in the current window
	failuresRead bool // failures was read with app
	user         *storage.UserClaims
	// redeemed is the grant whose code this request redeemed and whose
	// tokens it stored: revoked again when the request fails after that
	// (a wrong secret or PKCE verifier; Provider.Handler).
	redeemed string
	// client sent the request (its address as the edge resolved it).
	client session.Client
	// refreshRecord is the sign-in log line of the refresh this request
	// was granted, stored with the rotation (CreateAccessAndRefreshTokens).
	refreshRecord *storage.SignInEvent
	// authReq is the authorization request this request created or read,
	// as it stands after this request's own writes: an authorization
	// whose hand-off and callback run in the same request (the edge's
	// follow of its redirects) reads it once. No one else can have
	// changed it meanwhile: its ID reaches the browser with the response.
	authReq *authRequest
	// deferAuth: the request this HTTP request creates is written once,
	// when it gets its code or at FinishAuthorization
	// (BeginAuthorization); authPending: authReq is such a request, not
	// written yet; authRecord: the sign-in record of its completion.
	deferAuth, authPending bool
	authRecord             *storage.SignInEvent
}

// secretFailuresKey prefixes an app's object ID in the rate-limit counter
// of its wrong secrets.
const secretFailuresKey = "oidc-client:"

type stateKey struct{}

func withState(ctx context.Context, c session.Client) context.Context {
	return context.WithValue(ctx, stateKey{}, &reqState{client: c})
}

func stateFrom(ctx context.Context) *reqState {
	if s, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{}
}

type sessionKey struct{}

// WithBrowserSession tells the provider which Keyward session the browser
// making this request holds (nil = none).
func WithBrowserSession(ctx context.Context, s *storage.Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func browserSession(ctx context.Context) *storage.Session {
	s, _ := ctx.Value(sessionKey{}).(*storage.Session)
	return s
}

// invalidClient refuses an unknown client or a wrong secret. It is an OAuth
// error, not a plain one, so that endpoints which turn plain errors into
// server_error (end-session) answer with a 4xx. A new value each time: the
// library's error methods change their receiver.
func invalidClient() error {
	return oidc.ErrInvalidClient().WithDescription("unknown client or wrong secret")
}

func (s opStorage) app(ctx context.Context, clientID string) (storage.Application, error) {
	if clientID == "" || len(clientID) > 100 {
		return storage.Application{}, invalidClient()
	}
	st := stateFrom(ctx)
	if st.app != nil && st.app.AppID == clientID {
		return *st.app, nil
	}
	a, failures, err := s.p.store.GetClient(ctx, clientID, secretFailuresKey, s.p.cfg.SecretFailureWindow, s.p.now())
	if errors.Is(err, storage.ErrNotFound) {
		// Unwraps to ErrNotFound: Continue tells an app deleted meanwhile.
		return a, oidc.ErrInvalidClient().WithDescription("unknown client or wrong secret").WithParent(err)
	}
	if err != nil {
		return a, oidc.ErrServerError().WithParent(err)
	}
	st.app, st.failures, st.failuresRead = &a, failures, true
	return a, nil
}

// user reads the user's claims once per request (reqState).
func (s opStorage) user(ctx context.Context, id string) (storage.UserClaims, error) {
	st := stateFrom(ctx)
	if st.user != nil && st.user.ID == id {
		return *st.user, nil
	}
	u, err := s.p.store.GetUser(ctx, id)
	if err != nil {
		return storage.UserClaims{}, err
	}
	c := u.Claims()
	st.user = &c
	return c, nil
}

// GetClientByClientID implements op.Storage.
func (s opStorage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	a, err := s.app(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return client{app: a, idTokenLife: s.p.cfg.IDTokenTTL}, nil
}

// AuthorizeClientIDSecret implements op.Storage: the secret must match one
// of the app's unexpired password credentials. Wrong secrets count against
// the client like password failures, and once the limit is full even the
// right secret is refused until the window ends. Unlike a password, the
// secret is judged before the failure is counted: it is 256 random bits
// compared by its SHA-256 in constant time, so the check is cheap and a burst
// of guesses gains nothing, while counting every attempt first would let a
// busy application's own concurrent requests (more than the limit in flight)
// refuse each other with a right secret.
func (s opStorage) AuthorizeClientIDSecret(ctx context.Context, clientID, clientSecret string) error {
	a, err := s.app(ctx, clientID)
	if err != nil {
		return err
	}
	key, window, now := secretFailuresKey+a.ID, s.p.cfg.SecretFailureWindow, s.p.now()
	tooMany := oidc.ErrInvalidClient().WithDescription("too many wrong client secrets; try again later")
	if !checkSecret(a, clientSecret, now) {
		full, err := s.p.store.ReserveRateLimits(ctx, []storage.RateLimit{{Key: key, Max: s.p.cfg.SecretFailureLimit}}, window, now)
		if err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		if full >= 0 {
			return tooMany
		}
		return invalidClient()
	}
	failures := stateFrom(ctx).failures // read with the app
	if !stateFrom(ctx).failuresRead {
		if failures, err = s.p.store.RateLimitCount(ctx, key, window, now); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
	}
	if failures >= s.p.cfg.SecretFailureLimit {
		return tooMany
	}
	return nil
}

// checkSecret compares the secret's hash with every credential in constant time.
func checkSecret(a storage.Application, sec string, now time.Time) bool {
	if sec == "" {
		return false
	}
	h := secret.Hash(sec)
	ok := false
	for _, pc := range a.PasswordCredentials {
		if subtle.ConstantTimeCompare(h, pc.SecretHash) == 1 && !now.Before(pc.StartAt) && now.Before(pc.EndAt) {
			ok = true
		}
	}
	return ok
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s opStorage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, clientID, clientSecret); err != nil {
		return nil, err
	}
	return s.GetClientByClientID(ctx, clientID)
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
func (s opStorage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	a, err := s.app(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if len(a.WebRedirectURIs) == 0 {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("a public client cannot use client credentials")
	}
	return &clientCredentialsRequest{app: a, scopes: slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool {
		return sc == oidc.ScopeOpenID || sc == oidc.ScopeOfflineAccess
	})}, nil
}

// CreateAuthRequest implements op.AuthStorage.
func (s opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	now := s.p.now()
	rec := storage.AuthRequest{ID: newRequestID(), ClientID: req.ClientID, Request: raw,
		CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.AuthRequestTTL)}
	a := &authRequest{rec: rec, req: *req}
	st := stateFrom(ctx)
	st.authReq, st.authPending = a, st.deferAuth
	if st.authPending {
		return a, nil
	}
	if err := s.p.store.CreateAuthRequest(ctx, rec); err != nil {
		return nil, err
	}
	return a, nil
}

// storePending writes the request this HTTP request created and has not
// written yet (reqState.authPending), as it stands: completed, with its
// completion's record, or not.
func (s opStorage) storePending(ctx context.Context) error {
	st := stateFrom(ctx)
	if !st.authPending {
		return nil
	}
	st.authPending = false // tried once: a failure is the answer's
	if st.authReq.rec.Done {
		return s.p.store.CreateCompletedAuthRequest(ctx, st.authReq.rec, st.authRecord)
	}
	return s.p.store.CreateAuthRequest(ctx, st.authReq.rec)
}

// load reads an unexpired request, once per HTTP request (reqState.authReq).
func (s opStorage) load(ctx context.Context, id string) (*authRequest, error) {
	st := stateFrom(ctx)
	a := st.authReq
	if a == nil || a.rec.ID != id {
		rec, err := s.p.store.GetAuthRequest(ctx, id)
		if err != nil {
			return nil, err
		}
		if a, err = decodeAuthRequest(rec); err != nil {
			return nil, err
		}
		st.authReq = a
	}
	if !s.p.now().Before(a.rec.ExpiresAt) {
		return nil, fmt.Errorf("auth request %s expired: %w", id, storage.ErrNotFound)
	}
	return a, nil
}

func decodeAuthRequest(rec storage.AuthRequest) (*authRequest, error) {
	a := &authRequest{rec: rec}
	if err := json.Unmarshal(rec.Request, &a.req); err != nil {
		return nil, fmt.Errorf("auth request %s: %w", rec.ID, err)
	}
	return a, nil
}

// AuthRequestByID implements op.AuthStorage. It is what the callback after
// sign-in reads: the request must have been completed by the session the
// browser holds, and only once, so a leaked request ID gets no code.
func (s opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.rec.Done {
		sess := browserSession(ctx)
		if sess == nil || sess.ID != a.rec.SessionID {
			return nil, errors.New("this sign-in was completed in another browser")
		}
		if a.rec.CodeHash != nil {
			return nil, errors.New("this sign-in has already returned to the application")
		}
	}
	return a, nil
}

// SaveAuthCode implements op.AuthStorage: one code per request, stored hashed.
func (s opStorage) SaveAuthCode(ctx context.Context, id, code string) error {
	now := s.p.now()
	exp := now.Add(s.p.cfg.CodeTTL)
	if st := stateFrom(ctx); st.authPending && st.authReq.rec.ID == id {
		// Created, completed and given its code in this HTTP request: one write.
		st.authReq.rec.CodeHash, st.authReq.rec.CodeExpiresAt = secret.Hash(code), &exp
		return s.storePending(ctx)
	}
	return s.p.store.SetAuthCode(ctx, id, secret.Hash(code), exp)
}

// AuthRequestByCode implements op.AuthStorage. It redeems the code as it
// reads it: one statement (on PostgreSQL, one round trip) uses the code up
// and stores its tokens, which CreateAccessToken and
// CreateAccessAndRefreshTokens then hand to the library. The library checks
// the client's secret and the PKCE verifier after this; when a check fails,
// the grant's tokens are revoked again (Provider.Handler) and the code stays
// used: RFC 6749 §10.5 lets a server invalidate a code on a failed attempt.
// A code presented after it was used revokes every token issued for it
// (RFC 6749 §4.1.2).
func (s opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	now := s.p.now()
	acc, accID := newBearer(opaquePrefix)
	ref, refID := newBearer(refreshPrefix)
	jti := newKey()
	t := storage.CodeTokens{AccessID: accID, AccessJTI: jti, RefreshID: refID,
		AccessExpiresAt: now.Add(s.p.cfg.AccessTokenTTL), RefreshExpiresAt: now.Add(s.p.cfg.RefreshTokenTTL)}
	g, err := s.p.store.RedeemCode(ctx, secret.Hash(code), secretFailuresKey, s.p.cfg.SecretFailureWindow, now, t)
	if g.Request.ID != "" {
		// The user for the ID token's claims; the client for the
		// library's next step, which reads the presented client_id: when
		// it is the code's, the client is not read again.
		st := stateFrom(ctx)
		st.user = &g.User
		st.app, st.failures, st.failuresRead = &g.Client, g.ClientFailures, true
	}
	switch {
	case errors.Is(err, storage.ErrConflict):
		s.revokeCode(ctx, g.Request)
		return nil, errors.New("code already used")
	case errors.Is(err, storage.ErrNotFound) && g.Request.ID != "":
		return nil, errors.New("code expired")
	case err != nil:
		return nil, err
	}
	stateFrom(ctx).redeemed = g.Request.ID
	a, err := decodeCodeRequest(g.Request)
	if err != nil {
		return nil, err
	}
	a.issued = &issuedTokens{access: jti, expires: t.AccessExpiresAt}
	if g.AccessID == accID {
		a.issued.access = acc
	}
	if g.Refresh {
		a.issued.refresh = ref
	}
	return a, nil
}

// codeRequest is the part of a stored authorization request (the JSON of an
// oidc.AuthRequest, same names) that redeeming its code reads: the
// redirect URI and PKCE challenge to check, the scopes, nonce and response
// type of the tokens. Decoding only these skips the prompt, locales (parsed
// as language tags), login and ID token hints, which only the sign-in path
// reads, and most of the garbage a full decode makes on every exchange.
type codeRequest struct {
	Scopes              oidc.SpaceDelimitedArray `json:"scope"`
	ResponseType        oidc.ResponseType        `json:"response_type"`
	RedirectURI         string                   `json:"redirect_uri"`
	State               string                   `json:"state"`
	Nonce               string                   `json:"nonce"`
	ResponseMode        oidc.ResponseMode        `json:"response_mode"`
	CodeChallenge       string                   `json:"code_challenge"`
	CodeChallengeMethod oidc.CodeChallengeMethod `json:"code_challenge_method"`
}

// decodeCodeRequest is decodeAuthRequest for a code exchange (codeRequest).
func decodeCodeRequest(rec storage.AuthRequest) (*authRequest, error) {
	var c codeRequest
	if err := json.Unmarshal(rec.Request, &c); err != nil {
		return nil, fmt.Errorf("auth request %s: %w", rec.ID, err)
	}
	return &authRequest{rec: rec, req: oidc.AuthRequest{Scopes: c.Scopes, ResponseType: c.ResponseType,
		ClientID: rec.ClientID, RedirectURI: c.RedirectURI, State: c.State, Nonce: c.Nonce,
		ResponseMode: c.ResponseMode, CodeChallenge: c.CodeChallenge, CodeChallengeMethod: c.CodeChallengeMethod}}, nil
}

func (s opStorage) revokeCode(ctx context.Context, rec storage.AuthRequest) {
	n, err := s.p.store.RevokeOIDCGrant(ctx, rec.ID)
	if err != nil {
		s.p.log.ErrorContext(ctx, "oidc: revoke tokens of a reused code", "error", err)
		return
	}
	s.p.log.WarnContext(ctx, "oidc: authorization code used twice; its tokens are revoked",
		"client_id", rec.ClientID, "user_id", rec.UserID, "revoked", n)
}

// store saves newly issued tokens. A code's tokens are stored by the
// statement that redeems it (AuthRequestByCode), never here: storing them
// apart would leave the code usable.
func (s opStorage) store(ctx context.Context, req op.TokenRequest, ts ...storage.OIDCToken) error {
	if _, ok := req.(*authRequest); ok {
		return errors.New("oidc: a code's tokens are stored when the code is redeemed")
	}
	return s.p.store.CreateOIDCTokens(ctx, ts...)
}

// DeleteAuthRequest implements op.AuthStorage. The request is kept until it
// expires instead: a second use of its code must still find it to revoke
// what the first use was given.
func (s opStorage) DeleteAuthRequest(context.Context, string) error { return nil }

// newKey is the ID of a new JWT access token (its jti) or client
// credentials grant: a UUIDv7, whose time order puts each new row at the end
// of its table and indexes, so concurrent requests' writes share pages
// (newBearer).
func newKey() string { return uuid.Must(uuid.NewV7()).String() }

// newRequestID is the ID of a new authorization request, which is also the
// ID of the grant its code's tokens belong to: time-ordered like newKey,
// with 64 more random bits after the UUIDv7's 62, since the ID travels in
// the sign-in page's URL and must not be guessed.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return newKey() + "-" + hex.EncodeToString(b[:])
}

// grantOf describes who a token is for.
type grantOf struct {
	id, userID, acr string
	amr             []string
	authTime        time.Time
	aud             []string
}

func (s opStorage) grant(req op.TokenRequest) (grantOf, error) {
	switch r := req.(type) {
	case *authRequest:
		return grantOf{id: r.rec.ID, userID: r.rec.UserID, acr: r.rec.ACR, amr: r.rec.AMR,
			authTime: r.rec.AuthTime, aud: r.GetAudience()}, nil
	case *refreshRequest:
		return grantOf{id: r.tok.GrantID, userID: r.tok.UserID, acr: r.tok.ACR, amr: r.tok.AMR,
			authTime: r.tok.AuthTime, aud: r.tok.Audience}, nil
	case *clientCredentialsRequest:
		return grantOf{id: newKey(), aud: r.GetAudience()}, nil
	}
	return grantOf{}, fmt.Errorf("unsupported token request %T", req)
}

func (s opStorage) newToken(ctx context.Context, kind string, g grantOf, scopes []string, ttl time.Duration) (storage.OIDCToken, error) {
	a := stateFrom(ctx).app
	if a == nil {
		return storage.OIDCToken{}, errors.New("token request without an authenticated client")
	}
	now := s.p.now()
	return storage.OIDCToken{ID: newKey(), Kind: kind, GrantID: g.id, ApplicationID: a.ID,
		ClientID: a.AppID, UserID: g.userID, Scopes: slices.Clone(scopes), Audience: g.aud, AMR: g.amr,
		ACR: g.acr, AuthTime: g.authTime, CreatedAt: now, ExpiresAt: now.Add(ttl)}, nil
}

// newAccessToken is an access token's row and what the library is given for
// it: for an app with JWT access tokens the row's ID, which becomes the
// JWT's jti; for an opaque one the token itself, 256 random bits whose
// SHA-256 is the row's ID (the database never holds the token, as for
// refresh tokens), which tokenCrypto hands to the client as it is.
func (s opStorage) newAccessToken(ctx context.Context, g grantOf, scopes []string) (storage.OIDCToken, string, error) {
	t, err := s.newToken(ctx, storage.TokenAccess, g, scopes, s.p.cfg.AccessTokenTTL)
	if err != nil {
		return t, "", err
	}
	if a := stateFrom(ctx).app; a.AccessTokenType != AccessTokenOpaque {
		return t, t.ID, nil
	}
	tok, id := newBearer(opaquePrefix)
	t.ID = id
	return t, tok, nil
}

// CreateAccessToken implements op.AuthStorage.
func (s opStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := s.grant(req)
	if err != nil {
		return "", time.Time{}, err
	}
	if a, ok := req.(*authRequest); ok && a.issued != nil {
		return a.issued.access, a.issued.expires, nil
	}
	t, id, err := s.newAccessToken(ctx, g, req.GetScopes())
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.store(ctx, req, t); err != nil {
		return "", time.Time{}, err
	}
	return id, t.ExpiresAt, nil
}

// CreateAccessAndRefreshTokens implements op.AuthStorage. A refresh token is
// rotated: the presented one is used up in the same transaction that stores
// its successor, so of two uses exactly one succeeds and the other revokes
// the chain (RFC 9700 §4.14.2, refresh token rotation; RFC 6749 §6 allows
// issuing a new refresh token on every use).
func (s opStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	if a, ok := req.(*authRequest); ok && a.issued != nil {
		if a.issued.refresh == "" {
			return "", "", time.Time{}, errors.New("a refresh token for a code that did not ask for one")
		}
		return a.issued.access, a.issued.refresh, a.issued.expires, nil
	}
	g, err := s.grant(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	acc, accID, err := s.newAccessToken(ctx, g, req.GetScopes())
	if err != nil {
		return "", "", time.Time{}, err
	}
	ref, err := s.newToken(ctx, storage.TokenRefresh, g, req.GetScopes(), s.p.cfg.RefreshTokenTTL)
	if err != nil {
		return "", "", time.Time{}, err
	}
	refresh, refID := newBearer(refreshPrefix)
	ref.ID = refID
	acc.RefreshID = ref.ID
	if current == "" {
		err = s.store(ctx, req, acc, ref)
	} else {
		err = s.p.store.RotateRefreshToken(ctx, bearerID(current), s.p.now(), stateFrom(ctx).refreshRecord, acc, ref)
		if errors.Is(err, storage.ErrConflict) {
			t := storage.OIDCToken{GrantID: g.id}
			if r, ok := req.(*refreshRequest); ok {
				t = r.tok
			}
			s.revokeReused(ctx, t)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		if errors.Is(err, storage.ErrNotFound) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token expired or revoked")
		}
	}
	if err != nil {
		return "", "", time.Time{}, err
	}
	return accID, refresh, acc.ExpiresAt, nil
}

// revokeReused revokes the grant of t, a rotated refresh token used again
// (its holder or whoever stole it is not the one who used it first), and
// logs the attempt in the sign-in log: a failed non-interactive sign-in of
// its user to its app, from the client that sent it.
func (s opStorage) revokeReused(ctx context.Context, t storage.OIDCToken) {
	n, err := s.p.store.RevokeOIDCGrant(ctx, t.GrantID)
	if err != nil {
		s.p.log.ErrorContext(ctx, "oidc: revoke a reused refresh token's chain", "error", err)
		return
	}
	s.p.log.WarnContext(ctx, "oidc: a rotated refresh token was used again; its chain is revoked",
		"grant", t.GrantID, "revoked", n)
	if t.UserID == "" {
		return
	}
	st := stateFrom(ctx)
	e := storage.SignInEvent{Time: s.p.now().UTC(), UserID: t.UserID, Method: MethodRefreshToken,
		Result: storage.ResultFailure, FailureCode: FailureCodeRefreshTokenReused, FailureReason: refreshTokenReused,
		IP: st.client.IP, UserAgent: st.client.UserAgent, AppID: t.ClientID}
	if u, err := s.user(ctx, t.UserID); err == nil {
		e.UserPrincipalName = u.UserPrincipalName
	}
	if a := st.app; a != nil && a.ID == t.ApplicationID {
		e.AppDisplayName = a.DisplayName
	}
	if err := s.p.store.RecordSignIn(ctx, storage.SignInRecord{Event: e}); err != nil {
		s.p.log.ErrorContext(ctx, "oidc: log a reused refresh token", "error", err)
	}
}

// MethodRefreshToken is the sign-in log's method of a token refresh: a
// non-interactive sign-in (Graph's isInteractive false).
const MethodRefreshToken = "refreshToken"

// FailureCodeRefreshTokenReused is the sign-in log's code of a rotated
// refresh token used again.
const FailureCodeRefreshTokenReused = "refreshTokenReused"

const refreshTokenReused = "A refresh token was used again after it had been exchanged; every token of its sign-in is revoked, and the app must sign the user in again."

// TokenRequestByRefreshToken implements op.AuthStorage.
func (s opStorage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	t, u, err := s.p.store.GetUserToken(ctx, bearerID(token), storage.TokenRefresh)
	if err != nil {
		return nil, op.ErrInvalidRefreshToken
	}
	c := u.Claims()
	stateFrom(ctx).user = &c
	if t.RotatedAt != nil {
		s.revokeReused(ctx, t)
		return nil, op.ErrInvalidRefreshToken
	}
	if !s.p.now().Before(t.ExpiresAt) {
		return nil, op.ErrInvalidRefreshToken
	}
	if a := stateFrom(ctx).app; a != nil && a.ID != t.ApplicationID {
		return nil, op.ErrInvalidRefreshToken
	}
	// Disabled users' tokens stop at once (a deleted user's are gone).
	if !u.AccountEnabled {
		return nil, oidc.ErrInvalidGrant().WithDescription("the user cannot sign in")
	}
	if err := s.accessAtRefresh(ctx, t, &u); err != nil {
		return nil, err
	}
	return &refreshRequest{tok: t, scopes: t.Scopes}, nil
}

// accessAtRefresh asks conditional access again, with the sign-in the
// grant came from: a policy made or tightened since, or a sign-in frequency
// run out, stops the refresh, and the app must send the person through
// authorize again. The token does not keep the passkey's model or the
// person's address, so a strength restricted to key models, or a policy for
// named locations only, also sends them back through authorize, where the
// browser's session has both. A refresh granted is logged with the
// rotation (reqState.refreshRecord).
func (s opStorage) accessAtRefresh(ctx context.Context, t storage.OIDCToken, u *storage.User) error {
	if s.p.cfg.Access == nil {
		return nil
	}
	st := stateFrom(ctx)
	req := AccessRequest{Session: storage.Session{UserID: t.UserID, AuthMethods: t.AMR, CreatedAt: t.AuthTime},
		User: u, AppID: t.ClientID, Client: st.client}
	if st.app != nil && st.app.AppID == t.ClientID {
		req.AppName = st.app.DisplayName
	}
	v, err := s.p.cfg.Access(ctx, req)
	if err != nil {
		return err
	}
	if v.Decision != AccessGrant {
		return oidc.ErrInvalidGrant().WithDescription("conditional access requires the user to sign in again")
	}
	st.refreshRecord = v.Record
	return nil
}

// TerminateSession implements op.AuthStorage: RP-initiated logout ends the
// browser's Keyward session when it belongs to that user.
func (s opStorage) TerminateSession(ctx context.Context, userID, _ string) error {
	sess := browserSession(ctx)
	if sess == nil || (userID != "" && sess.UserID != userID) {
		return nil
	}
	if err := s.p.store.DeleteSession(ctx, sess.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// RevokeToken implements op.AuthStorage (RFC 7009). Revoking a refresh
// token revokes its whole grant; an unknown token is not an error.
func (s opStorage) RevokeToken(ctx context.Context, id, _, clientID string) *oidc.Error {
	t, err := s.p.store.GetOIDCToken(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
	}
	if t.Kind == storage.TokenRefresh {
		_, err = s.p.store.RevokeOIDCGrant(ctx, t.GrantID)
	} else {
		err = s.p.store.RevokeOIDCToken(ctx, t.ID)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo implements op.AuthStorage.
func (s opStorage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	t, err := s.p.store.GetOIDCToken(ctx, bearerID(token))
	if err != nil || t.Kind != storage.TokenRefresh {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.UserID, t.ID, nil
}

// SigningKey implements op.AuthStorage: the key of the algorithm the
// request's app chose.
func (s opStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := AlgES256
	if a := stateFrom(ctx).app; a != nil && a.SigningAlg != "" {
		alg = a.SigningAlg
	}
	return s.p.keys.signer(ctx, alg)
}

// SignatureAlgorithms implements op.AuthStorage.
func (s opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256, jose.RS256}, nil
}

// KeySet implements op.AuthStorage.
func (s opStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.p.keys.published(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out, nil
}

// SetUserinfoFromScopes implements op.OPStorage; SetUserinfoFromRequest does the work.
func (s opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest (ID tokens).
func (s opStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.userinfo(ctx, ui, req.GetSubject(), scopes); err != nil {
		return err
	}
	// The library reads acr only from an authorization request; a refresh
	// carries the original sign-in's acr through this claim instead.
	if r, ok := req.(*refreshRequest); ok && r.tok.ACR != "" {
		ui.AppendClaims("acr", r.tok.ACR)
	}
	return nil
}

// SetUserinfoFromToken implements op.OPStorage (the userinfo endpoint):
// the access token must still be in the database. subject is a JWT's sub,
// and empty for an opaque token (tokenCrypto), whose row says whose it is.
func (s opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.activeToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if t.UserID == "" || (subject != "" && t.UserID != subject) {
		return errors.New("the token is not a user's")
	}
	if slices.Contains(t.Scopes, ScopeGroups) {
		// Only its app says whether the groups go with that scope.
		a, err := s.p.store.GetApplication(ctx, t.ApplicationID)
		if err != nil {
			return err
		}
		stateFrom(ctx).app = &a
	}
	return s.userinfo(ctx, ui, t.UserID, t.Scopes)
}

// activeToken reads an unexpired access token by ID; a user's is read with
// the user, whose claims the request then has (reqState.user).
func (s opStorage) activeToken(ctx context.Context, id string) (storage.OIDCToken, error) {
	t, u, err := s.p.store.GetUserToken(ctx, id, storage.TokenAccess)
	if errors.Is(err, storage.ErrNotFound) {
		t, err = s.p.store.GetOIDCToken(ctx, id) // a client's own (client credentials)
	} else if err == nil {
		c := u.Claims()
		stateFrom(ctx).user = &c
	}
	if err != nil {
		return t, errors.New("token revoked or unknown")
	}
	if t.Kind != storage.TokenAccess || !s.p.now().Before(t.ExpiresAt) {
		return t, errors.New("token expired")
	}
	return t, nil
}

// SetIntrospectionFromToken implements op.OPStorage. Only the app a token
// was issued to learns that it is active. An inactive token is an error
// here: the library answers {"active": true} to every nil, and {"active":
// false} with resp as it is to an error, so resp is filled only once the
// token is known to be active.
func (s opStorage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.activeToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if t.ClientID != clientID {
		return errors.New("the token was issued to another client")
	}
	if subject == "" { // an opaque token: the user's, or the client's own (client credentials)
		subject = t.UserID
		if subject == "" {
			subject = t.ClientID
		}
	}
	var ui *oidc.UserInfo
	if t.UserID != "" {
		ui = new(oidc.UserInfo)
		if err := s.userinfo(ctx, ui, t.UserID, t.Scopes); err != nil {
			return err
		}
	}
	resp.Active, resp.Scope, resp.ClientID, resp.TokenType = true, t.Scopes, t.ClientID, oidc.BearerToken
	resp.Subject, resp.Audience, resp.JWTID = subject, t.Audience, t.ID
	resp.Expiration, resp.IssuedAt = oidc.FromTime(t.ExpiresAt), oidc.FromTime(t.CreatedAt)
	if ui != nil {
		resp.AuthTime, resp.AuthenticationMethodsReferences = oidc.FromTime(t.AuthTime), t.AMR
		resp.SetUserInfo(ui)
		resp.Username = ui.PreferredUsername
	}
	return nil
}

// GetPrivateClaimsFromScopes implements op.OPStorage: no extra claims in access tokens.
func (s opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.OPStorage: Keyward does not accept
// client-signed JWTs (private_key_jwt, JWT profile).
func (s opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("client keys are not supported")
}

// ValidateJWTProfileScopes implements op.OPStorage (unsupported grant).
func (s opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

// Health implements op.Storage.
func (s opStorage) Health(ctx context.Context) error { return s.p.store.Ping(ctx) }

// userinfo fills the claims the scopes ask for.
func (s opStorage) userinfo(ctx context.Context, ui *oidc.UserInfo, userID string, scopes []string) error {
	u, err := s.user(ctx, userID)
	if err != nil {
		return err
	}
	if !u.AccountEnabled {
		return errors.New("the user is disabled")
	}
	ui.Subject = u.ID
	if slices.Contains(scopes, oidc.ScopeProfile) {
		ui.Name, ui.PreferredUsername = u.DisplayName, u.UserPrincipalName
		ui.UpdatedAt = oidc.FromTime(u.UpdatedAt)
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		email, verified := EmailClaim(u)
		ui.Email, ui.EmailVerified = email, oidc.Bool(verified)
	}
	if a := stateFrom(ctx).app; a != nil && a.GroupsClaim && slices.Contains(scopes, ScopeGroups) {
		groups, err := s.p.store.UserGroups(ctx, u.ID)
		if err != nil {
			return err
		}
		ids, names := GroupClaims(groups)
		ui.AppendClaims(ClaimGroups, ids)
		ui.AppendClaims(ClaimGroupNames, names)
	}
	return nil
}
