package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/storage"
)

const credentialCols = `id, user_id, credential_id, public_key, aaguid, model, display_name,
	attestation_format, attestation_type, attestation_level, attestation_cert_subjects, transports,
	user_verified, backup_eligible, backup_state, sign_count, clone_warning, created_at, last_used_at,
	attestation_key_id, automatic`

func scanCredential(sc scanner) (storage.Credential, error) {
	var c storage.Credential
	var credID, pub bytesCol
	var subjects, transports strListCol
	var count int64
	var created, used timeCol
	err := sc.Scan(&c.ID, &c.UserID, &credID, &pub, &c.AAGUID, &c.Model, &c.DisplayName,
		&c.AttestationFormat, &c.AttestationType, &c.AttestationLevel, &subjects, &transports,
		&c.UserVerified, &c.BackupEligible, &c.BackupState, &count, &c.CloneWarning, &created, &used,
		&c.AttestationKeyID, &c.Automatic)
	if err != nil {
		return storage.Credential{}, err
	}
	c.CredentialID, c.PublicKey = credID.V, pub.V
	c.AttestationCertSubjects, c.Transports = subjects.V, transports.V
	c.SignCount, c.CreatedAt, c.LastUsedAt = uint32(count), created.T, used.ptr()
	return c, nil
}

func normCredential(c storage.Credential) storage.Credential {
	if len(c.PublicKey) == 0 {
		c.PublicKey = nil
	}
	if len(c.AttestationCertSubjects) == 0 {
		c.AttestationCertSubjects = nil
	}
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	c.CreatedAt, c.LastUsedAt = norm(c.CreatedAt), normPtr(c.LastUsedAt)
	return c
}

