package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

const userCols = `id, upn, display_name, account_enabled, is_emergency_access, password_hash, created_at, updated_at, admin_role, mail`

func scanUser(sc scanner, extra ...any) (storage.User, error) {
	var u userScan
	if err := sc.Scan(append(u.dest(), extra...)...); err != nil {
		return storage.User{}, err
	}
	return u.user(), nil
}

// userScan receives userCols among other columns (see scanUser).
type userScan struct {
	u                storage.User
	created, updated timeCol
}

func (s *userScan) dest() []any {
	return []any{&s.u.ID, &s.u.UserPrincipalName, &s.u.DisplayName, &s.u.AccountEnabled,
		&s.u.IsEmergencyAccess, &s.u.PasswordHash, &s.created, &s.updated, &s.u.AdminRole, &s.u.Mail}
}

func (s *userScan) user() storage.User {
	u := s.u
	u.CreatedAt, u.UpdatedAt = s.created.T, s.updated.T
	return u
}

func normUser(u storage.User) storage.User {
	u.CreatedAt, u.UpdatedAt = norm(u.CreatedAt), norm(u.UpdatedAt)
	return u
}

func validUser(u storage.User) error {
	if err := requireKey("user ID", u.ID); err != nil {
		return err
	}
	return requireKey("user principal name", u.UserPrincipalName)
}

// CreateUser implements storage.Storage.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	op := fmt.Sprintf("create user %q", u.UserPrincipalName)
	if err := validUser(u); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.insertUser(ctx, s.write(), u); err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}

func (s *Store) insertUser(ctx context.Context, c conn, u storage.User) error {
	_, err := c.exec(ctx, `INSERT INTO users (`+userCols+`, upn_key, name_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.UserPrincipalName, u.DisplayName, u.AccountEnabled, u.IsEmergencyAccess,
		u.PasswordHash, s.tv(u.CreatedAt), s.tv(u.UpdatedAt), u.AdminRole, u.Mail, foldKey(u.UserPrincipalName), foldKey(u.DisplayName))
	return err
}

// CreateFirstUser implements storage.Storage. The users table is locked
// (PostgreSQL) or the single writer held (SQLite) from the count to the
// commit, so no other user can appear between "there are none" and the insert.
func (s *Store) CreateFirstUser(ctx context.Context, u storage.User, purpose string, tokenHash []byte, now time.Time) error {
	op := fmt.Sprintf("create first user %q", u.UserPrincipalName)
	if err := validUser(u); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return s.inTx(ctx, func(c conn) error {
		if s.d.LockUsers != "" {
			if _, err := c.exec(ctx, s.d.LockUsers); err != nil {
				return s.fail(op, err, nil)
			}
		}
		var exists bool
		if err := c.row(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists); err != nil {
			return s.fail(op, err, nil)
		}
		if exists {
			return fmt.Errorf("%s: a user exists already: %w", op, storage.ErrConflict)
		}
		err := c.execOne(ctx, `UPDATE one_time_tokens SET used_at = ?
			WHERE purpose = ? AND hash = ? AND used_at IS NULL AND expires_at > ?`,
			s.tv(now), purpose, blob(tokenHash), s.tv(now))
		if err != nil {
			return s.fail(op+": use one-time token", err, nil)
		}
		if err := s.insertUser(ctx, c, u); err != nil {
			return s.fail(op, err, nil)
		}
		return nil
	})
}

// GetUser implements storage.Storage.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.read().row(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return u, s.fail(fmt.Sprintf("get user %q", id), err, nil)
	}
	return u, nil
}

// GetUserByUPN implements storage.Storage.
func (s *Store) GetUserByUPN(ctx context.Context, upn string) (storage.User, error) {
	u, err := scanUser(s.read().row(ctx, `SELECT `+userCols+` FROM users WHERE upn_key = ?`, foldKey(upn)))
	if err != nil {
		return u, s.fail(fmt.Sprintf("get user by UPN %q", upn), err, nil)
	}
	return u, nil
}

// UpdateUser implements storage.Storage. fn must not write through the store:
// on SQLite the single writer connection is held for the whole update.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error) {
	op := fmt.Sprintf("update user %q", id)
	var out storage.User
	err := s.inTx(ctx, func(c conn) error {
		old, err := scanUser(c.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`+s.d.LockRow, id))
		if err != nil {
			return s.fail(op, err, nil)
		}
		u, err := fn(old)
		if err != nil {
			return err
		}
		u.ID, u.CreatedAt = old.ID, old.CreatedAt
		if err := validUser(u); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		_, err = c.exec(ctx, `UPDATE users SET upn = ?, upn_key = ?, display_name = ?, name_key = ?, account_enabled = ?,
			is_emergency_access = ?, password_hash = ?, admin_role = ?, mail = ?, updated_at = ? WHERE id = ?`,
			u.UserPrincipalName, foldKey(u.UserPrincipalName), u.DisplayName, foldKey(u.DisplayName), u.AccountEnabled,
			u.IsEmergencyAccess, u.PasswordHash, u.AdminRole, u.Mail, s.tv(u.UpdatedAt), id)
		if err != nil {
			return s.fail(op, err, nil)
		}
		out = normUser(u)
		return nil
	})
	return out, err
}

