package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/storage"
)

const groupCols = `id, display_name, description, created_at, updated_at`

func scanGroup(sc scanner, extra ...any) (storage.Group, error) {
	var g storage.Group
	var created, updated timeCol
	dest := append([]any{&g.ID, &g.DisplayName, &g.Description, &created, &updated}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return storage.Group{}, err
	}
	g.CreatedAt, g.UpdatedAt = created.T, updated.T
	return g, nil
}

func validGroup(g storage.Group) error {
	if err := requireKey("group ID", g.ID); err != nil {
		return err
	}
	return requireKey("group display name", g.DisplayName)
}

// CreateGroup implements storage.Storage.
func (s *Store) CreateGroup(ctx context.Context, g storage.Group) error {
	op := fmt.Sprintf("create group %q", g.DisplayName)
	if err := validGroup(g); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err := s.write().exec(ctx, `INSERT INTO security_groups (`+groupCols+`, name_key) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.DisplayName, g.Description, s.tv(g.CreatedAt), s.tv(g.UpdatedAt), foldKey(g.DisplayName))
	if err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}

// GetGroup implements storage.Storage.
func (s *Store) GetGroup(ctx context.Context, id string) (storage.Group, error) {
	g, err := scanGroup(s.read().row(ctx, `SELECT `+groupCols+` FROM security_groups WHERE id = ?`, id))
	if err != nil {
		return g, s.fail(fmt.Sprintf("get group %q", id), err, nil)
	}
	return g, nil
}

// UpdateGroup implements storage.Storage (fn must not write through the store).
func (s *Store) UpdateGroup(ctx context.Context, id string, fn func(storage.Group) (storage.Group, error)) (storage.Group, error) {
	op := fmt.Sprintf("update group %q", id)
	var out storage.Group
	err := s.inTx(ctx, func(c conn) error {
		old, err := scanGroup(c.row(ctx, `SELECT `+groupCols+` FROM security_groups WHERE id = ?`+s.d.LockRow, id))
		if err != nil {
			return s.fail(op, err, nil)
		}
		g, err := fn(old)
		if err != nil {
			return err
		}
		g.ID, g.CreatedAt = old.ID, old.CreatedAt
		if err := validGroup(g); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		_, err = c.exec(ctx, `UPDATE security_groups SET display_name = ?, name_key = ?, description = ?, updated_at = ?
			WHERE id = ?`, g.DisplayName, foldKey(g.DisplayName), g.Description, s.tv(g.UpdatedAt), id)
		if err != nil {
			return s.fail(op, err, nil)
		}
		g.CreatedAt, g.UpdatedAt = norm(g.CreatedAt), norm(g.UpdatedAt)
		out = g
		return nil
	})
	return out, err
}

// DeleteGroup implements storage.Storage; memberships go with it.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM security_groups WHERE id = ?`, id); err != nil {
		return s.fail(fmt.Sprintf("delete group %q", id), err, nil)
	}
	return nil
}

// DeleteGroupWith implements storage.Storage. The policy row is locked before
// the group is deleted, the same order as a policy update that checks the
// groups it names, so the two cannot interleave.
func (s *Store) DeleteGroupWith(ctx context.Context, id, policyName string, edit func(storage.Policy) (storage.GroupDeletion, error)) error {
	op := fmt.Sprintf("delete group %q", id)
	return s.inTx(ctx, func(c conn) error {
		old, err := scanPolicy(c.row(ctx, `SELECT `+policyCols+` FROM policies WHERE name = ? AND version > 0`+s.d.LockRow, policyName))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old = storage.Policy{Name: policyName}
		case err != nil:
			return s.fail(op, err, nil)
		}
		if err := c.execOne(ctx, `DELETE FROM security_groups WHERE id = ?`, id); err != nil {
			return s.fail(op, err, nil)
		}
		d, err := edit(old)
		if err != nil {
			return err
		}
		if p := d.Policy; p != nil {
			if old.Version == 0 {
				return fmt.Errorf("%s: policy %q is not stored and cannot be edited here", op, policyName)
			}
			err := c.execOne(ctx, `UPDATE policies SET data = ?, version = ?, updated_at = ?, updated_by = ?
				WHERE name = ?`, blob(p.Data), old.Version+1, s.tv(p.UpdatedAt), p.UpdatedBy, policyName)
			if err != nil {
				return s.fail(op, err, nil)
			}
		}
		return nil
	})
}

