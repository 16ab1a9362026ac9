package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// ListChallengeKeys implements storage.Storage.
func (s *Store) ListChallengeKeys(ctx context.Context, now time.Time) ([]storage.ChallengeKey, error) {
	rows, err := s.read().rows(ctx, `SELECT id, secret, created_at, expires_at FROM challenge_keys
		WHERE expires_at > ? ORDER BY created_at DESC, id`, s.tv(now))
	if err != nil {
		return nil, s.fail("list challenge keys", err, nil)
	}
	defer rows.Close()
	var out []storage.ChallengeKey
	for rows.Next() {
		var k storage.ChallengeKey
		var secret bytesCol
		var created, expires timeCol
		if err := rows.Scan(&k.ID, &secret, &created, &expires); err != nil {
			return nil, s.fail("list challenge keys", err, nil)
		}
		k.Secret, k.CreatedAt, k.ExpiresAt = secret.V, created.T, expires.T
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list challenge keys", err, nil)
	}
	return out, nil
}

// CreateChallengeKey implements storage.Storage.
func (s *Store) CreateChallengeKey(ctx context.Context, k storage.ChallengeKey) error {
	if err := requireKey("challenge key ID", k.ID); err != nil {
		return fmt.Errorf("create challenge key: %w", err)
	}
	if len(k.Secret) == 0 {
		return fmt.Errorf("create challenge key: the secret is empty")
	}
	_, err := s.write().exec(ctx, `INSERT INTO challenge_keys (id, secret, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		k.ID, blob(k.Secret), s.tv(k.CreatedAt), s.tv(k.ExpiresAt))
	if err != nil {
		return s.fail("create challenge key", err, nil)
	}
	return nil
}

// UseChallenge implements storage.Storage: one insert, sharing the commit
// with other writes on SQLite (or joining the Audited change ctx carries).
func (s *Store) UseChallenge(ctx context.Context, u storage.UsedChallenge) error {
	if _, ok := s.ambient(ctx); ok {
		// One statement, which joins the change's transaction as any write
		// does (conn.exec): no transaction or savepoint of its own around it.
		return s.useChallenge(ctx, s.write(), "use challenge", u)
	}
	return s.batched(ctx, func(c conn) error { return s.useChallenge(ctx, c, "use challenge", u) })
}

// useChallenge inserts a sealed challenge's ID on c; one already there is a
// replay, ErrNotFound like a stored challenge already consumed.
func (s *Store) useChallenge(ctx context.Context, c conn, op string, u storage.UsedChallenge) error {
	if err := requireKey("challenge ID", u.ID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err := c.execOne(ctx, `INSERT INTO used_challenges (id, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		u.ID, s.tv(u.ExpiresAt))
	if err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}
