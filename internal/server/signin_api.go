package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

// SignInAPI is what the sign-in page calls: passkey, password, authenticator
// app and Temporary Access Pass sign-in, sign-out and first-run setup.
type SignInAPI struct {
	Store    storage.Storage
	SignIn   *signin.Service
	Passkeys *passkey.Service
	Sessions *session.Manager
	Logger   *slog.Logger
	Now      func() time.Time
}

// Mount implements Mounter. Sign-out changes the browser's own session, so
// it needs the page's CSRF token; the sign-in steps do not.
func (a *SignInAPI) Mount(rt Router) {
	rt.HandleSignIn("POST /api/v1/auth/methods", http.HandlerFunc(a.methods))
	rt.HandleSignIn("POST /api/v1/auth/passkey/options", http.HandlerFunc(a.passkeyOptions))
	rt.HandleSignIn("POST /api/v1/auth/passkey", http.HandlerFunc(a.passkey))
	rt.HandleSignIn("POST /api/v1/auth/passkey/step-up/options", http.HandlerFunc(a.stepUpOptions))
	rt.HandleSignIn("POST /api/v1/auth/password", http.HandlerFunc(a.password))
	rt.HandleSignIn("POST /api/v1/auth/totp", http.HandlerFunc(a.totp))
	rt.HandleSignIn("POST /api/v1/auth/tap", http.HandlerFunc(a.tap))
	rt.Handle("POST /api/v1/auth/signout", http.HandlerFunc(a.signout))
	rt.HandleSignIn("GET /api/v1/setup", http.HandlerFunc(a.checkSetup))
	rt.HandleSignIn("POST /api/v1/setup", http.HandlerFunc(a.setup))
}

// userRef is the user in a sign-in answer.
type userRef struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
}

func newUserRef(u storage.User) userRef {
	return userRef{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName}
}

// replaceSession hands the browser its new session and ends the one it held
// before, as the middleware loaded it: one browser, one session.
func (a *SignInAPI) replaceSession(w http.ResponseWriter, r *http.Request, secret string, s storage.Session) {
	if prev, ok := loadedSession(r); ok && prev.ID != s.ID {
		if err := a.Store.DeleteSession(r.Context(), prev.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			a.Logger.WarnContext(r.Context(), "end previous session", "err", err)
		}
	}
	a.Sessions.SetCookie(w, secret, s.ExpiresAt)
}

// signInReply is the body of every sign-in step.
type signInReply struct {
	Status  string   `json:"status"` // signedIn | secondFactorRequired
	User    *userRef `json:"user,omitempty"`
	Methods []string `json:"methods,omitempty"` // the second factors accepted next
}

func (a *SignInAPI) methods(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	opts, err := a.SignIn.OptionsFor(r.Context(), body.Username)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, opts)
}

type passkeyOptionsBody struct {
	Username string `json:"username"`
}

func (a *SignInAPI) passkeyOptions(w http.ResponseWriter, r *http.Request) {
	var body passkeyOptionsBody
	if r.ContentLength != 0 {
		if err := DecodeJSON(w, r, &body); err != nil {
			WriteError(w, r, err)
			return
		}
	}
	as, err := a.Passkeys.BeginLogin(r.Context(), body.Username)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, as.Options)
}

