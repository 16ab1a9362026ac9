package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/apperr"
)

// Every piece of text a request brings — JSON strings (and keys), path
// parameters, query parameters, the User-Agent that sessions keep — is
// checked here, once, before a handler sees it: text that is not valid UTF-8
// (PostgreSQL refuses it with an error; SQLite would store it or turn it into
// U+FFFD), or that holds NUL or another control character, gets a 400 naming
// where it was. Names also refuse the invisible characters that reorder text
// (bidirectional overrides, isolates and marks), which can make "evil" display
// as "live" in an admin list.

// textProblem says what is wrong with s, or "". multiline allows tab, line
// feed and carriage return; name also refuses bidirectional controls.
func textProblem(s string, name, multiline bool) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8 text"
	}
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			// What a JSON decoder makes of invalid UTF-8 or a lone surrogate
			// escape (\ud800): storing it would silently change the text.
			return "is not valid UTF-8 text (it holds invalid bytes or an unpaired surrogate)"
		case multiline && (r == '\t' || r == '\n' || r == '\r'):
		case unicode.IsControl(r):
			return fmt.Sprintf("contains the control character %U; remove it", r)
		case name && isBidiControl(r):
			return fmt.Sprintf("contains %U, an invisible character that reorders how text is displayed and can disguise a name; remove it", r)
		}
	}
	return ""
}

// isBidiControl reports the Unicode bidirectional formatting characters:
// embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069) and the
// implicit marks (U+200E, U+200F, U+061C).
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

func textError(where, problem string) *apperr.Error {
	return apperr.BadRequest("%s %s", where, problem)
}

// checkRequestText checks the matched route's path parameters, the query
// parameters and the User-Agent header.
func checkRequestText(r *http.Request) error {
	for _, name := range patternWildcards(r.Pattern) {
		if p := textProblem(r.PathValue(name), false, false); p != "" {
			return textError("path parameter "+name, p)
		}
	}
	if r.URL.RawQuery != "" {
		for k, vs := range r.URL.Query() {
			if p := textProblem(k, false, false); p != "" {
				return textError("a query parameter name", p)
			}
			for _, v := range vs {
				if p := textProblem(v, false, false); p != "" {
					return textError("query parameter "+strconv.Quote(k), p)
				}
			}
		}
	}
	if p := textProblem(r.UserAgent(), false, false); p != "" {
		return textError("header User-Agent", p)
	}
	return checkFormText(r)
}

// checkFormText checks a form body (the OAuth endpoints take them) and puts
// it back for the handler to read.
func checkFormText(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil
	}
	raw, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return decodeError(err, nil)
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil // the handler explains a malformed form
	}
	for k, vs := range form {
		if p := textProblem(k, false, false); p != "" {
			return textError("a form field name", p)
		}
		for _, v := range vs {
			if p := textProblem(v, strings.HasSuffix(strings.ToLower(k), "name"), false); p != "" {
				return textError("form field "+strconv.Quote(k), p)
			}
		}
	}
	return nil
}

// patternWildcards lists the wildcard names of a ServeMux pattern such as
// "GET /api/v1/users/{id}/authentication/{rest...}".
func patternWildcards(pattern string) []string {
	var names []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return names
		}
		name := strings.TrimSuffix(pattern[i+1:i+j], "...")
		if name != "$" && name != "" {
			names = append(names, name)
		}
		pattern = pattern[i+j+1:]
	}
}

// checkJSONText checks every string (and key) of a JSON document. A document
// of printable ASCII without escapes — a passkey assertion, most API calls —
// is accepted after one pass over its bytes; anything else is walked token by
// token so the error can name the field ("passwordProfile.password",
// "includeTargets[0].id"). Malformed JSON is left to the decoder to explain.
func checkJSONText(raw []byte) error {
	if plainJSON(raw) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		object  bool
		key     string
		index   int
		wantKey bool
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.index)
			}
		}
		return b.String()
	}
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed JSON: decoding reports that
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			top := len(stack) - 1
			if top >= 0 && stack[top].object && stack[top].wantKey {
				if p := textProblem(v, false, false); p != "" {
					return textError("a field name in the request body", p)
				}
				stack[top].key, stack[top].wantKey = v, false
				continue
			}
			field := path()
			key := ""
			if top >= 0 && stack[top].object {
				key = strings.ToLower(stack[top].key)
			}
			if p := textProblem(v, strings.HasSuffix(key, "name"), key == "description"); p != "" {
				if field == "" {
					return textError("the request body", p)
				}
				return textError("field "+field, p)
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// plainJSON reports a document of printable ASCII and JSON whitespace with no
// \u escape: nothing in it can be a control, bidi or invalid character.
func plainJSON(raw []byte) bool {
	for _, c := range raw {
		if (c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return !bytes.Contains(raw, []byte(`\u`))
}
