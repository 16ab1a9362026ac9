package audit

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/odatafilter"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

func TestSignInQueryReadsEverySupportedFilter(t *testing.T) {
	got, err := SignInQuery("createdDateTime ge 2026-11-01T00:00:00Z and createdDateTime lt 2026-11-02T00:00:00Z" +
		" and userId eq 'u1' and userPrincipalName eq 'Ann@X.org' and status/errorCode ne 0" +
		" and aaGuid eq 'CB69481E-8FF7-4039-93EC-0A2729A154A8'")
	if err != nil {
		t.Fatal(err)
	}
	want := storage.SignInQuery{Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Until:  time.Date(2026, 11, 1, 23, 59, 59, 999999000, time.UTC),
		UserID: "u1", UserPrincipalName: "Ann@X.org", Result: storage.ResultFailure,
		AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if q, err := SignInQuery("status/errorCode eq 0"); err != nil || q.Result != storage.ResultSuccess {
		t.Fatalf("status/errorCode eq 0 = %+v, %v", q, err)
	}
}

func TestFiltersRefuseWhatTheyDoNotSupportNamingIt(t *testing.T) {
	cases := []struct {
		log, filter, says string
	}{
		{"signIns", "appDisplayName eq 'x'", "filtering the sign-in log on appDisplayName is not supported"},
		{"signIns", "appId ne 'x'", "appId supports only eq"},
		{"signIns", "status/errorCode eq 50126", "status/errorCode supports only eq 0 (succeeded) and ne 0 (failed)"},
		{"signIns", "userId ne 'a'", "userId supports only eq, not ne"},
		{"signIns", "userId eq 5", "5 must be a quoted string"},
		{"signIns", "createdDateTime eq 2026-11-01T00:00:00Z", "createdDateTime supports ge, le, gt and lt, not eq"},
		{"signIns", "createdDateTime ge yesterday", "yesterday is not a date and time"},
		{"signIns", "createdDateTime ge 2026-11-01T00:00:00Z and createdDateTime gt 2026-11-02T00:00:00Z", "given twice"},
		{"signIns", "aaGuid eq 'not-a-guid'", "is not an AAGUID"},
		{"signIns", "userId eq ''", "matches nothing"},
		{"signIns", "methodsRegistered/any(m: m eq 'x')", "filtering the sign-in log on methodsRegistered/any() is not supported"},
		{"signIns", "userId eq 'a' or userId eq 'b'", `expected "and"`},
		{"directoryAudits", "category eq 'Nope'", "category 'Nope' is not one of UserManagement"},
		{"directoryAudits", "targetResources/any(t: t/displayName eq 'x')", "on targetResources/any(x: x/displayName) is not supported"},
		{"directoryAudits", "initiatedBy/user/userPrincipalName eq 'a' and initiatedBy/app/displayName eq 'b'", "one initiator"},
		{"directoryAudits", "result eq 'failure'", "filtering the audit log on result is not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			var err error
			if tc.log == "signIns" {
				_, err = SignInQuery(tc.filter)
			} else {
				_, err = AuditQuery(tc.filter)
			}
			var fe *odatafilter.Error
			if !errors.As(err, &fe) || !strings.Contains(fe.Message, tc.says) {
				t.Fatalf("error %v does not say %q", err, tc.says)
			}
		})
	}
}

func TestAuditQueryReadsEverySupportedFilter(t *testing.T) {
	q, err := AuditQuery("activityDateTime le 2026-11-01T00:00:00Z and initiatedBy/user/userPrincipalName eq 'ann@x.org'" +
		" and targetResources/any(t: t/id eq 'fido2') and category eq 'policy'")
	if err != nil {
		t.Fatal(err)
	}
	want := storage.AuditQuery{Until: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Actor: "user:ann@x.org",
		Targets:      []string{"fido2", "user:fido2", "group:fido2", "application:fido2", policy.AuditTarget},
		ActionPrefix: "policy."}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("got %+v\nwant %+v", q, want)
	}
	if q, _ := AuditQuery("initiatedBy/app/displayName eq 'ci'"); q.Actor != "token:ci" {
		t.Fatalf("app filter: actor %q", q.Actor)
	}
}

