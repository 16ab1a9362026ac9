package app_test

import (
	"net/http"
	"testing"
)

// The user page's two questions: which groups, and does the passkey policy
// cover the user — under which profiles, through which targets.
func TestUserGroupsAndPasskeyCoverage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		uma := w.user("uma@contoso.com")
		staff := w.group("Staff", uma)
		contractors := w.group("Contractors")
		coverage := func() map[string]any {
			t.Helper()
			return w.mustStatus(w.do("GET", "/api/v1/users/"+uma+"/authentication/fido2Coverage", bearer(w.reader), nil), http.StatusOK).json(t)
		}
		groups := w.mustStatus(w.do("GET", "/api/v1/users/uma@contoso.com/memberOf", bearer(w.reader), nil), http.StatusOK).json(t)["value"].([]any)
		if len(groups) != 1 || groups[0].(map[string]any)["displayName"] != "Staff" || groups[0].(map[string]any)["@odata.type"] != "#microsoft.graph.group" {
			t.Fatalf("memberOf = %v, want Staff", groups)
		}

		if c := coverage(); c["covered"] != false || c["code"] != "methodDisabled" {
			t.Fatalf("with passkeys off: %v", c)
		}
		w.setPolicy(`{"state":"enabled","includeTargets":[{"targetType":"group","id":"` + staff + `","allowedPasskeyProfiles":["keys"]}],
			"excludeTargets":[{"targetType":"group","id":"` + contractors + `"}],
			"passkeyProfiles":[{"id":"default","name":"Default passkey profile"},{"id":"keys","name":"Security keys only","passkeyTypes":"deviceBound"}]}`)
		c := coverage()
		profiles, included := c["passkeyProfiles"].([]any), c["includedBy"].([]any)
		if c["covered"] != true || len(profiles) != 1 || profiles[0].(map[string]any)["displayName"] != "Security keys only" ||
			len(included) != 1 || included[0].(map[string]any)["displayName"] != "Staff" || c["excludedBy"] != nil {
			t.Fatalf("targeted through Staff: %v", c)
		}
		w.mustStatus(w.do("POST", "/api/v1/groups/"+contractors+"/members", bearer(w.admin), map[string]any{"id": uma}), http.StatusNoContent)
		c = coverage()
		if c["covered"] != false || c["code"] != "excludedByGroup" || c["excludedBy"].(map[string]any)["displayName"] != "Contractors" {
			t.Fatalf("excluded through Contractors: %v", c)
		}
		w.mustStatus(w.do("GET", "/api/v1/users/nobody@contoso.com/memberOf", bearer(w.reader), nil), http.StatusNotFound)
		w.mustStatus(w.do("GET", "/api/v1/users/"+uma+"/authentication/fido2Coverage", cred{}, nil), http.StatusUnauthorized)
	})
}
