package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/storage"
)

// DirectoryAPI serves /api/v1/users and /api/v1/groups, shaped like Microsoft
// Graph. Every admin role may read; only global admins write, except that a
// PATCH setting only passwordProfile is a password reset, which the method
// administrators may make too (the domain decides for whom).
type DirectoryAPI struct {
	Directory *directory.Service
	PublicURL *url.URL // nil = links from the request's host
}

// Mount implements Mounter.
func (a *DirectoryAPI) Mount(rt Router) {
	read, write := anyAdminRole, directoryAdmins
	routes := []struct {
		pattern string
		guard   func(http.Handler) http.Handler
		h       http.HandlerFunc
	}{
		{"GET /api/v1/users", read, a.listUsers},
		{"POST /api/v1/users", write, a.createUser},
		{"GET /api/v1/users/{id}", read, a.getUser},
		{"PATCH /api/v1/users/{id}", methodAdmins, a.updateUser},
		{"DELETE /api/v1/users/{id}", write, a.deleteUser},
		{"GET /api/v1/groups", read, a.listGroups},
		{"POST /api/v1/groups", write, a.createGroup},
		{"GET /api/v1/groups/{id}", read, a.getGroup},
		{"PATCH /api/v1/groups/{id}", write, a.updateGroup},
		{"DELETE /api/v1/groups/{id}", write, a.deleteGroup},
		{"GET /api/v1/groups/{id}/members", read, a.listMembers},
		{"POST /api/v1/groups/{id}/members", write, a.addMember},
		{"DELETE /api/v1/groups/{id}/members/{userId}", write, a.removeMember},
		// Graph's own spellings, so scripts written for Graph work unchanged.
		{"POST /api/v1/groups/{id}/members/$ref", write, a.addMember},
		{"DELETE /api/v1/groups/{id}/members/{userId}/$ref", write, a.removeMember},
	}
	for _, route := range routes {
		rt.Handle(route.pattern, route.guard(route.h))
	}
}

// userView is a user as the API shows it.
type userView struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	AccountEnabled    bool   `json:"accountEnabled"`
	IsEmergencyAccess bool   `json:"isEmergencyAccess"`
	// AdminRole is "" or the role the person holds; never the password hash.
	AdminRole string `json:"adminRole"`
	// Mail is the e-mail address an administrator set, null when none.
	Mail            *string `json:"mail"`
	CreatedDateTime string  `json:"createdDateTime"`
}

func newUserView(u storage.User) userView {
	v := userView{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName,
		AccountEnabled: u.AccountEnabled, IsEmergencyAccess: u.IsEmergencyAccess, AdminRole: u.AdminRole,
		CreatedDateTime: graphTime(u.CreatedAt)}
	if u.Mail != "" {
		v.Mail = &u.Mail
	}
	return v
}

// userBody is a POST or PATCH body; a missing (or null) field is unchanged.
type userBody struct {
	UserPrincipalName *string `json:"userPrincipalName"`
	DisplayName       *string `json:"displayName"`
	AccountEnabled    *bool   `json:"accountEnabled"`
	IsEmergencyAccess *bool   `json:"isEmergencyAccess"`
	// PasswordProfile sets or resets the password, as in Graph.
	PasswordProfile *passwordProfile `json:"passwordProfile"`
	AdminRole       *string          `json:"adminRole"`
	// Mail sets the e-mail address; "" removes it.
	Mail *string `json:"mail"`
}

type passwordProfile struct {
	Password *string `json:"password"`
}

func (b userBody) input() (directory.UserInput, error) {
	in := directory.UserInput{UserPrincipalName: b.UserPrincipalName, DisplayName: b.DisplayName,
		AccountEnabled: b.AccountEnabled, IsEmergencyAccess: b.IsEmergencyAccess, AdminRole: b.AdminRole,
		Mail: b.Mail}
	if b.PasswordProfile != nil {
		if b.PasswordProfile.Password == nil {
			return in, apperr.BadRequest(`passwordProfile needs a password: {"passwordProfile": {"password": "…"}}`)
		}
		in.Password = b.PasswordProfile.Password
	}
	return in, nil
}

type groupView struct {
	ID              string `json:"id"`
	DisplayName     string `json:"displayName"`
	Description     string `json:"description"`
	CreatedDateTime string `json:"createdDateTime"`
}

func newGroupView(g storage.Group) groupView {
	return groupView{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description,
		CreatedDateTime: graphTime(g.CreatedAt)}
}

type groupBody struct {
	DisplayName *string `json:"displayName"`
	Description *string `json:"description"`
}

// memberRef names the user to add: {"id": …} or Graph's {"@odata.id": ".../users/<id>"}.
type memberRef struct {
	ID      *string `json:"id"`
	ODataID *string `json:"@odata.id"`
}

// graphTime renders times as Graph does: UTC, RFC 3339, whole seconds.
func graphTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (a *DirectoryAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	lp, err := parseList(r, "userPrincipalName", userView{})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	users, next, err := a.Directory.ListUsers(r.Context(), lp.page)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	a.writeUsers(w, r, lp, users, next)
}

func (a *DirectoryAPI) writeUsers(w http.ResponseWriter, r *http.Request, lp listParams, users []storage.User, next string) {
	body := listBody[any]{Value: make([]any, 0, len(users)), NextLink: nextLink(r, BaseURL(a.PublicURL, r), lp, next)}
	for _, u := range users {
		body.Value = append(body.Value, selected(newUserView(u), lp.sel))
	}
	WriteJSON(w, http.StatusOK, body)
}

