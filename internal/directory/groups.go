package directory

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// NormalizeGroupInput validates the fields that are set and returns them trimmed.
func NormalizeGroupInput(in GroupInput) (GroupInput, error) {
	out := in
	if in.DisplayName != nil {
		name, err := NormalizeDisplayName(*in.DisplayName)
		if err != nil {
			return GroupInput{}, err
		}
		out.DisplayName = &name
	}
	if in.Description != nil {
		d, err := NormalizeDescription(*in.Description)
		if err != nil {
			return GroupInput{}, err
		}
		out.Description = &d
	}
	return out, nil
}

// NewGroup builds the group a create request describes (without ID or times).
func NewGroup(in GroupInput) (storage.Group, error) {
	if in.DisplayName == nil {
		return storage.Group{}, apperr.BadRequest("displayName is required, for example \"Security key users\"")
	}
	in, err := NormalizeGroupInput(in)
	if err != nil {
		return storage.Group{}, err
	}
	return applyGroup(storage.Group{}, in), nil
}

func applyGroup(g storage.Group, in GroupInput) storage.Group {
	if in.DisplayName != nil {
		g.DisplayName = *in.DisplayName
	}
	if in.Description != nil {
		g.Description = *in.Description
	}
	return g
}

func groupDetails(in GroupInput) map[string]any {
	d := map[string]any{}
	if in.DisplayName != nil {
		d["displayName"] = *in.DisplayName
	}
	if in.Description != nil {
		d["description"] = *in.Description
	}
	return d
}

func groupNameTaken(name string) *apperr.Error {
	return apperr.Conflict("a group with displayName %s already exists", quote(name))
}

// CreateGroup validates in, stores a new group and audits "group.create".
func (s *Service) CreateGroup(ctx context.Context, actor authz.Actor, in GroupInput) (storage.Group, error) {
	if err := authz.MayManageDirectory(actor); err != nil {
		return storage.Group{}, err
	}
	g, err := NewGroup(in)
	if err != nil {
		return storage.Group{}, err
	}
	g.ID = newID()
	g.CreatedAt = s.now()
	g.UpdatedAt = g.CreatedAt
	details := groupDetails(GroupInput{DisplayName: &g.DisplayName, Description: &g.Description})
	err = s.audited(ctx, actor, "group.create", "group:"+g.ID, details, func(ctx context.Context) error {
		if err := s.Store.CreateGroup(ctx, g); err != nil {
			return storeErr(err, "create group", nil, groupNameTaken(g.DisplayName))
		}
		return nil
	})
	if err != nil {
		return storage.Group{}, err
	}
	return g, nil
}

// GetGroup finds a group by ID; a string that is not a UUID is not found.
func (s *Service) GetGroup(ctx context.Context, id string) (storage.Group, error) {
	cid := canonicalID(id)
	if cid == "" {
		return storage.Group{}, groupNotFound(id)
	}
	g, err := s.Store.GetGroup(ctx, cid)
	if err != nil {
		return storage.Group{}, storeErr(err, "get group "+cid, groupNotFound(id), nil)
	}
	return g, nil
}

// UpdateGroup changes the set fields of in and audits "group.update".
func (s *Service) UpdateGroup(ctx context.Context, actor authz.Actor, id string, in GroupInput) (storage.Group, error) {
	return s.UpdateGroupIfMatch(ctx, actor, id, in, nil)
}

// UpdateGroupIfMatch is UpdateGroup for an editor that read the group at
// some version (GroupVersion); see UpdateUserIfMatch.
func (s *Service) UpdateGroupIfMatch(ctx context.Context, actor authz.Actor, id string, in GroupInput, match func(version string) bool) (storage.Group, error) {
	if err := authz.MayManageDirectory(actor); err != nil {
		return storage.Group{}, err
	}
	in, err := NormalizeGroupInput(in)
	if err != nil {
		return storage.Group{}, err
	}
	if in == (GroupInput{}) {
		return storage.Group{}, apperr.BadRequest("nothing to change: set displayName or description")
	}
	cur, err := s.GetGroup(ctx, id)
	if err != nil {
		return storage.Group{}, err
	}
	now := s.now()
	var g storage.Group
	err = s.audited(ctx, actor, "group.update", "group:"+cur.ID, groupDetails(in), func(ctx context.Context) error {
		var err error
		g, err = s.Store.UpdateGroup(ctx, cur.ID, func(g storage.Group) (storage.Group, error) {
			if v := GroupVersion(g); match != nil && !match(v) {
				return g, &StaleError{Group: &g, Version: v}
			}
			g = applyGroup(g, in)
			g.UpdatedAt = now
			return g, nil
		})
		var stale *StaleError
		if errors.As(err, &stale) {
			return stale
		}
		if err != nil {
			name := cur.DisplayName
			if in.DisplayName != nil {
				name = *in.DisplayName
			}
			return storeErr(err, "update group "+cur.ID, groupNotFound(id), groupNameTaken(name))
		}
		return nil
	})
	if err != nil {
		return storage.Group{}, err
	}
	return g, nil
}

