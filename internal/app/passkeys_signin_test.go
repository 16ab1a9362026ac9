package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// registered gives a world with passkeys on for all and alice holding k.
func registered(t *testing.T, w *world, k *softkey.Authenticator) string {
	t.Helper()
	alice := w.user("alice@contoso.com")
	w.enableForAll()
	w.mustStatus(w.register(k, w.session(alice, true), "Work key"), http.StatusCreated)
	return alice
}

func wantError(t *testing.T, r reply, status int, code, fragment string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	c, m := r.err(t)
	if c != code || !strings.Contains(m, fragment) {
		t.Fatalf("error %s %q, want %s containing %q", c, m, code, fragment)
	}
	if sessionCookie(r) != "" {
		t.Fatal("a refused sign-in set a session cookie")
	}
}

func TestSignInRules(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPackedSelf)
		alice := registered(t, w, k)
		ctx := context.Background()

		t.Run("attestation_is_checked_at_registration_only", func(t *testing.T) {
			w.setProfile(`"attestationEnforcement":"registrationOnly"`)
			defer w.resetProfile()
			w.mustStatus(w.login(k, "alice@contoso.com"), http.StatusOK)
			m := w.mustStatus(w.do("GET", "/api/v1/users/"+alice+"/authentication/fido2Methods", bearer(w.reader), nil), http.StatusOK).json(t)
			if lvl := m["value"].([]any)[0].(map[string]any)["attestationLevel"]; lvl != "notAttested" {
				t.Fatalf("attestationLevel = %v, want notAttested", lvl)
			}
		})
		t.Run("key_restrictions_apply_at_every_sign_in", func(t *testing.T) {
			w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + goodAAGUID + `"]}`)
			wantError(t, w.login(k, "alice@contoso.com"), http.StatusForbidden, "keyRestricted", "is blocked by your organisation's policy")
			w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + unknownAAGUID + `"]}`)
			wantError(t, w.login(k, ""), http.StatusForbidden, "keyRestricted", "is not on the list of allowed keys")
			w.resetProfile()
			w.mustStatus(w.login(k, ""), http.StatusOK)
		})
		t.Run("exclusion_applies_at_sign_in", func(t *testing.T) {
			g := w.group("Suspended", alice)
			w.setPolicy(`{"excludeTargets":[{"targetType":"group","id":"` + g + `"}]}`)
			wantError(t, w.login(k, ""), http.StatusForbidden, "excludedByGroup", `"Suspended"`)
			w.setPolicy(`{"excludeTargets":[]}`)
		})
		t.Run("disabled_method_refuses_sign_in", func(t *testing.T) {
			w.setPolicy(`{"state":"disabled"}`)
			wantError(t, w.login(k, ""), http.StatusForbidden, "methodDisabled", "turned off")
			w.setPolicy(`{"state":"enabled"}`)
		})
		t.Run("disabled_account_refuses_sign_in", func(t *testing.T) {
			w.mustStatus(w.do("PATCH", "/api/v1/users/"+alice, bearer(w.admin), map[string]any{"accountEnabled": false}), http.StatusOK)
			wantError(t, w.login(k, ""), http.StatusForbidden, "accountDisabled", "disabled")
			w.mustStatus(w.do("PATCH", "/api/v1/users/"+alice, bearer(w.admin), map[string]any{"accountEnabled": true}), http.StatusOK)
		})
		t.Run("counter_going_backwards_is_refused_and_flagged", func(t *testing.T) {
			c := k.Credentials()[0]
			if err := k.SetSignCount(c.ID, 1); err != nil {
				t.Fatal(err)
			}
			wantError(t, w.login(k, ""), http.StatusUnauthorized, "possibleClonedKey", "cloned")
			m := w.mustStatus(w.do("GET", "/api/v1/users/"+alice+"/authentication/fido2Methods", bearer(w.reader), nil), http.StatusOK).json(t)
			if m["value"].([]any)[0].(map[string]any)["cloneWarning"] != true {
				t.Fatalf("method not flagged: %v", m)
			}
		})
		events, err := w.store.ListSignInEvents(ctx, storage.EventFilter{UserID: alice, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var failures []string
		for _, e := range events {
			if e.Result == storage.ResultFailure {
				failures = append(failures, e.FailureReason)
			}
		}
		if len(failures) != 6 || !strings.Contains(failures[0], "cloned") {
			t.Fatalf("failed sign-ins logged = %q, want the 6 refusals with reasons, newest first", failures)
		}
	})
}

