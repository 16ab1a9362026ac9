package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// logPage is one page of a log list.
type logPage struct {
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
}

// logList reads every page of a log list, following @odata.nextLink, and
// returns the records and how many pages there were.
func (w *world) logList(path, filter string, top int) ([]map[string]any, int) {
	w.t.Helper()
	q := url.Values{}
	if filter != "" {
		q.Set("$filter", filter)
	}
	if top > 0 {
		q.Set("$top", itoa(top))
	}
	next := path
	if len(q) > 0 {
		next += "?" + q.Encode()
	}
	var all []map[string]any
	pages := 0
	for next != "" {
		var p logPage
		if err := json.Unmarshal(w.mustStatus(w.do("GET", next, bearer(w.reader), nil), http.StatusOK).body, &p); err != nil {
			w.t.Fatal(err)
		}
		all, pages = append(all, p.Value...), pages+1
		next = ""
		if p.NextLink != "" {
			u, err := url.Parse(p.NextLink)
			if err != nil {
				w.t.Fatal(err)
			}
			next = u.RequestURI()
		}
	}
	return all, pages
}

func field(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, "/") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func TestSignInLogAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		ann, bob := w.user("ann@contoso.com"), w.user("bob@contoso.com")
		w.enableForAll()
		annKey, bobKey := w.key(goodAAGUID, softkey.FormatPacked), w.key(unknownAAGUID, softkey.FormatNone)
		w.mustStatus(w.register(annKey, w.session(ann, true), "Ann's key"), http.StatusCreated)
		w.mustStatus(w.register(bobKey, w.session(bob, true), "Bob's key"), http.StatusCreated)
		start := w.clock.Now()
		for range 3 {
			w.clock.Advance(time.Minute)
			w.mustStatus(w.login(annKey, "ann@contoso.com"), http.StatusOK)
		}
		w.clock.Advance(time.Minute)
		w.mustStatus(w.login(bobKey, ""), http.StatusOK)
		w.clock.Advance(time.Minute)
		w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["` + goodAAGUID + `"]}`)
		refused := w.login(annKey, "")
		wantError(t, refused, http.StatusForbidden, "keyRestricted", "blocked")

		t.Run("pages_newest_first_with_graph_fields", func(t *testing.T) {
			all, pages := w.logList("/api/v1/auditLogs/signIns", "", 2)
			if len(all) != 5 || pages != 3 {
				t.Fatalf("%d records in %d pages, want 5 in 3", len(all), pages)
			}
			newest := all[0]
			if newest["userPrincipalName"] != "ann@contoso.com" || newest["userId"] != ann ||
				newest["userDisplayName"] != "ann" || newest["appDisplayName"] != "Keyward" || newest["appId"] != "" || field(newest, "status/errorCode") != 1.0 ||
				field(newest, "status/additionalDetails") != "keyRestricted" ||
				!strings.Contains(field(newest, "status/failureReason").(string), "blocked") ||
				newest["aaGuid"] != goodAAGUID || newest["passkeyModel"] != goodModel ||
				newest["correlationId"] == "" || newest["correlationId"] != refused.header.Get("X-Request-Id") {
				t.Fatalf("newest record %v", newest)
			}
			steps := newest["authenticationDetails"].([]any)
			if len(steps) != 1 || field(steps[0].(map[string]any), "authenticationMethod") != "Passkey (device-bound)" ||
				field(steps[0].(map[string]any), "succeeded") != false {
				t.Fatalf("authenticationDetails %v", steps)
			}
			for i := 1; i < len(all); i++ {
				if all[i-1]["createdDateTime"].(string) < all[i]["createdDateTime"].(string) {
					t.Fatalf("record %d is newer than record %d", i, i-1)
				}
			}
		})
		t.Run("filters", func(t *testing.T) {
			cases := []struct {
				filter string
				want   int
			}{
				{"userId eq '" + ann + "'", 4},
				{"userPrincipalName eq 'BOB@contoso.com'", 1},
				{"status/errorCode eq 0", 4},
				{"status/errorCode ne 0", 1},
				{"aaGuid eq '" + strings.ToUpper(goodAAGUID) + "'", 4},
				{"aaGuid eq '" + unknownAAGUID + "' and status/errorCode eq 0", 1},
				{"createdDateTime ge " + start.Add(2*time.Minute).Format(time.RFC3339) +
					" and createdDateTime le " + start.Add(4*time.Minute).Format(time.RFC3339), 3},
				{"userId eq '" + ann + "' and status/errorCode eq 0", 3},
				{"appId eq 'no-such-app'", 0},
			}
			for _, tc := range cases {
				all, _ := w.logList("/api/v1/auditLogs/signIns", tc.filter, 1)
				if len(all) != tc.want {
					t.Errorf("%s: %d records, want %d", tc.filter, len(all), tc.want)
				}
			}
		})
		t.Run("bad_queries_are_400_naming_the_problem", func(t *testing.T) {
			for q, says := range map[string]string{
				"$filter=" + url.QueryEscape("appDisplayName eq 'x'"):   "appDisplayName is not supported",
				"$filter=" + url.QueryEscape("userId eq 'a' or x eq 1"): `expected "and"`,
				"$filter=" + url.QueryEscape("status/errorCode eq 7"):   "only eq 0",
				"$skiptoken=bm9wZQ":        "$skiptoken is not valid",
				"$top=0":                   "$top must be",
				"$orderby=createdDateTime": "$orderby",
			} {
				r := w.do("GET", "/api/v1/auditLogs/signIns?"+q, bearer(w.reader), nil)
				if r.status != http.StatusBadRequest {
					t.Fatalf("%s: status %d: %s", q, r.status, r.body)
				}
				if _, m := r.err(t); !strings.Contains(m, says) {
					t.Errorf("%s: message %q does not say %q", q, m, says)
				}
			}
		})
		t.Run("only_administrators_read_it", func(t *testing.T) {
			r := w.do("GET", "/api/v1/auditLogs/signIns", cookie(w.session(bob, true)), nil)
			if r.status != http.StatusForbidden {
				t.Fatalf("a user without a role read the sign-in log: %d", r.status)
			}
			if r := w.do("GET", "/api/v1/auditLogs/directoryAudits", cred{}, nil); r.status != http.StatusUnauthorized {
				t.Fatalf("anonymous read of the audit log: %d", r.status)
			}
		})
	})
}

func TestDirectoryAuditAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		ann := w.user("ann@contoso.com")
		w.enableForAll()
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), w.session(ann, true), "Ann's key"), http.StatusCreated)
		w.setProfile(`"keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + goodAAGUID + `"]}`)

		changes, _ := w.logList("/api/v1/auditLogs/directoryAudits", "category eq 'Policy'", 1)
		if len(changes) != 2 {
			t.Fatalf("%d policy changes, want 2 (enable, restrict): %v", len(changes), changes)
		}
		latest := changes[0]
		if latest["activityDisplayName"] != "Update authentication methods policy" || latest["operationType"] != "Update" ||
			field(latest, "initiatedBy/app/displayName") != "automation" || latest["result"] != "success" {
			t.Fatalf("policy change %v", latest)
		}
		target := latest["targetResources"].([]any)[0].(map[string]any)
		found := false
		for _, p := range target["modifiedProperties"].([]any) {
			mp := p.(map[string]any)
			if mp["displayName"] == "passkeyProfiles/0/keyRestrictions/aaGuids" {
				found = mp["oldValue"] == "[]" && mp["newValue"] == `["`+goodAAGUID+`"]`
			}
		}
		if !found {
			t.Fatalf("modifiedProperties do not show the allow list's old and new value: %v", target["modifiedProperties"])
		}

		mine, _ := w.logList("/api/v1/auditLogs/directoryAudits", "targetResources/any(t: t/id eq '"+ann+"')", 0)
		var names []string
		for _, a := range mine {
			names = append(names, a["activityDisplayName"].(string))
		}
		if strings.Join(names, ",") != "Add passkey (device-bound),Add user" {
			t.Fatalf("ann's audit records: %v", names)
		}
		byToken, _ := w.logList("/api/v1/auditLogs/directoryAudits", "initiatedBy/app/displayName eq 'automation'", 0)
		byAnn, _ := w.logList("/api/v1/auditLogs/directoryAudits", "initiatedBy/user/userPrincipalName eq 'ann@contoso.com'", 0)
		if len(byToken) != 3 || len(byAnn) != 1 {
			t.Fatalf("by the token %d, by ann %d; want 3 and 1", len(byToken), len(byAnn))
		}
	})
}
