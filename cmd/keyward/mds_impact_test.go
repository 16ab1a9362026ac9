package main

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// keyward mds impact lists the users whose passkeys are of a model the
// stored blob distrusts; importing a blob that newly revokes a registered
// model moves its keys into the list and audits each.
func TestMDSImpact(t *testing.T) {
	env := sqliteEnv(t)
	f := newMDSFixture(t)
	c := cli{t: t, env: append(env, "KEYWARD_MDS_ROOTS="+f.rootFile)}
	c.ok("mds", "import", f.blobFile(5))
	c.ok("user", "add", "--upn", "alice@contoso.com", "--display-name", "Alice")
	st := openTestStore(t, c.env)
	ctx := context.Background()
	alice, err := st.GetUserByUPN(ctx, "alice@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	if err := st.CreateCredential(ctx, storage.Credential{ID: uuid.NewString(), UserID: alice.ID, CredentialID: id,
		PublicKey: []byte{0xa0}, AAGUID: goodAAGUID, Model: goodModel, DisplayName: "Alice's key",
		AttestationFormat: "packed", AttestationType: "basic_full", AttestationLevel: storage.AttestationAttested,
		CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("mds", "impact"); !strings.Contains(out, "No registered passkey is of a model") {
		t.Fatalf("impact before:\n%s", out)
	}

	next := f.payload(6)
	next.Entries[0].Statuses = []string{"FIDO_CERTIFIED_L1", "USER_KEY_PHYSICAL_COMPROMISE"}
	c.ok("mds", "import", writeTemp(t, "blob6.jwt", string(f.sign(next))))
	out := c.ok("mds", "impact")
	for _, want := range []string{"1 passkey of 1 user", "alice@contoso.com", "Alice's key", goodModel, "USER_KEY_PHYSICAL_COMPROMISE"} {
		if !strings.Contains(out, want) {
			t.Errorf("impact lacks %q:\n%s", want, out)
		}
	}
	var j struct {
		Users int `json:"users"`
		Value []struct {
			UserPrincipalName string `json:"userPrincipalName"`
			Model             string `json:"model"`
		} `json:"value"`
	}
	c.json(&j, "mds", "impact", "--json")
	if j.Users != 1 || len(j.Value) != 1 || j.Value[0].UserPrincipalName != "alice@contoso.com" || j.Value[0].Model != goodModel {
		t.Fatalf("impact --json = %+v", j)
	}
	evs, err := st.ListAudit(ctx, storage.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == "passkey.modelDistrusted" && e.Target == alice.ID && e.Actor == "mds" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("audit records of the newly distrusted passkey = %d, want 1", n)
	}
}
