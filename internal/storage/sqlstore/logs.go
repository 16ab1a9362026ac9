package sqlstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// logCursor is a position in a log: the last record of a page, by
// (occurred_at, seq), the order every log index ends with.
type logCursor struct {
	at  time.Time
	seq int64
}

func (c logCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at.UnixMicro(), 10) + "." +
		strconv.FormatInt(c.seq, 10)))
}

func parseLogCursor(s string) (logCursor, error) {
	bad := fmt.Errorf("log cursor %q: %w", s, storage.ErrBadCursor)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return logCursor{}, bad
	}
	at, seq, ok := strings.Cut(string(raw), ".")
	if !ok {
		return logCursor{}, bad
	}
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(seq, 10, 64)
	if err1 != nil || err2 != nil || n < 1 || us < -62135596800000000 || us > 253402300799999999 {
		return logCursor{}, bad
	}
	return logCursor{at: time.UnixMicro(us).UTC(), seq: n}, nil
}

// logWhere collects the conditions of a log page. Only the filters in use
// appear, so each query shape can use the index that starts with its column.
type logWhere struct {
	s     *Store
	p     string // the table's alias and a dot, or ""
	conds []string
	args  []any
}

func (w *logWhere) eq(col, v string) {
	if v != "" {
		w.conds, w.args = append(w.conds, w.p+col+" = ?"), append(w.args, v)
	}
}

// eqPartial is eq on a column whose index holds only the rows whose value
// is not unless (a partial index, migration 00231): the index's condition
// is written beside the filter, as neither database proves it from a bound
// value. A filter on unless itself reads another index.
func (w *logWhere) eqPartial(col, v, unless string) {
	w.eq(col, v)
	if v != "" && v != unless {
		w.conds = append(w.conds, w.p+col+" <> '"+unless+"'")
	}
}

func (w *logWhere) period(since, until time.Time) {
	if !since.IsZero() {
		w.conds, w.args = append(w.conds, w.p+"occurred_at >= ?"), append(w.args, w.s.tv(since))
	}
	if !until.IsZero() {
		w.conds, w.args = append(w.conds, w.p+"occurred_at <= ?"), append(w.args, w.s.tv(until))
	}
}

func (w *logWhere) after(cursor string) error {
	if cursor == "" {
		return nil
	}
	c, err := parseLogCursor(cursor)
	if err != nil {
		return err
	}
	// Spelled out rather than as a row-value comparison: both databases
	// then seek the index on occurred_at and filter the one instant by seq.
	w.conds = append(w.conds, "("+w.p+"occurred_at < ? OR ("+w.p+"occurred_at = ? AND "+w.p+"seq < ?))")
	w.args = append(w.args, w.s.tv(c.at), w.s.tv(c.at), c.seq)
	return nil
}

// sql is the WHERE clause, the ORDER BY and the LIMIT (one extra row tells
// whether there is a next page), with the arguments.
func (w *logWhere) sql(n int) (string, []any) {
	where := ""
	if len(w.conds) > 0 {
		where = " WHERE " + strings.Join(w.conds, " AND ")
	}
	return where + " ORDER BY " + w.p + "occurred_at DESC, " + w.p + "seq DESC LIMIT ?", append(w.args, n+1)
}

// ListSignIns implements storage.Storage. The user's display name is joined
// from the users table: a page is at most 1000 rows, each one index lookup.
func (s *Store) ListSignIns(ctx context.Context, q storage.SignInQuery) ([]storage.SignInEvent, string, error) {
	const op = "list sign-ins"
	stmt, args, err := s.ListSignInsQuery(q)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	n := limit(q.Limit)
	rows, err := s.read().rows(ctx, stmt, args...)
	return logPage(s, op, rows, err, n, func(rows *rowSet) (e storage.SignInEvent, seq int64, err error) {
		var at timeCol
		var upnKey string
		err = rows.Scan(&e.ID, &at, &e.UserID, &e.UserPrincipalName, &e.Method, &e.CredentialID,
			&e.AAGUID, &e.Model, &e.Result, &e.FailureReason, &e.IP, &e.UserAgent, &upnKey, &e.FailureCode,
			&e.PasskeyType, &e.CorrelationID, &e.AppID, &e.AppDisplayName, &e.ConditionalAccessStatus,
			(*caPoliciesCol)(&e.AppliedConditionalAccessPolicies), &e.AuthenticationRequirement,
			&seq, &e.UserDisplayName)
		e.Time = at.T
		return e, seq, err
	}, func(e storage.SignInEvent) time.Time { return e.Time })
}

