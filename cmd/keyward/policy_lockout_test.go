package main

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// keyward policy passkey set refuses a change that leaves an emergency
// account with no way to sign in, naming it, and saves it with --force.
func TestPolicySetLockoutNeedsForce(t *testing.T) {
	c := cli{t: t, env: sqliteEnv(t)}
	c.ok("user", "add", "--upn", "glass@contoso.com", "--display-name", "Break glass", "--emergency-access")
	st := openTestStore(t, c.env)
	ctx := context.Background()
	u, err := st.GetUserByUPN(ctx, "glass@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	if err := st.CreateCredential(ctx, storage.Credential{ID: uuid.NewString(), UserID: u.ID, CredentialID: id, PublicKey: []byte{0xa0},
		AAGUID: goodAAGUID, DisplayName: "Glass key", AttestationFormat: "none", AttestationType: "none",
		AttestationLevel: storage.AttestationNotAttested, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c.ok("policy", "passkey", "set", "--state", "enabled")
	c.fails("this change would leave glass@contoso.com (emergency access) with no way to sign in", "policy", "passkey", "set", "--state", "disabled")
	c.ok("policy", "passkey", "set", "--state", "disabled", "--force")
}
