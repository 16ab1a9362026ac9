package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/access"
)

const (
	caBase       = "/api/v1/identity/conditionalAccess"
	caPolicies   = caBase + "/policies"
	caStrengths  = caBase + "/authenticationStrength/policies"
	caLocations  = caBase + "/namedLocations"
	caEvaluate   = caBase + "/evaluate"
	onlyModelKey = "ee882879-721c-4913-9775-3dfcce97072a"
)

func (w *world) caCount(path string) int {
	w.t.Helper()
	var body struct{ Value []json.RawMessage }
	if err := json.Unmarshal(w.mustStatus(w.do("GET", path, bearer(w.reader), nil), http.StatusOK).body, &body); err != nil {
		w.t.Fatal(err)
	}
	return len(body.Value)
}

func (w *world) whatIf(body map[string]any) map[string]any {
	w.t.Helper()
	return w.mustStatus(w.do("POST", caEvaluate, bearer(w.reader), body), http.StatusOK).json(w.t)
}

func results(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	for _, p := range m["policies"].([]any) {
		out = append(out, p.(map[string]any)["result"].(string))
	}
	return out
}

// An administrator builds "YubiKey only for everyone outside the office"
// through the API; the what-if shows who steps up, the rules that span
// documents hold, and an emergency account is protected from it.
func TestConditionalAccessAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		alice := w.user("alice@contoso.com")
		if n := w.caCount(caStrengths); n != 3 {
			t.Fatalf("built-in strengths: %d, want 3", n)
		}
		builtIn := w.mustStatus(w.do("GET", caStrengths+"/"+access.StrengthPhishingResistant, bearer(w.reader), nil), http.StatusOK).json(t)
		if builtIn["displayName"] != "Phishing-resistant MFA" || builtIn["policyType"] != "builtIn" {
			t.Fatalf("built-in: %v", builtIn)
		}
		w.mustStatus(w.do("PATCH", caStrengths+"/"+access.StrengthPhishingResistant, bearer(w.admin), `{"displayName":"x"}`), http.StatusConflict)

		loc := w.mustStatus(w.do("POST", caLocations, bearer(w.admin), `{"displayName":"Office","isTrusted":true,
			"ipRanges":[{"cidrAddress":"203.0.113.0/24"},{"cidrAddress":"2001:db8:42::/48"}]}`), http.StatusCreated)
		if !strings.HasSuffix(loc.header.Get("Location"), caLocations+"/"+loc.json(t)["id"].(string)) || loc.header.Get("ETag") == "" {
			t.Fatalf("created location: headers %v", loc.header)
		}
		office := loc.json(t)["id"].(string)
		strength := w.mustStatus(w.do("POST", caStrengths, bearer(w.admin), `{"displayName":"YubiKey only","allowedCombinations":["fido2"],
			"combinationConfigurations":[{"@odata.type":"#microsoft.graph.fido2CombinationConfiguration","appliesToCombinations":["fido2"],
			"allowedAAGUIDs":["`+strings.ToUpper(onlyModelKey)+`"]}]}`), http.StatusCreated).json(t)
		yubi := strength["id"].(string)
		if strength["policyType"] != "custom" || strength["requirementsSatisfied"] != "mfa" {
			t.Fatalf("strength: %v", strength)
		}

		// Bad documents: a clear 400 naming each problem, nothing stored.
		bad := w.do("POST", caPolicies, bearer(w.admin), `{"displayName":"","state":"enabled",
			"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["All"]}},
			"grantControls":{"builtInControls":["mfa"],"authenticationStrength":{"id":"`+yubi+`"}}}`)
		w.mustStatus(bad, http.StatusBadRequest)
		if _, msg := bad.err(t); !strings.Contains(msg, "displayName: must not be empty") || !strings.Contains(msg, "cannot require both mfa and an authentication strength") {
			t.Fatalf("400 message: %s", msg)
		}
		w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), `{"displayName":"x","unknownField":1}`), http.StatusBadRequest)
		w.mustStatus(w.do("POST", caLocations, bearer(w.admin), `{"displayName":"Everywhere","ipRanges":[{"cidrAddress":"0.0.0.0/0"}]}`), http.StatusBadRequest)
		if n := w.caCount(caPolicies); n != 0 {
			t.Fatalf("a refused policy was stored: %d", n)
		}

		policyDoc := `{"displayName":"YubiKey outside the office","state":"enabled",
			"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["All"]},
				"locations":{"includeLocations":["All"],"excludeLocations":["` + office + `"]}},
			"grantControls":{"operator":"OR","authenticationStrength":{"id":"` + yubi + `"}}}`
		w.mustStatus(w.do("POST", caPolicies, bearer(w.reader), policyDoc), http.StatusForbidden)
		created := w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), policyDoc), http.StatusCreated)
		pol := created.json(t)
		policyID := pol["id"].(string)
		if ref := pol["grantControls"].(map[string]any)["authenticationStrength"].(map[string]any); ref["displayName"] != "YubiKey only" {
			t.Fatalf("policy names its strength as %v", ref)
		}

		// What if…
		stepUp := w.whatIf(map[string]any{"userId": alice, "appId": access.AppAdmin,
			"authenticationMethods": []string{"password", "softwareOath"}, "ipAddress": "198.51.100.1"})
		req := stepUp["requiredStrengths"].([]any)
		if stepUp["decision"] != "stepUp" || len(req) != 1 || req[0].(map[string]any)["displayName"] != "YubiKey only" ||
			!slices.Equal(toStrings(req[0].(map[string]any)["allowedAAGUIDs"]), []string{onlyModelKey}) {
			t.Fatalf("what-if outside the office: %v", stepUp)
		}
		other := w.whatIf(map[string]any{"userId": "alice@contoso.com", "appId": access.AppAdmin,
			"authenticationMethods": []string{"fido2"}, "aaGuid": goodAAGUID, "ipAddress": "198.51.100.1"})
		if other["decision"] != "stepUp" {
			t.Fatalf("another key model: %v", other)
		}
		if g := w.whatIf(map[string]any{"userId": alice, "appId": access.AppAdmin, "authenticationMethods": []string{"fido2"},
			"aaGuid": onlyModelKey, "ipAddress": "198.51.100.1"}); g["decision"] != "grant" || !slices.Equal(results(t, g), []string{"success"}) {
			t.Fatalf("the allowed model: %v", g)
		}
		if g := w.whatIf(map[string]any{"userId": alice, "appId": access.AppAdmin, "authenticationMethods": []string{"password"},
			"ipAddress": "2001:db8:42::9"}); g["decision"] != "grant" || !slices.Equal(results(t, g), []string{"notApplied"}) {
			t.Fatalf("in the office (IPv6): %v", g)
		}
		for _, body := range []map[string]any{
			{"userId": alice, "appId": access.AppAdmin, "authenticationMethods": []string{"sms"}},
			{"userId": alice, "appId": access.AppAdmin, "ipAddress": "not-an-ip"},
			{"userId": alice},
		} {
			w.mustStatus(w.do("POST", caEvaluate, bearer(w.reader), body), http.StatusBadRequest)
		}
		w.mustStatus(w.do("POST", caEvaluate, bearer(w.reader), map[string]any{"userId": "nobody@contoso.com", "appId": access.AppAdmin}), http.StatusNotFound)

		// What is in use cannot be deleted.
		for _, path := range []string{caStrengths + "/" + yubi, caLocations + "/" + office} {
			r := w.mustStatus(w.do("DELETE", path, bearer(w.admin), nil), http.StatusConflict)
			if code, msg := r.err(t); code != "inUse" || !strings.Contains(msg, `"YubiKey outside the office"`) {
				t.Fatalf("delete in use: %s %s", code, msg)
			}
		}

		// An emergency account: the policy now affects it, so saving it is refused unless forced.
		bg := w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), map[string]any{
			"userPrincipalName": "breakglass@contoso.com", "displayName": "Break glass", "isEmergencyAccess": true}), http.StatusCreated).json(t)["id"].(string)
		refused := w.mustStatus(w.do("PATCH", caPolicies+"/"+policyID, bearer(w.admin), `{"displayName":"YubiKey away from the office"}`), http.StatusConflict)
		if code, msg := refused.err(t); code != "emergencyAccountAffected" || !strings.Contains(msg, "breakglass@contoso.com") {
			t.Fatalf("emergency guard: %s %s", code, msg)
		}
		lint := w.mustStatus(w.do("GET", caBase+"/lint", bearer(w.reader), nil), http.StatusOK).json(t)["value"].([]any)
		if len(lint) != 2 || lint[0].(map[string]any)["displayName"] != "YubiKey outside the office" || lint[1].(map[string]any)["displayName"] != "YubiKey only" {
			t.Fatalf("lint: %v", lint)
		}
		// A draft is checked without saving: the accounts it would take in.
		draft := `{"displayName":"Draft","state":"enabledForReportingButNotEnforced","conditions":{"users":{"includeUsers":["All"]},` +
			`"applications":{"includeApplications":["All"]}},"grantControls":{"builtInControls":["mfa"]}}`
		if got := w.mustStatus(w.do("POST", caBase+"/lint", bearer(w.reader), draft), http.StatusOK).json(t)["affectedAccounts"].([]any); len(got) != 1 || got[0] != "breakglass@contoso.com" {
			t.Fatalf("draft lint: %v", got)
		}
		excluded := strings.Replace(draft, `"includeUsers":["All"]`, fmt.Sprintf(`"includeUsers":["All"],"excludeUsers":[%q]`, bg), 1)
		if got := w.mustStatus(w.do("POST", caBase+"/lint", bearer(w.reader), excluded), http.StatusOK).json(t)["affectedAccounts"].([]any); len(got) != 0 {
			t.Fatalf("draft lint with the account excluded: %v", got)
		}
		wantError(t, w.do("POST", caBase+"/lint", bearer(w.reader), `{"displayName":"x","nope":1}`), http.StatusBadRequest, "invalidRequest", "nope")
		forced := w.mustStatus(w.do("PATCH", caPolicies+"/"+policyID+"?force=true", bearer(w.admin), `{"displayName":"YubiKey away from the office"}`), http.StatusOK)
		audits := w.audit("access.policy.update")
		if len(audits) != 1 || !strings.Contains(string(audits[0].Details), `"force":true`) || !strings.Contains(string(audits[0].Details), "breakglass@contoso.com") {
			t.Fatalf("forced save audit: %v", audits)
		}
		// Excluding the account makes the policy safe to save without force.
		etag := forced.header.Get("ETag")
		excl := fmt.Sprintf(`{"conditions":{"users":{"excludeUsers":[%q]}}}`, bg)
		w.mustStatus(w.call(0, "PATCH", caPolicies+"/"+policyID, cred{token: w.admin, ifMatch: `"stale"`}, excl), http.StatusPreconditionFailed)
		saved := w.mustStatus(w.call(0, "PATCH", caPolicies+"/"+policyID, cred{token: w.admin, ifMatch: etag}, excl), http.StatusOK).json(t)
		if saved["conditions"].(map[string]any)["locations"] == nil {
			t.Fatalf("a merge patch dropped what it did not name: %v", saved)
		}
		if lint := w.mustStatus(w.do("GET", caBase+"/lint", bearer(w.reader), nil), http.StatusOK).json(t)["value"].([]any); len(lint) != 0 {
			t.Fatalf("lint after excluding: %v", lint)
		}

		// At most 15 custom strengths.
		for i := 2; i <= access.MaxCustomStrengths; i++ {
			w.mustStatus(w.do("POST", caStrengths, bearer(w.admin), fmt.Sprintf(`{"displayName":"s%d","allowedCombinations":["fido2"]}`, i)), http.StatusCreated)
		}
		over := w.mustStatus(w.do("POST", caStrengths, bearer(w.admin), `{"displayName":"one too many","allowedCombinations":["fido2"]}`), http.StatusConflict)
		if code, _ := over.err(t); code != "limitReached" {
			t.Fatalf("16th strength: %s", over.body)
		}

		w.mustStatus(w.do("DELETE", caPolicies+"/"+policyID, bearer(w.admin), nil), http.StatusNoContent)
		w.mustStatus(w.do("DELETE", caStrengths+"/"+yubi, bearer(w.admin), nil), http.StatusNoContent)
		w.mustStatus(w.do("DELETE", caLocations+"/"+office, bearer(w.admin), nil), http.StatusNoContent)
		w.mustStatus(w.do("GET", caPolicies+"/"+policyID, bearer(w.reader), nil), http.StatusNotFound)
		if n := len(w.audit("access.strength.create")); n != access.MaxCustomStrengths {
			t.Fatalf("strength creations audited: %d", n)
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