func TestCeremonyIntegrity(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)

		t.Run("replayed_assertion", func(t *testing.T) {
			opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
			resp, err := k.Assert(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			w.mustStatus(w.do("POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusOK)
			wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusBadRequest, "challengeNotFound", "already used")
		})
		t.Run("one_assertion_sent_twice_at_once_signs_in_once", func(t *testing.T) {
			opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
			resp, err := k.Assert(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			statuses := make(chan int, 4)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { statuses <- w.do("POST", "/api/v1/auth/passkey", cred{}, resp).status })
			}
			wg.Wait()
			close(statuses)
			ok := 0
			for s := range statuses {
				if s == http.StatusOK {
					ok++
				} else if s != http.StatusBadRequest {
					t.Errorf("status %d, want 200 once and 400 for the rest", s)
				}
			}
			if ok != 1 {
				t.Fatalf("%d sign-ins succeeded with one assertion, want 1", ok)
			}
		})
		t.Run("expired_challenge", func(t *testing.T) {
			opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
			resp, err := k.Assert(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			w.clock.Advance(5*time.Minute + time.Second)
			wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusBadRequest, "challengeNotFound", "expired")
		})
		t.Run("wrong_origin", func(t *testing.T) {
			k.SkipOriginCheck = true
			defer func() { k.SkipOriginCheck = false }()
			opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
			resp, err := k.Assert(opts.body, "http://localhost.evil.example")
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusUnauthorized, "verificationFailed", "")
		})
		t.Run("wrong_rp_id", func(t *testing.T) {
			k.RPIDHashOverride = "evil.example"
			defer func() { k.RPIDHashOverride = "" }()
			opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
			resp, err := k.Assert(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusUnauthorized, "verificationFailed", "")
		})
		t.Run("missing_user_verification", func(t *testing.T) {
			opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
			resp, err := k.AssertWith(opts.body, w.origin(), softkey.AssertOptions{NoUserVerification: true})
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusUnauthorized, "verificationFailed", "")
			noUV := w.key(goodAAGUID, softkey.FormatPacked, func(o *softkey.Options) { o.NoUserVerification = true })
			r := w.register(noUV, w.session(alice, true), "")
			wantError(t, r, http.StatusBadRequest, "verificationFailed", "")
		})
		t.Run("registration_challenge_cannot_finish_for_another_user", func(t *testing.T) {
			bob := w.user("bob@contoso.com")
			opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(w.session(alice, true)), nil), http.StatusOK)
			resp, err := w.key(goodAAGUID, softkey.FormatPacked).Register(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, w.do("POST", "/api/v1/me/passkeys", cookie(w.session(bob, true)), map[string]any{"publicKeyCredential": json.RawMessage(resp)}),
				http.StatusBadRequest, "challengeNotFound", "")
		})
		t.Run("adding_a_passkey_needs_a_recent_multi_factor_sign_in", func(t *testing.T) {
			wantError(t, w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(w.session(alice, false)), nil), http.StatusForbidden, "mfaRequired", "10 minutes")
			s := w.session(alice, true)
			w.clock.Advance(11 * time.Minute)
			wantError(t, w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(s), nil), http.StatusForbidden, "mfaRequired", "10 minutes")
			wantError(t, w.do("POST", "/api/v1/me/passkeys/registration/options", bearer(w.admin), nil), http.StatusUnauthorized, "unauthenticated", "sign in")
			// The proof is checked again when the ceremony finishes.
			s = w.session(alice, true)
			opts := w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(s), nil), http.StatusOK)
			resp, err := w.key(goodAAGUID, softkey.FormatPacked).Register(opts.body, w.origin())
			if err != nil {
				t.Fatal(err)
			}
			w.clock.Advance(11 * time.Minute)
			wantError(t, w.do("POST", "/api/v1/me/passkeys", cookie(s), map[string]any{"publicKeyCredential": json.RawMessage(resp)}),
				http.StatusForbidden, "mfaRequired", "10 minutes")
		})
		t.Run("unknown_credential", func(t *testing.T) {
			other := w.key(goodAAGUID, softkey.FormatPacked)
			bob, _ := w.store.GetUserByUPN(context.Background(), "bob@contoso.com")
			w.mustStatus(w.register(other, w.session(bob.ID, true), ""), http.StatusCreated)
			creds, _ := w.store.ListUserCredentials(context.Background(), bob.ID)
			if err := w.store.DeleteCredential(context.Background(), creds[0].ID); err != nil {
				t.Fatal(err)
			}
			wantError(t, w.login(other, ""), http.StatusUnauthorized, "unknownCredential", "not registered")
		})
	})
}

