package storage

import (
	"context"
	"slices"
	"strings"
	"time"
)

// OIDCStorage is what the OpenID Connect provider keeps: app registrations,
// its signing keys, authorization requests with their codes, and the access
// and refresh tokens it issued. All of it is in the database so that a code
// issued by one node is redeemed on another and a revocation holds on all.
type OIDCStorage interface {
	// Applications. AppID (the OIDC client_id) is unique. Deleting an
	// application deletes every token issued to it.
	CreateApplication(ctx context.Context, a Application) error
	GetApplication(ctx context.Context, id string) (Application, error)
	GetApplicationByAppID(ctx context.Context, appID string) (Application, error)
	// GetClient is GetApplicationByAppID together with the count, in now's
	// window, of the rate-limit counter named failureKeyPrefix + the
	// application's ID (as RateLimitCount reads it), in one query: a token
	// request authenticates its client and checks the client's failures.
	GetClient(ctx context.Context, appID, failureKeyPrefix string, window time.Duration, now time.Time) (Application, int, error)
	// UpdateApplication is a CAS update; ID, AppID and CreatedAt are kept.
	UpdateApplication(ctx context.Context, id string, fn func(Application) (Application, error)) (Application, error)
	DeleteApplication(ctx context.Context, id string) error
	// ListApplications orders by lower(DisplayName), then ID; Page.Prefix
	// matches the display name.
	ListApplications(ctx context.Context, p Page) (apps []Application, next string, err error)

	// Signing keys, oldest first. Every node signs with the same key set.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKey is a CAS update of SignFrom, RetiredAt and ExpiresAt
	// (the key material and ID are kept).
	UpdateSigningKey(ctx context.Context, id string, fn func(SigningKey) (SigningKey, error)) (SigningKey, error)
	// DeleteExpiredSigningKeys removes retired keys whose ExpiresAt is at or
	// before now (no token they signed can still be valid); keys without an
	// ExpiresAt are never deleted.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)

	// Authorization requests. CodeHash, once set, is unique.
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	// CreateCompletedAuthRequest creates a request already completed by a
	// session (Done, SessionID, UserID; perhaps with its code) together with
	// event, the sign-in record of the sign-in the completion grants (nil:
	// none): an authorization a session answered within one HTTP request.
	// When it fails, neither is written.
	CreateCompletedAuthRequest(ctx context.Context, r AuthRequest, event *SignInEvent) error
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// CompleteAuthRequest marks the request done by a session (c), in one
	// conditional write, and stores event with it when it is not nil (the
	// sign-in log line of the sign-in the completion grants). The session
	// that completed a request may complete it again; another is
	// ErrConflict. A request that is gone or expired at now is ErrNotFound.
	// When it fails, neither is written.
	CompleteAuthRequest(ctx context.Context, id string, c AuthCompletion, now time.Time, event *SignInEvent) error
	// SetAuthCode gives the request a code (its hash) valid until expires,
	// in one statement: ErrConflict when it has one already, ErrNotFound
	// when there is no such request.
	SetAuthCode(ctx context.Context, id string, codeHash []byte, expires time.Time) error
	// GetAuthRequestByCode finds the request holding this code hash, used or
	// not (so that a second use can be told apart and answered).
	GetAuthRequestByCode(ctx context.Context, codeHash []byte) (AuthRequest, error)
	// GetCodeGrant is GetAuthRequestByCode together with the user who
	// completed the request (its claims) and the application it was made for, with that
	// application's count of wrong secrets in now's window (as GetClient
	// reads it), in one query: a code exchange needs all of them. A request
	// without a user, or whose user or application is gone, is ErrNotFound.
	GetCodeGrant(ctx context.Context, codeHash []byte, failureKeyPrefix string, window time.Duration, now time.Time) (CodeGrant, error)
	// RedeemAuthCode marks the request's unexpired, unused code used at now
	// and stores the tokens issued for it, in one transaction. A code used
	// before is ErrConflict; an expired one (or no code) ErrNotFound. Among
	// concurrent redemptions exactly one wins.
	RedeemAuthCode(ctx context.Context, requestID string, now time.Time, ts ...OIDCToken) error
	// RedeemCode is GetCodeGrant and RedeemAuthCode at once, for a code
	// exchange: it reads the code's grant and, when the code is unused,
	// unexpired and its request done, marks it used at now and stores the
	// tokens t names (CodeTokens) — one statement, one round trip, on
	// PostgreSQL. The code is used up before the caller checks the client
	// and the PKCE verifier, so a failed check must revoke the grant
	// (RevokeOIDCGrant). A code used before is ErrConflict with the grant
	// read (the caller revokes what its first use gave); an expired or
	// unfinished one, ErrNotFound with the grant; an unknown code, or one
	// whose user or application is gone, ErrNotFound. Among concurrent
	// redemptions exactly one wins.
	RedeemCode(ctx context.Context, codeHash []byte, failureKeyPrefix string, window time.Duration, now time.Time, t CodeTokens) (RedeemedCode, error)
	DeleteAuthRequest(ctx context.Context, id string) error
	// DeleteExpiredAuthRequests deletes at most max requests whose
	// ExpiresAt is at or before now, the earliest expired first, and
	// returns how many (a sweep in batches: see DeleteExpiredSessions).
	DeleteExpiredAuthRequests(ctx context.Context, now time.Time, max int) (int, error)

	// Tokens. CreateOIDCTokens stores all of them in one transaction.
	CreateOIDCTokens(ctx context.Context, ts ...OIDCToken) error
	GetOIDCToken(ctx context.Context, id string) (OIDCToken, error)
	// GetUserToken is GetOIDCToken for a user's token of kind, with the
	// user (ErrNotFound: no token of that kind has that ID, or it is a
	// client's own).
	GetUserToken(ctx context.Context, id, kind string) (OIDCToken, User, error)
	// RotateRefreshToken marks the unexpired, not yet rotated refresh token
	// oldID rotated at now and stores next, and the refresh's sign-in log
	// line when event is not nil, in the same transaction. A token already
	// rotated is ErrConflict (the caller revokes the grant: reuse of a
	// refresh token); an unknown or expired one ErrNotFound. Either way
	// nothing is stored.
	RotateRefreshToken(ctx context.Context, oldID string, now time.Time, event *SignInEvent, next ...OIDCToken) error
	// RevokeOIDCToken deletes one token (ErrNotFound when it is gone).
	RevokeOIDCToken(ctx context.Context, id string) error
	// RevokeOIDCGrant deletes every token of a grant (a code and the refresh
	// chain that grew from it) and returns how many there were.
	RevokeOIDCGrant(ctx context.Context, grantID string) (int, error)
	// RevokeUserOIDCTokens deletes every token of a user, for one
	// application when appID is set, or for all.
	RevokeUserOIDCTokens(ctx context.Context, userID, appID string) (int, error)
	// DeleteExpiredOIDCTokens deletes at most max tokens whose ExpiresAt is
	// at or before now, the earliest expired first, and returns how many (a
	// sweep in batches: see DeleteExpiredSessions).
	DeleteExpiredOIDCTokens(ctx context.Context, now time.Time, max int) (int, error)
}

