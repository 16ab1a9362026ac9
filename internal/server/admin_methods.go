package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

// MethodsAdminAPI lets administrators manage a user's sign-in methods other
// than passkeys, under Graph's names: Temporary Access Passes and the
// authenticator app (softwareOathMethods).
type MethodsAdminAPI struct {
	Directory *directory.Service
	SignIn    *signin.Service
	Now       func() time.Time
	PublicURL *url.URL // nil = links from the request's host
}

// Mount implements Mounter.
func (a *MethodsAdminAPI) Mount(rt Router) {
	read, write := anyAdminRole, methodAdmins
	taps := "/api/v1/users/{id}/authentication/temporaryAccessPassMethods"
	rt.Handle("POST "+taps, write(http.HandlerFunc(a.issueTAP)))
	rt.Handle("GET "+taps, read(http.HandlerFunc(a.listTAPs)))
	rt.Handle("GET "+taps+"/{tapId}", read(http.HandlerFunc(a.getTAP)))
	rt.Handle("DELETE "+taps+"/{tapId}", write(http.HandlerFunc(a.deleteTAP)))
	apps := "/api/v1/users/{id}/authentication/softwareOathMethods"
	rt.Handle("GET "+apps, read(http.HandlerFunc(a.listApps)))
	rt.Handle("DELETE "+apps+"/{methodId}", write(http.HandlerFunc(a.deleteApp)))
	rt.Handle("GET /api/v1/users/{id}/authentication/passwordMethods", read(http.HandlerFunc(a.listPasswords)))
	const tapPolicy = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass"
	rt.Handle("GET "+tapPolicy, read(http.HandlerFunc(a.getTAPPolicy)))
	rt.Handle("PATCH "+tapPolicy, policyAdmins(http.HandlerFunc(a.patchTAPPolicy)))
}

// getTAPPolicy answers the policy with its version as the ETag; a PATCH
// that sends it back in If-Match saves only while it is still current.
func (a *MethodsAdminAPI) getTAPPolicy(w http.ResponseWriter, r *http.Request) {
	c, v, err := a.SignIn.TAPConfigVersion(r.Context())
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteVersioned(w, v, c)
}

