package oidc

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyward/keyward/internal/storage"
)

// authRequest is a stored authorization request as the library sees it.
type authRequest struct {
	rec storage.AuthRequest
	req oidc.AuthRequest
	// issued, set when the code was redeemed as it was read (a code
	// exchange), are the tokens stored for it, which the library is then
	// given instead of storing new ones.
	issued *issuedTokens
}

// issuedTokens are what a code's redemption stored: the access token as the
// library hands it out (an opaque token, or a JWT's jti), the refresh token
// ("" when none) and the access token's expiry.
type issuedTokens struct {
	access, refresh string
	expires         time.Time
}

var _ op.AuthRequest = (*authRequest)(nil)

// complete is CompleteAuthRequest's change, made to the request as read.
func (a *authRequest) complete(c storage.AuthCompletion) {
	a.rec.UserID, a.rec.SessionID, a.rec.AuthTime = c.UserID, c.SessionID, c.AuthTime
	a.rec.AMR, a.rec.ACR, a.rec.Done = c.AMR, c.ACR, true
}

func (a *authRequest) GetID() string                      { return a.rec.ID }
func (a *authRequest) GetACR() string                     { return a.rec.ACR }
func (a *authRequest) GetAMR() []string                   { return a.rec.AMR }
func (a *authRequest) GetAudience() []string              { return []string{a.rec.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.rec.AuthTime }
func (a *authRequest) GetClientID() string                { return a.rec.ClientID }
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetScopes() []string                { return a.req.Scopes }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.rec.UserID }
func (a *authRequest) Done() bool                         { return a.rec.Done }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}

// refreshRequest is a refresh token presented for a new token set: it
// carries the original sign-in's auth_time, amr and acr unchanged.
type refreshRequest struct {
	tok    storage.OIDCToken
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string            { return r.tok.AMR }
func (r *refreshRequest) GetAudience() []string       { return r.tok.Audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.tok.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.tok.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.tok.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = slices.Clone(s) }

// clientCredentialsRequest is a confidential client asking for a token for itself.
type clientCredentialsRequest struct {
	app    storage.Application
	scopes []string
}

func (c *clientCredentialsRequest) GetSubject() string    { return c.app.AppID }
func (c *clientCredentialsRequest) GetAudience() []string { return []string{c.app.AppID} }
func (c *clientCredentialsRequest) GetScopes() []string   { return c.scopes }

// client is an application as the library sees it.
type client struct {
	app         storage.Application
	idTokenLife time.Duration
}

var _ op.Client = client{}

func (c client) public() bool { return len(c.app.WebRedirectURIs) == 0 }

func (c client) GetID() string { return c.app.AppID }
func (c client) RedirectURIs() []string {
	if c.public() {
		return c.app.PublicClientRedirectURIs
	}
	return c.app.WebRedirectURIs
}

// PostLogoutRedirectURIs are the redirect URIs, as in Entra.
func (c client) PostLogoutRedirectURIs() []string { return c.RedirectURIs() }

// ApplicationType: a public client is native, which gives loopback redirect
// URIs any port (RFC 8252 §7.3).
func (c client) ApplicationType() op.ApplicationType {
	if c.public() {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c client) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // client_secret_post is accepted as well
}

func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c client) GrantTypes() []oidc.GrantType {
	if c.public() {
		return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	}
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
}

// LoginURL is where the library sends a new authorization request: Keyward
// decides there whether the browser's session will do or a sign-in is needed.
func (c client) LoginURL(id string) string { return ContinuePath + "?id=" + id }

// AccessTokenType is the app's choice (docs/oidc.md): opaque unless it asked
// for JWTs. An app stored before the choice existed has jwt.
func (c client) AccessTokenType() op.AccessTokenType {
	if c.app.AccessTokenType == AccessTokenOpaque {
		return op.AccessTokenTypeBearer
	}
	return op.AccessTokenTypeJWT
}
func (c client) IDTokenLifetime() time.Duration { return c.idTokenLife }
func (c client) DevMode() bool                  { return false }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed admits "groups" for apps that receive the groups claim;
// any other unknown scope is dropped from the request (not refused).
func (c client) IsScopeAllowed(scope string) bool { return scope == ScopeGroups && c.app.GroupsClaim }

// IDTokenUserinfoClaimsAssertion puts profile and email claims in the ID
// token even when an access token is issued: many apps read only the ID token.
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }
