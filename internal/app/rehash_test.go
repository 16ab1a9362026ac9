package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/storage"
)

// A password hash made with older argon2id parameters is replaced by one
// with the current parameters at the next successful password sign-in, and
// the password still works; a wrong password leaves it alone.
func TestPasswordSignInUpgradesAnOldHash(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		const password = "correct horse battery"
		id := w.pwUser("old@contoso.com", password)
		old, err := mfa.HashPasswordWith(password, mfa.Argon2Params{Memory: 4096, Time: 3, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		before, err := w.store.UpdateUser(ctx, id, func(u storage.User) (storage.User, error) {
			u.PasswordHash = old
			return u, nil
		})
		if err != nil {
			t.Fatal(err)
		}

		wantError(t, w.passwordSignIn("old@contoso.com", "wrong horse battery"), http.StatusUnauthorized, "invalidCredentials", "")
		if u, err := w.store.GetUser(ctx, id); err != nil || u.PasswordHash != old {
			t.Fatalf("a wrong password changed the stored hash to %q (%v)", u.PasswordHash, err)
		}

		w.signedIn(w.passwordSignIn("old@contoso.com", password), "old@contoso.com")
		u, err := w.store.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if u.PasswordHash == old || mfa.NeedsRehash(u.PasswordHash) {
			t.Fatalf("after sign-in the stored hash is %q, want one with the current parameters %+v", u.PasswordHash, mfa.DefaultArgon2)
		}
		if ok, err := mfa.VerifyPassword(u.PasswordHash, password); !ok || err != nil {
			t.Fatalf("the new hash does not verify the password: %v", err)
		}
		if !u.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("the upgrade changed UpdatedAt from %v to %v; the user changed nothing", before.UpdatedAt, u.UpdatedAt)
		}
		w.signedIn(w.passwordSignIn("old@contoso.com", password), "old@contoso.com")
	})
}
