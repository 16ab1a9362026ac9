package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// RecordSignIn implements storage.Storage: the credential update, the new
// session and the log event commit together or not at all. A credential that
// no longer exists is ErrNotFound; a taken session ID is ErrAlreadyExists.
func (s *Store) RecordSignIn(ctx context.Context, r storage.SignInRecord) error {
	if s.d.WritableCTE {
		return s.recordSignInStatement(ctx, r)
	}
	return s.batched(ctx, func(c conn) error {
		if r.ChallengeID != "" {
			if err := c.execOne(ctx, `DELETE FROM challenges WHERE id = ?`, r.ChallengeID); err != nil {
				return s.fail("record sign-in: consume challenge", err, nil)
			}
		}
		if cr := r.Credential; cr != nil {
			err := c.execOne(ctx, `UPDATE credentials SET sign_count = ?, backup_state = ?, clone_warning = ?,
				last_used_at = ? WHERE id = ?`,
				int64(cr.SignCount), cr.BackupState, cr.CloneWarning, s.tvNull(cr.LastUsedAt), cr.ID)
			if err != nil {
				return s.fail(fmt.Sprintf("record sign-in: update credential %q", cr.ID), err, nil)
			}
		}
		if r.Session != nil {
			if err := s.insertSession(ctx, c, *r.Session); err != nil {
				return fmt.Errorf("record sign-in: %w", err)
			}
		}
		return s.insertSignInEvent(ctx, c, r.Event)
	})
}

// recordSignInStatement is RecordSignIn as one statement: a statement is
// atomic, and the inserts only happen when the credential update found its
// row. The casts are PostgreSQL's: parameters in a SELECT list are untyped.
func (s *Store) recordSignInStatement(ctx context.Context, r storage.SignInRecord) error {
	var q strings.Builder
	var args []any
	// Every write is gated on the ones before it having found their row: the
	// challenge first (so a used one writes nothing), then the credential.
	gate, chResult, credResult := "", "1", "1"
	q.WriteString("WITH ")
	if r.ChallengeID != "" {
		q.WriteString(`ch AS (DELETE FROM challenges WHERE id = ? RETURNING 1), `)
		args = append(args, r.ChallengeID)
		gate, chResult = " WHERE EXISTS (SELECT 1 FROM ch)", "(SELECT COUNT(*) FROM ch)"
	}
	if cr := r.Credential; cr != nil {
		cond := ""
		if r.ChallengeID != "" {
			cond = " AND EXISTS (SELECT 1 FROM ch)"
		}
		q.WriteString(`cred AS (UPDATE credentials SET sign_count = ?, backup_state = ?, clone_warning = ?,
			last_used_at = ? WHERE id = ?` + cond + ` RETURNING 1), `)
		args = append(args, int64(cr.SignCount), cr.BackupState, cr.CloneWarning, s.tvNull(cr.LastUsedAt), cr.ID)
		gate, credResult = " WHERE EXISTS (SELECT 1 FROM cred)", "(SELECT COUNT(*) FROM cred)"
	}
	if ss := r.Session; ss != nil {
		if err := requireKey("session ID", ss.ID); err != nil {
			return fmt.Errorf("record sign-in: create session: %w", err)
		}
		q.WriteString(`sess AS (INSERT INTO sessions (` + sessionCols + `) SELECT ?::text, ?::text, ?::text,
			?::timestamptz, ?::timestamptz, ?::timestamptz, ?::timestamptz, ?::text, ?::text, ?::boolean` + gate + `), `)
		args = append(args, ss.ID, ss.UserID, strList(ss.AuthMethods), s.tvZeroNull(ss.MFAAt), s.tv(ss.CreatedAt),
			s.tv(ss.LastSeenAt), s.tv(ss.ExpiresAt), ss.IP, ss.UserAgent, ss.SecondFactorPending)
	}
	e := r.Event
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	q.WriteString(`evt AS (INSERT INTO sign_in_events (` + signInCols + `) SELECT ?::text, ?::timestamptz,
		?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text` + gate + `) SELECT ` +
		chResult + `, ` + credResult)
	args = append(args, e.ID, s.tv(e.Time), e.UserID, e.UserPrincipalName, e.Method, e.CredentialID, e.AAGUID,
		e.Model, e.Result, e.FailureReason, e.IP, e.UserAgent)
	var chFound, credFound int
	if err := s.write().row(ctx, q.String(), args...).Scan(&chFound, &credFound); err != nil {
		return s.fail("record sign-in", err, storage.ErrConflict)
	}
	if chFound == 0 {
		return fmt.Errorf("record sign-in: challenge already used: %w", storage.ErrNotFound)
	}
	if credFound == 0 {
		return fmt.Errorf("record sign-in: update credential %q: %w", r.Credential.ID, storage.ErrNotFound)
	}
	return nil
}

