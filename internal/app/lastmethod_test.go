package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

// Nobody removes their own last way to sign in; an administrator removing a
// user's last one — a passkey or a Temporary Access Pass — is warned and
// must confirm. A method that is not the last goes without a word.
func TestLastSignInMethodGuards(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		taps := func(id string) string { return "/api/v1/users/" + id + "/authentication/temporaryAccessPassMethods" }
		keys := func(id string) string { return "/api/v1/users/" + id + "/authentication/fido2Methods" }

		// Dana has only a pass.
		dana := w.user("dana@contoso.com")
		pass := w.mustStatus(w.do("POST", taps(dana), bearer(w.admin), map[string]any{}), http.StatusCreated).json(t)["id"].(string)
		wantError(t, w.do("DELETE", taps(dana)+"/"+pass, bearer(w.admin), nil), http.StatusConflict, "confirmationRequired",
			"this is the only way dana@contoso.com can sign in: without it they cannot sign in until they are given a password or a Temporary Access Pass; to remove it anyway, send the request again with confirm=true")
		if n := len(w.mustStatus(w.do("GET", taps(dana), bearer(w.admin), nil), http.StatusOK).json(t)["value"].([]any)); n != 1 {
			t.Fatalf("passes after the warning = %d, want 1", n)
		}
		w.mustStatus(w.do("DELETE", taps(dana)+"/"+pass+"?confirm=true", bearer(w.admin), nil), http.StatusNoContent)

		// Alice has only a passkey: she cannot delete it; an administrator must confirm.
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		key := w.mustStatus(w.do("GET", keys(alice), bearer(w.admin), nil), http.StatusOK).json(t)["value"].([]any)[0].(map[string]any)["id"].(string)
		wantError(t, w.do("DELETE", "/api/v1/me/passkeys/"+key, cookie(w.session(alice, true)), nil), http.StatusConflict, "lastMethod",
			"this passkey is the only way you can sign in")
		wantError(t, w.do("DELETE", keys(alice)+"/"+key, bearer(w.admin), nil), http.StatusConflict, "confirmationRequired",
			"this is the only way alice@contoso.com can sign in")
		w.mustStatus(w.login(k, "alice@contoso.com"), http.StatusOK) // still there

		// With a pass as well, either may go without a confirmation — but not both.
		pass = w.mustStatus(w.do("POST", taps(alice), bearer(w.admin), map[string]any{}), http.StatusCreated).json(t)["id"].(string)
		w.mustStatus(w.do("DELETE", keys(alice)+"/"+key, bearer(w.admin), nil), http.StatusNoContent)
		wantError(t, w.do("DELETE", taps(alice)+"/"+pass, bearer(w.admin), nil), http.StatusConflict, "confirmationRequired", "alice@contoso.com")

		// The confirmed removals are in the audit log like any other.
		evs, err := w.store.ListAudit(context.Background(), storage.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		deleted := map[string]int{}
		for _, e := range evs {
			deleted[e.Action]++
		}
		if deleted["user.temporaryAccessPassMethod.delete"] != 1 || deleted["user.fido2Method.delete"] != 1 {
			t.Fatalf("deletions audited = %v", deleted)
		}
	})
}
