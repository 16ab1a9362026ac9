package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// --- authenticator apps (TOTP) ---

const totpCols = `user_id, secret, confirmed, last_used_step, created_at, last_used_at`

func scanTOTP(sc scanner) (storage.TOTPMethod, error) {
	var m storage.TOTPMethod
	var created, used timeCol
	if err := sc.Scan(&m.UserID, &m.Secret, &m.Confirmed, &m.LastUsedStep, &created, &used); err != nil {
		return storage.TOTPMethod{}, err
	}
	m.CreatedAt, m.LastUsedAt = created.T, used.ptr()
	return m, nil
}

// CreateTOTP implements storage.Storage. A second app for the same user is
// ErrAlreadyExists; an unknown user is ErrConflict.
func (s *Store) CreateTOTP(ctx context.Context, m storage.TOTPMethod) error {
	op := fmt.Sprintf("create authenticator app of user %q", m.UserID)
	if err := errors.Join(requireKey("user ID", m.UserID), requireKey("TOTP secret", m.Secret)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err := s.write().exec(ctx, `INSERT INTO totp_methods (`+totpCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		m.UserID, m.Secret, m.Confirmed, m.LastUsedStep, s.tv(m.CreatedAt), s.tvNull(m.LastUsedAt))
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// GetTOTP implements storage.Storage.
func (s *Store) GetTOTP(ctx context.Context, userID string) (storage.TOTPMethod, error) {
	m, err := scanTOTP(s.read().row(ctx, `SELECT `+totpCols+` FROM totp_methods WHERE user_id = ?`, userID))
	if err != nil {
		return m, s.fail(fmt.Sprintf("get authenticator app of user %q", userID), err, nil)
	}
	return m, nil
}

// UpdateTOTP implements storage.Storage. UserID and CreatedAt are kept. The
// row stays locked (or the writer held) from read to write, so two nodes
// checking the same code serialise and only one sees the old LastUsedStep.
func (s *Store) UpdateTOTP(ctx context.Context, userID string, fn func(storage.TOTPMethod) (storage.TOTPMethod, error)) (storage.TOTPMethod, error) {
	op := fmt.Sprintf("update authenticator app of user %q", userID)
	var out storage.TOTPMethod
	err := s.inTx(ctx, func(c conn) error {
		old, err := scanTOTP(c.row(ctx, `SELECT `+totpCols+` FROM totp_methods WHERE user_id = ?`+s.d.LockRow, userID))
		if err != nil {
			return s.fail(op, err, nil)
		}
		m, err := fn(old)
		if err != nil {
			return err
		}
		m.UserID, m.CreatedAt = old.UserID, old.CreatedAt
		if err := requireKey("TOTP secret", m.Secret); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		_, err = c.exec(ctx, `UPDATE totp_methods SET secret = ?, confirmed = ?, last_used_step = ?,
			last_used_at = ? WHERE user_id = ?`,
			m.Secret, m.Confirmed, m.LastUsedStep, s.tvNull(m.LastUsedAt), userID)
		if err != nil {
			return s.fail(op, err, nil)
		}
		m.CreatedAt, m.LastUsedAt = norm(m.CreatedAt), normPtr(m.LastUsedAt)
		out = m
		return nil
	})
	return out, err
}

// DeleteTOTP implements storage.Storage.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	if err := s.write().execOne(ctx, `DELETE FROM totp_methods WHERE user_id = ?`, userID); err != nil {
		return s.fail(fmt.Sprintf("delete authenticator app of user %q", userID), err, nil)
	}
	return nil
}

// --- Temporary Access Passes ---

const tapCols = `id, user_id, hash, is_usable_once, created_at, start_at, expires_at, used_at, created_by`

func scanTAP(sc scanner) (storage.TemporaryAccessPass, error) {
	var t storage.TemporaryAccessPass
	var hash bytesCol
	var created, start, expires, used timeCol
	if err := sc.Scan(&t.ID, &t.UserID, &hash, &t.IsUsableOnce, &created, &start, &expires, &used, &t.CreatedBy); err != nil {
		return storage.TemporaryAccessPass{}, err
	}
	t.Hash, t.CreatedAt, t.StartAt, t.ExpiresAt, t.UsedAt = hash.V, created.T, start.T, expires.T, used.ptr()
	return t, nil
}

