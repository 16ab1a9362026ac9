package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

func TestFido2PolicyAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		p := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).json(t)
		profiles := p["passkeyProfiles"].([]any)
		if p["state"] != "disabled" || p["isSelfServiceRegistrationAllowed"] != true || len(profiles) != 1 ||
			p["@odata.type"] != "#microsoft.graph.fido2AuthenticationMethodConfiguration" {
			t.Fatalf("defaults = %v", p)
		}
		def := profiles[0].(map[string]any)
		if def["attestationEnforcement"] != "disabled" || def["keyRestrictions"].(map[string]any)["isEnforced"] != false || def["passkeyTypes"] != "deviceBound,synced" {
			t.Fatalf("default profile = %v", def)
		}

		g := w.group("Passkey pilots")
		updated := w.setPolicy(`{"state":"enabled","includeTargets":[{"targetType":"group","id":"` + strings.ToUpper(g) + `"}],
			"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":["deviceBound"],"attestationEnforcement":"registrationOnly",
			"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["{EE882879-721C-4913-9775-3DFCCE97072A}","ee882879721c491397753dfcce97072a"]}}]}`)
		kr := updated["passkeyProfiles"].([]any)[0].(map[string]any)["keyRestrictions"].(map[string]any)
		if got := kr["aaGuids"].([]any); len(got) != 1 || got[0] != "ee882879-721c-4913-9775-3dfcce97072a" {
			t.Fatalf("aaGuids = %v, want the two spellings normalised to one", got)
		}
		if id := updated["includeTargets"].([]any)[0].(map[string]any)["id"]; id != g {
			t.Fatalf("group id = %v, want %s", id, g)
		}

		before := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).body
		audits := len(w.audit("policy.fido2.update"))
		bad := []struct{ name, body, fragment string }{
			{"malformed_json", `{"state":`, ""},
			{"unknown_field", `{"stat":"enabled"}`, "stat"},
			{"wrong_type", `{"state":true}`, "state"},
			{"bad_state", `{"state":"on"}`, "state"},
			{"bad_aaguid", `{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound","keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["not-an-aaguid"]}}]}`, "not-an-aaguid"},
			{"four_profiles", `{"passkeyProfiles":[{"id":"default","name":"a"},{"name":"b"},{"name":"c"},{"name":"d"}]}`, "3"},
			{"default_profile_deleted", `{"passkeyProfiles":[{"id":"other","name":"Other"}]}`, "default"},
			{"unknown_group", `{"includeTargets":[{"targetType":"group","id":"7d0b6f42-2a50-4b7c-9d0e-1f2a3b4c5d6e"}]}`, "do not exist"},
			{"bad_enforcement", `{"passkeyProfiles":[{"id":"default","name":"x","keyRestrictions":{"isEnforced":true,"enforcementType":"maybe","aaGuids":[]}}]}`, "enforcementType"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := w.do("PATCH", policyPath, bearer(w.admin), tc.body)
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", r.status, r.body)
				}
				if _, m := r.err(t); !strings.Contains(m, tc.fragment) {
					t.Fatalf("message %q does not name %q", m, tc.fragment)
				}
			})
		}
		t.Run("reader_cannot_change_it", func(t *testing.T) {
			wantError(t, w.do("PATCH", policyPath, bearer(w.reader), `{"state":"disabled"}`), http.StatusForbidden, "forbidden", "authentication-admin")
		})
		t.Run("authentication_admin_cannot", func(t *testing.T) {
			wantError(t, w.do("PATCH", policyPath, bearer(w.token("helpdesk", storage.RoleAuthenticationAdmin)), `{"state":"disabled"}`),
				http.StatusForbidden, "forbidden", "privileged-authentication-admin")
		})
		t.Run("privileged_authentication_admin_can", func(t *testing.T) {
			// no-op change so the state compared below stays the same
			w.mustStatus(w.do("PATCH", policyPath, bearer(w.token("helpdesk-lead", storage.RolePrivilegedAuthenticationAdmin)), `{"state":"enabled"}`), http.StatusOK)
		})
		after := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).body
		if string(after) != string(before) {
			t.Fatalf("refused changes altered the policy:\n%s\n%s", before, after)
		}
		if got := w.audit("policy.fido2.update"); len(got) != audits+1 || got[0].Actor != "token:helpdesk-lead" {
			t.Fatalf("policy audit = %+v, want one more record by token:helpdesk-lead", got)
		}

		wk := w.mustStatus(w.do("GET", policyPath+"/wellKnownProviders", bearer(w.reader), nil), http.StatusOK).json(t)
		found := false
		for _, p := range wk["value"].([]any) {
			m := p.(map[string]any)
			if m["name"] == "Microsoft Authenticator" {
				ids := m["aaGuids"].([]any)
				found = len(ids) == 2 && ids[0] == "de1e552d-db1d-4423-a619-566b625cdc84" && ids[1] == "90a3ccdf-635c-4729-a248-9b709135078f"
			}
		}
		if !found {
			t.Fatalf("well-known providers lack Microsoft Authenticator's two AAGUIDs: %s", wk)
		}
	})
}

// audit returns the audit records of an action, newest first.
func (w *world) audit(action string) []storage.AuditEvent {
	w.t.Helper()
	all, err := w.store.ListAudit(context.Background(), storage.EventFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []storage.AuditEvent
	for _, e := range all {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}