const signInCols = `id, occurred_at, user_id, upn, method, credential_id, aaguid, model, result,
	failure_reason, ip, user_agent`

func (s *Store) insertSignInEvent(ctx context.Context, c conn, e storage.SignInEvent) error {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	_, err := c.exec(ctx, `INSERT INTO sign_in_events (`+signInCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, s.tv(e.Time), e.UserID, e.UserPrincipalName, e.Method, e.CredentialID, e.AAGUID, e.Model,
		e.Result, e.FailureReason, e.IP, e.UserAgent)
	if err != nil {
		return s.fail("record sign-in event", err, nil)
	}
	return nil
}

// ListSignInEvents implements storage.Storage: newest first; events of the
// same instant in reverse insertion order.
func (s *Store) ListSignInEvents(ctx context.Context, f storage.EventFilter) ([]storage.SignInEvent, error) {
	where, args := s.eventFilter(f, "user_id")
	rows, err := s.read().rows(ctx, `SELECT `+signInCols+` FROM sign_in_events`+where+`
		ORDER BY occurred_at DESC, seq DESC LIMIT ?`, args...)
	if err != nil {
		return nil, s.fail("list sign-in events", err, nil)
	}
	defer rows.Close()
	var out []storage.SignInEvent
	for rows.Next() {
		var e storage.SignInEvent
		var at timeCol
		if err := rows.Scan(&e.ID, &at, &e.UserID, &e.UserPrincipalName, &e.Method, &e.CredentialID,
			&e.AAGUID, &e.Model, &e.Result, &e.FailureReason, &e.IP, &e.UserAgent); err != nil {
			return nil, s.fail("list sign-in events", err, nil)
		}
		e.Time = at.T
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list sign-in events", err, nil)
	}
	return out, nil
}

// eventFilter builds the WHERE clause and parameters (LIMIT's last) of an
// event list. Only the filters in use appear, so each shape can use its index.
func (s *Store) eventFilter(f storage.EventFilter, userCol string) (string, []any) {
	var conds []string
	var args []any
	if f.UserID != "" {
		conds, args = append(conds, userCol+" = ?"), append(args, f.UserID)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "occurred_at >= ?"), append(args, s.tv(f.Since))
	}
	args = append(args, limit(f.Limit))
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// AppendAudit implements storage.Storage. An empty ID gets a new UUID.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	_, err := s.write().exec(ctx, `INSERT INTO audit_events (id, occurred_at, actor, action, target, details)
		VALUES (?, ?, ?, ?, ?, ?)`, e.ID, s.tv(e.Time), e.Actor, e.Action, e.Target, blob(e.Details))
	if err != nil {
		return s.fail(fmt.Sprintf("append audit %q", e.Action), err, nil)
	}
	return nil
}

// ListAudit implements storage.Storage: newest first. EventFilter.UserID
// matches the event's Target (the record that was changed).
func (s *Store) ListAudit(ctx context.Context, f storage.EventFilter) ([]storage.AuditEvent, error) {
	where, args := s.eventFilter(f, "target")
	rows, err := s.read().rows(ctx, `SELECT id, occurred_at, actor, action, target, details
		FROM audit_events`+where+` ORDER BY occurred_at DESC, seq DESC LIMIT ?`, args...)
	if err != nil {
		return nil, s.fail("list audit events", err, nil)
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var e storage.AuditEvent
		var at timeCol
		var details bytesCol
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &details); err != nil {
			return nil, s.fail("list audit events", err, nil)
		}
		e.Time, e.Details = at.T, details.V
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list audit events", err, nil)
	}
	return out, nil
}