// CreateTAP implements storage.Storage. A taken ID or hash is
// ErrAlreadyExists; an unknown user is ErrConflict.
func (s *Store) CreateTAP(ctx context.Context, t storage.TemporaryAccessPass) error {
	op := fmt.Sprintf("create temporary access pass for user %q", t.UserID)
	if err := errors.Join(requireKey("pass ID", t.ID), requireKey("user ID", t.UserID)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(t.Hash) == 0 {
		return fmt.Errorf("%s: hash is empty", op)
	}
	_, err := s.write().exec(ctx, `INSERT INTO temporary_access_passes (`+tapCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Hash, t.IsUsableOnce, s.tv(t.CreatedAt), s.tv(t.StartAt), s.tv(t.ExpiresAt),
		s.tvNull(t.UsedAt), t.CreatedBy)
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// ReplaceTAP implements storage.Storage.
func (s *Store) ReplaceTAP(ctx context.Context, t storage.TemporaryAccessPass) ([]string, error) {
	op := fmt.Sprintf("replace temporary access pass of user %q", t.UserID)
	if err := errors.Join(requireKey("pass ID", t.ID), requireKey("user ID", t.UserID)); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(t.Hash) == 0 {
		return nil, fmt.Errorf("%s: hash is empty", op)
	}
	var replaced []string
	err := s.inTx(ctx, func(c conn) error {
		replaced = nil
		if _, err := s.lockUser(ctx, c, t.UserID); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: no such user: %w", op, storage.ErrConflict)
		} else if err != nil {
			return s.fail(op, err, nil)
		}
		old, err := s.listTAPs(ctx, c, t.UserID)
		if err != nil {
			return err
		}
		for _, o := range old {
			if _, err := c.exec(ctx, `DELETE FROM temporary_access_passes WHERE id = ?`, o.ID); err != nil {
				return s.fail(op, err, nil)
			}
			replaced = append(replaced, o.ID)
		}
		_, err = c.exec(ctx, `INSERT INTO temporary_access_passes (`+tapCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.UserID, t.Hash, t.IsUsableOnce, s.tv(t.CreatedAt), s.tv(t.StartAt), s.tv(t.ExpiresAt),
			s.tvNull(t.UsedAt), t.CreatedBy)
		if err != nil {
			return s.fail(op, err, storage.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return replaced, nil
}

// ListUserTAPs implements storage.Storage: oldest first, expired and used
// passes included (the caller shows or filters them).
func (s *Store) ListUserTAPs(ctx context.Context, userID string) ([]storage.TemporaryAccessPass, error) {
	return s.listTAPs(ctx, s.read(), userID)
}

func (s *Store) listTAPs(ctx context.Context, c conn, userID string) ([]storage.TemporaryAccessPass, error) {
	op := fmt.Sprintf("list temporary access passes of user %q", userID)
	rows, err := c.rows(ctx, `SELECT `+tapCols+` FROM temporary_access_passes
		WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var out []storage.TemporaryAccessPass
	for rows.Next() {
		t, err := scanTAP(rows)
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return out, nil
}

// DeleteTAP implements storage.Storage.
func (s *Store) DeleteTAP(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM temporary_access_passes WHERE id = ?`, id); err != nil {
		return s.fail(fmt.Sprintf("delete temporary access pass %q", id), err, nil)
	}
	return nil
}

// UseTAP implements storage.Storage with one conditional UPDATE, so among
// concurrent users of a one-time pass (in any process) exactly one wins.
// UsedAt becomes now on every use: for a multi-use pass it is the last use.
func (s *Store) UseTAP(ctx context.Context, hash []byte, now time.Time) (storage.TemporaryAccessPass, error) {
	t, err := scanTAP(s.write().row(ctx, `UPDATE temporary_access_passes SET used_at = ?
		WHERE hash = ? AND start_at <= ? AND expires_at > ? AND (NOT is_usable_once OR used_at IS NULL)
		RETURNING `+tapCols, s.tv(now), blob(hash), s.tv(now), s.tv(now)))
	if err != nil {
		return t, s.fail("use temporary access pass", err, nil)
	}
	return t, nil
}

// DeleteExpiredTAPs implements storage.Storage.
func (s *Store) DeleteExpiredTAPs(ctx context.Context, now time.Time) (int, error) {
	return s.deleteExpired(ctx, "temporary access passes",
		`DELETE FROM temporary_access_passes WHERE expires_at <= ?`, now)
}

// --- rate limits ---

// window returns the fixed window of length w that holds now: its start
// (aligned to the Unix epoch, so every node computes the same one) and end.
func window(w time.Duration, now time.Time) (start, end time.Time, err error) {
	if w < time.Microsecond {
		return time.Time{}, time.Time{}, fmt.Errorf("rate-limit window %v is shorter than a microsecond", w)
	}
	us := now.UnixMicro()
	wus := w.Microseconds()
	startUS := us - ((us%wus)+wus)%wus // floor, also before 1970
	start = time.UnixMicro(startUS).UTC()
	return start, start.Add(w), nil
}

// errLimitFull rolls back a reservation that found a full counter.
var errLimitFull = errors.New("rate limit full")

// ReserveRateLimits implements storage.Storage: one transaction of
// conditional upserts, one per counter. An upsert whose counter is full
// changes nothing and returns no row; the row it found stays locked until the
// transaction ends, so on PostgreSQL racing reservations queue on the row and
// each sees the count the one before it left. Counters are taken in key
// order so two reservations never wait for each other's rows in a cycle.
func (s *Store) ReserveRateLimits(ctx context.Context, limits []storage.RateLimit, w time.Duration, now time.Time) (int, error) {
	const op = "reserve rate limits"
	start, end, err := window(w, now)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", op, err)
	}
	order := make([]int, len(limits))
	for i, l := range limits {
		if err := requireKey("rate-limit key", l.Key); err != nil {
			return -1, fmt.Errorf("%s: %w", op, err)
		}
		if l.Max < 1 {
			return -1, fmt.Errorf("%s: limit %d of %q is below 1", op, l.Max, l.Key)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(limits[a].Key, limits[b].Key) })
	full := -1
	err = s.batched(ctx, func(c conn) error {
		for _, i := range order {
			var n int
			err := c.row(ctx, `INSERT INTO rate_limits (name, window_us, window_start, expires_at, hits)
				VALUES (?, ?, ?, ?, 1)
				ON CONFLICT (name, window_us, window_start) DO UPDATE SET hits = rate_limits.hits + 1
				WHERE rate_limits.hits < ?
				RETURNING hits`, limits[i].Key, w.Microseconds(), s.tv(start), s.tv(end), limits[i].Max).Scan(&n)
			if errors.Is(err, sql.ErrNoRows) {
				full = i
				return errLimitFull
			}
			if err != nil {
				return s.fail(op, err, nil)
			}
		}
		return nil
	})
	if errors.Is(err, errLimitFull) {
		return full, nil
	}
	if err != nil {
		return -1, err
	}
	return -1, nil
}

// ReleaseRateLimits implements storage.Storage.
func (s *Store) ReleaseRateLimits(ctx context.Context, keys []string, w time.Duration, now time.Time) error {
	const op = "release rate limits"
	start, _, err := window(w, now)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	keys = slices.Sorted(slices.Values(keys))
	return s.batched(ctx, func(c conn) error {
		for _, k := range keys {
			_, err := c.exec(ctx, `UPDATE rate_limits SET hits = hits - 1
				WHERE name = ? AND window_us = ? AND window_start = ? AND hits > 0`,
				k, w.Microseconds(), s.tv(start))
			if err != nil {
				return s.fail(op, err, nil)
			}
		}
		return nil
	})
}

// RateLimitCount implements storage.Storage; a window never hit counts 0.
func (s *Store) RateLimitCount(ctx context.Context, key string, w time.Duration, now time.Time) (int, error) {
	op := fmt.Sprintf("read rate limit %q", key)
	start, _, err := window(w, now)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	var n int
	err = s.read().row(ctx, `SELECT hits FROM rate_limits WHERE name = ? AND window_us = ? AND window_start = ?`,
		key, w.Microseconds(), s.tv(start)).Scan(&n)
	if err != nil {
		if err = s.fail(op, err, nil); errors.Is(err, storage.ErrNotFound) {
			return 0, nil
		}
		return 0, err
	}
	return n, nil
}

// DeleteExpiredRateLimits implements storage.Storage: windows that ended at
// or before now are gone.
func (s *Store) DeleteExpiredRateLimits(ctx context.Context, now time.Time) (int, error) {
	return s.deleteExpired(ctx, "rate limits", `DELETE FROM rate_limits WHERE expires_at <= ?`, now)
}
