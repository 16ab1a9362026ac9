// Package odatafilter parses the small part of OData's $filter that Keyward's
// log and report lists accept: comparisons joined by "and", and one-variable
// any() lambdas over a collection —
//
//	createdDateTime ge 2026-11-01T00:00:00Z and status/errorCode ne 0
//	methodsRegistered/any(m: m eq 'passKeyDeviceBound')
//	targetResources/any(t: t/id eq '5f0c…')
//
// It knows no field names: each list checks the clauses against the fields it
// supports and says what is not. No or, not, parentheses or functions: a
// filter that uses them is refused with the part that is not supported.
package odatafilter

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits keep a hostile filter cheap to refuse.
const (
	MaxLen     = 2000
	MaxClauses = 16
)

// Kind is what sort of literal a value is.
type Kind int

const (
	String Kind = iota // 'quoted', with '' standing for one quote
	Word               // unquoted: a number, a date and time, true, false, null
)

// Value is a literal as written.
type Value struct {
	Kind Kind
	Text string // the string without quotes, or the word
}

func (v Value) String() string {
	if v.Kind == String {
		return "'" + strings.ReplaceAll(v.Text, "'", "''") + "'"
	}
	return v.Text
}

// Clause is one comparison: Path Op Value, or, when Any is set,
// Path/any(v: v[/Inner] Op Value).
type Clause struct {
	Path  string // "createdDateTime", "status/errorCode", "methodsRegistered"
	Any   bool
	Inner string // the path after the lambda variable ("" for the variable itself)
	Op    string // eq, ne, gt, ge, lt, le (lower-case)
	Value Value
}

// Field names the clause's field as a filter writes it: "status/errorCode",
// "methodsRegistered/any(…)", "targetResources/any(…/id)".
func (c Clause) Field() string {
	if !c.Any {
		return c.Path
	}
	if c.Inner == "" {
		return c.Path + "/any()"
	}
	return c.Path + "/any(x: x/" + c.Inner + ")"
}

func (c Clause) String() string {
	if !c.Any {
		return c.Path + " " + c.Op + " " + c.Value.String()
	}
	v := "x"
	if c.Inner != "" {
		v += "/" + c.Inner
	}
	return c.Path + "/any(x: " + v + " " + c.Op + " " + c.Value.String() + ")"
}

// Error says what part of a filter is not understood; its message is safe to
// show and names that part.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func errorf(format string, args ...any) error { return &Error{Message: fmt.Sprintf(format, args...)} }

var ops = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true}