// ListGroups implements storage.Storage.
func (s *Store) ListGroups(ctx context.Context, p storage.Page) ([]storage.Group, string, error) {
	pq, err := decodePage(p)
	if err != nil {
		return nil, "", fmt.Errorf("list groups: %w", err)
	}
	rows, err := s.read().rows(ctx, `SELECT `+groupCols+`, name_key FROM security_groups
		WHERE `+pq.where("name_key", s.keyBound())+` ORDER BY name_key LIMIT ?`, pq.args()...)
	if err != nil {
		return nil, "", s.fail("list groups", err, nil)
	}
	defer rows.Close()
	var groups []storage.Group
	var keys []string
	for rows.Next() {
		var key string
		g, err := scanGroup(rows, &key)
		if err != nil {
			return nil, "", s.fail("list groups", err, nil)
		}
		groups, keys = append(groups, g), append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail("list groups", err, nil)
	}
	if len(groups) <= pq.limit {
		return groups, "", nil
	}
	return groups[:pq.limit], cursor(keys[pq.limit-1]), nil
}

// AddMember implements storage.Storage.
func (s *Store) AddMember(ctx context.Context, groupID, userID string) error {
	_, err := s.write().exec(ctx, `INSERT INTO memberships (group_id, user_id) VALUES (?, ?)`, groupID, userID)
	if err != nil {
		return s.fail(fmt.Sprintf("add user %q to group %q", userID, groupID), err, storage.ErrNotFound)
	}
	return nil
}

// RemoveMember implements storage.Storage.
func (s *Store) RemoveMember(ctx context.Context, groupID, userID string) error {
	err := s.write().execOne(ctx, `DELETE FROM memberships WHERE group_id = ? AND user_id = ?`, groupID, userID)
	if err != nil {
		return s.fail(fmt.Sprintf("remove user %q from group %q", userID, groupID), err, nil)
	}
	return nil
}

// ListMembers implements storage.Storage. An unknown group is ErrNotFound.
func (s *Store) ListMembers(ctx context.Context, groupID string, p storage.Page) ([]storage.User, string, error) {
	op := fmt.Sprintf("list members of group %q", groupID)
	pq, err := decodePage(p)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	// The bounds as plain values: the planner weighs the group's members
	// against the key range to order the join, and should see both.
	rows, err := s.read().rows(ctx, `SELECT `+prefixed("u", userCols)+`, u.upn_key
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? AND `+pq.where("u.upn_key", "?")+`
		ORDER BY u.upn_key LIMIT ?`, append([]any{groupID}, pq.args()...)...)
	if err != nil {
		return nil, "", s.fail(op, err, nil)
	}
	users, next, err := collectUsers(rows, pq.limit)
	if err != nil {
		return nil, "", s.fail(op, err, nil)
	}
	if len(users) == 0 {
		// Tell an empty group from a missing one only when it matters.
		var one int
		if err := s.read().row(ctx, `SELECT 1 FROM security_groups WHERE id = ?`, groupID).Scan(&one); err != nil {
			return nil, "", s.fail(op, err, nil)
		}
	}
	return users, next, nil
}

// UserGroupIDs implements storage.Storage.
// UserGroups implements storage.Storage.
func (s *Store) UserGroups(ctx context.Context, userID string) ([]storage.Group, error) {
	op := fmt.Sprintf("groups of user %q", userID)
	rows, err := s.read().rows(ctx, `SELECT `+prefixed("g", groupCols)+` FROM memberships m
		JOIN security_groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.name_key`, userID)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var groups []storage.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return groups, nil
}

func (s *Store) UserGroupIDs(ctx context.Context, userID string) ([]string, error) {
	return s.groupIDs(ctx, s.read(), userID)
}

// groupIDs is UserGroupIDs on c (a transaction's connection, say).
func (s *Store) groupIDs(ctx context.Context, c conn, userID string) ([]string, error) {
	op := fmt.Sprintf("groups of user %q", userID)
	rows, err := c.rows(ctx, `SELECT group_id FROM memberships WHERE user_id = ? ORDER BY group_id`, userID)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.fail(op, err, nil)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return ids, nil
}