// ListSignInsQuery is the statement ListSignIns sends for q, with its
// arguments (each dialect's tests check which index its filters read).
func (s *Store) ListSignInsQuery(q storage.SignInQuery) (string, []any, error) {
	w := &logWhere{s: s, p: "e."}
	w.eq("user_id", q.UserID)
	w.eq("upn_key", foldKey(q.UserPrincipalName))
	w.eqPartial("aaguid", q.AAGUID, "")
	w.eqPartial("app_id", q.AppID, "")
	w.eqPartial("result", q.Result, storage.ResultSuccess)
	w.period(q.Since, q.Until)
	if err := w.after(q.After); err != nil {
		return "", nil, err
	}
	tail, args := w.sql(limit(q.Limit))
	return `SELECT ` + signInColsOfE + `, e.seq, COALESCE(u.display_name, '')
		FROM sign_in_events e LEFT JOIN users u ON u.id = e.user_id` + tail, args, nil
}

// signInColsOfE are SignInCols of the alias e.
var signInColsOfE = prefixed("e", SignInCols)

// logPage reads the rows of a log query that asked for n+1: an extra row
// only says that a next page exists, whose cursor is the last row returned.
// It takes the query's own error, so every log list ends the same way.
func logPage[T any](s *Store, op string, rows *rowSet, err error, n int,
	scan func(*rowSet) (T, int64, error), at func(T) time.Time) ([]T, string, error) {
	if err != nil {
		return nil, "", s.fail(op, err, nil)
	}
	defer rows.Close()
	var out []T
	var last logCursor
	for rows.Next() {
		e, seq, err := scan(rows)
		if err != nil {
			return nil, "", s.fail(op, err, nil)
		}
		if len(out) == n {
			return out, last.String(), rows.Err()
		}
		out, last = append(out, e), logCursor{at: at(e), seq: seq}
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail(op, err, nil)
	}
	return out, "", nil
}

// ListAuditEvents implements storage.Storage.
func (s *Store) ListAuditEvents(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, string, error) {
	const op = "list audit events"
	w := &logWhere{s: s}
	w.eq("actor", q.Actor)
	if len(q.Targets) > 0 {
		w.conds = append(w.conds, "target IN (?"+strings.Repeat(", ?", len(q.Targets)-1)+")")
		for _, t := range q.Targets {
			w.args = append(w.args, t)
		}
	}
	if q.ActionPrefix != "" {
		// A range, not LIKE: it reads the action index on every dialect and
		// treats % and _ as the letters they are.
		w.conds = append(w.conds, "action >= ? AND action < ?")
		w.args = append(w.args, q.ActionPrefix, q.ActionPrefix+maxRune)
	}
	w.period(q.Since, q.Until)
	if err := w.after(q.After); err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	n := limit(q.Limit)
	tail, args := w.sql(n)
	rows, err := s.read().rows(ctx, `SELECT `+auditCols+`, seq FROM audit_events`+tail, args...)
	return logPage(s, op, rows, err, n, func(rows *rowSet) (e storage.AuditEvent, seq int64, err error) {
		var at timeCol
		var details bytesCol
		err = rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &details, &e.CorrelationID, &seq)
		e.Time, e.Details = at.T, details.V
		return e, seq, err
	}, func(e storage.AuditEvent) time.Time { return e.Time })
}

// DeleteSignInsBefore implements storage.Storage.
func (s *Store) DeleteSignInsBefore(ctx context.Context, before time.Time, max int) (int, error) {
	return s.deleteLogBefore(ctx, "sign_in_events", before, max)
}

// DeleteAuditBefore implements storage.Storage.
func (s *Store) DeleteAuditBefore(ctx context.Context, before time.Time, max int) (int, error) {
	return s.deleteLogBefore(ctx, "audit_events", before, max)
}

// deleteLogBefore deletes one bounded batch, so a sweep never holds the
// writer (SQLite) or many row locks (PostgreSQL) for long.
func (s *Store) deleteLogBefore(ctx context.Context, table string, before time.Time, max int) (int, error) {
	op := "delete old records of " + table
	if max <= 0 {
		return 0, fmt.Errorf("%s: batch size %d is not positive", op, max)
	}
	return s.deleteCounted(ctx, op, `DELETE FROM `+table+` WHERE seq IN (SELECT seq FROM `+table+`
		WHERE occurred_at < ? ORDER BY occurred_at, seq LIMIT ?)`, s.tv(before), max)
}
