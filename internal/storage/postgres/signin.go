package postgres

import (
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlstore"
)

// columnTypes are the PostgreSQL types of the columns signInStatement
// writes that are not text: parameters in a SELECT list are untyped, so
// each is cast.
var columnTypes = map[string]string{
	"occurred_at": "timestamptz", "mfa_at": "timestamptz", "created_at": "timestamptz",
	"last_seen_at": "timestamptz", "expires_at": "timestamptz", "second_factor_pending": "boolean",
	"auth_time": "timestamptz", "rotated_at": "timestamptz",
}

// cast is a placeholder cast to the column's type.
func cast(col string) string {
	if t, ok := columnTypes[col]; ok {
		return "?::" + t
	}
	return "?::text"
}

func columns(list string) []string {
	cols := strings.Split(list, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}

// signInStatement is sqlstore.Dialect.SignInStatement on PostgreSQL: the
// record as one statement of writable CTEs. A statement is atomic, and
// every write is gated on the ones before it having found their row: the
// challenge first (so a used one writes nothing: a stored one deleted, a
// sealed one's ID inserted), then the credential. The statement's text
// depends only on which parts the record has (its shape), so it is built
// once per shape; the arguments are built per call, in the same order.
func signInStatement(r storage.SignInRecord, c sqlstore.Codec) (string, []any) {
	sh := shapeOf(r)
	q, ok := signInSQL.Load(sh)
	if !ok {
		q, _ = signInSQL.LoadOrStore(sh, sh.sql())
	}
	return q.(string), signInArgs(r, c)
}

// shape is which parts a sign-in record has.
type shape struct{ sealed, cred, sess bool }

func shapeOf(r storage.SignInRecord) shape {
	return shape{sealed: r.Used != nil, cred: r.Credential != nil, sess: r.Session != nil}
}

// signInSQL caches each shape's statement (shape → string).
var signInSQL sync.Map

// sql is the statement of a record of this shape, with ? placeholders.
func (sh shape) sql() string {
	var q strings.Builder
	gate, evtGate, chResult, credResult, flagResult := "", "", "1", "1", "0"
	q.WriteString("WITH ")
	hasCh := sh.sealed
	if sh.sealed {
		// A sealed challenge is used up by inserting its ID: a replay finds
		// it there (or waits for the racing insert's commit) and inserts nothing.
		q.WriteString(`ch AS (INSERT INTO used_challenges (id, expires_at) VALUES (?::text, ?::timestamptz)
			ON CONFLICT DO NOTHING RETURNING 1), `)
	}
	if hasCh {
		gate, chResult = " WHERE EXISTS (SELECT 1 FROM ch)", "(SELECT COUNT(*) FROM ch)"
		evtGate = gate
	}
	if sh.cred {
		cond := ""
		if hasCh {
			cond = " AND EXISTS (SELECT 1 FROM ch)"
		}
		// The counter must go up; a racing sign-in that stored a later one
		// first holds the row until it commits, and this update then sees
		// that counter. When it does not apply, flag takes the row instead:
		// the two never change it both.
		q.WriteString(`cred AS (UPDATE credentials SET sign_count = ?, backup_state = ?, last_used_at = ?
			WHERE id = ? AND NOT clone_warning AND (sign_count < ?::bigint OR (sign_count = 0 AND ?::bigint = 0))` +
			cond + ` RETURNING 1), `)
		q.WriteString(`flag AS (UPDATE credentials SET clone_warning = TRUE
			WHERE id = ?` + cond + ` AND NOT EXISTS (SELECT 1 FROM cred) RETURNING 1), `)
		gate, credResult, flagResult = " WHERE EXISTS (SELECT 1 FROM cred)", "(SELECT COUNT(*) FROM cred)", "(SELECT COUNT(*) FROM flag)"
		evtGate = " WHERE EXISTS (SELECT 1 FROM cred) OR EXISTS (SELECT 1 FROM flag)"
	}
	if sh.sess {
		var exprs []string
		for _, col := range columns(sqlstore.SessionCols) {
			exprs = append(exprs, cast(col))
		}
		q.WriteString(`sess AS (INSERT INTO sessions (` + sqlstore.SessionCols + `) SELECT ` +
			strings.Join(exprs, ", ") + gate + `), `)
	}
	var exprs []string
	for _, col := range columns(sqlstore.SignInCols) {
		expr := cast(col)
		if sh.cred {
			// A counter that did not go up records the refusal instead.
			switch col {
			case "result":
				expr = "CASE WHEN EXISTS (SELECT 1 FROM cred) THEN ?::text ELSE '" + storage.ResultFailure + "' END"
			case "failure_reason", "failure_code":
				expr = "CASE WHEN EXISTS (SELECT 1 FROM cred) THEN ?::text ELSE ?::text END"
			}
		}
		exprs = append(exprs, expr)
	}
	q.WriteString(`evt AS (INSERT INTO sign_in_events (` + sqlstore.SignInCols + `) SELECT ` +
		strings.Join(exprs, ", ") + evtGate + `) SELECT ` + chResult + `, ` + credResult + `, ` + flagResult)
	return q.String()
}

// signInCols are sqlstore.SignInCols, split once.
var signInCols = columns(sqlstore.SignInCols)

// signInArgs are the arguments of r's statement, in the order of its
// placeholders (see shape.sql).
func signInArgs(r storage.SignInRecord, c sqlstore.Codec) []any {
	args := make([]any, 0, 48)
	if u := r.Used; u != nil {
		args = append(args, u.ID, c.Time(u.ExpiresAt))
	}
	if cr := r.Credential; cr != nil {
		n := int64(cr.SignCount)
		args = append(args, n, cr.BackupState, c.NullTime(cr.LastUsedAt), cr.ID, n, n, cr.ID)
	}
	if ss := r.Session; ss != nil {
		args = append(args, c.Session(*ss)...)
	}
	for i, v := range c.SignInEvent(r.Event) {
		args = append(args, v)
		if r.Credential != nil {
			switch signInCols[i] {
			case "failure_reason":
				args = append(args, r.CloneReason)
			case "failure_code":
				args = append(args, storage.FailureCodePossibleClone)
			}
		}
	}
	return args
}
