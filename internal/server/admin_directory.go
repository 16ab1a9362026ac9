package server

import (
	"context"
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
		{"GET /api/v1/users/{id}/memberOf", read, a.memberOf},
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

// listUsers pages through users by userPrincipalName, or by displayName
// when the filter is a startswith on it (each order has its index).
func (a *DirectoryAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	lp, err := readListQuery(r, userView{})
	list := a.Directory.ListUsers
	if err == nil && lp.hasFilter {
		var field string
		lp.page.Prefix, field, err = parseStartsWith(lp.filter, "userPrincipalName", "displayName")
		if field == "displayName" {
			list = a.Directory.ListUsersByName
		}
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	users, next, err := list(r.Context(), lp.page)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writePage(w, r, BaseURL(a.PublicURL, r), lp, users, next, newUserView)
}

// readUserBody reads a user's JSON body; false when it answered an error.
func readUserBody(w http.ResponseWriter, r *http.Request) (directory.UserInput, bool) {
	var body userBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return directory.UserInput{}, false
	}
	in, err := body.input()
	if err != nil {
		WriteError(w, r, err)
		return directory.UserInput{}, false
	}
	return in, true
}

func (a *DirectoryAPI) createUser(w http.ResponseWriter, r *http.Request) {
	in, ok := readUserBody(w, r)
	if !ok {
		return
	}
	u, err := a.Directory.CreateUser(r.Context(), actorFrom(r.Context()), in)
	writeCreated(w, r, err, BaseURL(a.PublicURL, r)+"/api/v1/users/"+u.ID, newUserView(u))
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
	in, ok := readUserBody(w, r)
	if !ok {
		return
	}
	u, err := a.Directory.UpdateUserIfMatch(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in, IfMatch(r))
	writeChanged(w, r, err, directory.UserVersion(u), newUserView(u), func(cur *directory.StaleError) (string, any) {
		return "user " + strconv.Quote(cur.User.UserPrincipalName), newUserView(*cur.User)
	})
}

func (a *DirectoryAPI) deleteUser(w http.ResponseWriter, r *http.Request) {
	writeNoContent(w, r, a.Directory.DeleteUser(r.Context(), actorFrom(r.Context()), r.PathValue("id")))
}

func (a *DirectoryAPI) listGroups(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, BaseURL(a.PublicURL, r), "displayName", newGroupView, a.Directory.ListGroups)
}

func (a *DirectoryAPI) createGroup(w http.ResponseWriter, r *http.Request) {
	var body groupBody
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	g, err := a.Directory.CreateGroup(r.Context(), actorFrom(r.Context()),
		directory.GroupInput{DisplayName: body.DisplayName, Description: body.Description})
	writeCreated(w, r, err, BaseURL(a.PublicURL, r)+"/api/v1/groups/"+g.ID, newGroupView(g))
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
	writeChanged(w, r, err, directory.GroupVersion(g), newGroupView(g), func(cur *directory.StaleError) (string, any) {
		return "group " + strconv.Quote(cur.Group.DisplayName), newGroupView(*cur.Group)
	})
}

// writeChanged answers an If-Match update of a user or group: 412 with the
// current record (and what names it) when it changed meanwhile, else the
// error, else 200 with the record and its new ETag.
func writeChanged(w http.ResponseWriter, r *http.Request, err error, version string, view any,
	current func(*directory.StaleError) (what string, view any)) {
	var stale *directory.StaleError
	if errors.As(err, &stale) {
		what, cur := current(stale)
		WritePreconditionFailed(w, r, staleMessage(r, what, stale.Version), stale.Version, cur)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", ETag(version))
	WriteJSON(w, http.StatusOK, view)
}

// writeCreated answers 201 with the new resource's location and view, or
// the error.
func writeCreated(w http.ResponseWriter, r *http.Request, err error, location string, view any) {
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", location)
	WriteJSON(w, http.StatusCreated, view)
}

// writeNoContent answers 204, or the error.
func writeNoContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *DirectoryAPI) deleteGroup(w http.ResponseWriter, r *http.Request) {
	writeNoContent(w, r, a.Directory.DeleteGroup(r.Context(), actorFrom(r.Context()), r.PathValue("id")))
}

func (a *DirectoryAPI) listMembers(w http.ResponseWriter, r *http.Request) {
	group := r.PathValue("id")
	servePage(w, r, BaseURL(a.PublicURL, r), "userPrincipalName", newUserView,
		func(ctx context.Context, p storage.Page) ([]storage.User, string, error) {
			return a.Directory.ListMembers(ctx, group, p)
		})
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
	writeNoContent(w, r, a.Directory.AddMember(r.Context(), actorFrom(r.Context()), r.PathValue("id"), userID))
}

func (a *DirectoryAPI) removeMember(w http.ResponseWriter, r *http.Request) {
	writeNoContent(w, r, a.Directory.RemoveMember(r.Context(), actorFrom(r.Context()), r.PathValue("id"), r.PathValue("userId")))
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
