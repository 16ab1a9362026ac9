package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// autoUpgrade runs an automatic upgrade (conditional create) for the
// session's user with a key that leaves user presence out, as a password
// manager creating a passkey without asking does.
func (w *world) autoUpgrade(k *softkey.Authenticator, session string) reply {
	w.t.Helper()
	opts := w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(session), map[string]any{"automatic": true})
	if opts.status != http.StatusOK {
		return opts
	}
	if !strings.Contains(string(opts.body), `"mediation":"conditional"`) {
		w.t.Fatalf("automatic options without conditional mediation: %s", opts.body)
	}
	resp, err := k.Register(opts.body, w.origin())
	if err != nil {
		w.t.Fatalf("authenticator refused the options: %v", err)
	}
	return w.do("POST", "/api/v1/me/passkeys", cookie(session), map[string]any{"publicKeyCredential": json.RawMessage(resp)})
}

func silentKey(w *world) *softkey.Authenticator {
	k := w.key(goodAAGUID, softkey.FormatPacked)
	k.NoUserPresence = true
	return k
}

// A passkey created without user presence is accepted only as an automatic
// upgrade: for a user in scope, allowed to self-register, with no passkey
// yet, while the policy's switch is on, and under the profile's key rules.
func TestAutomaticUpgrade(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		alice := w.user("alice@contoso.com")
		s := w.session(alice, true)

		// Without the automatic upgrade, a key without user presence is refused.
		wantError(t, w.register(silentKey(w), s, "silent"), http.StatusBadRequest, "verificationFailed", "")
		w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(s), nil), http.StatusOK)
		if list := w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(s), nil), http.StatusOK); strings.Contains(string(list.body), `"id"`) {
			t.Fatalf("a refused registration left a passkey: %s", list.body)
		}

		offered := func(session string) any {
			return w.mustStatus(w.do("GET", "/api/v1/me/passkeys/signals", cookie(session), nil), http.StatusOK).json(t)["automaticUpgrade"]
		}
		if o := offered(s); o != true {
			t.Fatalf("signals before: automaticUpgrade = %v", o)
		}
		if o := offered(w.session(alice, false)); o != false {
			t.Fatalf("signals for a password-only session: automaticUpgrade = %v", o)
		}
		got := w.mustStatus(w.autoUpgrade(silentKey(w), s), http.StatusCreated).json(t)
		if o := offered(s); o != false {
			t.Fatalf("signals with a passkey: automaticUpgrade = %v", o)
		}
		if got["automaticallyCreated"] != true {
			t.Fatalf("automatic passkey not marked: %v", got)
		}
		list := w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(s), nil), http.StatusOK)
		if !strings.Contains(string(list.body), `"automaticallyCreated":true`) {
			t.Fatalf("My passkeys does not show the automatic one: %s", list.body)
		}

		// Once the user has a passkey, no second automatic one.
		wantError(t, w.autoUpgrade(silentKey(w), s), http.StatusForbidden, "alreadyHasPasskey", "already have a passkey")

		// A passkey added the ordinary way is not marked automatic.
		bob := w.user("bob@contoso.com")
		sb := w.session(bob, true)
		if got := w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), sb, "Bob's key"), http.StatusCreated).json(t); got["automaticallyCreated"] != false {
			t.Fatalf("ordinary passkey marked automatic: %v", got)
		}

		// Out of scope: an excluded group.
		carol := w.user("carol@contoso.com")
		contractors := w.group("Contractors", carol)
		w.setPolicy(`{"excludeTargets":[{"targetType":"group","id":"` + contractors + `"}]}`)
		wantError(t, w.autoUpgrade(silentKey(w), w.session(carol, true)), http.StatusForbidden, "excludedByGroup", "")

		// The profile's key restrictions apply to an automatic passkey too.
		dave := w.user("dave@contoso.com")
		sd := w.session(dave, true)
		w.setPolicy(`{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + goodAAGUID + `"]}}]}`)
		wantError(t, w.autoUpgrade(silentKey(w), sd), http.StatusForbidden, "keyRestricted", "")
		w.setPolicy(`{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":false,"aaGuids":[]}}]}`)

		// The switch off: refused at the start, and at the end of a ceremony
		// begun while it was on.
		opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(sd), map[string]any{"automatic": true}), http.StatusOK)
		w.setPolicy(`{"isAutomaticUpgradeAllowed":false}`)
		wantError(t, w.autoUpgrade(silentKey(w), sd), http.StatusForbidden, "automaticUpgradeDisabled", "turned off")
		resp, err := silentKey(w).Register(opts.body, w.origin())
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, w.do("POST", "/api/v1/me/passkeys", cookie(sd), map[string]any{"publicKeyCredential": json.RawMessage(resp)}),
			http.StatusForbidden, "automaticUpgradeDisabled", "turned off")
		if list := w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(sd), nil), http.StatusOK); strings.Contains(string(list.body), `"id"`) {
			t.Fatalf("a refused automatic upgrade left a passkey: %s", list.body)
		}
		if pol := w.setPolicy(`{}`); pol["isAutomaticUpgradeAllowed"] != false {
			t.Fatalf("policy JSON: %v", pol)
		}
	})
}

// Two automatic upgrades finished at once: the user has no passkey when
// either starts, but only one of them is kept (the rule holds inside the
// write), on both backends.
func TestAutomaticUpgradesRacing(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		alice := w.user("alice@contoso.com")
		s := w.session(alice, true)
		const n = 4
		bodies := make([]json.RawMessage, n)
		for i := range bodies {
			opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(s), map[string]any{"automatic": true}), http.StatusOK)
			resp, err := silentKey(w).Register(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			bodies[i] = resp
		}
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for _, b := range bodies {
			wg.Go(func() {
				statuses <- w.do("POST", "/api/v1/me/passkeys", cookie(s), map[string]any{"publicKeyCredential": b}).status
			})
		}
		wg.Wait()
		close(statuses)
		created := 0
		for st := range statuses {
			switch st {
			case http.StatusCreated:
				created++
			case http.StatusForbidden, http.StatusConflict:
			default:
				t.Errorf("status %d", st)
			}
		}
		list := w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(s), nil), http.StatusOK)
		if created != 1 || strings.Count(string(list.body), `"automaticallyCreated":true`) != 1 {
			t.Fatalf("%d created; passkeys: %s", created, list.body)
		}
	})
}
