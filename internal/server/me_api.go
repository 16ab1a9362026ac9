package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

// MeAPI is "My security info": the signed-in user, their sign-in methods,
// adding an authenticator app, renaming and removing passkeys.
type MeAPI struct {
	SignIn   *signin.Service
	Passkeys *passkey.Service
	srv      *Server
}

// Mount registers the routes.
func (a *MeAPI) Mount(s *Server) {
	a.srv = s
	s.HandleFunc("GET /api/v1/me", a.me)
	s.HandleFunc("GET /api/v1/me/methods", a.methods)
	s.HandleFunc("POST /api/v1/me/authenticatorApp", a.enrollApp)
	s.HandleFunc("POST /api/v1/me/authenticatorApp/verify", a.verifyApp)
	s.HandleFunc("DELETE /api/v1/me/authenticatorApp", a.deleteApp)
	s.HandleFunc("PATCH /api/v1/me/passkeys/{id}", a.renamePasskey)
	s.HandleFunc("DELETE /api/v1/me/passkeys/{id}", a.deletePasskey)
}

// currentUser is the signed-in person: a session principal (never an API
// token: these calls act for a person) and their current record.
func (s *Server) currentUser(r *http.Request) (storage.User, Principal, error) {
	p, ok := PrincipalFrom(r.Context())
	if !ok || p.Kind != PrincipalUser || p.Session == nil {
		return storage.User{}, p, apperr.Unauthorized("sign in first: this call acts for a signed-in user (session cookie)")
	}
	if p.User != nil { // loaded when the session was checked: no second query
		return *p.User, p, nil
	}
	u, err := s.store.GetUser(r.Context(), p.UserID)
	if err != nil {
		return storage.User{}, p, apperr.Unauthorized("your session no longer matches an account; sign in again").Wrap(err)
	}
	return u, p, nil
}

type meView struct {
	ID                string    `json:"id"`
	UserPrincipalName string    `json:"userPrincipalName"`
	DisplayName       string    `json:"displayName"`
	AdminRole         string    `json:"adminRole"`
	AuthMethods       []string  `json:"authenticationMethods"`
	MFARecent         bool      `json:"mfaRecent"`
	CSRFToken         string    `json:"csrfToken"`
	SessionExpires    time.Time `json:"sessionExpiresDateTime"`
}

func (a *MeAPI) me(w http.ResponseWriter, r *http.Request) {
	u, p, err := a.srv.currentUser(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	amr := p.Session.AuthMethods
	if amr == nil {
		amr = []string{}
	}
	WriteJSON(w, http.StatusOK, meView{
		ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName, AdminRole: u.AdminRole,
		AuthMethods: amr, MFARecent: a.SignIn.MFARecent(*p.Session),
		CSRFToken: session.CSRFToken(p.Session.ID), SessionExpires: p.Session.ExpiresAt,
	})
}

// appView is the user's confirmed authenticator app.
type appView struct {
	Registered       bool       `json:"registered"`
	CreatedDateTime  time.Time  `json:"createdDateTime"`
	LastUsedDateTime *time.Time `json:"lastUsedDateTime"`
}

type methodsView struct {
	Password struct {
		Set bool `json:"set"`
	} `json:"password"`
	AuthenticatorApp *appView      `json:"authenticatorApp"`
	Passkeys         []fido2Method `json:"passkeys"`
	CanAdd           struct {
		Passkey          bool   `json:"passkey"`
		PasskeyReason    string `json:"passkeyReason,omitempty"`
		AuthenticatorApp bool   `json:"authenticatorApp"`
	} `json:"canAdd"`
}

func (a *MeAPI) methods(w http.ResponseWriter, r *http.Request) {
	u, _, err := a.srv.currentUser(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	ctx := r.Context()
	var v methodsView
	v.Password.Set = u.PasswordHash != ""
	app, ok, err := a.SignIn.AuthenticatorApp(ctx, u.ID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if ok {
		v.AuthenticatorApp = &appView{Registered: true, CreatedDateTime: app.CreatedAt, LastUsedDateTime: app.LastUsedAt}
	}
	v.CanAdd.AuthenticatorApp = !ok
	creds, err := a.srv.store.ListUserCredentials(ctx, u.ID)
	if err != nil {
		WriteError(w, r, apperr.Internal(err))
		return
	}
	v.Passkeys = make([]fido2Method, 0, len(creds))
	for _, c := range creds {
		v.Passkeys = append(v.Passkeys, methodJSON(c))
	}
	v.CanAdd.Passkey, v.CanAdd.PasskeyReason, err = a.SignIn.PasskeyRegistration(ctx, u.ID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

func (a *MeAPI) enrollApp(w http.ResponseWriter, r *http.Request) {
	u, p, err := a.srv.currentUser(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	e, err := a.SignIn.EnrollTOTP(r.Context(), u, *p.Session)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"secret": e.Secret, "otpauthUri": e.URI, "qrCode": e.QRCode})
}

func (a *MeAPI) verifyApp(w http.ResponseWriter, r *http.Request) {
	u, p, err := a.srv.currentUser(r)
	var body struct {
		Code string `json:"code"`
	}
	if err == nil {
		err = DecodeJSON(w, r, &body)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	app, sess, err := a.SignIn.ConfirmTOTP(r.Context(), p.Actor(), session.ClientFrom(r), u, *p.Session, body.Code)
	if err != nil {
		a.srv.writeSignInError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"status":                "confirmed",
		"authenticatorApp":      appView{Registered: true, CreatedDateTime: app.CreatedAt, LastUsedDateTime: app.LastUsedAt},
		"authenticationMethods": sess.AuthMethods,
		"mfaRecent":             a.SignIn.MFARecent(sess),
	})
}

func (a *MeAPI) deleteApp(w http.ResponseWriter, r *http.Request) {
	u, p, err := a.srv.currentUser(r)
	if err == nil {
		err = a.SignIn.DeleteTOTP(r.Context(), p.Actor(), u)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// myPasskey is the signed-in user's passkey named in the path; another
// user's passkey is "not found", as an unknown one is.
func (a *MeAPI) myPasskey(r *http.Request) (storage.User, Principal, storage.Credential, error) {
	u, p, err := a.srv.currentUser(r)
	if err != nil {
		return u, p, storage.Credential{}, err
	}
	id := r.PathValue("id")
	c, err := a.srv.store.GetCredential(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.UserID != u.ID) {
		return u, p, c, apperr.NotFound("you have no passkey %s", quoteShort(id))
	}
	if err != nil {
		return u, p, c, apperr.Internal(err)
	}
	return u, p, c, nil
}

func (a *MeAPI) renamePasskey(w http.ResponseWriter, r *http.Request) {
	_, p, c, err := a.myPasskey(r)
	var body struct {
		DisplayName *string `json:"displayName"`
	}
	if err == nil {
		err = DecodeJSON(w, r, &body)
	}
	if err == nil && body.DisplayName == nil {
		err = apperr.BadRequest(`displayName is required: {"displayName": "Work key"}`)
	}
	if err == nil {
		c, err = a.Passkeys.RenameCredential(r.Context(), p.Actor(), c, *body.DisplayName)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, methodJSON(c))
}

func (a *MeAPI) deletePasskey(w http.ResponseWriter, r *http.Request) {
	_, p, c, err := a.myPasskey(r)
	if err == nil {
		err = a.Passkeys.DeleteCredential(r.Context(), p.Actor(), c, a.SignIn.PasskeyRemovalCheck(c.ID))
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
