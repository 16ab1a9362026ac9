package server

import (
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

// MyPasskeysAPI is the signed-in user's own passkeys: list, register, rename
// and remove (/api/v1/me/passkeys). Adding one needs a recent multi-factor
// sign-in, which passkey.Service decides from the session passed on.
type MyPasskeysAPI struct {
	Store    storage.Storage
	Passkeys *passkey.Service
	SignIn   *signin.Service
}

// Mount implements Mounter.
func (a *MyPasskeysAPI) Mount(rt Router) {
	rt.Handle("GET /api/v1/me/passkeys", http.HandlerFunc(a.list))
	rt.Handle("POST /api/v1/me/passkeys/registration/options", http.HandlerFunc(a.registrationOptions))
	rt.Handle("POST /api/v1/me/passkeys", http.HandlerFunc(a.register))
	rt.Handle("PATCH /api/v1/me/passkeys/{id}", http.HandlerFunc(a.rename))
	rt.Handle("DELETE /api/v1/me/passkeys/{id}", http.HandlerFunc(a.delete))
	rt.Handle("GET /api/v1/me/passkeys/signals", http.HandlerFunc(a.signals))
}

// signals is what the pages hand the WebAuthn Signal API so the browser or
// password manager keeps the user's passkey list true
// (PublicKeyCredential.signalAllAcceptedCredentials and
// signalCurrentUserDetails): the RP ID, the user handle, every registered
// credential ID (base64url), and the names a new passkey would get; and
// whether the page should ask the browser for an automatic upgrade.
func (a *MyPasskeysAPI) signals(w http.ResponseWriter, r *http.Request) {
	u, p, err := currentUser(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	creds, err := a.Store.ListUserCredentials(r.Context(), u.ID)
	if err != nil {
		WriteError(w, r, apperr.Internal(err))
		return
	}
	ids := make([]string, 0, len(creds))
	for _, c := range creds {
		ids = append(ids, base64.RawURLEncoding.EncodeToString(c.CredentialID))
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"rpId": a.Passkeys.RPID(), "userId": base64.RawURLEncoding.EncodeToString(passkey.UserHandle(u.ID)),
		"allAcceptedCredentialIds": ids, "name": u.UserPrincipalName, "displayName": u.DisplayName,
		// Whether the page may ask for an automatic upgrade (conditional create).
		"automaticUpgrade": a.Passkeys.AutomaticUpgradeOffered(r.Context(), u, *p.Session, len(creds) > 0),
	})
}

func (a *MyPasskeysAPI) list(w http.ResponseWriter, r *http.Request) {
	u, _, err := currentUser(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeMethods(w, r, a.Store, u.ID)
}

type registrationOptionsBody struct {
	Hints []string `json:"hints"`
	// Automatic asks for an automatic upgrade (conditional create) right
	// after a password sign-in; see passkey.Registration.Automatic.
	Automatic bool `json:"automatic"`
	wantedKey
}

// wantedKey narrows a self-service registration to the key a step-up needs
// (see passkey.Registration.Models): the step-up page sends the strength's
// key models and whether the key must stay on one device.
type wantedKey struct {
	Models      []string `json:"models"`
	DeviceBound bool     `json:"deviceBound"`
}

func (k wantedKey) models() ([]string, error) {
	if len(k.Models) == 0 {
		return nil, nil
	}
	return stepUpModels(k.Models)
}

// myRegistrationBody is registrationBody with the key wanted.
type myRegistrationBody struct {
	registrationBody
	wantedKey
}

func (a *MyPasskeysAPI) registrationOptions(w http.ResponseWriter, r *http.Request) {
	u, p, err := registeringUser(r)
	var body registrationOptionsBody
	if err == nil && r.ContentLength != 0 {
		err = DecodeJSON(w, r, &body)
	}
	var models []string
	if err == nil {
		models, err = body.models()
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	c, err := a.Passkeys.BeginRegistration(r.Context(), passkey.Registration{
		User: u, Actor: p.Actor(), Session: *p.Session, Hints: body.Hints,
		Automatic: body.Automatic, Models: models, DeviceBound: body.DeviceBound,
	})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, c.Options)
}

func (a *MyPasskeysAPI) register(w http.ResponseWriter, r *http.Request) {
	u, p, err := registeringUser(r)
	var raw []byte
	if err == nil {
		raw, err = readJSON(w, r)
	}
	// As in provisioning: a body of exactly the documented shape is decoded
	// once with its credential, anything else as before.
	var decoded struct {
		decodedRegistrationBody
		wantedKey
	}
	fast := err == nil && decodeStrict(raw, &decoded) && decoded.PublicKeyCredential != nil
	var body myRegistrationBody
	if err == nil && !fast {
		if err = decodeJSONBytes(raw, &body); err == nil {
			err = body.validate()
		}
	}
	want, displayName := body.wantedKey, body.DisplayName
	if fast {
		want, displayName = decoded.wantedKey, decoded.DisplayName
	}
	var models []string
	if err == nil {
		models, err = want.models()
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	reg := passkey.Registration{User: u, Actor: p.Actor(), Session: *p.Session, Models: models, DeviceBound: want.DeviceBound}
	var c storage.Credential
	if fast {
		c, err = a.Passkeys.FinishDecodedRegistration(r.Context(), reg, displayName, decoded.PublicKeyCredential)
	} else {
		c, err = a.Passkeys.FinishRegistration(r.Context(), reg, displayName, body.PublicKeyCredential)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, methodJSON(c))
}

// mine is the signed-in user's passkey named in the path; another user's
// passkey is "not found", as an unknown one is.
func (a *MyPasskeysAPI) mine(r *http.Request) (Principal, storage.Credential, error) {
	u, p, err := currentUser(r)
	if err != nil {
		return p, storage.Credential{}, err
	}
	id := r.PathValue("id")
	c, err := a.Store.GetCredential(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.UserID != u.ID) {
		return p, c, apperr.NotFound("you have no passkey %s", quoteShort(id))
	}
	if err != nil {
		return p, c, apperr.Internal(err)
	}
	return p, c, nil
}

func (a *MyPasskeysAPI) rename(w http.ResponseWriter, r *http.Request) {
	p, c, err := a.mine(r)
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

func (a *MyPasskeysAPI) delete(w http.ResponseWriter, r *http.Request) {
	p, c, err := a.mine(r)
	if err == nil {
		err = a.Passkeys.DeleteCredential(r.Context(), p.Actor(), c, a.SignIn.PasskeyRemovalCheck(r.Context(), c.ID))
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
