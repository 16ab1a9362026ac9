package app_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

const thirdAAGUID = "9c835346-796b-4c27-8898-d6032f515cc5"

// keyModelsWorld has four people with keys of three models, and their sign-ins.
func keyModelsWorld(t *testing.T, w *world) (ids map[string]string, pilots string) {
	ids = map[string]string{}
	for _, n := range []string{"ann", "bob", "eve", "carol"} {
		ids[n] = w.user(n + "@contoso.com")
	}
	w.mustStatus(w.do("PATCH", "/api/v1/users/"+ids["ann"], bearer(w.admin), map[string]any{"adminRole": "global-admin"}), http.StatusOK)
	w.mustStatus(w.do("PATCH", "/api/v1/users/"+ids["eve"], bearer(w.admin), map[string]any{"isEmergencyAccess": true}), http.StatusOK)
	pilots = w.group("Pilots", ids["carol"])
	w.enableForAll()
	keys := map[string]*softkey.Authenticator{
		"ann": w.key(goodAAGUID, softkey.FormatPacked), "bob": w.key(unknownAAGUID, softkey.FormatNone),
		"eve": w.key(unknownAAGUID, softkey.FormatNone), "carol": w.key(thirdAAGUID, softkey.FormatNone),
	}
	for n, k := range keys {
		w.mustStatus(w.register(k, w.session(ids[n], true), n+"'s key"), http.StatusCreated)
	}
	for _, n := range []string{"ann", "ann", "bob", "eve", "carol"} {
		w.mustStatus(w.login(keys[n], n+"@contoso.com"), http.StatusOK)
	}
	return ids, pilots
}

func TestPasskeyModelsReport(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		_, pilots := keyModelsWorld(t, w)
		path := "/api/v1/reports/authenticationMethods/passkeyModels"
		var all struct{ Value []map[string]any }
		if err := json.Unmarshal(w.mustStatus(w.do("GET", path, bearer(w.reader), nil), http.StatusOK).body, &all); err != nil {
			t.Fatal(err)
		}
		byAAGUID := map[string]map[string]any{}
		for _, row := range all.Value {
			byAAGUID[row["aaGuid"].(string)] = row
		}
		want := map[string]map[string]any{
			goodAAGUID: {"model": goodModel, "mdsStatus": "FIDO_CERTIFIED_L1", "attestationLevel": "attested",
				"passkeyType": "deviceBound", "registeredPasskeys": 1.0, "users": 1.0, "signIns7Days": 2.0, "signInUsers90Days": 1.0},
			unknownAAGUID: {"mdsStatus": "", "inMds": false, "attestationLevel": "notAttested", "registeredPasskeys": 2.0,
				"users": 2.0, "signIns30Days": 2.0, "signInUsers7Days": 2.0},
			thirdAAGUID: {"registeredPasskeys": 1.0, "signIns90Days": 1.0},
		}
		if len(byAAGUID) != 3 {
			t.Fatalf("%d rows, want one per model: %v", len(all.Value), all.Value)
		}
		for aaguid, fields := range want {
			for k, v := range fields {
				if got := byAAGUID[aaguid][k]; got != v {
					t.Errorf("%s %s = %v, want %v", aaguid, k, got, v)
				}
			}
			if byAAGUID[aaguid]["lastUsedDateTime"] == "" {
				t.Errorf("%s: no lastUsedDateTime", aaguid)
			}
		}

		var group struct{ Value []map[string]any }
		_ = json.Unmarshal(w.mustStatus(w.do("GET", path+"?groupId="+pilots, bearer(w.reader), nil), http.StatusOK).body, &group)
		if len(group.Value) != 1 || group.Value[0]["aaGuid"] != thirdAAGUID {
			t.Fatalf("Pilots' models: %v", group.Value)
		}

		r := w.mustStatus(w.do("GET", path+"?$format=csv", bearer(w.reader), nil), http.StatusOK)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("Content-Type %q", ct)
		}
		records, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(records) != 4 || records[0][0] != "aaGuid" {
			t.Fatalf("CSV: %v %q", err, r.body)
		}

		for q, status := range map[string]int{"?groupId=nope": http.StatusNotFound, "?$format=xml": http.StatusBadRequest,
			"?group=x": http.StatusBadRequest} {
			if r := w.do("GET", path+q, bearer(w.reader), nil); r.status != status {
				t.Errorf("%s: status %d, want %d: %s", q, r.status, status, r.body)
			}
		}
	})
}

