package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

const accessCols = `kind, id, display_name, data, created_at, modified_at`

func scanAccessObject(sc scanner) (storage.AccessObject, error) {
	var o storage.AccessObject
	var data bytesCol
	var created, modified timeCol
	if err := sc.Scan(&o.Kind, &o.ID, &o.DisplayName, &data, &created, &modified); err != nil {
		return storage.AccessObject{}, err
	}
	o.Data, o.CreatedAt, o.ModifiedAt = data.V, created.T, modified.T
	return o, nil
}

func validAccessKind(kind string) error {
	switch kind {
	case storage.AccessPolicy, storage.AccessStrength, storage.AccessLocation:
		return nil
	}
	return fmt.Errorf("%q is not a kind of conditional access object", kind)
}

// AccessVersion implements storage.Storage.
func (s *Store) AccessVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.read().row(ctx, `SELECT version FROM access_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, s.fail("access version", err, nil)
	}
	return v, nil
}

// ListAccessObjects implements storage.Storage.
func (s *Store) ListAccessObjects(ctx context.Context, kind string) ([]storage.AccessObject, error) {
	if kind != "" {
		if err := validAccessKind(kind); err != nil {
			return nil, fmt.Errorf("list access objects: %w", err)
		}
	}
	return s.listAccess(ctx, s.read(), kind)
}

func (s *Store) listAccess(ctx context.Context, c conn, kind string) ([]storage.AccessObject, error) {
	q, args := `SELECT `+accessCols+` FROM access_objects ORDER BY kind, name_key, id`, []any(nil)
	if kind != "" {
		q, args = `SELECT `+accessCols+` FROM access_objects WHERE kind = ? ORDER BY kind, name_key, id`, []any{kind}
	}
	rows, err := c.rows(ctx, q, args...)
	if err != nil {
		return nil, s.fail("list access objects", err, nil)
	}
	defer rows.Close()
	var out []storage.AccessObject
	for rows.Next() {
		o, err := scanAccessObject(rows)
		if err != nil {
			return nil, s.fail("list access objects", err, nil)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list access objects", err, nil)
	}
	return out, nil
}

// GetAccessObject implements storage.Storage.
func (s *Store) GetAccessObject(ctx context.Context, kind, id string) (storage.AccessObject, error) {
	o, err := scanAccessObject(s.read().row(ctx, `SELECT `+accessCols+` FROM access_objects WHERE kind = ? AND id = ?`, kind, id))
	if err != nil {
		return o, s.fail(fmt.Sprintf("get %s %q", kind, id), err, nil)
	}
	return o, nil
}

// ChangeAccess implements storage.Storage. The version row is locked first
// (SELECT … FOR UPDATE on PostgreSQL; SQLite's single writer already holds
// everything), so each change reads the configuration as the previous one
// left it.
func (s *Store) ChangeAccess(ctx context.Context, fn func(storage.AccessState) (storage.AccessChange, error)) (int64, error) {
	const op = "change conditional access"
	var version int64
	err := s.inTx(ctx, func(c conn) error {
		var st storage.AccessState
		if err := c.row(ctx, `SELECT version FROM access_version WHERE id = 1`+s.d.LockRow).Scan(&st.Version); err != nil {
			return s.fail(op, err, nil)
		}
		var err error
		if st.Objects, err = s.listAccess(ctx, c, ""); err != nil {
			return err
		}
		if st.Emergency, err = s.emergencyAccounts(ctx, c); err != nil {
			return err
		}
		if st.Admins, err = s.globalAdmins(ctx, c); err != nil {
			return err
		}
		ch, err := fn(st)
		if err != nil {
			return err
		}
		if err := s.applyAccess(ctx, c, ch); err != nil {
			return err
		}
		version = st.Version + 1
		if _, err := c.exec(ctx, `UPDATE access_version SET version = ? WHERE id = 1`, version); err != nil {
			return s.fail(op, err, nil)
		}
		return nil
	})
	return version, err
}

func (s *Store) applyAccess(ctx context.Context, c conn, ch storage.AccessChange) error {
	for _, k := range ch.Delete {
		op := fmt.Sprintf("delete %s %q", k.Kind, k.ID)
		if err := c.execOne(ctx, `DELETE FROM access_objects WHERE kind = ? AND id = ?`, k.Kind, k.ID); err != nil {
			return s.fail(op, err, nil)
		}
	}
	for _, o := range ch.Put {
		op := fmt.Sprintf("put %s %q", o.Kind, o.DisplayName)
		if err := errors.Join(validAccessKind(o.Kind), requireKey("ID", o.ID), requireKey("display name", o.DisplayName)); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		_, err := c.exec(ctx, `INSERT INTO access_objects (`+accessCols+`, name_key) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, id) DO UPDATE SET display_name = excluded.display_name, name_key = excluded.name_key,
				data = excluded.data, modified_at = excluded.modified_at`,
			o.Kind, o.ID, o.DisplayName, blob(o.Data), s.tv(o.CreatedAt), s.tv(o.ModifiedAt), foldKey(o.DisplayName))
		if err != nil {
			return s.fail(op, err, nil)
		}
	}
	for _, e := range ch.Audit {
		if e.ID == "" {
			e.ID = uuid.NewString()
		}
		_, err := c.exec(ctx, `INSERT INTO audit_events (id, occurred_at, actor, action, target, details)
			VALUES (?, ?, ?, ?, ?, ?)`, e.ID, s.tv(e.Time), e.Actor, e.Action, e.Target, blob(e.Details))
		if err != nil {
			return s.fail(fmt.Sprintf("append audit %q", e.Action), err, nil)
		}
	}
	return nil
}

// ListEmergencyAccounts implements storage.Storage.
func (s *Store) ListEmergencyAccounts(ctx context.Context) ([]storage.EmergencyAccount, error) {
	return s.emergencyAccounts(ctx, s.read())
}

// emergencyAccounts reads the emergency-access users with their groups.
func (s *Store) emergencyAccounts(ctx context.Context, c conn) ([]storage.EmergencyAccount, error) {
	const op = "list emergency accounts"
	rows, err := c.rows(ctx, `SELECT `+prefixed("u", userCols)+`, m.group_id FROM users u
		LEFT JOIN memberships m ON m.user_id = u.id
		WHERE u.is_emergency_access ORDER BY u.upn_key, m.group_id`)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var out []storage.EmergencyAccount
	for rows.Next() {
		var g sql.NullString
		u, err := scanUser(rows, &g)
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
		if n := len(out); n == 0 || out[n-1].User.ID != u.ID {
			out = append(out, storage.EmergencyAccount{User: u})
		}
		if g.Valid {
			a := &out[len(out)-1]
			a.GroupIDs = append(a.GroupIDs, g.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	for i := range out {
		slices.Sort(out[i].GroupIDs)
	}
	return out, nil
}

// globalAdmins reads the enabled global administrators with their methods.
func (s *Store) globalAdmins(ctx context.Context, c conn) ([]storage.AccountMethods, error) {
	const op = "list global administrators"
	rows, err := c.rows(ctx, `SELECT `+userCols+` FROM users WHERE admin_role = ? AND account_enabled ORDER BY upn_key`,
		storage.RoleGlobalAdmin)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	var out []storage.AccountMethods
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, s.fail(op, err, nil)
		}
		out = append(out, storage.AccountMethods{User: u, HasPassword: u.PasswordHash != ""})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	for i := range out {
		a := &out[i]
		if a.GroupIDs, err = s.strings(ctx, c, `SELECT group_id FROM memberships WHERE user_id = ? ORDER BY group_id`, a.User.ID); err != nil {
			return nil, s.fail(op, err, nil)
		}
		if a.PasskeyAAGUIDs, err = s.strings(ctx, c, `SELECT aaguid FROM credentials WHERE user_id = ? AND NOT clone_warning ORDER BY aaguid`, a.User.ID); err != nil {
			return nil, s.fail(op, err, nil)
		}
		totp, err := s.strings(ctx, c, `SELECT user_id FROM totp_methods WHERE user_id = ? AND confirmed`, a.User.ID)
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
		a.HasAuthenticatorApp = len(totp) > 0
	}
	return out, nil
}

// strings runs a query of one text column.
func (s *Store) strings(ctx context.Context, c conn, q string, args ...any) ([]string, error) {
	rows, err := c.rows(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
