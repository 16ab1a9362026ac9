package server

import (
	"net/http"

	"github.com/keyward/keyward/internal/policy"
)

// memberOf is Graph's user memberOf: the user's groups, by display name.
func (a *DirectoryAPI) memberOf(w http.ResponseWriter, r *http.Request) {
	_, groups, err := a.Directory.UserGroups(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		v := newGroupView(g)
		out = append(out, map[string]any{"@odata.type": "#microsoft.graph.group", "id": v.ID, "displayName": v.DisplayName,
			"description": v.Description, "createdDateTime": v.CreatedDateTime})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

// ref names a group or profile in the coverage answer.
type ref struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// fido2Coverage answers whether — and under which passkey profiles, by
// which targets — the passkey policy covers one user, for the user page.
type fido2Coverage struct {
	Covered    bool   `json:"covered"`
	Code       string `json:"code,omitempty"`   // why not: methodDisabled, excludedByGroup, notTargeted
	Reason     string `json:"reason,omitempty"` // the same in words, groups by name
	Profiles   []ref  `json:"passkeyProfiles"`
	IncludedBy []ref  `json:"includedBy"` // groups, or all_users ("All users")
	ExcludedBy *ref   `json:"excludedBy"`
}

func (a *PasskeyAdminAPI) coverage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, err := a.Directory.GetUser(ctx, r.PathValue("id"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	pol, groups, err := a.Policies.ForUser(ctx, u.ID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	c := pol.Coverage(groups)
	name := func(id string) ref {
		if id == policy.AllUsers {
			return ref{ID: id, DisplayName: "All users"}
		}
		if g, err := a.Store.GetGroup(ctx, id); err == nil {
			return ref{ID: id, DisplayName: g.DisplayName}
		}
		return ref{ID: id, DisplayName: id}
	}
	out := fido2Coverage{Covered: c.Covered, Profiles: []ref{}, IncludedBy: []ref{}}
	if !c.Covered {
		d := a.Policies.Explain(ctx, c.Refusal)
		out.Code, out.Reason = d.Code, d.Reason
		if d.Group != "" {
			g := name(d.Group)
			out.ExcludedBy = &g
		}
	}
	for _, p := range c.Profiles {
		out.Profiles = append(out.Profiles, ref{ID: p.ID, DisplayName: p.Name})
	}
	for _, id := range c.IncludedBy {
		out.IncludedBy = append(out.IncludedBy, name(id))
	}
	WriteJSON(w, http.StatusOK, out)
}
