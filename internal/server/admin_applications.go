package server

import (
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/storage"
)

// ApplicationsAPI serves /api/v1/applications: app registrations shaped like
// Microsoft Graph's application. Readers may read; global admins write.
type ApplicationsAPI struct {
	Apps      *oidc.Apps
	PublicURL *url.URL // nil = links from the request's host
}

// Mount implements Mounter.
func (a *ApplicationsAPI) Mount(rt Router) {
	read := anyAdminRole
	write := RequireRole(storage.RoleGlobalAdmin)
	routes := []struct {
		pattern string
		guard   func(http.Handler) http.Handler
		h       http.HandlerFunc
	}{
		{"GET /api/v1/applications", read, a.list},
		{"POST /api/v1/applications", write, a.create},
		{"GET /api/v1/applications/{id}", read, a.get},
		{"PATCH /api/v1/applications/{id}", write, a.update},
		{"DELETE /api/v1/applications/{id}", write, a.delete},
		{"POST /api/v1/applications/{id}/addPassword", write, a.addPassword},
		{"POST /api/v1/applications/{id}/removePassword", write, a.removePassword},
	}
	for _, route := range routes {
		rt.Handle(route.pattern, route.guard(route.h))
	}
}

type redirectsView struct {
	RedirectURIs []string `json:"redirectUris"`
}

// PasswordView is Graph's passwordCredential: a client secret's metadata
// (the secret itself only in addPassword's answer).
type PasswordView struct {
	KeyID         string `json:"keyId"`
	DisplayName   string `json:"displayName"`
	Hint          string `json:"hint"`
	StartDateTime string `json:"startDateTime"`
	EndDateTime   string `json:"endDateTime"`
	SecretText    string `json:"secretText,omitempty"` // only in addPassword's answer
}

// ApplicationView is Graph's application as the admin API and the CLI's
// --json output show it.
type ApplicationView struct {
	ID                    string         `json:"id"`
	AppID                 string         `json:"appId"`
	DisplayName           string         `json:"displayName"`
	Web                   redirectsView  `json:"web"`
	PublicClient          redirectsView  `json:"publicClient"`
	PasswordCredentials   []PasswordView `json:"passwordCredentials"`
	AssignedGroups        []string       `json:"assignedGroups"`
	GroupMembershipClaims bool           `json:"groupMembershipClaims"`
	TokenSigningAlgorithm string         `json:"tokenSigningAlgorithm"`
	AccessTokenType       string         `json:"accessTokenType"`
	CreatedDateTime       string         `json:"createdDateTime"`
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// NewPasswordView shows a stored client secret's metadata.
func NewPasswordView(p storage.PasswordCredential) PasswordView {
	return PasswordView{KeyID: p.KeyID, DisplayName: p.DisplayName, Hint: p.Hint,
		StartDateTime: graphTime(p.StartAt), EndDateTime: graphTime(p.EndAt)}
}

// NewApplicationView shows a stored application.
func NewApplicationView(a storage.Application) ApplicationView {
	v := ApplicationView{ID: a.ID, AppID: a.AppID, DisplayName: a.DisplayName,
		Web: redirectsView{orEmpty(a.WebRedirectURIs)}, PublicClient: redirectsView{orEmpty(a.PublicClientRedirectURIs)},
		PasswordCredentials: []PasswordView{}, AssignedGroups: orEmpty(a.AssignedGroups),
		GroupMembershipClaims: a.GroupsClaim, TokenSigningAlgorithm: a.SigningAlg, AccessTokenType: a.AccessTokenType,
		CreatedDateTime: graphTime(a.CreatedAt)}
	for _, p := range a.PasswordCredentials {
		v.PasswordCredentials = append(v.PasswordCredentials, NewPasswordView(p))
	}
	return v
}

// applicationBody is a POST or PATCH body; a missing field is unchanged.
type applicationBody struct {
	DisplayName           *string        `json:"displayName"`
	Web                   *redirectsBody `json:"web"`
	PublicClient          *redirectsBody `json:"publicClient"`
	AssignedGroups        *[]string      `json:"assignedGroups"`
	GroupMembershipClaims *bool          `json:"groupMembershipClaims"`
	TokenSigningAlgorithm *string        `json:"tokenSigningAlgorithm"`
	AccessTokenType       *string        `json:"accessTokenType"`
}

type redirectsBody struct {
	RedirectURIs *[]string `json:"redirectUris"`
}

func (b applicationBody) input() oidc.AppInput {
	in := oidc.AppInput{DisplayName: b.DisplayName, AssignedGroups: b.AssignedGroups,
		GroupsClaim: b.GroupMembershipClaims, SigningAlg: b.TokenSigningAlgorithm, AccessTokenType: b.AccessTokenType}
	if b.Web != nil {
		in.WebRedirectURIs = b.Web.RedirectURIs
		if in.WebRedirectURIs == nil {
			in.WebRedirectURIs = &[]string{}
		}
	}
	if b.PublicClient != nil {
		in.PublicClientRedirectURIs = b.PublicClient.RedirectURIs
		if in.PublicClientRedirectURIs == nil {
			in.PublicClientRedirectURIs = &[]string{}
		}
	}
	return in
}

func (a *ApplicationsAPI) list(w http.ResponseWriter, r *http.Request) {
	lp, err := parseList(r, "displayName", nil)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	apps, next, err := a.Apps.List(r.Context(), lp.page)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	body := listBody[ApplicationView]{Value: make([]ApplicationView, 0, len(apps)), NextLink: nextLink(r, BaseURL(a.PublicURL, r), lp, next)}
	for _, app := range apps {
		body.Value = append(body.Value, NewApplicationView(app))
	}
	WriteJSON(w, http.StatusOK, body)
}

func (a *ApplicationsAPI) create(w http.ResponseWriter, r *http.Request) {
	var body applicationBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	app, err := a.Apps.Create(r.Context(), actorFrom(r.Context()).String(), body.input())
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", BaseURL(a.PublicURL, r)+"/api/v1/applications/"+app.ID)
	WriteJSON(w, http.StatusCreated, NewApplicationView(app))
}

func (a *ApplicationsAPI) get(w http.ResponseWriter, r *http.Request) {
	app, err := a.Apps.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, NewApplicationView(app))
}

