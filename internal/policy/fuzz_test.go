package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/keyward/keyward/internal/apperr"
)

// FuzzApply: no input panics, every refusal is a 400 *apperr.Error, and an
// accepted policy validates, marshals and loads back unchanged.
func FuzzApply(f *testing.F) {
	seeds := []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"state":"enabled"}`, `{"state":1}`,
		`{"passkeyProfiles":[{"id":"default","passkeyTypes":["synced"],"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["EE882879721C491397753DFCCE97072A"]}}]}`,
		`{"includeTargets":[{"id":"all_users","allowedPasskeyProfiles":[]}],"excludeTargets":[{"id":"all_users"}]}`,
		`{"passkeyProfiles":[{"id":"default"},{"name":"a"},{"name":"b"},{"name":"c"}]}`,
		`{"passkeyProfiles":[{"id":"default"},{"id":"hw","name":"HW"}],"includeTargets":[{"id":"6F1C2A7E-0D7B-4C1E-9A55-3B7F0E2D1A01","allowedPasskeyProfiles":["hw"]}]}`,
		`{"@odata.type":"#microsoft.graph.fido2AuthenticationMethodConfiguration","id":"Fido2","state":null}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, patch []byte) {
		got, err := Apply(Default(), patch)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Message == "" {
				t.Fatalf("refusal %v (%T) is not a 400 *apperr.Error", err, err)
			}
			return
		}
		if _, err := got.Validate(); err != nil {
			t.Fatalf("accepted policy does not validate: %v", err)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Load(b)
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("round trip: %v\n got  %+v\n back %+v", err, got, back)
		}
	})
}