func TestPolicyPreviewNamesExactlyWhoAndWhatAProposedAllowListCutsOff(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		ids, _ := keyModelsWorld(t, w)
		before := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK)
		audits := len(w.audit("policy.fido2.update"))
		proposal := `{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound,synced",` +
			`"attestationEnforcement":"disabled","keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + goodAAGUID + `"]}}]}`
		r := w.mustStatus(w.do("POST", policyPath+"/preview", bearer(w.reader), proposal), http.StatusOK)
		var p struct {
			Summary                          map[string]float64
			UsersLosingPasskeySignIn         []map[string]any
			KeysThatStopWorking              []map[string]any
			UsersInScopeWithoutAcceptableKey []map[string]any
			PrivilegedUsersAffected          []map[string]any
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		names := func(list []map[string]any, key string) string {
			var out []string
			for _, m := range list {
				out = append(out, m[key].(string))
			}
			sort.Strings(out)
			return strings.Join(out, ",")
		}
		if got := names(p.UsersLosingPasskeySignIn, "userPrincipalName"); got != "bob@contoso.com,carol@contoso.com,eve@contoso.com" {
			t.Errorf("users losing passkey sign-in: %s", got)
		}
		if got := names(p.KeysThatStopWorking, "userId"); got != strings.Join(sortedOf(ids["bob"], ids["carol"], ids["eve"]), ",") {
			t.Errorf("keys that stop working belong to %s", got)
		}
		for _, k := range p.KeysThatStopWorking {
			if k["code"] != "keyRestricted" || !strings.Contains(k["reason"].(string), "allowed") {
				t.Errorf("key %v: no readable reason", k)
			}
		}
		if got := names(p.UsersInScopeWithoutAcceptableKey, "userPrincipalName"); got != "bob@contoso.com,carol@contoso.com,eve@contoso.com" {
			t.Errorf("in scope without an acceptable key: %s", got)
		}
		if got := names(p.PrivilegedUsersAffected, "userPrincipalName"); got != "eve@contoso.com" ||
			p.PrivilegedUsersAffected[0]["isEmergencyAccess"] != true {
			t.Errorf("privileged users affected: %v (the global admin ann keeps her allowed key)", p.PrivilegedUsersAffected)
		}
		if p.Summary["keysThatStopWorking"] != 3 || p.Summary["privilegedUsersAffected"] != 1 {
			t.Errorf("summary %v", p.Summary)
		}

		after := w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK)
		if after.header.Get("ETag") != before.header.Get("ETag") || len(w.audit("policy.fido2.update")) != audits {
			t.Fatal("the preview changed the policy or audited a change")
		}
		bad := w.do("POST", policyPath+"/preview", bearer(w.reader), `{"state":"sometimes"}`)
		if bad.status != http.StatusBadRequest {
			t.Fatalf("a proposal PATCH refuses: status %d: %s", bad.status, bad.body)
		}

		// A proposal naming a group that no longer exists is refused as the PATCH refuses it.
		gone := w.group("Gone")
		w.mustStatus(w.do("DELETE", "/api/v1/groups/"+gone, bearer(w.admin), nil), http.StatusNoContent)
		naming := `{"includeTargets":[{"targetType":"group","id":"` + gone + `","allowedPasskeyProfiles":["default"]}]}`
		patched := w.do("PATCH", policyPath, bearer(w.admin), naming)
		previewed := w.do("POST", policyPath+"/preview", bearer(w.reader), naming)
		if patched.status != http.StatusBadRequest || previewed.status != http.StatusBadRequest ||
			!strings.Contains(string(previewed.body), gone) || string(previewed.body) != string(patched.body) {
			t.Fatalf("a deleted group: PATCH %d %s, preview %d %s", patched.status, patched.body, previewed.status, previewed.body)
		}
	})
}

func sortedOf(s ...string) []string { sort.Strings(s); return s }