func (a *ApplicationsAPI) update(w http.ResponseWriter, r *http.Request) {
	var body applicationBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	in := body.input()
	if in == (oidc.AppInput{}) {
		WriteError(w, r, apperr.BadRequest("nothing to change: set displayName, web, publicClient, assignedGroups, groupMembershipClaims, tokenSigningAlgorithm or accessTokenType"))
		return
	}
	app, err := a.Apps.Update(r.Context(), actorFrom(r.Context()).String(), r.PathValue("id"), in)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, NewApplicationView(app))
}

func (a *ApplicationsAPI) delete(w http.ResponseWriter, r *http.Request) {
	if err := a.Apps.Delete(r.Context(), actorFrom(r.Context()).String(), r.PathValue("id")); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type addPasswordBody struct {
	PasswordCredential *struct {
		DisplayName string     `json:"displayName"`
		EndDateTime *time.Time `json:"endDateTime"`
	} `json:"passwordCredential"`
}

func (a *ApplicationsAPI) addPassword(w http.ResponseWriter, r *http.Request) {
	var body addPasswordBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	var name string
	var end *time.Time
	if pc := body.PasswordCredential; pc != nil {
		name, end = pc.DisplayName, pc.EndDateTime
	}
	pc, text, err := a.Apps.AddPassword(r.Context(), actorFrom(r.Context()).String(), r.PathValue("id"), name, end)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	v := NewPasswordView(pc)
	v.SecretText = text
	WriteJSON(w, http.StatusOK, v)
}

type removePasswordBody struct {
	KeyID *string `json:"keyId"`
}

func (a *ApplicationsAPI) removePassword(w http.ResponseWriter, r *http.Request) {
	var body removePasswordBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	if body.KeyID == nil || *body.KeyID == "" {
		WriteError(w, r, apperr.BadRequest(`keyId is required: {"keyId": "…"}`))
		return
	}
	if err := a.Apps.RemovePassword(r.Context(), actorFrom(r.Context()).String(), r.PathValue("id"), *body.KeyID); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
