package reports

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

func TestZeroAAGUIDIsOneRowSayingWhatItMeans(t *testing.T) {
	m := NewPasskeyModel(storage.PasskeyModelUsage{AAGUID: ZeroAAGUID, Passkeys: 2, Synced: 1, DeviceBound: 1,
		NotAttested: 2, SignIns: []int{1, 2, 3}}, nil)
	if !strings.Contains(m.Model, "all-zero AAGUID") || m.PasskeyType != "mixed" || m.AttestationLevel != "notAttested" ||
		m.SignIns90Days != 3 || m.InMDS {
		t.Fatalf("%+v", m)
	}
}

func TestCSVDefusesFormulasInModelNames(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, []PasskeyModel{{AAGUID: "a", Model: "=HYPERLINK(\"x\")"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `'=HYPERLINK`) {
		t.Fatalf("CSV %q", b.String())
	}
}

func TestCompareCountsEverythingAndListsOnePage(t *testing.T) {
	on, err := policy.Apply(policy.Default(), []byte(`{"state":"enabled"}`))
	if err != nil {
		t.Fatal(err)
	}
	off, err := policy.Apply(on, []byte(`{"state":"disabled"}`))
	if err != nil {
		t.Fatal(err)
	}
	// 250 people with a key each; the last is an emergency account, beyond
	// the page but listed among the privileged all the same.
	var facts []storage.KeyFacts
	for i := range 250 {
		facts = append(facts, storage.KeyFacts{CredentialID: fmt.Sprintf("k%03d", i), UserID: fmt.Sprintf("u%03d", i),
			AAGUID: ZeroAAGUID, Privileged: i == 249})
	}
	p := Compare(on, off, facts, nil, PreviewPage{Skip: 100, Top: 100})
	if p.Summary.KeysThatStopWorking != 250 || p.Summary.UsersLosingPasskeySignIn != 250 ||
		p.Summary.UsersInScopeWithoutAcceptableKey != 0 || p.Summary.PrivilegedUsersAffected != 1 {
		t.Fatalf("summary %+v", p.Summary)
	}
	if len(p.KeysThatStopWorking) != 100 || p.KeysThatStopWorking[0].ID != "k100" || p.KeysThatStopWorking[99].ID != "k199" ||
		len(p.UsersLosingPasskeySignIn) != 100 || p.UsersLosingPasskeySignIn[0].ID != "u100" {
		t.Fatalf("page: %d keys from %v, %d users", len(p.KeysThatStopWorking), p.KeysThatStopWorking[0], len(p.UsersLosingPasskeySignIn))
	}
	if len(p.PrivilegedUsersAffected) != 1 || p.PrivilegedUsersAffected[0].ID != "u249" {
		t.Fatalf("privileged %+v", p.PrivilegedUsersAffected)
	}
	if len(p.ByModel) != 1 || p.ByModel[0] != (ModelImpact{AAGUID: ZeroAAGUID, Keys: 250, Users: 250}) {
		t.Fatalf("by model %+v", p.ByModel)
	}
	last := Compare(on, off, facts, nil, PreviewPage{Skip: 200, Top: 100})
	if len(last.KeysThatStopWorking) != 50 || last.Summary.KeysThatStopWorking != 250 {
		t.Fatalf("last page: %d keys, %d counted", len(last.KeysThatStopWorking), last.Summary.KeysThatStopWorking)
	}
}

func TestPreviewPageBounds(t *testing.T) {
	if pg, err := (PreviewPage{}).Check(); err != nil || pg.Top != DefaultPreviewTop {
		t.Fatalf("%+v %v", pg, err)
	}
	for _, pg := range []PreviewPage{{Skip: -1}, {Top: -1}, {Top: MaxPreviewTop + 1}} {
		if _, err := pg.Check(); err == nil {
			t.Errorf("%+v accepted", pg)
		}
	}
}