func (a *MethodsAdminAPI) patchTAPPolicy(w http.ResponseWriter, r *http.Request) {
	var patch json.RawMessage
	if err := DecodeJSON(w, r, &patch); err != nil {
		WriteError(w, r, err)
		return
	}
	c, v, err := a.SignIn.UpdateTAPConfigIfVersion(r.Context(), actorFrom(r.Context()), IfMatchVersion(r), patch)
	var stale *signin.StaleTAPConfigError
	if errors.As(err, &stale) {
		WriteStale(w, r, "the Temporary Access Pass policy", stale.Version, stale.Current)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteVersioned(w, v, c)
}

// passwordMethodID is the one ID Graph gives every password method.
const passwordMethodID = "28c10230-6103-485e-b985-444c60001490"

// listPasswords is Graph's passwordMethods: one entry when the user has a
// password, none when not; the password itself is never returned.
func (a *MethodsAdminAPI) listPasswords(w http.ResponseWriter, r *http.Request) {
	u, err := a.Directory.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	out := []map[string]any{}
	if u.PasswordHash != "" {
		out = append(out, map[string]any{"id": passwordMethodID, "password": nil})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

// tapView is Graph's temporaryAccessPassAuthenticationMethod. The pass
// itself is present only in the answer that created it.
type tapView struct {
	ID                    string    `json:"id"`
	TemporaryAccessPass   *string   `json:"temporaryAccessPass"`
	CreatedDateTime       time.Time `json:"createdDateTime"`
	StartDateTime         time.Time `json:"startDateTime"`
	LifetimeInMinutes     int       `json:"lifetimeInMinutes"`
	IsUsableOnce          bool      `json:"isUsableOnce"`
	IsUsable              bool      `json:"isUsable"`
	MethodUsabilityReason string    `json:"methodUsabilityReason"`
	// LastUsedDateTime is when the pass last signed someone in (Keyward's
	// addition: it tells when a one-time pass was used), null before that.
	LastUsedDateTime *time.Time `json:"lastUsedDateTime"`
}

func (a *MethodsAdminAPI) tapView(t storage.TemporaryAccessPass) tapView {
	usable, why := signin.TAPUsability(t, a.Now())
	return tapView{ID: t.ID, CreatedDateTime: t.CreatedAt, StartDateTime: t.StartAt,
		LifetimeInMinutes: int(t.ExpiresAt.Sub(t.StartAt) / time.Minute), IsUsableOnce: t.IsUsableOnce,
		IsUsable: usable, MethodUsabilityReason: why, LastUsedDateTime: t.UsedAt}
}

func (a *MethodsAdminAPI) issueTAP(w http.ResponseWriter, r *http.Request) {
	u, err := a.Directory.GetUser(r.Context(), r.PathValue("id"))
	var body struct {
		LifetimeInMinutes *int    `json:"lifetimeInMinutes"`
		IsUsableOnce      *bool   `json:"isUsableOnce"`
		StartDateTime     *string `json:"startDateTime"`
	}
	if err == nil && r.ContentLength != 0 {
		err = DecodeJSON(w, r, &body)
	}
	req := signin.TAPRequest{LifetimeInMinutes: body.LifetimeInMinutes, IsUsableOnce: body.IsUsableOnce}
	if err == nil && body.StartDateTime != nil {
		req.StartDateTime, err = parseDateTime("startDateTime", *body.StartDateTime)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	t, err := a.SignIn.IssueTAP(r.Context(), actorFrom(r.Context()), u, req)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	v := a.tapView(t.TemporaryAccessPass)
	v.TemporaryAccessPass = &t.Pass
	w.Header().Set("Location", BaseURL(a.PublicURL, r)+"/api/v1/users/"+u.ID+"/authentication/temporaryAccessPassMethods/"+t.ID)
	WriteJSON(w, http.StatusCreated, v)
}

func (a *MethodsAdminAPI) userTAPs(r *http.Request) (storage.User, []storage.TemporaryAccessPass, error) {
	u, err := a.Directory.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return u, nil, err
	}
	taps, err := a.SignIn.UserTAPs(r.Context(), u.ID)
	return u, taps, err
}

func (a *MethodsAdminAPI) listTAPs(w http.ResponseWriter, r *http.Request) {
	_, taps, err := a.userTAPs(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	out := make([]tapView, 0, len(taps))
	for _, t := range taps {
		out = append(out, a.tapView(t))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (a *MethodsAdminAPI) getTAP(w http.ResponseWriter, r *http.Request) {
	u, taps, err := a.userTAPs(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	for _, t := range taps {
		if t.ID == r.PathValue("tapId") {
			WriteJSON(w, http.StatusOK, a.tapView(t))
			return
		}
	}
	WriteError(w, r, tapNotFound(u, r.PathValue("tapId")))
}

func (a *MethodsAdminAPI) deleteTAP(w http.ResponseWriter, r *http.Request) {
	u, err := a.Directory.GetUser(r.Context(), r.PathValue("id"))
	if err == nil {
		err = a.SignIn.DeleteTAP(r.Context(), actorFrom(r.Context()), u, r.PathValue("tapId"), confirmed(r))
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseDateTime reads an RFC 3339 date and time, as Graph writes them.
func parseDateTime(field, v string) (*time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, apperr.BadRequest("%s must be a date and time such as 2026-03-14T09:00:00Z, not %s", field, quoteShort(v))
	}
	return &t, nil
}

func tapNotFound(u storage.User, id string) error {
	return apperr.NotFound("user %s has no Temporary Access Pass %s", u.UserPrincipalName, quoteShort(id))
}

// softwareOathView is Graph's softwareOathAuthenticationMethod. A user has
// at most one, whose ID is fixed.
type softwareOathView struct {
	ID               string     `json:"id"`
	CreatedDateTime  time.Time  `json:"createdDateTime"`
	LastUsedDateTime *time.Time `json:"lastUsedDateTime"`
}

// softwareOathID is the method ID of a user's authenticator app.
const softwareOathID = "authenticatorApp"

func (a *MethodsAdminAPI) listApps(w http.ResponseWriter, r *http.Request) {
	u, err := a.Directory.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	app, ok, err := a.SignIn.AuthenticatorApp(r.Context(), u.ID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	out := []softwareOathView{}
	if ok {
		out = append(out, softwareOathView{ID: softwareOathID, CreatedDateTime: app.CreatedAt, LastUsedDateTime: app.LastUsedAt})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (a *MethodsAdminAPI) deleteApp(w http.ResponseWriter, r *http.Request) {
	u, err := a.Directory.GetUser(r.Context(), r.PathValue("id"))
	if err == nil && r.PathValue("methodId") != softwareOathID {
		err = apperr.NotFound("user %s has no authenticator app %s; its id is %q", u.UserPrincipalName, quoteShort(r.PathValue("methodId")), softwareOathID)
	}
	if err == nil {
		err = a.SignIn.DeleteTOTP(r.Context(), actorFrom(r.Context()), u)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
