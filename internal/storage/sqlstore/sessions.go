package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// SessionCols are the columns of sessions in the order Codec.Session gives
// their values.
const SessionCols = `id, user_id, auth_methods, mfa_at, created_at, last_seen_at, expires_at, ip, user_agent,
	second_factor_pending, aaguid, ca_logged`

// scanSession scans a row of SessionCols, then extra.
func scanSession(sc scanner, extra ...any) (storage.Session, error) {
	var ss storage.Session
	var amr strListCol
	var mfa, created, seen, expires timeCol
	if err := sc.Scan(append([]any{&ss.ID, &ss.UserID, &amr, &mfa, &created, &seen, &expires, &ss.IP, &ss.UserAgent,
		&ss.SecondFactorPending, &ss.AAGUID, &ss.AccessLogged}, extra...)...); err != nil {
		return storage.Session{}, err
	}
	ss.AuthMethods, ss.MFAAt = amr.V, mfa.T
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = created.T, seen.T, expires.T
	return ss, nil
}

func normSession(ss storage.Session) storage.Session {
	if len(ss.AuthMethods) == 0 {
		ss.AuthMethods = nil
	}
	ss.MFAAt, ss.CreatedAt = norm(ss.MFAAt), norm(ss.CreatedAt)
	ss.LastSeenAt, ss.ExpiresAt = norm(ss.LastSeenAt), norm(ss.ExpiresAt)
	return ss
}

// insertSession is shared by CreateSession and RecordSignIn.
func (s *Store) insertSession(ctx context.Context, c conn, ss storage.Session) error {
	op := "create session"
	if err := requireKey("session ID", ss.ID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err := c.exec(ctx, `INSERT INTO sessions (`+SessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		Codec{s}.Session(ss)...)
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// CreateSession implements storage.Storage. An unknown UserID is ErrConflict.
func (s *Store) CreateSession(ctx context.Context, ss storage.Session) error {
	return s.insertSession(ctx, s.write(), ss)
}

// GetSession implements storage.Storage. Expired sessions are returned too;
// the session manager decides.
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	ss, err := scanSession(s.read().row(ctx, `SELECT `+SessionCols+` FROM sessions WHERE id = ?`, id))
	if err != nil {
		return ss, s.fail("get session", err, nil)
	}
	return ss, nil
}

// GetSessionWithUser implements storage.Storage.
func (s *Store) GetSessionWithUser(ctx context.Context, id string) (storage.Session, storage.User, error) {
	var u userScan
	ss, err := scanSession(s.read().hotRow(ctx, `SELECT `+sessionUserCols+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`, id), u.dest()...)
	if err != nil {
		return ss, storage.User{}, s.fail("get session with its user", err, nil)
	}
	return ss, u.user(), nil
}

// sessionUserCols are GetSessionWithUser's columns: the session's, then its
// user's.
var sessionUserCols = prefixed("s", SessionCols) + ", " + prefixed("u", userCols)

// UpdateSession implements storage.Storage. ID, UserID and CreatedAt are kept.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(storage.Session) (storage.Session, error)) (storage.Session, error) {
	var out storage.Session
	err := s.inTx(ctx, func(c conn) error {
		old, err := scanSession(c.row(ctx, `SELECT `+SessionCols+` FROM sessions WHERE id = ?`+s.d.LockRow, id))
		if err != nil {
			return s.fail("update session", err, nil)
		}
		ss, err := fn(old)
		if err != nil {
			return err
		}
		ss.ID, ss.UserID, ss.CreatedAt = old.ID, old.UserID, old.CreatedAt
		_, err = c.exec(ctx, `UPDATE sessions SET auth_methods = ?, mfa_at = ?, last_seen_at = ?,
			expires_at = ?, ip = ?, user_agent = ?, second_factor_pending = ?, aaguid = ? WHERE id = ?`,
			strList(ss.AuthMethods), s.tvZeroNull(ss.MFAAt), s.tv(ss.LastSeenAt), s.tv(ss.ExpiresAt),
			ss.IP, ss.UserAgent, ss.SecondFactorPending, ss.AAGUID, id)
		if err != nil {
			return s.fail("update session", err, nil)
		}
		out = normSession(ss)
		return nil
	})
	return out, err
}

// DeleteSession implements storage.Storage.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
		return s.fail("delete session", err, nil)
	}
	return nil
}

// DeleteExpiredSessions implements storage.Storage: a session whose ExpiresAt
// is at or before now is gone, max at a time.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time, max int) (int, error) {
	return s.deleteExpiredBatch(ctx, "sessions", now, max)
}

// deleteExpiredBatch deletes at most max rows of table (keyed by id, with
// an index on expires_at) expired at now, the earliest first. Every
// passkey sign-in writes a session and a used challenge, and every code
// exchange an authorization request and tokens, so under steady load as
// many expire as were written: in one statement, five minutes' worth held
// SQLite's one writer for most of a second (600,000 used challenges: 0.8
// s) while every sign-in waited; a batch of 1,000 holds it about 4 ms.
func (s *Store) deleteExpiredBatch(ctx context.Context, table string, now time.Time, max int) (int, error) {
	if max <= 0 {
		return 0, fmt.Errorf("delete expired %s: batch size %d is not positive", table, max)
	}
	return s.deleteCounted(ctx, "delete expired "+table, `DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+`
		WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, s.tv(now), max)
}

func (s *Store) deleteExpired(ctx context.Context, what, q string, now time.Time) (int, error) {
	return s.deleteCounted(ctx, "delete expired "+what, q, s.tv(now))
}

// deleteCounted runs a DELETE on the writer and returns how many rows it
// deleted.
func (s *Store) deleteCounted(ctx context.Context, op, q string, args ...any) (int, error) {
	res, err := s.write().exec(ctx, q, args...)
	if err != nil {
		return 0, s.fail(op, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail(op, err, nil)
	}
	return int(n), nil
}

// DeleteUserSessions implements storage.Storage.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, except string) (int, error) {
	res, err := s.write().exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, except)
	if err != nil {
		return 0, s.fail("delete sessions of user "+userID, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("delete sessions of user "+userID, err, nil)
	}
	return int(n), nil
}

// DeleteExpiredChallenges implements storage.Storage: a batch of used
// sealed challenges, then, once they are all gone, the few challenge keys in
// one statement.
func (s *Store) DeleteExpiredChallenges(ctx context.Context, now time.Time, max int) (int, error) {
	used, err := s.deleteExpiredBatch(ctx, "used_challenges", now, max)
	if err != nil || used == max {
		return used, err
	}
	keys, err := s.deleteExpired(ctx, "challenge keys", `DELETE FROM challenge_keys WHERE expires_at <= ?`, now)
	return used + keys, err
}
