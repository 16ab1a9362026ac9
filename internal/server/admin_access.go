package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/storage"
)

// AccessAPI serves /api/v1/identity/conditionalAccess: policies,
// authentication strengths and named locations in Microsoft Graph's shapes,
// the what-if (evaluate) and the emergency-account lint. Every admin role may
// read and evaluate; global admins change.
type AccessAPI struct {
	Access    *conditionalaccess.Service
	PublicURL *url.URL // nil = links from the request's host
}

const accessBase = "/api/v1/identity/conditionalAccess"

// Mount implements Mounter.
func (a *AccessAPI) Mount(rt Router) {
	read, write := anyAdminRole, RequireRole(storage.RoleGlobalAdmin)
	for kind, path := range map[string]string{
		storage.AccessPolicy:   accessBase + "/policies",
		storage.AccessStrength: accessBase + "/authenticationStrength/policies",
		storage.AccessLocation: accessBase + "/namedLocations",
	} {
		rt.Handle("GET "+path, read(a.list(kind)))
		rt.Handle("POST "+path, write(a.create(kind, path)))
		rt.Handle("GET "+path+"/{id}", read(a.get(kind)))
		rt.Handle("PATCH "+path+"/{id}", write(a.update(kind)))
		rt.Handle("DELETE "+path+"/{id}", write(a.delete(kind)))
	}
	rt.Handle("POST "+accessBase+"/evaluate", read(http.HandlerFunc(a.evaluate)))
	rt.Handle("GET "+accessBase+"/lint", read(http.HandlerFunc(a.lint)))
	rt.Handle("POST "+accessBase+"/lint", read(http.HandlerFunc(a.lintDraft)))
}

// view fills in what a stored document shows beside itself: the display
// name of the strength a policy requires.
func view(c conditionalaccess.Config, v any) any {
	if p, ok := v.(access.Policy); ok && p.GrantControls != nil && p.GrantControls.AuthenticationStrength != nil {
		g := *p.GrantControls
		ref := *g.AuthenticationStrength
		ref.DisplayName = c.StrengthName(ref.ID)
		g.AuthenticationStrength, p.GrantControls = &ref, &g
		return p
	}
	return v
}

func (a *AccessAPI) list(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Access.Current(r.Context())
		if err != nil {
			WriteError(w, r, err)
			return
		}
		body := listBody[any]{Value: []any{}}
		switch kind {
		case storage.AccessPolicy:
			for _, p := range c.Policies {
				body.Value = append(body.Value, view(c, p))
			}
		case storage.AccessStrength:
			for _, s := range c.AllStrengths() {
				body.Value = append(body.Value, s)
			}
		case storage.AccessLocation:
			for _, l := range c.Locations {
				body.Value = append(body.Value, l)
			}
		}
		WriteJSON(w, http.StatusOK, body)
	}
}

func (a *AccessAPI) get(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, err := a.Access.Get(r.Context(), kind, r.PathValue("id"))
		a.answer(w, r, http.StatusOK, d, err)
	}
}

// answer renders a saved or read document with its ETag, or the error.
func (a *AccessAPI) answer(w http.ResponseWriter, r *http.Request, status int, d conditionalaccess.Document, err error) {
	var stale *conditionalaccess.StaleError
	if errors.As(err, &stale) {
		WritePreconditionFailed(w, r, staleMessage(r, "this document", stale.ETag), stale.ETag, stale.Current)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	c, err := a.Access.Current(r.Context())
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", ETag(d.ETag))
	WriteJSON(w, status, view(c, d.Value))
}

// readSave reads the JSON body and the save options of a create or update;
// false when it answered an error.
func readSave(w http.ResponseWriter, r *http.Request) (json.RawMessage, conditionalaccess.SaveOptions, bool) {
	var body json.RawMessage
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return nil, conditionalaccess.SaveOptions{}, false
	}
	opts, err := saveOptions(r)
	if err != nil {
		WriteError(w, r, err)
		return nil, opts, false
	}
	return body, opts, true
}

func saveOptions(r *http.Request) (conditionalaccess.SaveOptions, error) {
	opts := conditionalaccess.SaveOptions{}
	if m := IfMatch(r); m != nil {
		opts.Match = m
	}
	switch f := r.URL.Query().Get("force"); f {
	case "", "false":
	case "true":
		opts.Force = true
	default:
		return opts, apperr.BadRequest("force must be true or false, not %q", f)
	}
	return opts, nil
}

func (a *AccessAPI) create(kind, path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, opts, ok := readSave(w, r)
		if !ok {
			return
		}
		d, err := a.Access.Create(r.Context(), actorFrom(r.Context()), kind, body, opts)
		if err == nil {
			w.Header().Set("Location", fmt.Sprintf("%s%s/%s", BaseURL(a.PublicURL, r), path, idOf(d.Value)))
		}
		a.answer(w, r, http.StatusCreated, d, err)
	}
}

func idOf(v any) string {
	switch x := v.(type) {
	case access.Policy:
		return x.ID
	case access.Strength:
		return x.ID
	case access.Location:
		return x.ID
	}
	return ""
}

func (a *AccessAPI) update(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		patch, opts, ok := readSave(w, r)
		if !ok {
			return
		}
		d, err := a.Access.Update(r.Context(), actorFrom(r.Context()), kind, r.PathValue("id"), patch, opts)
		a.answer(w, r, http.StatusOK, d, err)
	}
}

func (a *AccessAPI) delete(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := a.Access.Delete(r.Context(), actorFrom(r.Context()), kind, r.PathValue("id")); err != nil {
			WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *AccessAPI) evaluate(w http.ResponseWriter, r *http.Request) {
	var body conditionalaccess.WhatIf
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	res, err := a.Access.Evaluate(r.Context(), body)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

// lintDraft answers which emergency-access accounts a policy not saved yet
// would take in: {"affectedAccounts": [UPN, …]} (Keyward's; the editor
// shows it before Save).
func (a *AccessAPI) lintDraft(w http.ResponseWriter, r *http.Request) {
	var body json.RawMessage
	if err := DecodeJSON(w, r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	upns, err := a.Access.AffectedBy(r.Context(), body)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"affectedAccounts": upns})
}

func (a *AccessAPI) lint(w http.ResponseWriter, r *http.Request) {
	fs, err := a.Access.Lint(r.Context())
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, listBody[access.Finding]{Value: fs})
}
