// Package oidc is Keyward's OpenID Connect provider: zitadel/oidc's op
// package over Keyward's storage. It issues codes (PKCE S256), ID, access
// and refresh tokens signed with keys kept in the database, and decides what
// an authorization request needs from the browser's session (Continue).
package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// Paths. The provider's endpoints live under /oauth2; ContinuePath is where
// Keyward's sign-in hands a pending authorization request back.
const (
	DiscoveryPath     = "/.well-known/openid-configuration"
	AuthorizePath     = "/oauth2/authorize"
	CallbackPath      = AuthorizePath + "/callback"
	TokenPath         = "/oauth2/token"
	UserinfoPath      = "/oauth2/userinfo"
	RevocationPath    = "/oauth2/revoke"
	IntrospectionPath = "/oauth2/introspect"
	EndSessionPath    = "/oauth2/logout"
	KeysPath          = "/oauth2/keys"
	ContinuePath      = "/oauth2/continue"
)

// ScopeGroups asks for the groups claim (apps that opted in only).
const ScopeGroups = "groups"

// Config configures a Provider; zero durations get the defaults.
type Config struct {
	Store  storage.Storage
	Now    func() time.Time
	Logger *slog.Logger
	// Issuer is the public URL exactly, without a trailing slash.
	Issuer string
	// KeyEncryptionKey (32 bytes) seals signing keys at rest; nil stores them as they are.
	KeyEncryptionKey []byte

	CodeTTL         time.Duration // 60 s
	AuthRequestTTL  time.Duration // 30 min: time to sign in
	AccessTokenTTL  time.Duration // 1 h
	IDTokenTTL      time.Duration // 1 h
	RefreshTokenTTL time.Duration // 30 days
	// Wrong client secrets allowed per app and window (10 per 15 minutes).
	SecretFailureLimit  int
	SecretFailureWindow time.Duration

	// Access is conditional access, asked at every sign-in to an app
	// (Continue) and every refresh of its tokens; nil grants everything.
	Access func(ctx context.Context, req AccessRequest) (AccessVerdict, error)
}

// AccessRequest is one question to conditional access.
type AccessRequest struct {
	// Session is the browser's Keyward session, or for a refresh one made
	// of the sign-in its grant came from (no ID, no address).
	Session storage.Session
	// User is the session's user when the provider has read it (nil: the
	// answer reads it).
	User *storage.User
	// AppID is the application's; AppName its display name, "" when the
	// provider has not read it.
	AppID, AppName string
	// Client is who sent the request asked about: for a refresh, the
	// address and User-Agent its sign-in log line shows.
	Client session.Client
}

// Conditional access decisions, as AccessVerdict.Decision.
const (
	AccessGrant  = "grant"
	AccessBlock  = "block"
	AccessStepUp = "stepUp"
)

// AccessVerdict is conditional access's answer for one sign-in to an app.
type AccessVerdict struct {
	Decision string // AccessGrant, AccessBlock or AccessStepUp
	Text     string // what the person is told when not granted
	Passkey  bool   // only a passkey satisfies the step-up
	// ACR, when it is phr or phrh, is a strength the passkey step-up page
	// can give: a step-up goes there instead of to the sign-in page.
	ACR string
	// Models, when not empty, are the only key models (AAGUIDs) whose
	// passkey meets the strength; the step-up page names them.
	Models []string
	// Record, when set, is the sign-in log line of a sign-in granted: the
	// provider stores it in the transaction that completes the sign-in (the
	// authorization request's, or the one that rotates a refresh token), so
	// a sign-in that then fails there is not logged as a success.
	Record *storage.SignInEvent
}

// Provider is the OpenID Connect provider.
type Provider struct {
	cfg   Config
	store storage.Storage
	now   func() time.Time
	log   *slog.Logger
	keys  *keyRing
	op    *op.Provider
}

