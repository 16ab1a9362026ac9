package server

import (
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

// MeAPI is "My security info": the signed-in user, their sign-in methods
// and their authenticator app. Their passkeys are MyPasskeysAPI's.
type MeAPI struct {
	Store  storage.Storage
	SignIn *signin.Service
	Now    func() time.Time
}

// Mount implements Mounter.
func (a *MeAPI) Mount(rt Router) {
	rt.Handle("GET /api/v1/me", http.HandlerFunc(a.me))
	rt.Handle("GET /api/v1/me/methods", http.HandlerFunc(a.methods))
	rt.Handle("POST /api/v1/me/authenticatorApp", http.HandlerFunc(a.enrollApp))
	rt.Handle("POST /api/v1/me/authenticatorApp/verify", http.HandlerFunc(a.verifyApp))
	rt.Handle("DELETE /api/v1/me/authenticatorApp", http.HandlerFunc(a.deleteApp))
	rt.Handle("POST /api/v1/me/password", http.HandlerFunc(a.changePassword))
}

// currentUser is the signed-in person: a session principal (never an API
// token: these calls act for a person) and their record as the middleware
// loaded it with the session.
func currentUser(r *http.Request) (storage.User, Principal, error) {
	p, ok := PrincipalFrom(r.Context())
	if !ok || p.Kind != PrincipalUser || p.Session == nil || p.User == nil {
		return storage.User{}, p, apperr.Unauthorized("sign in first: this call acts for a signed-in user (session cookie)")
	}
	if err := p.CheckAccess(r.Context(), access.AppMySecurityInfo, ""); err != nil {
		return storage.User{}, p, err
	}
	return *p.User, p, nil
}

// registeringUser is currentUser for a call that adds a sign-in method:
// conditional access may ask more of that (urn:user:registersecurityinfo).
func registeringUser(r *http.Request) (storage.User, Principal, error) {
	u, p, err := currentUser(r)
	if err == nil {
		err = p.CheckAccess(r.Context(), "", access.UserActionRegisterSecurityInfo)
	}
	return u, p, err
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
	u, p, err := currentUser(r)
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
		Set    bool   `json:"set"`
		Status string `json:"status"` // what the password does for this account, "" without one
	} `json:"password"`
	AuthenticatorApp *appView      `json:"authenticatorApp"`
	Passkeys         []fido2Method `json:"passkeys"`
	CanAdd           struct {
		Passkey       bool   `json:"passkey"`
		PasskeyReason string `json:"passkeyReason,omitempty"`
		// PasskeyCanTurnOn: passkeys are off and this user may turn them on.
		PasskeyCanTurnOn bool `json:"passkeyCanTurnOn"`
		AuthenticatorApp bool `json:"authenticatorApp"`
	} `json:"canAdd"`
}

func (a *MeAPI) methods(w http.ResponseWriter, r *http.Request) {
	u, _, err := currentUser(r)
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
	creds, err := a.Store.ListUserCredentials(ctx, u.ID)
	if err != nil {
		WriteError(w, r, apperr.Internal(err))
		return
	}
	v.Passkeys = make([]fido2Method, 0, len(creds))
	for _, c := range creds {
		v.Passkeys = append(v.Passkeys, methodJSON(c))
	}
	v.Password.Status = signin.PasswordStatus(v.Password.Set, ok, len(creds))
	v.CanAdd.Passkey, v.CanAdd.PasskeyReason, v.CanAdd.PasskeyCanTurnOn, err = a.SignIn.PasskeyRegistration(ctx, u)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

func (a *MeAPI) enrollApp(w http.ResponseWriter, r *http.Request) {
	u, p, err := registeringUser(r)
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
	u, p, err := registeringUser(r)
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
	app, sess, err := a.SignIn.ConfirmTOTP(r.Context(), p.Actor(), clientFrom(r), u, *p.Session, body.Code)
	if err != nil {
		writeSignInError(w, r, err, a.Now())
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
	u, p, err := currentUser(r)
	if err == nil {
		err = a.SignIn.DeleteTOTP(r.Context(), p.Actor(), u)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// changePassword is the self-service password change (signin.ChangePassword).
func (a *MeAPI) changePassword(w http.ResponseWriter, r *http.Request) {
	u, p, err := registeringUser(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	var body struct {
		CurrentPassword string `json:"currentPassword"`
		NewPassword     string `json:"newPassword"`
	}
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	if err := a.SignIn.ChangePassword(r.Context(), clientFrom(r), u, *p.Session, body.CurrentPassword, body.NewPassword); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
