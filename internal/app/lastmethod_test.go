package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keyward/keyward/internal/mds/mdstest"
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

// A way to sign in is one that works now: a passkey the current policy
// refuses — a blocked model, a model MDS distrusts under
// blockCompromisedModels — is not one. So a person with such a key cannot
// delete the key that does work, and an administrator is warned before
// taking a pass that is the only way in left.
func TestLastMethodCheckJudgesKeysByTheCurrentPolicy(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		keys := func(id string) string { return "/api/v1/users/" + id + "/authentication/fido2Methods" }
		taps := func(id string) string { return "/api/v1/users/" + id + "/authentication/temporaryAccessPassMethods" }
		ids := func(user string) map[string]string {
			out := map[string]string{}
			for _, x := range w.mustStatus(w.do("GET", keys(user), bearer(w.admin), nil), http.StatusOK).json(t)["value"].([]any) {
				m := x.(map[string]any)
				out[m["displayName"].(string)] = m["id"].(string)
			}
			return out
		}

		// Erin has a key of a model the organisation now blocks, and a good one.
		erin := w.user("erin@contoso.com")
		good, other := w.key(goodAAGUID, softkey.FormatPacked), w.key(revokedAAGUID, softkey.FormatNone)
		w.mustStatus(w.register(other, w.session(erin, true), "Old key"), http.StatusCreated)
		w.mustStatus(w.register(good, w.session(erin, true), "New key"), http.StatusCreated)
		w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + revokedAAGUID + `"]}`)
		signedIn := sessionCookie(w.mustStatus(w.login(good, "erin@contoso.com"), http.StatusOK))
		erinKeys := ids(erin)
		wantError(t, w.do("DELETE", "/api/v1/me/passkeys/"+erinKeys["New key"], cookie(signedIn), nil), http.StatusConflict, "lastMethod",
			`this passkey is the only way you can sign in, so it cannot be removed; add another passkey first (or ask your administrator to set a password or issue a Temporary Access Pass); your other passkey: "Old key" cannot sign in (your organisation no longer accepts this key model, `+revokedModel)
		wantError(t, w.do("DELETE", keys(erin)+"/"+erinKeys["New key"], bearer(w.admin), nil), http.StatusConflict, "confirmationRequired",
			`this is the only way erin@contoso.com can sign in`)
		w.mustStatus(w.login(good, "erin@contoso.com"), http.StatusOK) // still there
		// The blocked key itself may go: the good one stays.
		w.mustStatus(w.do("DELETE", "/api/v1/me/passkeys/"+erinKeys["Old key"], cookie(signedIn), nil), http.StatusNoContent)

		// Frank's only key is blocked; his pass is his only way in.
		frank := w.user("frank@contoso.com")
		w.resetProfile()
		w.mustStatus(w.register(w.key(revokedAAGUID, softkey.FormatNone), w.session(frank, true), "Old key"), http.StatusCreated)
		w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + revokedAAGUID + `"]}`)
		pass := w.mustStatus(w.do("POST", taps(frank), bearer(w.admin), map[string]any{}), http.StatusCreated).json(t)["id"].(string)
		wantError(t, w.do("DELETE", taps(frank)+"/"+pass, bearer(w.admin), nil), http.StatusConflict, "confirmationRequired",
			`this is the only way frank@contoso.com can sign in: without it they cannot sign in until they are given a password or a Temporary Access Pass; to remove it anyway, send the request again with confirm=true; their other passkey: "Old key" cannot sign in`)
		// Once the model is allowed again, the key counts and the pass may go.
		w.resetProfile()
		w.mustStatus(w.do("DELETE", taps(frank)+"/"+pass, bearer(w.admin), nil), http.StatusNoContent)

		// Gina's first key is of a model MDS now distrusts: it counts
		// until a profile blocks compromised models.
		gina := w.user("gina@contoso.com")
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), w.session(gina, true), "Distrusted key"), http.StatusCreated)
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), w.session(gina, true), "Second key"), http.StatusCreated)
		w.importBlob(9, mdstest.EntryOptions{AAGUID: goodAAGUID, Description: goodModel,
			Statuses: []string{"FIDO_CERTIFIED_L1", "USER_VERIFICATION_BYPASS"}, AttestationRootPEMs: []string{w.ca.RootPEM()}})
		ginaKeys := ids(gina)
		w.setProfile(`"blockCompromisedModels":true`)
		wantError(t, w.do("DELETE", "/api/v1/me/passkeys/"+ginaKeys["Second key"], cookie(w.session(gina, true)), nil), http.StatusConflict, "lastMethod",
			`"Distrusted key" cannot sign in (the FIDO Alliance reports this model (`+goodModel+`) as USER_VERIFICATION_BYPASS`)
		w.setProfile(`"blockCompromisedModels":false`)
		w.mustStatus(w.do("DELETE", "/api/v1/me/passkeys/"+ginaKeys["Second key"], cookie(w.session(gina, true)), nil), http.StatusNoContent)
	})
}
