package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
)

// ValidationError lists every problem found in a policy change. Apply and
// Validate return it as the cause of a 400 *apperr.Error whose message lists
// the same problems, so a CLI or test can also read them one by one.
type ValidationError struct {
	Problems []string // "path: what is wrong", in the order found
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

// problem is one thing wrong at a JSON path such as passkeyProfiles[1].name.
type problem struct{ path, msg string }

type problems []problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, problem{path, fmt.Sprintf(format, args...)})
}

// covers reports whether a problem was already found at path or above it,
// so validation does not repeat what decoding said about the same field.
func (ps problems) covers(path string) bool {
	for _, p := range ps {
		if path == p.path || strings.HasPrefix(path, p.path+".") || strings.HasPrefix(path, p.path+"[") {
			return true
		}
	}
	return false
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	list := make([]string, len(ps))
	for i, p := range ps {
		if p.path == "" {
			list[i] = p.msg
		} else {
			list[i] = p.path + ": " + p.msg
		}
	}
	noun := "problem"
	if len(list) > 1 {
		noun = "problems"
	}
	e := apperr.BadRequest("the passkey (FIDO2) policy was not changed; %d %s: %s",
		len(list), noun, strings.Join(list, "; "))
	return e.Wrap(&ValidationError{Problems: list})
}

// The JSON helpers below decode one value each, recording a problem that
// names the path and the expected type instead of failing on the first.

func jsonKind(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func decodeObject(ps *problems, path string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if jsonKind(raw) != "an object" || json.Unmarshal(raw, &m) != nil {
		ps.add(path, "must be an object, not %s", jsonKind(raw))
		return nil, false
	}
	return m, true
}

// checkFields reports every key of m that is not in known.
func checkFields(ps *problems, path string, m map[string]json.RawMessage, known ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) && !strings.HasPrefix(k, "@odata.") {
			ps.add(join(path, k), "unknown field (known fields: %s)", strings.Join(known, ", "))
		}
	}
}

func decodeString(ps *problems, path string, raw json.RawMessage) (string, bool) {
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		ps.add(path, "must be a string, not %s", jsonKind(raw))
		return "", false
	}
	return s, true
}

func decodeBool(ps *problems, path string, raw json.RawMessage) (bool, bool) {
	var v bool
	if jsonKind(raw) != "a boolean" || json.Unmarshal(raw, &v) != nil {
		ps.add(path, "must be true or false, not %s", jsonKind(raw))
		return false, false
	}
	return v, true
}

// decodeArray accepts null as an empty array.
func decodeArray(ps *problems, path string, raw json.RawMessage) ([]json.RawMessage, bool) {
	if jsonKind(raw) == "null" {
		return []json.RawMessage{}, true
	}
	var a []json.RawMessage
	if jsonKind(raw) != "an array" || json.Unmarshal(raw, &a) != nil {
		ps.add(path, "must be an array, not %s", jsonKind(raw))
		return nil, false
	}
	return a, true
}

func decodeStrings(ps *problems, path string, raw json.RawMessage) ([]string, bool) {
	items, ok := decodeArray(ps, path, raw)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	allOK := true
	for i, item := range items {
		s, ok := decodeString(ps, index(path, i), item)
		allOK = allOK && ok
		out = append(out, s)
	}
	return out, allOK
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
