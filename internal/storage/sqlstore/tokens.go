package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

const apiTokenCols = `id, name, role, secret_hash, created_at, revoked_at`

func scanAPIToken(sc scanner) (storage.APIToken, error) {
	var t storage.APIToken
	var hash bytesCol
	var created, revoked timeCol
	if err := sc.Scan(&t.ID, &t.Name, &t.Role, &hash, &created, &revoked); err != nil {
		return storage.APIToken{}, err
	}
	t.SecretHash, t.CreatedAt, t.RevokedAt = hash.V, created.T, revoked.ptr()
	return t, nil
}

// CreateAPIToken implements storage.Storage.
func (s *Store) CreateAPIToken(ctx context.Context, t storage.APIToken) error {
	op := fmt.Sprintf("create API token %q", t.Name)
	if err := errors.Join(requireKey("token ID", t.ID), requireKey("token name", t.Name)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(t.SecretHash) == 0 {
		return fmt.Errorf("%s: secret hash is empty", op)
	}
	_, err := s.write().exec(ctx, `INSERT INTO api_tokens (`+apiTokenCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Role, t.SecretHash, s.tv(t.CreatedAt), s.tvNull(t.RevokedAt))
	if err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}

// GetAPITokenByHash implements storage.Storage. Revoked tokens are returned
// too: the caller decides, and can log the attempt.
func (s *Store) GetAPITokenByHash(ctx context.Context, secretHash []byte) (storage.APIToken, error) {
	t, err := scanAPIToken(s.readPoint().row(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE secret_hash = ?`, blob(secretHash)))
	if err != nil {
		return t, s.fail("get API token by hash", err, nil)
	}
	return t, nil
}

// ListAPITokens implements storage.Storage, ordered by name.
func (s *Store) ListAPITokens(ctx context.Context) ([]storage.APIToken, error) {
	rows, err := s.read().rows(ctx, `SELECT `+apiTokenCols+` FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, s.fail("list API tokens", err, nil)
	}
	defer rows.Close()
	var out []storage.APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, s.fail("list API tokens", err, nil)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list API tokens", err, nil)
	}
	return out, nil
}

// RevokeAPIToken implements storage.Storage. Revoking a revoked token keeps
// the first revocation time and succeeds.
func (s *Store) RevokeAPIToken(ctx context.Context, idOrName string, at time.Time) error {
	op := fmt.Sprintf("revoke API token %q", idOrName)
	return s.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE api_tokens SET revoked_at = ?
			WHERE (id = ? OR name = ?) AND revoked_at IS NULL`, s.tv(at), idOrName, idOrName)
		if err != nil {
			return s.fail(op, err, nil)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return s.fail(op, err, nil)
		}
		if n > 0 {
			return nil
		}
		var one int
		err = c.row(ctx, `SELECT 1 FROM api_tokens WHERE id = ? OR name = ?`, idOrName, idOrName).Scan(&one)
		if err != nil {
			return s.fail(op, err, nil)
		}
		return nil
	})
}

const oneTimeTokenCols = `hash, purpose, user_id, created_at, expires_at, used_at`

func scanOneTimeToken(sc scanner) (storage.OneTimeToken, error) {
	var t storage.OneTimeToken
	var hash bytesCol
	var user strCol
	var created, expires, used timeCol
	if err := sc.Scan(&hash, &t.Purpose, &user, &created, &expires, &used); err != nil {
		return storage.OneTimeToken{}, err
	}
	t.Hash, t.UserID = hash.V, user.V
	t.CreatedAt, t.ExpiresAt, t.UsedAt = created.T, expires.T, used.ptr()
	return t, nil
}

// CreateOneTimeToken implements storage.Storage. An unknown UserID is ErrConflict.
func (s *Store) CreateOneTimeToken(ctx context.Context, t storage.OneTimeToken) error {
	op := fmt.Sprintf("create one-time token for %q", t.Purpose)
	if err := requireKey("token purpose", t.Purpose); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(t.Hash) == 0 {
		return fmt.Errorf("%s: hash is empty", op)
	}
	_, err := s.write().exec(ctx, `INSERT INTO one_time_tokens (`+oneTimeTokenCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.Purpose, nullStr(t.UserID), s.tv(t.CreatedAt), s.tv(t.ExpiresAt), s.tvNull(t.UsedAt))
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// ConsumeOneTimeToken implements storage.Storage: one conditional UPDATE, so
// among concurrent callers (in any process) exactly one sees the row.
func (s *Store) ConsumeOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) (storage.OneTimeToken, error) {
	t, err := scanOneTimeToken(s.write().row(ctx, `UPDATE one_time_tokens SET used_at = ?
		WHERE purpose = ? AND hash = ? AND used_at IS NULL AND expires_at > ?
		RETURNING `+oneTimeTokenCols, s.tv(now), purpose, blob(hash), s.tv(now)))
	if err != nil {
		return t, s.fail(fmt.Sprintf("consume one-time token for %q", purpose), err, nil)
	}
	return t, nil
}

// GetOneTimeToken implements storage.Storage.
func (s *Store) GetOneTimeToken(ctx context.Context, purpose string, hash []byte) (storage.OneTimeToken, error) {
	t, err := scanOneTimeToken(s.read().row(ctx, `SELECT `+oneTimeTokenCols+` FROM one_time_tokens
		WHERE purpose = ? AND hash = ?`, purpose, blob(hash)))
	if err != nil {
		return t, s.fail(fmt.Sprintf("get one-time token for %q", purpose), err, nil)
	}
	return t, nil
}