// Parse reads a filter. An empty filter is no clauses.
func Parse(filter string) ([]Clause, error) {
	if len(filter) > MaxLen {
		return nil, errorf("$filter is %d bytes long; at most %d are accepted", len(filter), MaxLen)
	}
	if !utf8.ValidString(filter) {
		return nil, errorf("$filter is not valid UTF-8")
	}
	toks, err := tokenize(filter)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var out []Clause
	for len(p.toks) > 0 {
		if len(out) > 0 {
			t := p.next()
			if !strings.EqualFold(t.text, "and") || t.quoted {
				return nil, errorf("expected \"and\" between conditions, found %s; only \"and\" joins conditions here", t)
			}
		}
		if len(out) == MaxClauses {
			return nil, errorf("$filter has more than %d conditions", MaxClauses)
		}
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

type token struct {
	text   string
	quoted bool
}

func (t token) String() string {
	if t.text == "" && !t.quoted {
		return "the end of the filter"
	}
	if t.quoted {
		return fmt.Sprintf("'%s'", short(t.text))
	}
	return fmt.Sprintf("%q", short(t.text))
}

func short(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// tokenize splits a filter into words, quoted strings and the punctuation
// ( ) : of a lambda. A word that starts with a digit or a sign may hold ':'
// (a time); one that starts with a letter ends at ':' (a lambda variable).
func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ':' || c == ',':
			out = append(out, token{text: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, errorf("a quoted value is not closed; end it with '")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		case isWordStart(c):
			j := i
			timeLike := c >= '0' && c <= '9' || c == '-' || c == '+'
			for j < len(s) && (isWordByte(s[j]) || timeLike && s[j] == ':') {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, errorf("$filter cannot contain %q", r)
		}
	}
	return out, nil
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '+' || c == '_'
}

func isWordByte(c byte) bool { return isWordStart(c) || c == '/' || c == '.' }

type parser struct{ toks []token }

func (p *parser) next() token {
	if len(p.toks) == 0 {
		return token{}
	}
	t := p.toks[0]
	p.toks = p.toks[1:]
	return t
}

func (p *parser) expect(text string) error {
	if t := p.next(); t.quoted || t.text != text {
		return errorf("expected %q, found %s", text, t)
	}
	return nil
}

func (p *parser) clause() (Clause, error) {
	t := p.next()
	if t.quoted || t.text == "" || !isPath(t.text) {
		return Clause{}, errorf("expected a field name, found %s", t)
	}
	if len(p.toks) > 0 && p.toks[0].text == "(" && !p.toks[0].quoted {
		return p.lambda(t.text)
	}
	return p.comparison(Clause{Path: t.text})
}

func (p *parser) comparison(c Clause) (Clause, error) {
	op := p.next()
	c.Op = strings.ToLower(op.text)
	if op.quoted || !ops[c.Op] {
		return Clause{}, errorf("expected an operator (eq, ne, gt, ge, lt, le) after %s, found %s", c.Field(), op)
	}
	v := p.next()
	switch {
	case v.quoted:
		c.Value = Value{Kind: String, Text: v.text}
	case v.text == "" || v.text == "(" || v.text == ")" || v.text == ":" || v.text == ",":
		return Clause{}, errorf("expected a value after %s %s, found %s", c.Field(), c.Op, v)
	default:
		c.Value = Value{Kind: Word, Text: v.text}
	}
	return c, nil
}

// lambda reads "(v: v[/inner] op value)" after "path/any".
func (p *parser) lambda(path string) (Clause, error) {
	base, fn, _ := cutLast(path, "/")
	if !strings.EqualFold(fn, "any") || base == "" {
		return Clause{}, errorf("%s( is not supported; the only function here is any(), as in methodsRegistered/any(m: m eq 'passKeyDeviceBound')", short(path))
	}
	if err := p.expect("("); err != nil {
		return Clause{}, err
	}
	v := p.next()
	if v.quoted || !isPath(v.text) || strings.Contains(v.text, "/") {
		return Clause{}, errorf("expected a variable name in %s/any(, found %s", base, v)
	}
	if err := p.expect(":"); err != nil {
		return Clause{}, err
	}
	ref := p.next()
	c := Clause{Path: base, Any: true}
	switch {
	case !ref.quoted && ref.text == v.text:
	case !ref.quoted && strings.HasPrefix(ref.text, v.text+"/") && isPath(ref.text):
		c.Inner = ref.text[len(v.text)+1:]
	default:
		return Clause{}, errorf("expected %s or %s/field inside %s/any(), found %s", v.text, v.text, base, ref)
	}
	c, err := p.comparison(c)
	if err != nil {
		return Clause{}, err
	}
	if err := p.expect(")"); err != nil {
		return Clause{}, err
	}
	return c, nil
}

// isPath is a field path: names of letters, digits and _ joined by '/'.
func isPath(s string) bool {
	for part := range strings.SplitSeq(s, "/") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return "", s, false
}

// Time reads a date and time literal (RFC 3339, as Graph writes it unquoted;
// a quoted one is accepted too).
func (v Value) Time() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v.Text)
	if err != nil {
		return time.Time{}, errorf("%s is not a date and time like 2026-11-01T00:00:00Z", v)
	}
	return t.UTC(), nil
}

// Bool reads true or false.
func (v Value) Bool() (bool, error) {
	switch {
	case v.Kind == Word && v.Text == "true":
		return true, nil
	case v.Kind == Word && v.Text == "false":
		return false, nil
	}
	return false, errorf("%s is not true or false", v)
}

// Str reads a quoted string.
func (v Value) Str() (string, error) {
	if v.Kind != String {
		return "", errorf("%s must be a quoted string, as in '%s'", v, short(v.Text))
	}
	return v.Text, nil
}