// CreateCredential implements storage.Storage. A taken ID or CredentialID is
// ErrAlreadyExists; an unknown UserID is ErrConflict.
func (s *Store) CreateCredential(ctx context.Context, c storage.Credential) error {
	op := fmt.Sprintf("create credential %q", c.ID)
	if err := errors.Join(requireKey("credential ID", c.ID), requireKey("credential user ID", c.UserID)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(c.CredentialID) == 0 {
		return fmt.Errorf("%s: WebAuthn credential ID is empty", op)
	}
	_, err := s.write().exec(ctx, `INSERT INTO credentials (`+credentialCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.CredentialID, blob(c.PublicKey), c.AAGUID, c.Model, c.DisplayName,
		c.AttestationFormat, c.AttestationType, c.AttestationLevel, strList(c.AttestationCertSubjects),
		strList(c.Transports), c.UserVerified, c.BackupEligible, c.BackupState, int64(c.SignCount),
		c.CloneWarning, s.tv(c.CreatedAt), s.tvNull(c.LastUsedAt), c.AttestationKeyID, c.Automatic)
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// GetCredential implements storage.Storage.
func (s *Store) GetCredential(ctx context.Context, id string) (storage.Credential, error) {
	c, err := scanCredential(s.read().row(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ?`, id))
	if err != nil {
		return c, s.fail(fmt.Sprintf("get credential %q", id), err, nil)
	}
	return c, nil
}

// GetCredentialByCredentialID implements storage.Storage (sign-in hot path).
func (s *Store) GetCredentialByCredentialID(ctx context.Context, credentialID []byte) (storage.Credential, error) {
	c, err := scanCredential(s.read().row(ctx, `SELECT `+credentialCols+` FROM credentials
		WHERE credential_id = ?`, blob(credentialID)))
	if err != nil {
		return c, s.fail("get credential by WebAuthn ID", err, nil)
	}
	return c, nil
}

// The sign-in's queries, built once: a query's text is also the key of its
// cached statement, so building it per call costs twice.
var (
	credentialOwnerQuery = `SELECT ` + prefixed("c", credentialCols) + `, ` + prefixed("u", userCols) + `, m.group_id,
		COALESCE((SELECT p.version FROM policies p WHERE p.name = 'fido2' AND p.version > 0), 0)
		FROM credentials c JOIN users u ON u.id = c.user_id LEFT JOIN memberships m ON m.user_id = u.id
		WHERE c.credential_id = ? ORDER BY m.group_id`
	userCredentialsQuery = `SELECT ` + prefixed("c", credentialCols) + `, ` + prefixed("u", userCols) + `
		FROM users u JOIN credentials c ON c.user_id = u.id
		WHERE u.upn_key = ? ORDER BY c.created_at, c.id`
)

// GetCredentialOwner implements storage.Storage: one row per group of the
// owner (one row when there is none), credential and user columns repeated.
func (s *Store) GetCredentialOwner(ctx context.Context, credentialID []byte) (storage.CredentialOwner, error) {
	const op = "get credential with its owner"
	rows, err := s.read().rows(ctx, credentialOwnerQuery, blob(credentialID))
	if err != nil {
		return storage.CredentialOwner{}, s.fail(op, err, nil)
	}
	defer rows.Close()
	var o storage.CredentialOwner
	found := false
	for rows.Next() {
		var group sql.NullString
		// The scan helpers of each record read their columns through one
		// rows.Scan of the whole joined row.
		c, err := scanCredential(scanFunc(func(credDest ...any) error {
			var uerr error
			o.User, uerr = scanUser(scanFunc(func(userDest ...any) error {
				return rows.Scan(append(append(credDest, userDest...), &group, &o.Fido2PolicyVersion)...)
			}))
			return uerr
		}))
		if err != nil {
			return storage.CredentialOwner{}, s.fail(op, err, nil)
		}
		o.Credential, found = c, true
		if group.Valid {
			o.GroupIDs = append(o.GroupIDs, group.String)
		}
	}
	if err := rows.Err(); err != nil {
		return storage.CredentialOwner{}, s.fail(op, err, nil)
	}
	if !found {
		return storage.CredentialOwner{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return o, nil
}

// scanFunc is a scanner made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// prefixed qualifies each column of a comma-separated list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// GetUserCredentialsByUPN implements storage.Storage: one row per
// credential, the user's columns repeated.
func (s *Store) GetUserCredentialsByUPN(ctx context.Context, upn string) (storage.User, []storage.Credential, error) {
	op := fmt.Sprintf("get user %q with credentials", upn)
	rows, err := s.read().rows(ctx, userCredentialsQuery, foldKey(upn))
	if err != nil {
		return storage.User{}, nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var (
		user  storage.User
		creds []storage.Credential
	)
	for rows.Next() {
		c, err := scanCredential(scanFunc(func(credDest ...any) error {
			var uerr error
			user, uerr = scanUser(scanFunc(func(userDest ...any) error {
				return rows.Scan(append(credDest, userDest...)...)
			}))
			return uerr
		}))
		if err != nil {
			return storage.User{}, nil, s.fail(op, err, nil)
		}
		creds = append(creds, c)
	}
	if err := rows.Err(); err != nil {
		return storage.User{}, nil, s.fail(op, err, nil)
	}
	if len(creds) == 0 {
		return storage.User{}, nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return user, creds, nil
}

// ListUserCredentials implements storage.Storage, oldest first.
func (s *Store) ListUserCredentials(ctx context.Context, userID string) ([]storage.Credential, error) {
	return s.listCredentials(ctx, s.read(), userID)
}

func (s *Store) listCredentials(ctx context.Context, c conn, userID string) ([]storage.Credential, error) {
	op := fmt.Sprintf("list credentials of user %q", userID)
	rows, err := c.rows(ctx, `SELECT `+credentialCols+` FROM credentials WHERE user_id = ?
		ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var out []storage.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return out, nil
}

// UpdateCredential implements storage.Storage. ID, UserID, CredentialID and
// CreatedAt identify the credential and are kept.
func (s *Store) UpdateCredential(ctx context.Context, id string, fn func(storage.Credential) (storage.Credential, error)) (storage.Credential, error) {
	op := fmt.Sprintf("update credential %q", id)
	var out storage.Credential
	err := s.inTx(ctx, func(cn conn) error {
		old, err := scanCredential(cn.row(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ?`+s.d.LockRow, id))
		if err != nil {
			return s.fail(op, err, nil)
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		c.ID, c.UserID, c.CredentialID, c.CreatedAt = old.ID, old.UserID, old.CredentialID, old.CreatedAt
		_, err = cn.exec(ctx, `UPDATE credentials SET public_key = ?, aaguid = ?, model = ?, display_name = ?,
			attestation_format = ?, attestation_type = ?, attestation_level = ?, attestation_cert_subjects = ?,
			transports = ?, user_verified = ?, backup_eligible = ?, backup_state = ?, sign_count = ?,
			clone_warning = ?, last_used_at = ?, attestation_key_id = ? WHERE id = ?`,
			blob(c.PublicKey), c.AAGUID, c.Model, c.DisplayName, c.AttestationFormat, c.AttestationType,
			c.AttestationLevel, strList(c.AttestationCertSubjects), strList(c.Transports), c.UserVerified,
			c.BackupEligible, c.BackupState, int64(c.SignCount), c.CloneWarning, s.tvNull(c.LastUsedAt), c.AttestationKeyID, id)
		if err != nil {
			return s.fail(op, err, nil)
		}
		out = normCredential(c)
		return nil
	})
	return out, err
}

// lockUser reads the user's row, locking it until commit where the dialect
// locks rows, so writers of one user's methods take turns.
func (s *Store) lockUser(ctx context.Context, c conn, userID string) (storage.User, error) {
	return scanUser(c.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`+s.d.LockRow, userID))
}

// DeleteUserCredential implements storage.Storage.
func (s *Store) DeleteUserCredential(ctx context.Context, userID, id string, check func(storage.UserMethods) error) error {
	return s.deleteUserMethod(ctx, fmt.Sprintf("delete credential %q of user %q", id, userID),
		`DELETE FROM credentials WHERE id = ? AND user_id = ?`, userID, id, check)
}

// DeleteUserTAP implements storage.Storage as DeleteUserCredential does.
func (s *Store) DeleteUserTAP(ctx context.Context, userID, id string, check func(storage.UserMethods) error) error {
	return s.deleteUserMethod(ctx, fmt.Sprintf("delete temporary access pass %q of user %q", id, userID),
		`DELETE FROM temporary_access_passes WHERE id = ? AND user_id = ?`, userID, id, check)
}

// deleteUserMethod runs del (id, userID) once check approves of the user's
// methods as they are, with the user's row locked from that read to the
// commit. The groups and the passkey policy are read after the lock, so a
// policy change committed before it is the one the check sees.
func (s *Store) deleteUserMethod(ctx context.Context, op, del, userID, id string, check func(storage.UserMethods) error) error {
	return s.inTx(ctx, func(c conn) error {
		u, err := s.lockUser(ctx, c, userID)
		if err != nil {
			return s.fail(op, err, nil)
		}
		if check != nil {
			m := storage.UserMethods{User: u}
			if m.GroupIDs, err = s.groupIDs(ctx, c, userID); err != nil {
				return err
			}
			if m.Credentials, err = s.listCredentials(ctx, c, userID); err != nil {
				return err
			}
			if m.TAPs, err = s.listTAPs(ctx, c, userID); err != nil {
				return err
			}
			if m.Fido2Policy, err = s.fido2Policy(ctx, c); err != nil {
				return err
			}
			if err := check(m); err != nil {
				return err
			}
		}
		if err := c.execOne(ctx, del, id, userID); err != nil {
			return s.fail(op, err, nil)
		}
		return nil
	})
}

// DeleteCredential implements storage.Storage.
func (s *Store) DeleteCredential(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM credentials WHERE id = ?`, id); err != nil {
		return s.fail(fmt.Sprintf("delete credential %q", id), err, nil)
	}
	return nil
}