// New builds the provider. It does not touch the database: signing keys are
// created on first use.
func New(c Config) (*Provider, error) {
	if c.Store == nil || c.Issuer == "" {
		return nil, errors.New("oidc: Store and Issuer are required")
	}
	if strings.HasSuffix(c.Issuer, "/") {
		return nil, fmt.Errorf("oidc: issuer %q must not end in a slash", c.Issuer)
	}
	if c.KeyEncryptionKey != nil && len(c.KeyEncryptionKey) != 32 {
		return nil, fmt.Errorf("oidc: the key encryption key must be 32 bytes, not %d", len(c.KeyEncryptionKey))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CodeTTL, 60*time.Second)
	def(&c.AuthRequestTTL, 30*time.Minute)
	def(&c.AccessTokenTTL, time.Hour)
	def(&c.IDTokenTTL, time.Hour)
	def(&c.RefreshTokenTTL, 30*24*time.Hour)
	def(&c.SecretFailureWindow, 15*time.Minute)
	if c.SecretFailureLimit <= 0 {
		c.SecretFailureLimit = 10
	}
	p := &Provider{cfg: c, store: c.Store, now: c.Now, log: c.Logger,
		keys: &keyRing{store: c.Store, now: c.Now, kek: c.KeyEncryptionKey}}
	// Codes are the library's encryption of the request ID under this key;
	// Keyward stores only their hash, so a per-process key is enough.
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	conf := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: "/login",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail,
			oidc.ScopeOfflineAccess, ScopeGroups},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr",
			"at_hash", "c_hash", "azp", "name", "preferred_username", "email", "email_verified", "updated_at", ClaimGroups, ClaimGroupNames},
	}
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(AuthorizePath), op.NewEndpoint(TokenPath),
			op.NewEndpoint(UserinfoPath), op.NewEndpoint(RevocationPath), op.NewEndpoint(EndSessionPath),
			op.NewEndpoint(KeysPath)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(IntrospectionPath)),
		op.WithCrypto(tokenCrypto{op.NewAES256GCMCrypto(cryptoKey, "")}),
	}
	if strings.HasPrefix(c.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure()) // localhost only: config validation refuses the rest
	}
	prov, err := op.NewProvider(conf, opStorage{p}, op.StaticIssuer(c.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	p.op = prov
	return p, nil
}

// Issuer is the provider's issuer identifier.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// BeginAuthorization readies r for an authorization whose next steps the
// edge runs within the same HTTP request (ServeAuthorize, then Continue,
// then ServeCallback): the steps share what each read (the client, the
// request), and the request they create is written once, with its
// completion and its code, when it gets its code, or else by
// FinishAuthorization. No one else can change it meanwhile: its ID
// reaches the browser only with the answer.
func (p *Provider) BeginAuthorization(r *http.Request) *http.Request {
	r = p.ctx(r)
	stateFrom(r.Context()).deferAuth = true
	return r
}

// FinishAuthorization stores the request BeginAuthorization's steps
// created, if its code did not: before the answer sends the browser on
// with its ID (to the sign-in page, which brings it back to Continue).
func (p *Provider) FinishAuthorization(ctx context.Context) error {
	return opStorage{p}.storePending(ctx)
}

func (p *Provider) ctx(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return r
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return r.WithContext(withState(op.ContextWithIssuer(r.Context(), p.cfg.Issuer), session.NewClient(host, r.UserAgent())))
}

// Handler serves the machine-facing endpoints (discovery, keys, token,
// userinfo, revocation, introspection) by their paths. A token request
// that redeemed a code and then failed (a wrong client secret or PKCE
// verifier, another client's code) has the tokens stored for the code
// revoked: nobody was given them, and the code stays used.
func (p *Provider) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = p.ctx(r)
		if r.URL.Path != TokenPath {
			p.op.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		p.op.ServeHTTP(sw, r)
		if g := stateFrom(r.Context()).redeemed; g != "" && sw.status != http.StatusOK {
			p.revokeFailedRedemption(context.WithoutCancel(r.Context()), g)
		}
	})
}

