package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/correlation"
	"github.com/keyward/keyward/internal/storage"
)

// RecordSignIn implements storage.Storage: the credential update, the new
// session and the log event commit together or not at all. A credential that
// no longer exists is ErrNotFound; a taken session ID is ErrAlreadyExists.
func (s *Store) RecordSignIn(ctx context.Context, r storage.SignInRecord) error {
	if r.Event.CorrelationID == "" {
		r.Event.CorrelationID = correlation.ID(ctx)
	}
	if s.d.SignInStatement != nil && r.FlagCredential == "" && r.Once == nil { // the hot path: one statement
		return s.recordSignInStatement(ctx, r)
	}
	cloned := false
	err := s.batched(ctx, func(c conn) error {
		cloned = false
		if o := r.Once; o != nil {
			res, err := c.exec(ctx, `UPDATE sessions SET ca_logged = ca_logged || ? WHERE id = ? AND ca_logged NOT LIKE ?`,
				o.Surface+" ", o.SessionID, "%"+o.Surface+" %")
			if err != nil {
				return s.fail("record sign-in: mark the session", err, nil)
			}
			if n, err := res.RowsAffected(); err != nil {
				return s.fail("record sign-in: mark the session", err, nil)
			} else if n == 0 {
				return nil // logged already (or the session is gone)
			}
		}
		if u := r.Used; u != nil {
			if err := s.useChallenge(ctx, c, "record sign-in: use challenge", *u); err != nil {
				return err
			}
		}
		if r.FlagCredential != "" {
			if err := c.execOne(ctx, `UPDATE credentials SET clone_warning = ? WHERE id = ?`, true, r.FlagCredential); err != nil {
				return s.fail(fmt.Sprintf("record sign-in: flag credential %q", r.FlagCredential), err, nil)
			}
		}
		if cr := r.Credential; cr != nil {
			op := fmt.Sprintf("record sign-in: update credential %q", cr.ID)
			n := int64(cr.SignCount)
			res, err := c.exec(ctx, `UPDATE credentials SET sign_count = ?, backup_state = ?, last_used_at = ?
				WHERE id = ? AND NOT clone_warning AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
				n, cr.BackupState, s.tvNull(cr.LastUsedAt), cr.ID, n, n)
			if err != nil {
				return s.fail(op, err, nil)
			}
			if updated, err := res.RowsAffected(); err != nil {
				return s.fail(op, err, nil)
			} else if updated == 0 {
				// Gone (ErrNotFound), or the counter did not go up: a possible clone.
				if err := c.execOne(ctx, `UPDATE credentials SET clone_warning = ? WHERE id = ?`, true, cr.ID); err != nil {
					return s.fail(op, err, nil)
				}
				cloned = true
				e := r.Event
				e.Result, e.FailureReason, e.FailureCode = storage.ResultFailure, r.CloneReason, storage.FailureCodePossibleClone
				return s.insertSignInEvent(ctx, c, e)
			}
		}
		if r.Session != nil {
			if err := s.insertSession(ctx, c, *r.Session); err != nil {
				return fmt.Errorf("record sign-in: %w", err)
			}
		}
		return s.insertSignInEvent(ctx, c, r.Event)
	})
	if err == nil && cloned {
		return fmt.Errorf("record sign-in with credential %q: %w", r.Credential.ID, storage.ErrPossibleClone)
	}
	return err
}

// recordSignInStatement is RecordSignIn as the one statement the dialect
// builds (see Dialect.SignInStatement): a statement is atomic, and its one
// row says which of its writes found their row.
func (s *Store) recordSignInStatement(ctx context.Context, r storage.SignInRecord) error {
	if ss := r.Session; ss != nil {
		if err := requireKey("session ID", ss.ID); err != nil {
			return fmt.Errorf("record sign-in: create session: %w", err)
		}
	}
	if u := r.Used; u != nil {
		if err := requireKey("challenge ID", u.ID); err != nil {
			return fmt.Errorf("record sign-in: use challenge: %w", err)
		}
	}
	if r.Event.ID == "" {
		r.Event.ID = uuid.NewString()
	}
	q, args := s.d.SignInStatement(r, Codec{s})
	var chFound, credFound, flagged int
	if err := s.write().row(ctx, q, args...).Scan(&chFound, &credFound, &flagged); err != nil {
		return s.fail("record sign-in", err, storage.ErrConflict)
	}
	switch {
	case chFound == 0:
		return fmt.Errorf("record sign-in: challenge already used: %w", storage.ErrNotFound)
	case credFound == 0 && flagged > 0:
		return fmt.Errorf("record sign-in with credential %q: %w", r.Credential.ID, storage.ErrPossibleClone)
	case credFound == 0:
		return fmt.Errorf("record sign-in: update credential %q: %w", r.Credential.ID, storage.ErrNotFound)
	}
	return nil
}

// SignInCols are the columns of sign_in_events in the order Codec.SignInEvent
// gives their values.
const SignInCols = `id, occurred_at, user_id, upn, method, credential_id, aaguid, model, result,
	failure_reason, ip, user_agent, upn_key, failure_code, passkey_type, correlation_id,
	app_id, app_display_name, ca_status, ca_policies, auth_requirement`

func (s *Store) insertSignInEvent(ctx context.Context, c conn, e storage.SignInEvent) error {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	_, err := c.exec(ctx, `INSERT INTO sign_in_events (`+SignInCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, Codec{s}.SignInEvent(e)...)
	if err != nil {
		return s.fail("record sign-in event", err, nil)
	}
	return nil
}

// ListSignInEvents implements storage.Storage: newest first; events of the
// same instant in reverse insertion order.
func (s *Store) ListSignInEvents(ctx context.Context, f storage.EventFilter) ([]storage.SignInEvent, error) {
	where, args := s.eventFilter(f, "user_id")
	rows, err := s.read().rows(ctx, `SELECT `+SignInCols+` FROM sign_in_events`+where+`
		ORDER BY occurred_at DESC, seq DESC LIMIT ?`, args...)
	if err != nil {
		return nil, s.fail("list sign-in events", err, nil)
	}
	defer rows.Close()
	var out []storage.SignInEvent
	for rows.Next() {
		var e storage.SignInEvent
		var at timeCol
		var upnKey string
		if err := rows.Scan(&e.ID, &at, &e.UserID, &e.UserPrincipalName, &e.Method, &e.CredentialID,
			&e.AAGUID, &e.Model, &e.Result, &e.FailureReason, &e.IP, &e.UserAgent, &upnKey, &e.FailureCode,
			&e.PasskeyType, &e.CorrelationID, &e.AppID, &e.AppDisplayName, &e.ConditionalAccessStatus,
			(*caPoliciesCol)(&e.AppliedConditionalAccessPolicies), &e.AuthenticationRequirement); err != nil {
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

const auditCols = `id, occurred_at, actor, action, target, details, correlation_id`

// insertAudit appends one audit record on c (see Audited). An empty ID gets
// a new UUID.
func (s *Store) insertAudit(ctx context.Context, c conn, e storage.AuditEvent) error {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	if e.CorrelationID == "" {
		e.CorrelationID = correlation.ID(ctx)
	}
	_, err := c.exec(ctx, `INSERT INTO audit_events (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID, s.tv(e.Time), e.Actor, e.Action, e.Target, blob(e.Details), e.CorrelationID)
	return err
}

// ListAudit implements storage.Storage: newest first. EventFilter.UserID
// matches the event's Target (the record that was changed).
func (s *Store) ListAudit(ctx context.Context, f storage.EventFilter) ([]storage.AuditEvent, error) {
	where, args := s.eventFilter(f, "target")
	rows, err := s.read().rows(ctx, `SELECT `+auditCols+`
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
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &details, &e.CorrelationID); err != nil {
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