// Application is an app registration (Microsoft Graph's application): one
// OpenID Connect client.
type Application struct {
	ID          string // UUID: the object ID in the API
	AppID       string // UUID: the OIDC client_id; unique
	DisplayName string
	// WebRedirectURIs make a confidential client (it authenticates with a
	// secret); PublicClientRedirectURIs a public one (PKCE only). One of the
	// two is set.
	WebRedirectURIs          []string
	PublicClientRedirectURIs []string
	PasswordCredentials      []PasswordCredential
	// AssignedGroups, when set, are the groups whose members may sign in.
	AssignedGroups []string
	// GroupsClaim puts the user's groups into ID tokens and userinfo.
	GroupsClaim bool
	// SigningAlg is the JWS algorithm of its tokens: "ES256" or "RS256".
	SigningAlg string
	// AccessTokenType is the format of its access tokens: "opaque" or "jwt".
	AccessTokenType string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// PasswordCredential is a client secret (Graph's passwordCredential). Only
// a hash of the secret is stored.
type PasswordCredential struct {
	KeyID       string    `json:"keyId"`
	DisplayName string    `json:"displayName"`
	Hint        string    `json:"hint"` // the first characters of the secret
	SecretHash  []byte    `json:"secretHash"`
	StartAt     time.Time `json:"startDateTime"`
	EndAt       time.Time `json:"endDateTime"`
}

// SigningKey is one of the provider's token signing keys.
type SigningKey struct {
	ID        string // the JWK kid
	Alg       string // ES256 | RS256
	PublicKey []byte // PKIX DER
	// PrivateKey is PKCS #8 DER, sealed under the configured key encryption
	// key when Sealed is true.
	PrivateKey []byte
	Sealed     bool
	CreatedAt  time.Time
	// SignFrom is when nodes start signing with it (after an overlap in which
	// it is only published, so relying parties have fetched it).
	SignFrom time.Time
	// RetiredAt, when set, is when a newer key took over; ExpiresAt is when
	// it leaves the key set (every token it signed has expired).
	RetiredAt *time.Time
	ExpiresAt *time.Time
}

// AuthRequest is an OpenID Connect authorization request in progress, and
// after sign-in the grant its code stands for.
type AuthRequest struct {
	ID       string
	ClientID string // the application's AppID
	// Request is the JSON of the request's parameters as the provider parsed them.
	Request []byte
	// Filled in when the user has signed in.
	UserID    string
	SessionID string
	AuthTime  time.Time
	AMR       []string
	ACR       string
	Done      bool
	// The code, once issued: only its hash is stored.
	CodeHash      []byte
	CodeExpiresAt *time.Time
	CodeUsedAt    *time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// AuthCompletion is who completed an authorization request: the session,
// its user, when it signed in and how (its AMR and the ACR they reach).
type AuthCompletion struct {
	UserID, SessionID string
	AuthTime          time.Time
	AMR               []string
	ACR               string
}

// CodeGrant is what a code exchange reads: the request the code stands for,
// the user who completed it, and the client it was issued to with the
// client's wrong secrets in the current window.
type CodeGrant struct {
	Request AuthRequest
	// User is the user who completed the request, as far as tokens need:
	// not the whole row (no password hash, role or emergency flag).
	User           UserClaims
	Client         Application
	ClientFailures int
}

// CodeTokens are the tokens a code exchange issues, named before the code is
// read so that the statement reading it can store them. Their rows take the
// rest from the code's request: its user, client (the audience is the
// client ID alone), amr, acr and auth time, and its scopes — the
// space-separated "scope" of the stored request's JSON, split on each
// space. The access token is always stored, under AccessID when the
// application's access tokens are opaque and AccessJTI when they are JWTs;
// the refresh token only when the scopes include offline_access and the
// request's "response_type" is "code" (every Keyward client may refresh).
type CodeTokens struct {
	AccessID, AccessJTI, RefreshID    string
	AccessExpiresAt, RefreshExpiresAt time.Time
}

// RedeemedCode is what RedeemCode read and stored: the grant, the access
// token's row ID (CodeTokens' AccessID or AccessJTI, "" when nothing was
// stored) and whether a refresh token was stored.
type RedeemedCode struct {
	CodeGrant
	AccessID string
	Refresh  bool
}

// CodeScopes is how RedeemCode reads a stored request's scopes and whether
// it asked for a refresh token (CodeTokens), for the backends that decide it
// in Go: scope is the request's "scope", nil when it is null or missing.
func CodeScopes(scope *string, responseType string) (scopes []string, refresh bool) {
	s := ""
	if scope != nil {
		s = *scope
	}
	scopes = strings.Split(s, " ")
	return scopes, responseType == "code" && slices.Contains(scopes, "offline_access")
}

// UserClaims is what a token endpoint or userinfo needs of a user: the
// claims it gives out and whether the user may still sign in.
type UserClaims struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
	Mail              string
	AccountEnabled    bool
	UpdatedAt         time.Time
}

// Claims is the part of u that tokens and userinfo read.
func (u User) Claims() UserClaims {
	return UserClaims{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName,
		Mail: u.Mail, AccountEnabled: u.AccountEnabled, UpdatedAt: u.UpdatedAt}
}

// OIDC token kinds.
const (
	TokenAccess  = "access"
	TokenRefresh = "refresh"
)

// OIDCToken is an issued access or refresh token.
type OIDCToken struct {
	// ID is the access token's ID (its jti), or the hex SHA-256 of a refresh token.
	ID   string
	Kind string
	// GrantID ties a code's tokens and the refresh chain grown from them.
	GrantID       string
	ApplicationID string
	ClientID      string
	UserID        string // "" for client credentials
	Scopes        []string
	Audience      []string
	AMR           []string
	ACR           string
	AuthTime      time.Time // zero for client credentials
	// RefreshID is, on an access token, the refresh token issued with it.
	RefreshID string
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt *time.Time // a refresh token's use
}