func TestRegistrationDetailsReport(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		ids, _ := keyModelsWorld(t, w)
		dave := w.user("dave@contoso.com") // nothing registered
		w.mustStatus(w.do("POST", "/api/v1/users/"+dave+"/authentication/temporaryAccessPassMethods", bearer(w.admin),
			map[string]any{"lifetimeInMinutes": 60}), http.StatusCreated)
		// Allow only the good model: bob, eve and carol keep their keys but cannot sign in with them.
		// Forced: eve is an emergency account left without a way in (the lockout guard's refusal).
		w.mustStatus(w.do("PATCH", policyPath+"?force=true", bearer(w.admin), `{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound,synced",`+
			`"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["`+goodAAGUID+`"]}}]}`), http.StatusOK)

		base := "/api/v1/reports/authenticationMethods/userRegistrationDetails"
		all, pages := w.logList(base, "", 2)
		if len(all) != 5 || pages != 3 {
			t.Fatalf("%d users in %d pages, want 5 in 3", len(all), pages)
		}
		byUPN := map[string]map[string]any{}
		for _, d := range all {
			byUPN[d["userPrincipalName"].(string)] = d
		}
		ann := byUPN["ann@contoso.com"]
		if ann["id"] != ids["ann"] || ann["isAdmin"] != true || ann["isPasswordlessCapable"] != true || ann["isMfaRegistered"] != true {
			t.Errorf("ann: %v", ann)
		}
		if bob := byUPN["bob@contoso.com"]; bob["isPasswordlessCapable"] != false || bob["isMfaRegistered"] != true {
			t.Errorf("bob, whose model the allow list leaves out: %v", bob)
		}
		if d := byUPN["dave@contoso.com"]; strings.Join(toStrings(d["methodsRegistered"]), ",") != "temporaryAccessPass" || d["isMfaRegistered"] != false {
			t.Errorf("dave: %v", d)
		}
		for filter, want := range map[string]string{
			"isPasswordlessCapable eq true":                                                           "ann@contoso.com",
			"methodsRegistered/any(m: m eq 'passKeyDeviceBound')":                                     "ann@contoso.com,bob@contoso.com,carol@contoso.com,eve@contoso.com",
			"methodsRegistered/any(m: m eq 'temporaryAccessPass') and isPasswordlessCapable eq false": "dave@contoso.com",
		} {
			got, _ := w.logList(base, filter, 0)
			var upns []string
			for _, d := range got {
				upns = append(upns, d["userPrincipalName"].(string))
			}
			if strings.Join(upns, ",") != want {
				t.Errorf("%s: %v, want %s", filter, upns, want)
			}
		}
		// The filter is part of the query: four device-bound holders in two full pages of two.
		if got, pages := w.logList(base, "methodsRegistered/any(m: m eq 'passKeyDeviceBound')", 2); len(got) != 4 || pages != 2 {
			t.Errorf("device-bound holders by twos: %d in %d pages, want 4 in 2", len(got), pages)
		}
		if got, pages := w.logList(base, "isPasswordlessCapable eq false", 1); len(got) != 4 || pages != 4 {
			t.Errorf("not passwordless capable one at a time: %d in %d pages, want 4 in 4", len(got), pages)
		}
		for _, bad := range []string{"isAdmin eq true", "methodsRegistered/any(m: m eq 'fax')", "isPasswordlessCapable eq 'yes'"} {
			if r := w.do("GET", base+"?$filter="+urlEscape(bad), bearer(w.reader), nil); r.status != http.StatusBadRequest {
				t.Errorf("%s: status %d", bad, r.status)
			}
		}

		var counts struct {
			TotalUserCount               int
			PasswordlessCapableUserCount int
			Groups                       []struct {
				DisplayName                             string
				UserCount, PasswordlessCapableUserCount int
			}
			UserRegistrationMethodCounts []struct {
				AuthenticationMethod string
				UserCount            int
			}
		}
		r := w.mustStatus(w.do("GET", "/api/v1/reports/authenticationMethods/usersRegisteredByMethod", bearer(w.reader), nil), http.StatusOK)
		if err := json.Unmarshal(r.body, &counts); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range counts.UserRegistrationMethodCounts {
			got[c.AuthenticationMethod] = c.UserCount
		}
		if len(counts.Groups) != 1 || counts.Groups[0].DisplayName != "Pilots" || counts.Groups[0].UserCount != 1 ||
			counts.Groups[0].PasswordlessCapableUserCount != 0 {
			t.Errorf("Pilots' rollout: %+v (carol's model is not on the allow list)", counts.Groups)
		}
		if counts.TotalUserCount != 5 || counts.PasswordlessCapableUserCount != 1 || got["passKeyDeviceBound"] != 4 ||
			got["temporaryAccessPass"] != 1 || got["passKeySynced"] != 0 || len(got) != 5 {
			t.Fatalf("usersRegisteredByMethod %+v", counts)
		}
	})
}

func urlEscape(s string) string { return url.QueryEscape(s) }