func (a *DirectoryAPI) createUser(w http.ResponseWriter, r *http.Request) {
	var body userBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	in, err := body.input()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	u, err := a.Directory.CreateUser(r.Context(), actorFrom(r.Context()), in)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", BaseURL(a.PublicURL, r)+"/api/v1/users/"+u.ID)
	WriteJSON(w, http.StatusCreated, newUserView(u))
}

func (a *DirectoryAPI) getUser(w http.ResponseWriter, r *http.Request) {
	sel, err := parseGetSelect(r, userView{})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	u, err := a.Directory.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", ETag(directory.UserVersion(u)))
	WriteJSON(w, http.StatusOK, selected(newUserView(u), sel))
}

func (a *DirectoryAPI) updateUser(w http.ResponseWriter, r *http.Request) {
	var body userBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	in, err := body.input()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	u, err := a.Directory.UpdateUserIfMatch(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in, IfMatch(r))
	var stale *directory.StaleError
	if errors.As(err, &stale) {
		WritePreconditionFailed(w, r, staleMessage(r, "user "+strconv.Quote(stale.User.UserPrincipalName), stale.Version),
			stale.Version, newUserView(*stale.User))
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", ETag(directory.UserVersion(u)))
	WriteJSON(w, http.StatusOK, newUserView(u))
}

func (a *DirectoryAPI) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := a.Directory.DeleteUser(r.Context(), actorFrom(r.Context()), r.PathValue("id")); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *DirectoryAPI) listGroups(w http.ResponseWriter, r *http.Request) {
	lp, err := parseList(r, "displayName", groupView{})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	groups, next, err := a.Directory.ListGroups(r.Context(), lp.page)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	body := listBody[any]{Value: make([]any, 0, len(groups)), NextLink: nextLink(r, BaseURL(a.PublicURL, r), lp, next)}
	for _, g := range groups {
		body.Value = append(body.Value, selected(newGroupView(g), lp.sel))
	}
	WriteJSON(w, http.StatusOK, body)
}

func (a *DirectoryAPI) createGroup(w http.ResponseWriter, r *http.Request) {
	var body groupBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	g, err := a.Directory.CreateGroup(r.Context(), actorFrom(r.Context()),
		directory.GroupInput{DisplayName: body.DisplayName, Description: body.Description})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", BaseURL(a.PublicURL, r)+"/api/v1/groups/"+g.ID)
	WriteJSON(w, http.StatusCreated, newGroupView(g))
}

func (a *DirectoryAPI) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := a.Directory.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", ETag(directory.GroupVersion(g)))
	WriteJSON(w, http.StatusOK, newGroupView(g))
}

func (a *DirectoryAPI) updateGroup(w http.ResponseWriter, r *http.Request) {
	var body groupBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	g, err := a.Directory.UpdateGroupIfMatch(r.Context(), actorFrom(r.Context()), r.PathValue("id"),
		directory.GroupInput{DisplayName: body.DisplayName, Description: body.Description}, IfMatch(r))
	var stale *directory.StaleError
	if errors.As(err, &stale) {
		WritePreconditionFailed(w, r, staleMessage(r, "group "+strconv.Quote(stale.Group.DisplayName), stale.Version),
			stale.Version, newGroupView(*stale.Group))
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", ETag(directory.GroupVersion(g)))
	WriteJSON(w, http.StatusOK, newGroupView(g))
}

func (a *DirectoryAPI) deleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := a.Directory.DeleteGroup(r.Context(), actorFrom(r.Context()), r.PathValue("id")); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *DirectoryAPI) listMembers(w http.ResponseWriter, r *http.Request) {
	lp, err := parseList(r, "userPrincipalName", userView{})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	users, next, err := a.Directory.ListMembers(r.Context(), r.PathValue("id"), lp.page)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	a.writeUsers(w, r, lp, users, next)
}

func (a *DirectoryAPI) addMember(w http.ResponseWriter, r *http.Request) {
	var ref memberRef
	if err := DecodeJSON(w, r, &ref); err != nil {
		WriteError(w, r, err)
		return
	}
	userID, err := ref.userID()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if err := a.Directory.AddMember(r.Context(), actorFrom(r.Context()), r.PathValue("id"), userID); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *DirectoryAPI) removeMember(w http.ResponseWriter, r *http.Request) {
	err := a.Directory.RemoveMember(r.Context(), actorFrom(r.Context()), r.PathValue("id"), r.PathValue("userId"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userID returns the user the reference names. An @odata.id must be a URL
// whose path ends in /users/<id> (or Graph's /directoryObjects/<id>).
func (m memberRef) userID() (string, error) {
	switch {
	case m.ID != nil && m.ODataID != nil:
		return "", apperr.BadRequest("give either id or @odata.id, not both")
	case m.ID != nil:
		if strings.TrimSpace(*m.ID) == "" {
			return "", apperr.BadRequest("id must not be empty; give the user's id, as in {\"id\": \"<userId>\"}")
		}
		return strings.TrimSpace(*m.ID), nil
	case m.ODataID != nil:
		return odataUserID(*m.ODataID)
	}
	return "", apperr.BadRequest("the body must name the user: {\"id\": \"<userId>\"} or {\"@odata.id\": \"https://…/api/v1/users/<userId>\"}")
}

func odataUserID(ref string) (string, error) {
	bad := apperr.BadRequest("@odata.id %s must be a URL ending in /users/<userId>", quoteShort(ref))
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", bad
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return "", bad
	}
	kind, id := segs[len(segs)-2], segs[len(segs)-1]
	if id == "" || (kind != "users" && kind != "directoryObjects") {
		return "", bad
	}
	return id, nil
}
