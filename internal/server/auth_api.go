package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

// AuthAPI is sign-in without passkeys (password, authenticator app,
// Temporary Access Pass), sign-out and first-run setup.
type AuthAPI struct {
	SignIn   *signin.Service
	Sessions *session.Manager
	srv      *Server
}

// Mount registers the routes.
func (a *AuthAPI) Mount(s *Server) {
	a.srv = s
	s.HandleFunc("POST /api/v1/auth/methods", a.methods)
	s.HandleFunc("POST /api/v1/auth/password", a.password)
	s.HandleFunc("POST /api/v1/auth/totp", a.totp)
	s.HandleFunc("POST /api/v1/auth/tap", a.tap)
	s.HandleFunc("POST /api/v1/auth/signout", a.signout)
	s.HandleFunc("GET /api/v1/setup", a.checkSetup)
	s.HandleFunc("POST /api/v1/setup", a.setup)
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
// before: one browser, one session.
func replaceSession(w http.ResponseWriter, r *http.Request, m *session.Manager, store storage.Storage, secret string, s storage.Session) {
	if prev, err := m.Load(r); err == nil && prev.ID != s.ID {
		if err := store.DeleteSession(r.Context(), prev.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			loggerFrom(r.Context()).WarnContext(r.Context(), "end previous session", "err", err)
		}
	}
	m.SetCookie(w, secret, s.ExpiresAt)
}

// signInReply is the body of every sign-in step.
type signInReply struct {
	Status  string   `json:"status"` // signedIn | secondFactorRequired
	User    *userRef `json:"user,omitempty"`
	Methods []string `json:"methods,omitempty"` // the second factors accepted next
}

func (a *AuthAPI) methods(w http.ResponseWriter, r *http.Request) {
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

func (a *AuthAPI) password(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	res, err := a.SignIn.Password(r.Context(), session.ClientFrom(r), body.Username, body.Password)
	a.finish(w, r, res, err)
}

func (a *AuthAPI) totp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Code string `json:"code"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	pending, err := a.Sessions.Load(r)
	if errors.Is(err, session.ErrNoSession) {
		pending = storage.Session{} // not pending: TOTP answers signInExpired
	} else if err != nil {
		WriteError(w, r, apperr.Internal(err))
		return
	}
	res, err := a.SignIn.TOTP(r.Context(), session.ClientFrom(r), pending, body.Code)
	a.finish(w, r, res, err)
}

func (a *AuthAPI) tap(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username            string `json:"username"`
		TemporaryAccessPass string `json:"temporaryAccessPass"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	res, err := a.SignIn.TAP(r.Context(), session.ClientFrom(r), body.Username, body.TemporaryAccessPass)
	a.finish(w, r, res, err)
}

// finish answers a sign-in step: the error, or the new session's cookie and
// the reply. A session the browser held before is ended: one browser, one
// session.
func (a *AuthAPI) finish(w http.ResponseWriter, r *http.Request, res signin.Result, err error) {
	if err != nil {
		a.srv.writeSignInError(w, r, err)
		return
	}
	replaceSession(w, r, a.Sessions, a.srv.store, res.Secret, res.Session)
	if res.SecondFactorRequired {
		WriteJSON(w, http.StatusOK, signInReply{Status: "secondFactorRequired", Methods: []string{"totp"}})
		return
	}
	user := newUserRef(res.User)
	WriteJSON(w, http.StatusOK, signInReply{Status: "signedIn", User: &user})
}

// writeSignInError renders err, with Retry-After on a rate-limit refusal.
func (s *Server) writeSignInError(w http.ResponseWriter, r *http.Request, err error) {
	var ra signin.RetryAfter
	if errors.As(err, &ra) {
		secs := int(ra.At.Sub(s.now()) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	WriteError(w, r, err)
}

func (a *AuthAPI) signout(w http.ResponseWriter, r *http.Request) {
	if err := a.Sessions.Destroy(r.Context(), w, r); err != nil {
		WriteError(w, r, apperr.Internal(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *AuthAPI) checkSetup(w http.ResponseWriter, r *http.Request) {
	if err := a.SignIn.CheckSetupToken(r.Context(), r.URL.Query().Get("token")); err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]bool{"valid": true})
}

func (a *AuthAPI) setup(w http.ResponseWriter, r *http.Request) {
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
	res, err := a.SignIn.Setup(r.Context(), session.ClientFrom(r), signin.SetupInput{
		Token: body.Token, UserPrincipalName: body.UserPrincipalName, DisplayName: body.DisplayName, Password: body.Password,
		EnablePasskeys: body.EnablePasskeys,
	})
	a.finish(w, r, res, err)
}
