package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// withChallenge returns ceremony options (JSON, {"publicKey": {…}} or the
// admin API's {"publicKey": …, "challengeTimeoutDateTime": …}) with the
// challenge of other put in: what a client would sign when it sent one
// ceremony's challenge to another's finish.
func withChallenge(t *testing.T, options, other []byte) []byte {
	t.Helper()
	var o map[string]any
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	o["publicKey"].(map[string]any)["challenge"] = challengeOf(t, other)
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func challengeOf(t *testing.T, options []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("no challenge in %s (%v)", options, err)
	}
	return o.PublicKey.Challenge
}

func (w *world) credentialCount(userID string) int {
	w.t.Helper()
	creds, err := w.store.ListUserCredentials(context.Background(), userID)
	if err != nil {
		w.t.Fatal(err)
	}
	return len(creds)
}

// Registration and provisioning challenges are sealed like a sign-in's:
// the options store nothing, any node finishes the ceremony, and the
// challenge is used once — by its success or by its refusal.
func TestRegistrationChallengesAreSealedAndUsedOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.addNode(w.mdsRootForNodes())
		alice, bob := w.user("alice@contoso.com"), w.user("bob@contoso.com")
		w.enableForAll()
		const mine = "/api/v1/me/passkeys"
		provision := func(user string) string { return "/api/v1/users/" + user + "/authentication/fido2Methods" }
		finish := func(node int, path string, c cred, resp []byte) reply {
			return w.call(node, "POST", path, c, map[string]any{"publicKeyCredential": json.RawMessage(resp)})
		}
		register := func(k *softkey.Authenticator, options []byte, origin string) []byte {
			t.Helper()
			resp, err := k.Register(options, origin)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}

		t.Run("self_service_sealed_on_one_node_finished_on_another_replayed_on_the_first", func(t *testing.T) {
			s := w.session(alice, true)
			opts := w.mustStatus(w.call(0, "POST", mine+"/registration/options", cookie(s), nil), http.StatusOK)
			resp := register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			created := w.mustStatus(finish(1, mine, cookie(s), resp), http.StatusCreated).json(t)
			if created["attestationLevel"] != "attested" {
				t.Fatalf("registered %v", created)
			}
			wantError(t, finish(0, mine, cookie(s), resp), http.StatusBadRequest, "challengeNotFound", "already used")
			if n := w.credentialCount(alice); n != 1 {
				t.Fatalf("alice has %d passkeys, want 1", n)
			}
		})
		t.Run("provisioning_sealed_on_one_node_finished_on_another_replayed_on_the_first", func(t *testing.T) {
			opts := w.mustStatus(w.call(1, "GET", provision(bob)+"/creationOptions", bearer(w.admin), nil), http.StatusOK)
			resp := register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			w.mustStatus(finish(0, provision(bob), bearer(w.admin), resp), http.StatusCreated)
			wantError(t, finish(1, provision(bob), bearer(w.admin), resp), http.StatusBadRequest, "challengeNotFound", "already used")
			if n := w.credentialCount(bob); n != 1 {
				t.Fatalf("bob has %d passkeys, want 1", n)
			}
		})
		t.Run("expired", func(t *testing.T) {
			s := w.session(alice, true)
			opts := w.mustStatus(w.do("POST", mine+"/registration/options", cookie(s), nil), http.StatusOK)
			resp := register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			w.clock.Advance(5*time.Minute + time.Second)
			wantError(t, finish(0, mine, cookie(s), resp), http.StatusBadRequest, "challengeNotFound", "expired")

			// A provisioning challenge lives as long as it was asked to.
			opts = w.mustStatus(w.do("GET", provision(bob)+"/creationOptions?challengeTimeoutInMinutes=60", bearer(w.admin), nil), http.StatusOK)
			resp = register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			w.clock.Advance(time.Hour)
			wantError(t, finish(0, provision(bob), bearer(w.admin), resp), http.StatusBadRequest, "challengeNotFound", "expired")
		})
		t.Run("another_kind_of_ceremony_is_refused", func(t *testing.T) {
			s := w.session(alice, true)
			reg := w.mustStatus(w.do("POST", mine+"/registration/options", cookie(s), nil), http.StatusOK)
			login := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
			prov := w.mustStatus(w.do("GET", provision(alice)+"/creationOptions", bearer(w.admin), nil), http.StatusOK)
			k := w.key(goodAAGUID, softkey.FormatPacked)
			// A sign-in's challenge cannot finish a registration or a provisioning…
			wantError(t, finish(0, mine, cookie(s), register(k, withChallenge(t, reg.body, login.body), w.origin())),
				http.StatusBadRequest, "challengeNotFound", "")
			wantError(t, finish(0, provision(alice), bearer(w.admin), register(k, withChallenge(t, prov.body, login.body), w.origin())),
				http.StatusBadRequest, "challengeNotFound", "")
			// …nor a provisioning's a self-service registration, or the other way round…
			wantError(t, finish(0, mine, cookie(s), register(k, withChallenge(t, reg.body, prov.body), w.origin())),
				http.StatusBadRequest, "challengeNotFound", "")
			wantError(t, finish(0, provision(alice), bearer(w.admin), register(k, withChallenge(t, prov.body, reg.body), w.origin())),
				http.StatusBadRequest, "challengeNotFound", "")
			// …and a registration's challenge cannot finish a sign-in.
			signer := w.key(goodAAGUID, softkey.FormatPacked)
			w.mustStatus(w.register(signer, s, ""), http.StatusCreated)
			assertion, err := signer.Assert(withChallenge(t, login.body, reg.body), w.origin())
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, assertion), http.StatusBadRequest, "challengeNotFound", "")
			// The challenges refused elsewhere were not used up: each still
			// finishes its own ceremony.
			w.mustStatus(finish(0, mine, cookie(s), register(w.key(goodAAGUID, softkey.FormatPacked), reg.body, w.origin())), http.StatusCreated)
			w.mustStatus(finish(0, provision(alice), bearer(w.admin), register(w.key(goodAAGUID, softkey.FormatPacked), prov.body, w.origin())), http.StatusCreated)
		})
		t.Run("a_challenge_for_one_user_cannot_register_for_another", func(t *testing.T) {
			before := w.credentialCount(bob)
			opts := w.mustStatus(w.do("GET", provision(alice)+"/creationOptions", bearer(w.admin), nil), http.StatusOK)
			resp := register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			wantError(t, finish(0, provision(bob), bearer(w.admin), resp), http.StatusBadRequest, "challengeNotFound", "")
			opts = w.mustStatus(w.do("POST", mine+"/registration/options", cookie(w.session(alice, true)), nil), http.StatusOK)
			resp = register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			wantError(t, finish(0, mine, cookie(w.session(bob, true)), resp), http.StatusBadRequest, "challengeNotFound", "")
			if n := w.credentialCount(bob); n != before {
				t.Fatalf("bob has %d passkeys, want %d", n, before)
			}
		})
		t.Run("a_refusal_uses_the_challenge_up", func(t *testing.T) {
			s := w.session(alice, true)
			before := w.credentialCount(alice)
			opts := w.mustStatus(w.do("POST", mine+"/registration/options", cookie(s), nil), http.StatusOK)
			k := w.key(goodAAGUID, softkey.FormatPacked)
			k.SkipOriginCheck = true
			wantError(t, finish(0, mine, cookie(s), register(k, opts.body, "http://localhost.evil.example")),
				http.StatusBadRequest, "verificationFailed", "origin")
			k.SkipOriginCheck = false
			// The same challenge, answered properly now: used up already.
			wantError(t, finish(0, mine, cookie(s), register(k, opts.body, w.origin())), http.StatusBadRequest, "challengeNotFound", "already used")

			// A policy refusal too.
			w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + goodAAGUID + `"]}`)
			opts = w.mustStatus(w.do("POST", mine+"/registration/options", cookie(s), nil), http.StatusOK)
			resp := register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			wantError(t, finish(0, mine, cookie(s), resp), http.StatusForbidden, "keyRestricted", "")
			w.resetProfile()
			wantError(t, finish(0, mine, cookie(s), resp), http.StatusBadRequest, "challengeNotFound", "already used")
			if n := w.credentialCount(alice); n != before {
				t.Fatalf("alice has %d passkeys, want %d", n, before)
			}
		})
		t.Run("one_response_sent_at_once_to_both_nodes_registers_once", func(t *testing.T) {
			s := w.session(alice, true)
			before := w.credentialCount(alice)
			opts := w.mustStatus(w.do("POST", mine+"/registration/options", cookie(s), nil), http.StatusOK)
			resp := register(w.key(goodAAGUID, softkey.FormatPacked), opts.body, w.origin())
			statuses := make(chan int, 6)
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Go(func() { statuses <- finish(i%2, mine, cookie(s), resp).status })
			}
			wg.Wait()
			close(statuses)
			created := 0
			for st := range statuses {
				if st == http.StatusCreated {
					created++
				} else if st != http.StatusBadRequest {
					t.Errorf("status %d, want 201 once and 400 for the rest", st)
				}
			}
			if created != 1 || w.credentialCount(alice) != before+1 {
				t.Fatalf("%d registrations answered 201 and alice went from %d to %d passkeys; want one", created, before, w.credentialCount(alice))
			}
		})
	})
}
