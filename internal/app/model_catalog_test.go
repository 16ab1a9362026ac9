package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// The allow/block editor's picker lists every model Keyward can name, the
// stored MDS blob's names winning over the built-in ones.
func TestModelCatalog(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		got := decodeModels(t, w.mustStatus(w.do("GET", policyPath+"/modelCatalog", bearer(w.reader), nil), http.StatusOK))
		if len(got) < 250 {
			t.Fatalf("catalog has %d models, want the ~300 built in and the MDS entries", len(got))
		}
		by := map[string]keyModel{}
		for i, m := range got {
			if _, twice := by[m.AAGUID]; twice {
				t.Fatalf("%s listed twice", m.AAGUID)
			}
			by[m.AAGUID] = m
			if i > 0 && strings.ToLower(got[i-1].Model) > strings.ToLower(m.Model) {
				t.Fatalf("not sorted by name: %q before %q", got[i-1].Model, m.Model)
			}
		}
		for id, want := range map[string]keyModel{
			goodAAGUID:                             {goodAAGUID, goodModel, "mds"}, // the built-in table calls it "YubiKey 5 Series with NFC"
			"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager", "wellKnown"},
			msAndroid:                              {msAndroid, msAndroidModel, "wellKnown"}, // from the quick-add list only
		} {
			if by[id] != want {
				t.Errorf("catalog has %+v for %s, want %+v", by[id], id, want)
			}
		}
		if _, ok := by[unknownAAGUID]; ok {
			t.Errorf("catalog names %s, which nobody knows", unknownAAGUID)
		}
		w.mustStatus(w.do("GET", policyPath+"/modelCatalog", cred{}, nil), http.StatusUnauthorized)
	})
}