func TestChartsAreSVGDrawnOnTheServer(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		keyModelsWorld(t, w)
		for _, name := range []string{"signInsByMethod", "phishingResistantShare", "passkeyRegistrations"} {
			r := w.mustStatus(w.do("GET", "/api/v1/reports/charts/"+name, bearer(w.reader), nil), http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "image/svg+xml" || !strings.HasPrefix(string(r.body), "<svg") ||
				strings.Contains(string(r.body), "<script") {
				t.Fatalf("%s: %s %.80s", name, ct, r.body)
			}
		}
		share := string(w.mustStatus(w.do("GET", "/api/v1/reports/charts/phishingResistantShare", bearer(w.reader), nil), http.StatusOK).body)
		if !strings.Contains(share, "Phishing-resistant: 100") {
			t.Errorf("every sign-in today was a passkey, the chart does not say 100%%: %s", share)
		}
		byMethod := string(w.mustStatus(w.do("GET", "/api/v1/reports/charts/signInsByMethod", bearer(w.reader), nil), http.StatusOK).body)
		if !strings.Contains(byMethod, "Passkey (device-bound): 5") {
			t.Errorf("five device-bound passkey sign-ins today are not drawn: %s", byMethod)
		}
		if r := w.do("GET", "/api/v1/reports/charts/pie", bearer(w.reader), nil); r.status != http.StatusNotFound {
			t.Fatalf("unknown chart: %d", r.status)
		}
	})
}

func TestPolicyPreviewPagesItsListsAndCountsEverything(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		ids, _ := keyModelsWorld(t, w)
		proposal := `{"passkeyProfiles":[{"id":"default","name":"Default passkey profile","passkeyTypes":"deviceBound,synced",` +
			`"attestationEnforcement":"disabled","keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + goodAAGUID + `"]}}]}`
		type page struct {
			Summary                  map[string]float64
			ByModel                  []map[string]any `json:"keysThatStopWorkingByModel"`
			Skip, Top                int
			UsersLosingPasskeySignIn []map[string]any
			KeysThatStopWorking      []map[string]any
			PrivilegedUsersAffected  []map[string]any
		}
		// Three keys stop working; a page of one lists one of them, the
		// counts stay whole and the emergency account is named on every page.
		var owners []string
		for skip := range 4 {
			var p page
			r := w.mustStatus(w.do("POST", policyPath+"/preview?$top=1&$skip="+strconv.Itoa(skip), bearer(w.reader), proposal), http.StatusOK)
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			wantLen := 1
			if skip == 3 {
				wantLen = 0
			}
			if p.Summary["keysThatStopWorking"] != 3 || p.Summary["usersLosingPasskeySignIn"] != 3 || p.Skip != skip || p.Top != 1 ||
				len(p.KeysThatStopWorking) != wantLen || len(p.UsersLosingPasskeySignIn) != wantLen {
				t.Fatalf("page %d: %s", skip, r.body)
			}
			if len(p.PrivilegedUsersAffected) != 1 || p.PrivilegedUsersAffected[0]["userPrincipalName"] != "eve@contoso.com" {
				t.Fatalf("page %d: privileged %v", skip, p.PrivilegedUsersAffected)
			}
			for _, k := range p.KeysThatStopWorking {
				if k["userPrincipalName"] == "" || k["displayName"] == "" {
					t.Errorf("page %d: key without names: %v", skip, k)
				}
				owners = append(owners, k["userId"].(string))
			}
			// Two keys of one model (bob's and eve's) and carol's of another.
			models := map[string]float64{}
			for _, m := range p.ByModel {
				models[m["aaGuid"].(string)] = m["keys"].(float64)
			}
			if models[unknownAAGUID] != 2 || models[thirdAAGUID] != 1 || len(models) != 2 {
				t.Fatalf("page %d: by model %v", skip, p.ByModel)
			}
		}
		sort.Strings(owners)
		if strings.Join(owners, ",") != strings.Join(sortedOf(ids["bob"], ids["carol"], ids["eve"]), ",") {
			t.Fatalf("the pages together list the keys of %v", owners)
		}
		for _, q := range []string{"?$top=0", "?$top=1001", "?$skip=-1", "?$top=x", "?$filter=x", "?$top=1&$top=2"} {
			if r := w.do("POST", policyPath+"/preview"+q, bearer(w.reader), proposal); r.status != http.StatusBadRequest ||
				!strings.Contains(string(r.body), "$") {
				t.Errorf("%s: status %d %s", q, r.status, r.body)
			}
		}
	})
}
