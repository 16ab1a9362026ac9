package policy

import (
	"encoding/json"
	"testing"
)

func FuzzApplyTAP(f *testing.F) {
	f.Add([]byte(`{"defaultLifetimeInMinutes":120,"maximumLifetimeInMinutes":480}`))
	f.Add([]byte(`{"defaultLength":"x","colour":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, patch []byte) {
		next, err := ApplyTAP(DefaultTAP(), patch)
		if err != nil {
			if next != DefaultTAP() {
				t.Fatalf("a refused patch changed the policy: %+v", next)
			}
			return
		}
		if ps := next.problems(); len(ps) > 0 {
			t.Fatalf("ApplyTAP accepted %s giving a policy with problems %v", patch, ps)
		}
		data, _ := json.Marshal(next)
		if back, err := LoadTAP(data); err != nil || back != next {
			t.Fatalf("the stored policy does not load back: %+v, %v", back, err)
		}
	})
}