// revokeFailedRedemption revokes the tokens a code's redemption stored when
// the token request then failed.
func (p *Provider) revokeFailedRedemption(ctx context.Context, grantID string) {
	n, err := p.store.RevokeOIDCGrant(ctx, grantID)
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: revoke the tokens of a code exchange that failed", "grant", grantID, "error", err)
		return
	}
	p.log.InfoContext(ctx, "oidc: a code exchange failed after its code was used; its tokens are revoked",
		"grant", grantID, "revoked", n)
}

// statusWriter remembers the status of the answer written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeDiscovery is /.well-known/openid-configuration: the library's
// document, narrowed to what Keyward does (no implicit flow, no device
// flow, no session iframe, no JWT grants) and with its acr values.
func (p *Provider) ServeDiscovery(w http.ResponseWriter, r *http.Request) {
	r = p.ctx(r)
	d := op.CreateDiscoveryConfig(r.Context(), p.op, opStorage{p})
	d.DeviceAuthorizationEndpoint, d.CheckSessionIframe = "", ""
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	d.ACRValuesSupported = []string{ACRPhishingResistantHardware, ACRPhishingResistant, ACRMultiFactor, ACRSingleFactor}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	op.Discover(w, d)
}

// ServeAuthorize is the authorization endpoint. r's context carries the
// browser's session (WithBrowserSession), if any.
func (p *Provider) ServeAuthorize(w http.ResponseWriter, r *http.Request) {
	op.Authorize(w, p.ctx(r), authorizer{p.op})
}

// ServeCallback returns a completed request to its app with a code.
func (p *Provider) ServeCallback(w http.ResponseWriter, r *http.Request) {
	op.AuthorizeCallback(w, p.ctx(r), p.op)
}

// ServeEndSession is RP-initiated logout.
func (p *Provider) ServeEndSession(w http.ResponseWriter, r *http.Request) {
	op.EndSession(w, p.ctx(r), p.op)
}

// authorizer adds Keyward's rules to the library's request validation:
// PKCE is S256 or nothing, never plain (RFC 7636 §4.2 and §4.3 allow plain;
// RFC 9700 §2.1.1 says not to), and a public client must use it (RFC 9700
// §2.1.1).
type authorizer struct{ *op.Provider }

