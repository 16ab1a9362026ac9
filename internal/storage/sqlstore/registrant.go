package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keyward/keyward/internal/storage"
)

// The registration's reads, built once. One row per group and per key of the
// user (one row with no group or key when there is none), the user's columns,
// the policy version and the blob number repeated. Each branch of the union
// is filtered by the user ID itself, so each reads its own index range
// (memberships_user, credentials_user) whatever the planner makes of the
// join; the first branch's NULLs take their type from the second's.
var (
	registrantHead = `SELECT ` + prefixed("u", userCols) + `,
		COALESCE((SELECT p.version FROM policies p WHERE p.name = 'fido2' AND p.version > 0), 0),
		(SELECT COALESCE(MAX(b.number), 0) FROM mds_blobs b),
		x.kind, x.ref_id, x.ref_text
		FROM users u LEFT JOIN (`
	registrantTail = `) x ON 1 = 1
		WHERE u.id = ? ORDER BY x.kind, x.ref_at, x.ref_text`
	registrantGroups = `SELECT 1 AS kind, NULL AS ref_id, group_id AS ref_text, NULL AS ref_at
		FROM memberships WHERE user_id = ?`
	registrantQuery     = registrantHead + registrantGroups + registrantTail
	registrantKeysQuery = registrantHead + registrantGroups + `
		UNION ALL SELECT 2, credential_id, transports, created_at FROM credentials WHERE user_id = ?` + registrantTail
)

// The kinds of a registrant's rows.
const (
	registrantGroup = 1
	registrantKey   = 2
)

// GetRegistrant implements storage.Storage.
func (s *Store) GetRegistrant(ctx context.Context, userID string, keys bool) (storage.Registrant, error) {
	op := fmt.Sprintf("get registrant %q", userID)
	q, args := registrantQuery, []any{userID, userID}
	if keys {
		q, args = registrantKeysQuery, []any{userID, userID, userID}
	}
	rows, err := s.readPoint().rows(ctx, q, args...)
	if err != nil {
		return storage.Registrant{}, s.fail(op, err, nil)
	}
	defer rows.Close()
	var (
		r     storage.Registrant
		found bool
	)
	for rows.Next() {
		var (
			kind sql.NullInt64
			id   bytesCol
			text sql.NullString
		)
		r.User, err = scanUser(rows, &r.Fido2PolicyVersion, &r.MDSBlobNumber, &kind, &id, &text)
		if err != nil {
			return storage.Registrant{}, s.fail(op, err, nil)
		}
		found = true
		switch kind.Int64 {
		case registrantGroup:
			r.GroupIDs = append(r.GroupIDs, text.String)
		case registrantKey:
			var transports strListCol
			if err := transports.Scan(text.String); err != nil {
				return storage.Registrant{}, s.fail(op, err, nil)
			}
			r.Keys = append(r.Keys, storage.KeyRef{CredentialID: id.V, Transports: transports.V})
		}
	}
	if err := rows.Err(); err != nil {
		return storage.Registrant{}, s.fail(op, err, nil)
	}
	if !found {
		return storage.Registrant{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return r, nil
}
