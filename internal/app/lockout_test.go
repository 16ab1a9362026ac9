package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

// A passkey policy change that would leave a global administrator or an
// emergency-access account with no way to sign in is refused, naming them,
// for every kind of change; sent with force=true it is saved and the audit
// record says so. Someone with a password or a usable pass is not locked
// out, and a change that keeps one of their keys working is not refused.
// A key counts as the last-method check counts it: turning on
// blockCompromisedModels takes away a key whose model MDS distrusts.
func TestPolicyChangesThatLockOutPrivilegedAccountsAreRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		person := func(upn string, fields map[string]any) string {
			body := map[string]any{"userPrincipalName": upn, "displayName": strings.Split(upn, "@")[0]}
			for k, v := range fields {
				body[k] = v
			}
			id := w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), body), http.StatusCreated).json(t)["id"].(string)
			w.mustStatus(w.provision(id, w.key(goodAAGUID, softkey.FormatPacked), 5), http.StatusCreated)
			return id
		}
		root := person("root@contoso.com", map[string]any{"adminRole": "global-admin"})
		glass := person("glass@contoso.com", map[string]any{"isEmergencyAccess": true})
		person("withpw@contoso.com", map[string]any{"adminRole": "global-admin", "passwordProfile": map[string]any{"password": "correct horse battery staple"}})
		person("alice@contoso.com", nil) // not privileged: the guard is not about her
		admins := w.group("Admins", root, glass)
		both := "glass@contoso.com (emergency access), root@contoso.com (global administrator)" // by UPN
		// MDS now distrusts the model of everyone's key: harmless until a
		// profile blocks compromised models.
		w.importBlob(9, mdstest.EntryOptions{AAGUID: goodAAGUID, Description: goodModel,
			Statuses: []string{"FIDO_CERTIFIED_L1", "USER_VERIFICATION_BYPASS"}, AttestationRootPEMs: []string{w.ca.RootPEM()}})

		for _, tc := range []struct{ name, patch, want string }{
			{"state", `{"state":"disabled"}`, both},
			{"targets", `{"includeTargets":[{"targetType":"group","id":"` + w.group("Pilot") + `"}]}`, both},
			{"exclusions", `{"excludeTargets":[{"targetType":"group","id":"` + admins + `"}]}`, both},
			{"profiles", `{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound,synced","attestationEnforcement":"disabled","keyRestrictions":{"isEnforced":false,"enforcementType":"block","aaGuids":[]}},` +
				`{"id":"synced-only","name":"Synced only","passkeyTypes":"synced","attestationEnforcement":"disabled","keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + revokedAAGUID + `"]}}],` +
				`"includeTargets":[{"targetType":"group","id":"all_users","allowedPasskeyProfiles":["synced-only"]}]}`, both},
			{"key_restrictions", `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + goodAAGUID + `"]}}]}`, both},
			{"compromised_models", `{"passkeyProfiles":[{"id":"default","blockCompromisedModels":true}]}`, both},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).body
				wantError(t, w.do("PATCH", policyPath, bearer(w.admin), tc.patch), http.StatusConflict, "wouldLockOut",
					"this change would leave "+tc.want+" with no way to sign in")
				if after := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).body; string(after) != string(before) {
					t.Fatalf("a refused change was saved:\n%s\n%s", before, after)
				}
			})
		}

		// The preview an administrator sees before saving agrees: with
		// compromised models blocked, the privileged accounts' keys stop working.
		preview := w.mustStatus(w.do("POST", policyPath+"/preview", bearer(w.reader),
			`{"passkeyProfiles":[{"id":"default","blockCompromisedModels":true}]}`), http.StatusOK).json(t)
		if n := preview["summary"].(map[string]any)["privilegedUsersAffected"]; n != 3.0 { // root, glass and withpw
			t.Fatalf("preview of blocking compromised models: %v privileged users affected, want 3: %v", n, preview)
		}

		// A pass for the emergency account leaves only the administrator locked out.
		w.mustStatus(w.do("POST", "/api/v1/users/"+glass+"/authentication/temporaryAccessPassMethods", bearer(w.admin), map[string]any{}), http.StatusCreated)
		wantError(t, w.do("PATCH", policyPath, bearer(w.admin), `{"state":"disabled"}`), http.StatusConflict, "wouldLockOut",
			"this change would leave root@contoso.com (global administrator) with no way")
		// Blocking another model changes nothing for them.
		w.mustStatus(w.do("PATCH", policyPath, bearer(w.admin),
			`{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["`+revokedAAGUID+`"]}}]}`), http.StatusOK)

		// Forced: saved, and the audit record says whom it locked out.
		w.mustStatus(w.do("PATCH", policyPath+"?force=true", bearer(w.admin), `{"state":"disabled"}`), http.StatusOK)
		evs, err := w.store.ListAudit(context.Background(), storage.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		forced := 0
		for _, e := range evs {
			if e.Action == "policy.fido2.update" && strings.Contains(string(e.Details), `"force":true`) {
				forced++
				if !strings.Contains(string(e.Details), `"userPrincipalName":"root@contoso.com"`) {
					t.Errorf("forced change's record = %s", e.Details)
				}
			}
		}
		if forced != 1 {
			t.Fatalf("forced changes audited = %d, want 1", forced)
		}
	})
}