// DeleteUser implements storage.Storage. Memberships, credentials, sessions and
// one-time tokens, authenticator apps and Temporary Access Passes go with the
// user through ON DELETE CASCADE.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
		return s.fail(fmt.Sprintf("delete user %q", id), err, nil)
	}
	return nil
}

// ListUsers implements storage.Storage.
func (s *Store) ListUsers(ctx context.Context, p storage.Page) ([]storage.User, string, error) {
	pq, err := decodePage(p)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	rows, err := s.read().rows(ctx, `SELECT `+userCols+`, upn_key FROM users
		WHERE `+pq.where("upn_key", s.keyBound())+` ORDER BY upn_key LIMIT ?`, pq.args()...)
	if err != nil {
		return nil, "", s.fail("list users", err, nil)
	}
	users, next, err := collectUsers(rows, pq.limit)
	if err != nil {
		return nil, "", s.fail("list users", err, nil)
	}
	return users, next, nil
}

// ListUsersByName implements storage.Storage: keyset paging on (name_key,
// upn_key), the cursor holding both.
func (s *Store) ListUsersByName(ctx context.Context, p storage.Page) ([]storage.User, string, error) {
	pq, err := decodePage(p)
	if err != nil {
		return nil, "", fmt.Errorf("list users by name: %w", err)
	}
	var after [2]string
	if pq.after != "" {
		if err := json.Unmarshal([]byte(pq.after), &after); err != nil {
			return nil, "", fmt.Errorf("list users by name: page cursor %q: %w", p.After, storage.ErrBadCursor)
		}
	}
	// One lower bound, as pageQuery.where gives: PostgreSQL seeked the index
	// on the row comparison when given both, from the table's start on a
	// first page. Each bound written as the dialect's keyBound, as there.
	b := s.keyBound()
	lower, args := `name_key >= `+b, []any{pq.lo}
	if after[0] >= pq.lo && pq.after != "" {
		lower, args = `(name_key, upn_key) > (`+b+`, `+b+`)`, []any{after[0], after[1]}
	}
	rows, err := s.read().rows(ctx, `SELECT `+userCols+`, name_key, upn_key FROM users
		WHERE `+lower+` AND name_key < `+b+` ORDER BY name_key, upn_key LIMIT ?`, append(args, pq.hi, pq.limit+1)...)
	if err != nil {
		return nil, "", s.fail("list users by name", err, nil)
	}
	defer rows.Close()
	var users []storage.User
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		u, err := scanUser(rows, &k[0], &k[1])
		if err != nil {
			return nil, "", s.fail("list users by name", err, nil)
		}
		users, keys = append(users, u), append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail("list users by name", err, nil)
	}
	if len(users) <= pq.limit {
		return users, "", nil
	}
	next, _ := json.Marshal(keys[pq.limit-1]) // two strings always marshal
	return users[:pq.limit], cursor(string(next)), nil
}

// collectUsers reads a page of users selected with their key as the last
// column, and the cursor of the next page ("" when this is the last).
func collectUsers(rows *rowSet, limit int) ([]storage.User, string, error) {
	defer rows.Close()
	var users []storage.User
	var keys []string
	for rows.Next() {
		var key string
		u, err := scanUser(rows, &key)
		if err != nil {
			return nil, "", err
		}
		users, keys = append(users, u), append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(users) <= limit {
		return users, "", nil
	}
	return users[:limit], cursor(keys[limit-1]), nil
}

// CountUsers implements storage.Storage.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read().row(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, s.fail("count users", err, nil)
	}
	return n, nil
}

// LockPrivilegedUsers implements storage.Storage. The fixed (ID) order keeps
// two lockers from waiting for each other.
func (s *Store) LockPrivilegedUsers(ctx context.Context) error {
	const op = "lock privileged users"
	if s.d.LockRow == "" {
		return nil
	}
	return s.inTx(ctx, func(c conn) error {
		rows, err := c.rows(ctx, `SELECT id FROM users WHERE admin_role = ? OR is_emergency_access
			ORDER BY id`+s.d.LockRow, storage.RoleGlobalAdmin)
		if err != nil {
			return s.fail(op, err, nil)
		}
		defer rows.Close()
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			return s.fail(op, err, nil)
		}
		return nil
	})
}