func (a authorizer) ValidateAuthRequest(ctx context.Context, req *oidc.AuthRequest, s op.Storage, v *op.IDTokenHintVerifier) (string, error) {
	c, err := s.GetClientByClientID(ctx, req.ClientID)
	if err != nil {
		return "", oidc.ErrInvalidRequestRedirectURI().WithDescription("This application is not registered with Keyward (unknown client_id).").WithParent(err)
	}
	sub, err := op.ValidateAuthRequestClient(ctx, req, c, v)
	if err != nil {
		return "", err
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return "", oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if req.CodeChallenge == "" && c.AuthMethod() == oidc.AuthMethodNone {
		return "", oidc.ErrInvalidRequest().WithDescription("a public client must use PKCE (code_challenge with S256)")
	}
	return sub, nil
}

// StepKind says what the browser does next with a pending request.
type StepKind int

const (
	// StepSignIn: send the person to Keyward's sign-in page, then back to Continue.
	StepSignIn StepKind = iota
	// StepRedirect: go to URL (the callback that returns the code, or the app with an error).
	StepRedirect
	// StepRefuse: show a page with Title and Text; never redirect.
	StepRefuse
	// StepStepUp: the user is signed in, but the request needs a stronger
	// sign-in (ACR, phr or phrh): run a passkey step-up, then come back to Continue.
	StepStepUp
)

// Step is Continue's answer.
type Step struct {
	Kind StepKind
	// Fresh: the browser's session will not do (too old, too weak, or
	// prompt=login): the sign-in page must ask again.
	Fresh bool
	// Passkey: only a passkey meets the app's acr_values.
	Passkey bool
	// ACR is what a step-up must reach (StepStepUp).
	ACR string
	// Models: the step-up needs a passkey of one of these models (AAGUIDs).
	Models []string
	URL    string
	Title  string
	Text   string
}

// Continue decides what a pending authorization request needs, given the
// browser's session (nil = none) and its user (nil: read when needed): a
// sign-in, or, when the session will do, marking the request done and
// going back to the app.
func (p *Provider) Continue(ctx context.Context, id string, sess *storage.Session, user *storage.User) (Step, error) {
	st := opStorage{p}
	expired := Step{Kind: StepRefuse, Title: "This sign-in has expired",
		Text: "Go back to the application and sign in again."}
	a, err := st.load(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return expired, nil
	}
	if err != nil {
		return Step{}, err
	}
	app, err := st.app(ctx, a.rec.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return Step{Kind: StepRefuse, Title: "This application is no longer registered",
			Text: "Ask your administrator about the application you were signing in to."}, nil
	}
	if err != nil {
		return Step{}, err
	}
	now := p.now()
	promptNone := slices.Contains(a.req.Prompt, oidc.PromptNone)
	ok := sess != nil && !sess.SecondFactorPending && FreshEnough(sess.CreatedAt, a.rec.CreatedAt, now, a.req.MaxAge)
	if !ok {
		if promptNone {
			return p.errorStep(a, oidc.ErrLoginRequired().WithDescription("the user is not signed in to Keyward"))
		}
		// With a session that will not do, the sign-in page must ask again
		// rather than pass the same session straight back.
		return Step{Kind: StepSignIn, Fresh: sess != nil, Passkey: WantsPasskey(a.req.ACRValues)}, nil
	}
	if len(app.AssignedGroups) > 0 {
		groups, err := p.store.UserGroupIDs(ctx, sess.UserID)
		if err != nil {
			return Step{}, err
		}
		if !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(app.AssignedGroups, g) }) {
			return Step{Kind: StepRefuse, Title: "You are not assigned to " + app.DisplayName,
				Text: "Your account cannot sign in to this application. Ask your administrator to assign you to it."}, nil
		}
	}
	if need := NeedOfACRValues(a.req.ACRValues); !MeetsACR(ACR(sess.AuthMethods), need.ACR) {
		return p.stepUp(a, need.ACR, "", promptNone)
	}
	// A sign-in granted is logged with the request it completes.
	var record *storage.SignInEvent
	if p.cfg.Access != nil {
		v, err := p.cfg.Access(ctx, AccessRequest{Session: *sess, User: user, AppID: app.AppID, AppName: app.DisplayName})
		if err != nil {
			return Step{}, err
		}
		record = v.Record
		switch v.Decision {
		case AccessBlock:
			return Step{Kind: StepRefuse, Title: "You cannot sign in to " + app.DisplayName + " this way", Text: v.Text}, nil
		case AccessStepUp:
			if promptNone {
				return p.errorStep(a, oidc.ErrInteractionRequired().WithDescription("conditional access requires the user to sign in again"))
			}
			if IsPasskeyACR(v.ACR) {
				return Step{Kind: StepStepUp, ACR: v.ACR, Text: v.Text, Models: v.Models}, nil
			}
			return Step{Kind: StepSignIn, Fresh: true, Passkey: WantsPasskey(a.req.ACRValues) || v.Passkey, Text: v.Text}, nil
		}
	}
	done := storage.AuthCompletion{UserID: sess.UserID, SessionID: sess.ID, AuthTime: sess.CreatedAt,
		AMR: sess.AuthMethods, ACR: ACR(sess.AuthMethods)}
	if st := stateFrom(ctx); st.authPending && st.authReq == a {
		// Created in this HTTP request and not stored yet: stored
		// completed, with its record, when it gets its code.
		a.complete(done)
		st.authRecord = record
		return Step{Kind: StepRedirect, URL: CallbackPath + "?id=" + id}, nil
	}
	err = p.store.CompleteAuthRequest(ctx, id, done, now, record)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return expired, nil
	case errors.Is(err, storage.ErrConflict):
		return Step{Kind: StepRefuse, Title: "This sign-in was completed in another browser",
			Text: "Go back to the application and sign in again."}, nil
	case err != nil:
		return Step{}, err
	}
	a.complete(done)
	return Step{Kind: StepRedirect, URL: CallbackPath + "?id=" + id}, nil
}