// stepUpOptions starts a step-up for the signed-in user: passkey options
// listing only their keys that reach the acr asked for (phr: any passkey;
// phrh: a device-bound one) and, with models, only of those key models (a
// strength restricted to some AAGUIDs). The answer goes to POST
// /api/v1/auth/passkey, which replaces the session with the stronger one.
func (a *SignInAPI) stepUpOptions(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ACR    string   `json:"acr"`
		Models []string `json:"models"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	if !oidc.IsPasskeyACR(body.ACR) {
		WriteError(w, r, apperr.BadRequest("acr must be %q (any passkey) or %q (a device-bound passkey)",
			oidc.ACRPhishingResistant, oidc.ACRPhishingResistantHardware))
		return
	}
	models, err := stepUpModels(body.Models)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	u, _, err := currentUser(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	as, err := a.Passkeys.BeginStepUp(r.Context(), u, body.ACR == oidc.ACRPhishingResistantHardware, models)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, as.Options)
}

func (a *SignInAPI) passkey(w http.ResponseWriter, r *http.Request) {
	var body json.RawMessage
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	res, err := a.Passkeys.FinishLogin(r.Context(), body, clientFrom(r))
	if kr, ok := errors.AsType[*passkey.KeyRefused](err); ok {
		writeKeyRefused(w, r, kr)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	a.replaceSession(w, r, res.SessionSecret, res.Session)
	user := newUserRef(res.User)
	WriteJSON(w, http.StatusOK, signInReply{Status: "signedIn", User: &user})
}

func (a *SignInAPI) password(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	res, err := a.SignIn.Password(r.Context(), clientFrom(r), body.Username, body.Password)
	a.finish(w, r, res, err)
}

func (a *SignInAPI) totp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Code string `json:"code"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	pending, _ := loadedSession(r) // none is not pending: TOTP answers signInExpired
	res, err := a.SignIn.TOTP(r.Context(), clientFrom(r), pending, body.Code)
	a.finish(w, r, res, err)
}

func (a *SignInAPI) tap(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username            string `json:"username"`
		TemporaryAccessPass string `json:"temporaryAccessPass"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	res, err := a.SignIn.TAP(r.Context(), clientFrom(r), body.Username, body.TemporaryAccessPass)
	a.finish(w, r, res, err)
}

// finish answers a sign-in step: the error, or the new session's cookie and
// the reply. A session the browser held before is ended: one browser, one
// session.
func (a *SignInAPI) finish(w http.ResponseWriter, r *http.Request, res signin.Result, err error) {
	if err != nil {
		writeSignInError(w, r, err, a.Now())
		return
	}
	a.replaceSession(w, r, res.Secret, res.Session)
	if res.SecondFactorRequired {
		WriteJSON(w, http.StatusOK, signInReply{Status: "secondFactorRequired", Methods: []string{"totp"}})
		return
	}
	user := newUserRef(res.User)
	WriteJSON(w, http.StatusOK, signInReply{Status: "signedIn", User: &user})
}

// writeSignInError renders err, with Retry-After on a rate-limit refusal.
func writeSignInError(w http.ResponseWriter, r *http.Request, err error, now time.Time) {
	var ra signin.RetryAfter
	if errors.As(err, &ra) {
		secs := int(ra.At.Sub(now) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	WriteError(w, r, err)
}

func (a *SignInAPI) signout(w http.ResponseWriter, r *http.Request) {
	if err := a.Sessions.Destroy(r.Context(), w, r); err != nil {
		WriteError(w, r, apperr.Internal(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *SignInAPI) checkSetup(w http.ResponseWriter, r *http.Request) {
	if err := a.SignIn.CheckSetupToken(r.Context(), r.URL.Query().Get("token")); err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]bool{"valid": true})
}

func (a *SignInAPI) setup(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token             string `json:"token"`
		UserPrincipalName string `json:"userPrincipalName"`
		DisplayName       string `json:"displayName"`
		Password          string `json:"password"`
		EnablePasskeys    bool   `json:"enablePasskeys"` // optional: turn the FIDO2 method on
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	res, err := a.SignIn.Setup(r.Context(), clientFrom(r), signin.SetupInput{
		Token: body.Token, UserPrincipalName: body.UserPrincipalName, DisplayName: body.DisplayName, Password: body.Password,
		EnablePasskeys: body.EnablePasskeys,
	})
	a.finish(w, r, res, err)
}

// maxStepUpModels bounds the key models one step-up may name (a strength's
// fido2 configuration allows at most 200).
const maxStepUpModels = 200

// stepUpModels checks and normalises the AAGUIDs a step-up is restricted to.
func stepUpModels(in []string) ([]string, error) {
	if len(in) > maxStepUpModels {
		return nil, apperr.BadRequest("models lists %d key models; at most %d", len(in), maxStepUpModels)
	}
	out := make([]string, 0, len(in))
	for _, m := range in {
		n, err := policy.NormalizeAAGUID(m)
		if err != nil {
			return nil, apperr.BadRequest("models: %v", err)
		}
		out = append(out, n)
	}
	return out, nil
}
