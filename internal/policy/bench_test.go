package policy

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCheckSignIn is the policy's part of every passkey sign-in: a
// policy targeting several groups with two profiles, one restricting keys to
// an allow list of 50 models, judged for a user in 20 groups whose key is
// allowed only by the restricted profile.
func BenchmarkCheckSignIn(b *testing.B) {
	var aaguids []string
	for i := range 49 {
		aaguids = append(aaguids, fmt.Sprintf(`"%08x-0000-4000-8000-000000000000"`, i+1))
	}
	aaguids = append(aaguids, `"`+yubi52+`"`)
	f, err := Apply(Default(), []byte(`{"state":"enabled","includeTargets":[
		{"id":"`+groupEng+`","allowedPasskeyProfiles":["default"]},
		{"id":"`+groupAdmins+`","allowedPasskeyProfiles":["hw"]}],
		"excludeTargets":[{"id":"`+groupContractors+`"}],
		"passkeyProfiles":[{"id":"default"},{"id":"hw","name":"Hardware","passkeyTypes":"deviceBound",
		"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":[`+strings.Join(aaguids, ",")+`]}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	var groups []string
	for i := range 18 {
		groups = append(groups, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	groups = append(groups, groupAdmins, groupEng)
	key := Key{AAGUID: yubi52, Attested: true}
	b.ReportAllocs()
	for b.Loop() {
		if d := f.CheckSignIn(groups, key); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}