// stepUp is the step for a session whose acr does not reach acr: the
// passkey step-up page for phr and phrh, the sign-in page again for the
// rest, and interaction_required when the app asked for no page.
func (p *Provider) stepUp(a *authRequest, acr, text string, promptNone bool) (Step, error) {
	switch {
	case promptNone:
		return p.errorStep(a, oidc.ErrInteractionRequired().WithDescription("the app asks for a stronger sign-in (acr_values)"))
	case IsPasskeyACR(acr):
		return Step{Kind: StepStepUp, ACR: acr, Text: text}, nil
	}
	return Step{Kind: StepSignIn, Fresh: true, Text: text}, nil
}

// errorStep sends an OIDC error to the app's (already validated) redirect URI.
func (p *Provider) errorStep(a *authRequest, e *oidc.Error) (Step, error) {
	e.State = a.GetState()
	u, err := op.AuthResponseURL(a.GetRedirectURI(), a.GetResponseType(), a.GetResponseMode(), e, p.op.Encoder())
	if err != nil {
		return Step{}, err
	}
	return Step{Kind: StepRedirect, URL: u}, nil
}

// CheckKeys loads the signing keys, creating them on first start, so that a
// key that cannot be opened (a missing or wrong oidc_key_encryption_key)
// stops the start instead of every sign-in.
func (p *Provider) CheckKeys(ctx context.Context) error {
	_, err := p.keys.all(ctx)
	return err
}

// MinRotationOverlap is the shortest overlap RotateKeys accepts: every node
// must have seen the new key before any signs with it.
const MinRotationOverlap = keyCacheTTL

// RotateKeys publishes new signing keys, signs with them after overlap, and
// keeps the old ones published until the tokens they signed have expired.
func (p *Provider) RotateKeys(ctx context.Context, overlap time.Duration) ([]storage.SigningKey, error) {
	if overlap < MinRotationOverlap {
		return nil, fmt.Errorf("the overlap must be at least %s, so that every node and app has the new key before it is used", MinRotationOverlap)
	}
	return p.keys.rotate(ctx, overlap, max(p.cfg.IDTokenTTL, p.cfg.AccessTokenTTL))
}

// SigningKeys lists the stored keys, oldest first.
func (p *Provider) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	if _, err := p.keys.all(ctx); err != nil {
		return nil, err
	}
	return p.store.ListSigningKeys(ctx)
}

// Cleanup removes expired authorization requests and tokens, and retired
// signing keys that left the key set (every token they signed has expired).
func (p *Provider) Cleanup(ctx context.Context) (requests, tokens, keys int, err error) {
	now := p.now()
	sweep := func(del func(context.Context, time.Time, int) (int, error)) (int, error) {
		return storage.Sweep(ctx, storage.SweepBatch, func(ctx context.Context, max int) (int, error) {
			return del(ctx, now, max)
		})
	}
	if requests, err = sweep(p.store.DeleteExpiredAuthRequests); err != nil {
		return 0, 0, 0, err
	}
	if tokens, err = sweep(p.store.DeleteExpiredOIDCTokens); err != nil {
		return requests, 0, 0, err
	}
	keys, err = p.store.DeleteExpiredSigningKeys(ctx, now)
	return requests, tokens, keys, err
}