func TestModifiedPropertiesNamesEachChangedLeafWithBothValues(t *testing.T) {
	old := `{"state":"enabled","isSelfServiceRegistrationAllowed":true,"passkeyProfiles":[{"name":"Default",
		"keyRestrictions":{"isEnforced":false,"aaGuids":[]}}]}`
	next := `{"state":"enabled","isSelfServiceRegistrationAllowed":false,"passkeyProfiles":[{"name":"Default",
		"keyRestrictions":{"isEnforced":true,"aaGuids":["cb69481e-8ff7-4039-93ec-0a2729a154a8"]}}],"new":1}`
	got := ModifiedProperties(json.RawMessage(old), json.RawMessage(next))
	want := []ModifiedProperty{
		{DisplayName: "isSelfServiceRegistrationAllowed", OldValue: "true", NewValue: "false"},
		{DisplayName: "new", OldValue: "", NewValue: "1"},
		{DisplayName: "passkeyProfiles/0/keyRestrictions/aaGuids", OldValue: "[]", NewValue: `["cb69481e-8ff7-4039-93ec-0a2729a154a8"]`},
		{DisplayName: "passkeyProfiles/0/keyRestrictions/isEnforced", OldValue: "false", NewValue: "true"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if got := ModifiedProperties(json.RawMessage(old), json.RawMessage(old)); len(got) != 0 {
		t.Fatalf("no change listed %+v", got)
	}
}

func TestNewDirectoryAuditShowsWhoWhatAndTheChange(t *testing.T) {
	details, _ := json.Marshal(map[string]any{"oldValue": map[string]any{"state": "disabled"},
		"newValue": map[string]any{"state": "enabled"}})
	a := NewDirectoryAudit(storage.AuditEvent{ID: "a1", Time: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC),
		Actor: "token:ci", Action: "policy.fido2.update", Target: policy.AuditTarget, Details: details, CorrelationID: "r1"})
	if a.ActivityDisplayName != "Update authentication methods policy" || a.Category != "Policy" ||
		a.OperationType != "Update" || a.InitiatedBy.App == nil || a.InitiatedBy.App.DisplayName != "ci" ||
		a.TargetResources[0].ID != "fido2" || a.CorrelationID != "r1" {
		t.Fatalf("audit %+v", a)
	}
	want := []ModifiedProperty{{DisplayName: "state", OldValue: `"disabled"`, NewValue: `"enabled"`}}
	if !reflect.DeepEqual(a.TargetResources[0].ModifiedProperties, want) {
		t.Fatalf("modified %+v", a.TargetResources[0].ModifiedProperties)
	}
	added := NewDirectoryAudit(storage.AuditEvent{Actor: "user:ann@x.org", Action: "user.fido2Method.create",
		Target: "u1", Details: []byte(`{"passkeyType":"synced","model":"Pixel"}`)})
	if added.ActivityDisplayName != "Add passkey (synced)" || added.InitiatedBy.User.UserPrincipalName != "ann@x.org" ||
		added.TargetResources[0].Type != "User" || len(added.AdditionalDetails) != 2 {
		t.Fatalf("added %+v", added)
	}
}

func TestNewSignInShowsTheStepAndTheModel(t *testing.T) {
	s := NewSignIn(storage.SignInEvent{ID: "e1", Time: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), Method: "passkey",
		PasskeyType: "deviceBound", AAGUID: ZeroAAGUID, Result: storage.ResultFailure, FailureReason: "blocked",
		FailureCode: policy.CodeKeyRestricted})
	if s.Status.ErrorCode != 1 || s.Status.AdditionalDetails != policy.CodeKeyRestricted ||
		s.AuthenticationMethodsUsed[0] != "Passkey (device-bound)" || s.AuthenticationDetails[0].Succeeded ||
		!strings.HasPrefix(s.AuthenticationDetails[0].AuthenticationMethodDetail, "Unknown model") {
		t.Fatalf("sign-in %+v", s)
	}
	ok := NewSignIn(storage.SignInEvent{Method: "password", Result: storage.ResultSuccess})
	if ok.Status.ErrorCode != 0 || ok.AuthenticationMethodsUsed[0] != "Password" || !ok.AuthenticationDetails[0].Succeeded {
		t.Fatalf("password sign-in %+v", ok)
	}
	bad := NewSignIn(storage.SignInEvent{Method: "password", Result: storage.ResultFailure, FailureCode: "invalidCredentials"})
	if bad.Status.ErrorCode != 50126 {
		t.Fatalf("wrong password: errorCode %d", bad.Status.ErrorCode)
	}
}

// FuzzFilters: no filter panics either log's reader, and every refusal is a
// filter error with a message.
func FuzzFilters(f *testing.F) {
	for _, s := range []string{"createdDateTime ge 2026-11-01T00:00:00Z", "status/errorCode ne 0",
		"targetResources/any(t: t/id eq 'x')", "category eq 'Policy'", "aaGuid eq '00000000-0000-0000-0000-000000000000'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, read := range []func(string) error{
			func(s string) error { _, err := SignInQuery(s); return err },
			func(s string) error { _, err := AuditQuery(s); return err },
		} {
			if err := read(s); err != nil {
				var fe *odatafilter.Error
				if !errors.As(err, &fe) || fe.Message == "" {
					t.Fatalf("%q: error %v is not a filter error", s, err)
				}
			}
		}
	})
}

func TestModifiedPropertiesOfMalformedDetailsIsEmpty(t *testing.T) {
	for _, in := range []string{"", "{", "null", `"x"`} {
		_ = ModifiedProperties(json.RawMessage(in), json.RawMessage(`{"a":1}`))
	}
	a := NewDirectoryAudit(storage.AuditEvent{Action: "x.y", Details: []byte("{not json")})
	if a.ActivityDisplayName != "x.y" || a.Category != "Other" {
		t.Fatalf("%+v", a)
	}
}
