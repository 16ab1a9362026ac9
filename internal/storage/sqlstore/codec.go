package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/storage"
)

// Page size limits (see storage.Page).
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// maxRune sorts after every other code point in UTF-8 byte order, so
// [prefix, prefix+maxRune) holds every key that starts with prefix.
const maxRune = "\U0010FFFF"

var zeroTime time.Time

// norm is the form a time takes once stored: UTC, microsecond precision.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := norm(*t)
	return &v
}

// Codec turns records into the parameters the store writes, for a dialect
// that builds its own statements (Dialect.SignInStatement).
type Codec struct{ s *Store }

// Time is the parameter for a NOT NULL time column.
func (c Codec) Time(t time.Time) any { return c.s.tv(t) }

// NullTime is the parameter for a nullable time column; nil is NULL.
func (c Codec) NullTime(t *time.Time) any { return c.s.tvNull(t) }

// Session gives a session's values in SessionCols order.
func (c Codec) Session(ss storage.Session) []any {
	return []any{ss.ID, ss.UserID, strList(ss.AuthMethods), c.s.tvZeroNull(ss.MFAAt), c.s.tv(ss.CreatedAt),
		c.s.tv(ss.LastSeenAt), c.s.tv(ss.ExpiresAt), ss.IP, ss.UserAgent, ss.SecondFactorPending, ss.AAGUID, ss.AccessLogged}
}

// SignInEvent gives a sign-in event's values in SignInCols order.
func (c Codec) SignInEvent(e storage.SignInEvent) []any {
	return []any{e.ID, c.s.tv(e.Time), e.UserID, e.UserPrincipalName, e.Method, e.CredentialID, e.AAGUID, e.Model,
		e.Result, e.FailureReason, e.IP, e.UserAgent, foldKey(e.UserPrincipalName), e.FailureCode,
		e.PasskeyType, e.CorrelationID, e.AppID, e.AppDisplayName, e.ConditionalAccessStatus,
		caPolicies(e.AppliedConditionalAccessPolicies), e.AuthenticationRequirement}
}

// caPolicies stores a sign-in's applied policies as JSON.
func caPolicies(ps []storage.AppliedConditionalAccessPolicy) string {
	if len(ps) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ps) // strings only: always marshals
	return string(b)
}

// caPoliciesCol scans the JSON of caPolicies (nil for none).
type caPoliciesCol []storage.AppliedConditionalAccessPolicy

func (c *caPoliciesCol) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		return fmt.Errorf("scan applied policies: unsupported column type %T", src)
	}
	var ps []storage.AppliedConditionalAccessPolicy
	if err := json.Unmarshal(raw, &ps); err != nil {
		return fmt.Errorf("scan applied policies: %w", err)
	}
	if len(ps) == 0 {
		ps = nil
	}
	*c = ps
	return nil
}

// tv is the parameter for a NOT NULL time column.
func (s *Store) tv(t time.Time) any { return s.d.TimeValue(norm(t)) }

// tvNull is the parameter for a nullable time column; nil is NULL.
func (s *Store) tvNull(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.tv(*t)
}

// tvZeroNull stores the zero time as NULL (fields where zero means "never").
func (s *Store) tvZeroNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.tv(t)
}

// timeCol scans a time stored either way: SQLite's unix microseconds or
// PostgreSQL's timestamptz.
type timeCol struct {
	T     time.Time
	Valid bool
}

func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = timeCol{}
	case int64:
		*c = timeCol{T: time.UnixMicro(v).UTC(), Valid: true}
	case time.Time:
		*c = timeCol{T: v.UTC(), Valid: true}
	default:
		return fmt.Errorf("scan time: unsupported column type %T", src)
	}
	return nil
}

func (c timeCol) ptr() *time.Time {
	if !c.Valid {
		return nil
	}
	t := c.T
	return &t
}

// strList stores a []string as JSON text; nil and empty both read back as nil.
func strList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

type strListCol struct{ V []string }

func (c *strListCol) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		c.V = nil
		return nil
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		return fmt.Errorf("scan string list: unsupported column type %T", src)
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("scan string list: %w", err)
	}
	if len(out) == 0 {
		out = nil
	}
	c.V = out
	return nil
}

// blob is the parameter for a NOT NULL BLOB/BYTEA column: nil would bind NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// bytesCol scans a BLOB/BYTEA; empty reads back as nil.
type bytesCol struct{ V []byte }

func (c *bytesCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		c.V = nil
	case []byte:
		if len(v) == 0 {
			c.V = nil
		} else {
			c.V = append([]byte(nil), v...)
		}
	case string:
		if v == "" {
			c.V = nil
		} else {
			c.V = []byte(v)
		}
	default:
		return fmt.Errorf("scan bytes: unsupported column type %T", src)
	}
	return nil
}

// nullStr stores "" as NULL (optional foreign keys).
func nullStr(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// strCol scans a nullable text column; NULL reads back as "".
type strCol struct{ V string }

func (c *strCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		c.V = ""
	case string:
		c.V = v
	case []byte:
		c.V = string(v)
	default:
		return fmt.Errorf("scan text: unsupported column type %T", src)
	}
	return nil
}

// foldKey is the stored, case-insensitive key of a UPN or group name.
func foldKey(s string) string { return strings.ToLower(s) }

// limit clamps a page or event-list size.
func limit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// pageQuery is the decoded form of a storage.Page: list keys k with
// k > after AND lo <= k < hi, at most limit of them.
type pageQuery struct {
	after, lo, hi string
	limit         int
}

func decodePage(p storage.Page) (pageQuery, error) {
	q := pageQuery{limit: limit(p.Limit)}
	if p.After != "" {
		raw, err := base64.RawURLEncoding.DecodeString(p.After)
		if err != nil || !utf8.Valid(raw) || len(raw) == 0 {
			return q, fmt.Errorf("page cursor %q: %w", p.After, storage.ErrBadCursor)
		}
		q.after = string(raw)
	}
	q.lo = foldKey(p.Prefix)
	q.hi = q.lo + maxRune
	return q, nil
}

// where is the page's range on key column col, "col > ? AND col < ?" or
// "col >= ? AND col < ?", each ? written as bound (Store.keyBound, or "?"):
// one lower bound, the tighter of the cursor and the prefix. Given both,
// SQLite seeks the index on one of them, which for a prefix far into a big
// table meant reading every key before it.
func (q pageQuery) where(col, bound string) string {
	if q.after >= q.lo {
		return col + " > " + bound + " AND " + col + " < " + bound
	}
	return col + " >= " + bound + " AND " + col + " < " + bound
}

// args are the query parameters of where(col) and "... LIMIT ?". One extra
// row is fetched to learn whether there is a next page.
func (q pageQuery) args() []any {
	return []any{max(q.after, q.lo), q.hi, q.limit + 1}
}

// cursor is the Next value after a page whose last key is key.
func cursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }
