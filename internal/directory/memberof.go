package directory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/storage"
)

// UserGroups lists the groups the user belongs to, by display name. A group
// deleted between the two reads is left out.
func (s *Service) UserGroups(ctx context.Context, idOrUPN string) (storage.User, []storage.Group, error) {
	u, err := s.GetUser(ctx, idOrUPN)
	if err != nil {
		return storage.User{}, nil, err
	}
	ids, err := s.Store.UserGroupIDs(ctx, u.ID)
	if err != nil {
		return u, nil, apperr.Internal(fmt.Errorf("list groups of %s: %w", u.ID, err))
	}
	groups := make([]storage.Group, 0, len(ids))
	for _, id := range ids {
		g, err := s.Store.GetGroup(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return u, nil, apperr.Internal(fmt.Errorf("get group %s: %w", id, err))
		}
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		return strings.ToLower(groups[i].DisplayName) < strings.ToLower(groups[j].DisplayName)
	})
	return u, groups, nil
}