// DeleteGroup removes the group and its memberships and audits "group.delete".
// In the same transaction it takes the group out of the passkey policy's
// include targets (auditing that policy change too); a group the policy
// excludes is not deleted (see policy.Fido2.WithoutDeletedGroup), so the
// policy never names a group that does not exist.
func (s *Service) DeleteGroup(ctx context.Context, actor authz.Actor, id string) error {
	if err := authz.MayManageDirectory(actor); err != nil {
		return err
	}
	g, err := s.GetGroup(ctx, id)
	if err != nil {
		return err
	}
	now, who := s.now(), actor.String()
	event := func(action, target string, details any) (storage.AuditEvent, error) {
		b, err := json.Marshal(details)
		return storage.AuditEvent{ID: newID(), Time: now, Actor: who, Action: action, Target: target, Details: b}, err
	}
	err = s.Store.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
		deleted, err := event("group.delete", "group:"+g.ID, map[string]any{"displayName": g.DisplayName})
		if err != nil {
			return nil, err
		}
		events := []storage.AuditEvent{deleted}
		err = s.Store.DeleteGroupWith(ctx, g.ID, policy.StorageName, func(stored storage.Policy) (storage.GroupDeletion, error) {
			cur, err := policy.Load(stored.Data)
			if err != nil {
				return storage.GroupDeletion{}, err
			}
			next, changed, err := cur.WithoutDeletedGroup(g.ID, g.DisplayName)
			if err != nil || !changed {
				return storage.GroupDeletion{}, err
			}
			data, err := json.Marshal(next)
			if err != nil {
				return storage.GroupDeletion{}, err
			}
			stored.Data, stored.UpdatedAt, stored.UpdatedBy = data, now, who
			// The same action and details as any other change of the policy, so
			// its history reads as one list.
			changedEvent, err := event("policy.fido2.update", policy.AuditTarget,
				map[string]policy.Fido2{"oldValue": cur, "newValue": next})
			if err != nil {
				return storage.GroupDeletion{}, err
			}
			events = append(events, changedEvent)
			return storage.GroupDeletion{Policy: &stored}, nil
		})
		return events, err
	})
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	if err != nil {
		return storeErr(err, "delete group "+g.ID, groupNotFound(id), nil)
	}
	return nil
}

// ListGroups returns one page of groups ordered by displayName and the next cursor.
func (s *Service) ListGroups(ctx context.Context, p storage.Page) ([]storage.Group, string, error) {
	groups, next, err := s.Store.ListGroups(ctx, p)
	if err != nil {
		return nil, "", storeErr(err, "list groups", nil, nil)
	}
	return groups, next, nil
}

// AddMember puts a user (by ID or userPrincipalName) into a group and audits
// "group.member.add". A repeat is a 409 so scripts notice it.
func (s *Service) AddMember(ctx context.Context, actor authz.Actor, groupID, userIDOrUPN string) error {
	if err := authz.MayManageDirectory(actor); err != nil {
		return err
	}
	g, err := s.GetGroup(ctx, groupID)
	if err != nil {
		return err
	}
	u, err := s.GetUser(ctx, userIDOrUPN)
	if err != nil {
		return err
	}
	return s.audited(ctx, actor, "group.member.add", "group:"+g.ID,
		map[string]any{"userId": u.ID, "userPrincipalName": u.UserPrincipalName}, func(ctx context.Context) error {
			if err := s.Store.AddMember(ctx, g.ID, u.ID); err != nil {
				return storeErr(err, "add member", groupNotFound(groupID),
					apperr.Conflict("user %s is already a member of group %s", quote(u.UserPrincipalName), quote(g.DisplayName)))
			}
			return nil
		})
}

// RemoveMember takes a user (by ID or userPrincipalName) out of a group and
// audits "group.member.remove".
func (s *Service) RemoveMember(ctx context.Context, actor authz.Actor, groupID, userID string) error {
	if err := authz.MayManageDirectory(actor); err != nil {
		return err
	}
	g, err := s.GetGroup(ctx, groupID)
	if err != nil {
		return err
	}
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	return s.audited(ctx, actor, "group.member.remove", "group:"+g.ID,
		map[string]any{"userId": u.ID, "userPrincipalName": u.UserPrincipalName}, func(ctx context.Context) error {
			if err := s.Store.RemoveMember(ctx, g.ID, u.ID); err != nil {
				return storeErr(err, "remove member", apperr.NotFound("user %s is not a member of group %s",
					quote(u.UserPrincipalName), quote(g.DisplayName)), nil)
			}
			return nil
		})
}

// ListMembers returns one page of a group's members ordered by userPrincipalName.
func (s *Service) ListMembers(ctx context.Context, groupID string, p storage.Page) ([]storage.User, string, error) {
	g, err := s.GetGroup(ctx, groupID)
	if err != nil {
		return nil, "", err
	}
	users, next, err := s.Store.ListMembers(ctx, g.ID, p)
	if err != nil {
		return nil, "", storeErr(err, "list members of "+g.ID, groupNotFound(groupID), nil)
	}
	return users, next, nil
}
