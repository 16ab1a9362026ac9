package access

import (
	"encoding/json"
	"net/netip"
	"testing"
)

// FuzzPolicyDocuments feeds arbitrary JSON to the decoding, validation and
// evaluation of each kind of document: nothing may panic, and whatever
// validates must compile and evaluate.
func FuzzPolicyDocuments(f *testing.F) {
	f.Add([]byte(`{"displayName":"a","state":"enabled","conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["All"]},"locations":{"includeLocations":["All"],"excludeLocations":["AllTrusted"]}},"grantControls":{"authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}`),
		[]byte(`{"displayName":"k","allowedCombinations":["fido2"],"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["ee882879-721c-4913-9775-3dfcce97072a"]}]}`),
		[]byte(`{"displayName":"o","ipRanges":[{"cidrAddress":"203.0.113.0/24"},{"cidrAddress":"2001:db8::/32"}]}`), "203.0.113.5")
	f.Add([]byte(`{"sessionControls":{"signInFrequency":{"value":-1,"type":"days","isEnabled":true}}}`), []byte(`{}`), []byte(`{"ipRanges":[{"cidrAddress":"::ffff:1.2.3.4/1"}]}`), "::1")
	f.Fuzz(func(t *testing.T, policyDoc, strengthDoc, locationDoc []byte, ip string) {
		var p Policy
		var s Strength
		var l Location
		_ = json.Unmarshal(policyDoc, &p)
		_ = json.Unmarshal(strengthDoc, &s)
		_ = json.Unmarshal(locationDoc, &l)
		s, errS := ValidateStrength(s)
		l, errL := ValidateLocation(l)
		s.ID, l.ID = onlyYubi, office
		k := Known{Strength: func(id string) bool { return errS == nil && id == onlyYubi },
			Location: func(id string) bool { return errL == nil && id == office }}
		p, errP := ValidatePolicy(p, k)
		if errS != nil || errL != nil || errP != nil {
			return
		}
		set, err := NewSet([]Policy{p}, []Strength{s}, []Location{l})
		if err != nil {
			t.Fatalf("validated documents do not compile: %v", err)
		}
		addr, _ := netip.ParseAddr(ip)
		d := set.Evaluate(Request{User: Subject{ID: alice}, AppID: wiki, IP: addr, Proof: yubi, Now: now})
		if len(d.Policies) != 1 {
			t.Fatalf("results: %+v", d.Policies)
		}
	})
}
