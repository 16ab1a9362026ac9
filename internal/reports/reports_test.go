package reports

import (
	"bytes"
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

func TestCompareLeavesDisabledAndFlaggedKeysOut(t *testing.T) {
	on, err := policy.Apply(policy.Default(), []byte(`{"state":"enabled"}`))
	if err != nil {
		t.Fatal(err)
	}
	off, err := policy.Apply(on, []byte(`{"state":"disabled"}`))
	if err != nil {
		t.Fatal(err)
	}
	owners := []storage.CredentialOwner{
		{User: storage.User{ID: "u1", AccountEnabled: true}, Credential: storage.Credential{ID: "k1", AAGUID: ZeroAAGUID}},
		{User: storage.User{ID: "u2", AccountEnabled: false}, Credential: storage.Credential{ID: "k2", AAGUID: ZeroAAGUID}},
		{User: storage.User{ID: "u3", AccountEnabled: true}, Credential: storage.Credential{ID: "k3", CloneWarning: true}},
	}
	p := Compare(on, off, owners, nil)
	if p.Summary.KeysThatStopWorking != 1 || p.KeysThatStopWorking[0].ID != "k1" || p.Summary.UsersLosingPasskeySignIn != 1 ||
		p.Summary.UsersInScopeWithoutAcceptableKey != 0 {
		t.Fatalf("%+v", p)
	}
}
