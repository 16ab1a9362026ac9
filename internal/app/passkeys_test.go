package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

func TestPasskeyRegistrationAndSignIn(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		alice := w.user("alice@contoso.com")
		w.enableForAll()
		k := w.key(goodAAGUID, softkey.FormatPacked)

		r := w.mustStatus(w.register(k, w.session(alice, true), ""), http.StatusCreated).json(t)
		if r["aaGuid"] != goodAAGUID || r["model"] != goodModel || r["displayName"] != goodModel ||
			r["attestationLevel"] != "attested" || r["passkeyType"] != "deviceBound" {
			t.Fatalf("registered method = %v", r)
		}
		if certs, _ := r["attestationCertificates"].([]any); len(certs) == 0 {
			t.Errorf("attestationCertificates empty: %v", r)
		}

		for _, username := range []string{"ALICE@contoso.com", ""} {
			res := w.mustStatus(w.login(k, username), http.StatusOK)
			body := res.json(t)
			if user, _ := body["user"].(map[string]any); body["status"] != "signedIn" || user["userPrincipalName"] != "alice@contoso.com" {
				t.Fatalf("sign-in reply = %v", body)
			}
			c := sessionCookie(res)
			if c == "" {
				t.Fatal("no session cookie set")
			}
			mine := w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(c), nil), http.StatusOK).json(t)
			list := mine["value"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["lastUsedDateTime"] == nil {
				t.Fatalf("my passkeys after sign-in = %v", mine)
			}
		}
		events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{UserID: alice})
		if err != nil || len(events) != 2 || events[0].Result != storage.ResultSuccess || events[0].AAGUID != goodAAGUID || events[0].Model != goodModel {
			t.Fatalf("sign-in log = %+v, %v", events, err)
		}
	})
}

func TestPolicyRefusals(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		alice := w.user("alice@contoso.com")
		bob := w.user("bob@contoso.com")
		carol := w.user("carol@contoso.com")
		pilots := w.group("Passkey pilots", alice, carol)
		contractors := w.group("Contractors", carol)

		register := func(user string, k *softkey.Authenticator) reply {
			return w.register(k, w.session(user, true), "")
		}
		refused := func(t *testing.T, r reply, code, fragment string) {
			t.Helper()
			if r.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", r.status, r.body)
			}
			c, m := r.err(t)
			if c != code || !strings.Contains(m, fragment) {
				t.Fatalf("refusal %s %q, want %s containing %q", c, m, code, fragment)
			}
		}
		good := func() *softkey.Authenticator { return w.key(goodAAGUID, softkey.FormatPacked) }

		t.Run("method_disabled_by_default", func(t *testing.T) {
			refused(t, register(alice, good()), "methodDisabled", "turned off")
		})

		w.setPolicy(`{"state":"enabled","includeTargets":[{"targetType":"group","id":"` + pilots + `"}],
			"excludeTargets":[{"targetType":"group","id":"` + contractors + `"}]}`)

		t.Run("user_not_in_an_included_group", func(t *testing.T) {
			refused(t, register(bob, good()), "notTargeted", "")
		})
		t.Run("exclusion_beats_inclusion", func(t *testing.T) {
			refused(t, register(carol, good()), "excludedByGroup", `"Contractors"`)
		})
		t.Run("self_service_off_refuses_the_user_but_not_provisioning", func(t *testing.T) {
			w.setPolicy(`{"isSelfServiceRegistrationAllowed":false}`)
			defer w.setPolicy(`{"isSelfServiceRegistrationAllowed":true}`)
			refused(t, register(alice, good()), "selfServiceDisabled", "ask an administrator")
			w.mustStatus(w.provision(alice, good(), 5), http.StatusCreated)
		})
		t.Run("synced_passkey_refused_when_only_device_bound_allowed", func(t *testing.T) {
			w.setPolicy(`{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound","attestationEnforcement":"disabled","keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]}}]}`)
			defer w.resetProfile()
			synced := w.key(goodAAGUID, softkey.FormatPacked, func(o *softkey.Options) { o.BackupEligible, o.BackupState = true, true })
			refused(t, register(alice, synced), "passkeyTypeNotAllowed", "synced passkeys are not allowed")
		})
		t.Run("attestation_enforced", func(t *testing.T) {
			w.setProfile(`"attestationEnforcement":"registrationOnly"`)
			defer w.resetProfile()
			for _, tc := range []struct{ name, aaguid, format, reason string }{
				{"self_attestation", goodAAGUID, softkey.FormatPackedSelf, "could not be verified as genuine"},
				{"none_attestation", goodAAGUID, softkey.FormatNone, "could not be verified as genuine"},
				{"model_not_in_mds", unknownAAGUID, softkey.FormatPacked, "not in the FIDO Metadata Service"},
				{"revoked_model", revokedAAGUID, softkey.FormatPacked, "REVOKED"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					refused(t, register(alice, w.key(tc.aaguid, tc.format)), "attestationRequired", tc.reason)
				})
			}
			w.mustStatus(register(alice, good()), http.StatusCreated)
		})
		t.Run("allow_list_without_the_model", func(t *testing.T) {
			w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + revokedAAGUID + `"]}`)
			defer w.resetProfile()
			refused(t, register(alice, good()), "keyRestricted", goodModel+" (AAGUID "+goodAAGUID+"), is not on your organisation's list")
		})
		t.Run("zero_aaguid_never_passes_an_allow_list", func(t *testing.T) {
			w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["00000000-0000-0000-0000-000000000000","` + goodAAGUID + `"]}`)
			defer w.resetProfile()
			k := w.key("00000000-0000-0000-0000-000000000000", softkey.FormatNone)
			refused(t, register(alice, k), "keyRestricted", "all zeros")
		})
		t.Run("block_list_with_the_model", func(t *testing.T) {
			w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + strings.ToUpper(goodAAGUID) + `"]}`)
			defer w.resetProfile()
			refused(t, register(alice, good()), "keyRestricted", goodModel+" (AAGUID "+goodAAGUID+"): it is blocked by your organisation's policy")
		})
		creds, err := w.store.ListUserCredentials(context.Background(), alice)
		if err != nil || len(creds) != 2 {
			t.Fatalf("alice has %d credentials (%v), want the 2 that were allowed", len(creds), err)
		}
	})
}

// setProfile replaces fields of the default passkey profile.
func (w *world) setProfile(fields string) {
	w.t.Helper()
	w.setPolicy(`{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound,synced",` + fields + `}]}`)
}

func (w *world) resetProfile() {
	w.t.Helper()
	w.setPolicy(`{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound,synced","attestationEnforcement":"disabled","keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]}}]}`)
}

// provision registers k for user through the admin API.
func (w *world) provision(user string, k *softkey.Authenticator, minutes int) reply {
	w.t.Helper()
	base := "/api/v1/users/" + user + "/authentication/fido2Methods"
	opts := w.mustStatus(w.do("GET", base+"/creationOptions?challengeTimeoutInMinutes="+itoa(minutes), bearer(w.admin), nil), http.StatusOK)
	resp, err := k.Register(opts.body, w.origin())
	if err != nil {
		w.t.Fatalf("authenticator refused the options: %v", err)
	}
	return w.do("POST", base, bearer(w.admin), map[string]any{"displayName": "Issued key", "publicKeyCredential": json.RawMessage(resp)})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