// A ceremony begun on one node finishes on another sharing the database.
func TestCeremonySpansNodes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.addNode(w.mdsRootForNodes())
		alice := w.user("alice@contoso.com")
		w.enableForAll()
		k := w.key(goodAAGUID, softkey.FormatPacked)
		s := w.session(alice, true)

		opts := w.mustStatus(w.call(0, "POST", "/api/v1/me/passkeys/registration/options", cookie(s), nil), http.StatusOK)
		resp, err := k.Register(opts.body, w.origin())
		if err != nil {
			t.Fatal(err)
		}
		reg := w.mustStatus(w.call(1, "POST", "/api/v1/me/passkeys", cookie(s), map[string]any{"publicKeyCredential": json.RawMessage(resp)}), http.StatusCreated).json(t)
		if reg["attestationLevel"] != "attested" {
			t.Fatalf("node 2 did not see the MDS blob imported through node 1: %v", reg)
		}
		opts = w.mustStatus(w.call(1, "POST", "/api/v1/auth/passkey/options", cred{}, map[string]any{"username": "alice@contoso.com"}), http.StatusOK)
		resp, err = k.Assert(opts.body, w.origin())
		if err != nil {
			t.Fatal(err)
		}
		res := w.mustStatus(w.call(0, "POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusOK)
		// Sealed on node 2, finished on node 1, replayed on node 2: refused.
		wantError(t, w.call(1, "POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusBadRequest, "challengeNotFound", "already used")
		// The session made on node 1 works on node 2, and a policy change made
		// on node 2 takes effect on node 1 at once.
		w.mustStatus(w.call(1, "GET", "/api/v1/me/passkeys", cookie(sessionCookie(res)), nil), http.StatusOK)
		w.mustStatus(w.call(1, "PATCH", policyPath, bearer(w.admin), `{"state":"disabled"}`), http.StatusOK)
		opts = w.mustStatus(w.call(0, "POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
		resp, _ = k.Assert(opts.body, w.origin())
		wantError(t, w.call(0, "POST", "/api/v1/auth/passkey", cred{}, resp), http.StatusForbidden, "methodDisabled", "")
	})
}

func TestProvisioningOnBehalf(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		alice := w.user("alice@contoso.com")
		w.setPolicy(`{"state":"enabled","isSelfServiceRegistrationAllowed":false}`)
		base := "/api/v1/users/" + alice + "/authentication/fido2Methods"

		for _, bad := range []string{"4", "43201", "ten", "-5"} {
			wantError(t, w.do("GET", base+"/creationOptions?challengeTimeoutInMinutes="+bad, bearer(w.admin), nil), http.StatusBadRequest, "invalidRequest", "challengeTimeoutInMinutes")
		}
		wantError(t, w.do("GET", base+"/creationOptions", bearer(w.reader), nil), http.StatusForbidden, "forbidden", "authentication-admin")
		// A user named by UPN is found as by ID; an unknown one is a 404
		// naming what was asked for, with options and at the finish.
		w.mustStatus(w.do("GET", "/api/v1/users/alice@contoso.com/authentication/fido2Methods/creationOptions", bearer(w.admin), nil), http.StatusOK)
		const unknown = "0190f3c4-0000-7000-8000-000000000000"
		wantError(t, w.do("GET", "/api/v1/users/"+unknown+"/authentication/fido2Methods/creationOptions", bearer(w.admin), nil),
			http.StatusNotFound, "notFound", `no user with id "`+unknown+`"`)
		wantError(t, w.do("GET", "/api/v1/users/nobody@contoso.com/authentication/fido2Methods/creationOptions", bearer(w.admin), nil),
			http.StatusNotFound, "notFound", `no user with userPrincipalName "nobody@contoso.com"`)
		wantError(t, w.do("POST", "/api/v1/users/"+unknown+"/authentication/fido2Methods", bearer(w.admin),
			map[string]any{"publicKeyCredential": map[string]any{}}), http.StatusNotFound, "notFound", `no user with id "`+unknown+`"`)

		opts := w.mustStatus(w.do("GET", base+"/creationOptions?challengeTimeoutInMinutes=43200", bearer(w.admin), nil), http.StatusOK).json(t)
		deadline, err := time.Parse(time.RFC3339, opts["challengeTimeoutDateTime"].(string))
		if err != nil || deadline.Sub(w.clock.Now()) != 30*24*time.Hour {
			t.Fatalf("challengeTimeoutDateTime = %v (%v), want 30 days from now", opts["challengeTimeoutDateTime"], err)
		}
		pk := opts["publicKey"].(map[string]any)
		if pk["attestation"] != "direct" || pk["authenticatorSelection"].(map[string]any)["residentKey"] != "required" ||
			pk["authenticatorSelection"].(map[string]any)["userVerification"] != "required" {
			t.Fatalf("creation options = %v", pk)
		}
		k := w.key(goodAAGUID, softkey.FormatPacked)
		optsJSON, _ := json.Marshal(opts)
		w.clock.Advance(29 * 24 * time.Hour) // a key mailed to a user may take weeks
		resp, err := k.Register(optsJSON, w.origin())
		if err != nil {
			t.Fatal(err)
		}
		created := w.do("POST", base, bearer(w.admin), map[string]any{"displayName": "Alice's YubiKey", "publicKeyCredential": json.RawMessage(resp)})
		w.mustStatus(created, http.StatusCreated)
		m := created.json(t)
		if m["displayName"] != "Alice's YubiKey" || m["attestationLevel"] != "attested" || created.header.Get("Location") == "" {
			t.Fatalf("provisioned method = %v", m)
		}
		id := m["id"].(string)
		w.mustStatus(w.do("GET", base+"/"+id, bearer(w.reader), nil), http.StatusOK)
		w.mustStatus(w.login(k, ""), http.StatusOK)

		// The same key cannot be registered twice: the options exclude it.
		opts2 := w.mustStatus(w.do("GET", base+"/creationOptions", bearer(w.admin), nil), http.StatusOK)
		if _, err := k.Register(opts2.body, w.origin()); err == nil {
			t.Fatal("excludeCredentials did not list the existing key")
		}

		wantError(t, w.do("DELETE", base+"/"+id, bearer(w.reader), nil), http.StatusForbidden, "forbidden", "")
		w.mustStatus(w.do("DELETE", base+"/"+id+"?confirm=true", bearer(w.admin), nil), http.StatusNoContent) // her only key
		wantError(t, w.do("GET", base+"/"+id, bearer(w.admin), nil), http.StatusNotFound, "notFound", "")
		wantError(t, w.login(k, ""), http.StatusUnauthorized, "unknownCredential", "")
		audit, err := w.store.ListAudit(context.Background(), storage.EventFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range audit {
			if strings.HasPrefix(e.Action, "user.fido2Method") {
				actions = append(actions, e.Action+" by "+e.Actor)
			}
		}
		if strings.Join(actions, ",") != "user.fido2Method.delete by token:automation,user.fido2Method.create by token:automation" {
			t.Fatalf("audit = %q", actions)
		}
	})
}

// Malformed responses of every kind get a 400 naming the problem and
// change nothing.
func TestMalformedResponsesAreRefused(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		s := w.session(alice, true)
		b64 := base64.RawURLEncoding.EncodeToString
		cases := map[string]string{
			"not_json":          `{"id":`,
			"wrong_type":        `{"id":"x","rawId":"x","type":"password","response":{}}`,
			"bad_base64":        `{"id":"***","rawId":"***","type":"public-key","response":{"clientDataJSON":"***","attestationObject":"***"}}`,
			"bad_client_data":   `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"` + b64([]byte("{not json")) + `","attestationObject":"AA","authenticatorData":"AA","signature":"AA"}}`,
			"bad_cbor":          `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"` + b64([]byte(`{"type":"webauthn.create","challenge":"abc","origin":"x"}`)) + `","attestationObject":"` + b64([]byte{0xff, 0x00, 0x13}) + `"}}`,
			"unknown_challenge": "",
		}
		before := w.counts(alice)
		for name, body := range cases {
			t.Run(name, func(t *testing.T) {
				if name == "unknown_challenge" {
					resp, err := w.key(goodAAGUID, softkey.FormatPacked).Register([]byte(`{"publicKey":{"rp":{"id":"localhost","name":"x"},"user":{"id":"`+b64([]byte("u"))+`","name":"a","displayName":"a"},"challenge":"`+b64([]byte("made-up-challenge-made-up-challenge"))+`","pubKeyCredParams":[{"type":"public-key","alg":-7}]}}`), w.origin())
					if err != nil {
						t.Fatal(err)
					}
					body = string(resp)
				}
				r := w.do("POST", "/api/v1/me/passkeys", cookie(s), `{"publicKeyCredential":`+body+`}`)
				if r.status != http.StatusBadRequest {
					t.Fatalf("registration: status %d, want 400: %s", r.status, r.body)
				}
				if _, m := r.err(t); m == "" {
					t.Fatal("no message")
				}
				r = w.do("POST", "/api/v1/auth/passkey", cred{}, body)
				if r.status != http.StatusBadRequest {
					t.Fatalf("sign-in: status %d, want 400: %s", r.status, r.body)
				}
			})
		}
		for _, body := range []string{`{}`, `{"displayName":"x"}`, `{"publicKeyCredential":null}`, `{"publicKeyCredential":{},"extra":1}`} {
			if r := w.do("POST", "/api/v1/me/passkeys", cookie(s), body); r.status != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400: %s", body, r.status, r.body)
			}
		}
		long := strings.Repeat("x", 201)
		if r := w.register(w.key(goodAAGUID, softkey.FormatPacked), s, long); r.status != http.StatusBadRequest {
			t.Fatalf("over-long display name: status %d: %s", r.status, r.body)
		}
		if after := w.counts(alice); after != before {
			t.Fatalf("bad input changed the store: %v → %v", before, after)
		}
	})
}

// counts summarises what bad input must not change.
func (w *world) counts(userID string) [2]int {
	w.t.Helper()
	creds, err := w.store.ListUserCredentials(context.Background(), userID)
	if err != nil {
		w.t.Fatal(err)
	}
	audit, err := w.store.ListAudit(context.Background(), storage.EventFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return [2]int{len(creds), len(audit)}
}

// A cookie-authenticated request that changes something must carry the
// session's CSRF token: another site can make the browser send the cookie,
// not the token.
func TestCookieRequestsNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.NewSQLite(t))
	alice := w.user("alice@contoso.com")
	w.enableForAll()
	s := w.session(alice, true)
	forged := cred{cookie: s, noCSRF: true}
	wantError(t, w.do("POST", "/api/v1/me/passkeys/registration/options", forged, nil), http.StatusForbidden, "csrfTokenInvalid", "CSRF token")
	w.mustStatus(w.do("GET", "/api/v1/me/passkeys", forged, nil), http.StatusOK)
	w.mustStatus(w.do("POST", "/api/v1/me/passkeys/registration/options", cookie(s), nil), http.StatusOK)
}
