package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/textlimit"
)

// TAPStorageName is the name the Temporary Access Pass method policy is
// stored under.
const TAPStorageName = "temporaryAccessPass"

// Bounds of the Temporary Access Pass method policy: lifetimes from 10
// minutes to 30 days as Keyward has always allowed (Entra: 10 minutes to 30
// days), passes of 8 to 48 characters (Entra's range).
const (
	TAPMinLifetimeMinutes = 10
	TAPMaxLifetimeMinutes = 43200
	TAPMinLength          = 8
	TAPMaxLength          = 48
)

// TAPConfig is Graph's temporaryAccessPassAuthenticationMethodConfiguration:
// the defaults and limits of passes administrators issue.
type TAPConfig struct {
	ODataType                string `json:"@odata.type"`
	ID                       string `json:"id"`
	DefaultLifetimeInMinutes int    `json:"defaultLifetimeInMinutes"`
	MinimumLifetimeInMinutes int    `json:"minimumLifetimeInMinutes"`
	MaximumLifetimeInMinutes int    `json:"maximumLifetimeInMinutes"`
	IsUsableOnce             bool   `json:"isUsableOnce"`
	DefaultLength            int    `json:"defaultLength"`
}

// DefaultTAP is the policy before anyone changed it: what Keyward did
// before it had one (an hour by default, 10 minutes to 30 days, reusable
// unless asked otherwise, 16 characters ≈ 79 bits).
func DefaultTAP() TAPConfig {
	return TAPConfig{ODataType: "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration", ID: "TemporaryAccessPass",
		DefaultLifetimeInMinutes: 60, MinimumLifetimeInMinutes: TAPMinLifetimeMinutes, MaximumLifetimeInMinutes: TAPMaxLifetimeMinutes,
		IsUsableOnce: false, DefaultLength: 16}
}

// LoadTAP reads a stored policy; nothing stored is DefaultTAP.
func LoadTAP(data []byte) (TAPConfig, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return DefaultTAP(), nil
	}
	return ApplyTAP(DefaultTAP(), data)
}

// ApplyTAP applies a PATCH document: the fields it names change, unknown
// fields and wrong types are refused, and the result must hold together
// (minimum ≤ default ≤ maximum, each within the bounds). Every problem is
// reported at once in one 400 *apperr.Error; nothing changes on error.
func ApplyTAP(cur TAPConfig, patch []byte) (TAPConfig, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil || fields == nil {
		return cur, apperr.BadRequest("the Temporary Access Pass policy change must be a JSON object, such as {\"defaultLifetimeInMinutes\": 60}")
	}
	next := cur
	var problems []string
	ints := map[string]*int{
		"defaultLifetimeInMinutes": &next.DefaultLifetimeInMinutes, "minimumLifetimeInMinutes": &next.MinimumLifetimeInMinutes,
		"maximumLifetimeInMinutes": &next.MaximumLifetimeInMinutes, "defaultLength": &next.DefaultLength,
	}
	for name, raw := range fields {
		switch {
		case ints[name] != nil:
			if err := json.Unmarshal(raw, ints[name]); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				problems = append(problems, fmt.Sprintf("%s: must be a whole number, not %s", name, short(raw)))
			}
		case name == "isUsableOnce":
			if err := json.Unmarshal(raw, &next.IsUsableOnce); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				problems = append(problems, fmt.Sprintf("isUsableOnce: must be true or false, not %s", short(raw)))
			}
		case name == "@odata.type" || name == "id" || name == "state":
			// Graph clients send the whole object back; these do not change.
		default:
			problems = append(problems, fmt.Sprintf("%q is not a field of the Temporary Access Pass policy; the fields are defaultLifetimeInMinutes, minimumLifetimeInMinutes, maximumLifetimeInMinutes, isUsableOnce, defaultLength", name))
		}
	}
	if len(problems) == 0 {
		problems = next.problems()
	}
	if len(problems) > 0 {
		return cur, apperr.BadRequest("the Temporary Access Pass policy was not changed: %s", strings.Join(problems, "; "))
	}
	return next, nil
}

func (c TAPConfig) problems() []string {
	var ps []string
	within := func(name string, v int) {
		if v < TAPMinLifetimeMinutes || v > TAPMaxLifetimeMinutes {
			ps = append(ps, fmt.Sprintf("%s: must be from %d (10 minutes) to %d (30 days), not %d", name, TAPMinLifetimeMinutes, TAPMaxLifetimeMinutes, v))
		}
	}
	within("minimumLifetimeInMinutes", c.MinimumLifetimeInMinutes)
	within("maximumLifetimeInMinutes", c.MaximumLifetimeInMinutes)
	within("defaultLifetimeInMinutes", c.DefaultLifetimeInMinutes)
	if len(ps) == 0 && !(c.MinimumLifetimeInMinutes <= c.DefaultLifetimeInMinutes && c.DefaultLifetimeInMinutes <= c.MaximumLifetimeInMinutes) {
		ps = append(ps, fmt.Sprintf("defaultLifetimeInMinutes: must lie from the minimum to the maximum (%d to %d), not %d",
			c.MinimumLifetimeInMinutes, c.MaximumLifetimeInMinutes, c.DefaultLifetimeInMinutes))
	}
	if c.DefaultLength < TAPMinLength || c.DefaultLength > TAPMaxLength {
		ps = append(ps, fmt.Sprintf("defaultLength: must be from %d to %d characters, not %d", TAPMinLength, TAPMaxLength, c.DefaultLength))
	}
	return ps
}

func short(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 40 {
		s = textlimit.Truncate(s, 40) + "…"
	}
	return s
}
