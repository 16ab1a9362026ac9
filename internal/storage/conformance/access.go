package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

var accessTests = []test{
	{"put_get_list_and_version", testAccessPutGetList},
	{"replace_keeps_created_at", testAccessReplace},
	{"failed_change_writes_nothing", testAccessRollback},
	{"state_has_emergency_accounts", testAccessEmergency},
	{"state_has_global_admins", testAccessAdmins},
	{"sign_in_log_keeps_conditional_access", testSignInLogCA},
	{"audit_in_the_same_transaction", testAccessAudit},
	{"race_limit_holds", testAccessRaceLimit},
	{"race_delete_in_use", testAccessRaceInUse},
	{"sign_in_once_per_session_and_surface", testSignInOnce},
}

// testSignInOnce: a record with a OnceKey is written for the first use of a
// surface with a session only — of several raced, exactly one — and the
// session, read again, says so; another surface or another session is
// written again, and a gone session writes nothing.
func testSignInOnce(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	u := mustUser(t, s, "once@contoso.com")
	sess := newSession(u.ID)
	ok(t, s.CreateSession(ctx, sess))
	const admin, me = "4b455957-0000-4000-8000-000000000001", "4b455957-0000-4000-8000-000000000002"
	record := func(sessionID, surface string) error {
		return s.RecordSignIn(ctx, storage.SignInRecord{
			Event: storage.SignInEvent{Time: t0, UserID: u.ID, UserPrincipalName: u.UserPrincipalName, Method: "session",
				Result: storage.ResultSuccess, AppID: surface, ConditionalAccessStatus: "notApplied"},
			Once: &storage.OnceKey{SessionID: sessionID, Surface: surface}})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- record(sess.ID, admin) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		ok(t, err)
	}
	ok(t, record(sess.ID, admin))
	ok(t, record(sess.ID, me))
	other := newSession(u.ID)
	ok(t, s.CreateSession(ctx, other))
	ok(t, record(other.ID, admin))
	ok(t, record("no-such-session", admin))

	events, err := s.ListSignInEvents(ctx, storage.EventFilter{UserID: u.ID})
	ok(t, err)
	count := map[string]int{}
	for _, e := range events {
		count[e.AppID]++
	}
	equal(t, "records per surface", count, map[string]int{admin: 2, me: 1})
	got, err := s.GetSession(ctx, sess.ID)
	ok(t, err)
	if !got.Logged(admin) || !got.Logged(me) || got.Logged("urn:user:registersecurityinfo") {
		t.Fatalf("session's logged surfaces %q", got.AccessLogged)
	}
	// Updating the session keeps what it logged.
	_, err = s.UpdateSession(ctx, sess.ID, func(ss storage.Session) (storage.Session, error) {
		ss.AccessLogged = ""
		ss.LastSeenAt = at(time.Minute)
		return ss, nil
	})
	ok(t, err)
	got, err = s.GetSession(ctx, sess.ID)
	ok(t, err)
	if !got.Logged(admin) {
		t.Fatalf("an update dropped the logged surfaces: %q", got.AccessLogged)
	}
}

func accessObject(kind, name string) storage.AccessObject {
	return storage.AccessObject{Kind: kind, ID: uuid.NewString(), DisplayName: name,
		Data: []byte(`{"displayName":"` + name + `"}`), CreatedAt: t0, ModifiedAt: t0}
}

func put(os ...storage.AccessObject) func(storage.AccessState) (storage.AccessChange, error) {
	return func(storage.AccessState) (storage.AccessChange, error) { return storage.AccessChange{Put: os}, nil }
}

func testAccessPutGetList(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	v, err := s.AccessVersion(ctx)
	ok(t, err)
	equal(t, "fresh version", v, int64(0))
	objs, err := s.ListAccessObjects(ctx, "")
	ok(t, err)
	equal(t, "fresh list", len(objs), 0)

	b, a := accessObject(storage.AccessPolicy, "b policy"), accessObject(storage.AccessPolicy, "A policy")
	st, loc := accessObject(storage.AccessStrength, "Keys"), accessObject(storage.AccessLocation, "Office")
	v, err = s.ChangeAccess(ctx, put(b, a, st, loc))
	ok(t, err)
	equal(t, "version after a change", v, int64(1))
	got, err := s.AccessVersion(ctx)
	ok(t, err)
	equal(t, "stored version", got, int64(1))

	pols, err := s.ListAccessObjects(ctx, storage.AccessPolicy)
	ok(t, err)
	equal(t, "policies in name order", pols, []storage.AccessObject{a, b})
	all, err := s.ListAccessObjects(ctx, "")
	ok(t, err)
	equal(t, "every kind", len(all), 4)
	one, err := s.GetAccessObject(ctx, storage.AccessStrength, st.ID)
	ok(t, err)
	equal(t, "strength", one, st)
	_, err = s.GetAccessObject(ctx, storage.AccessPolicy, st.ID)
	is(t, err, storage.ErrNotFound)
	_, err = s.ListAccessObjects(ctx, "nonsense")
	if err == nil {
		t.Fatal("an unknown kind was listed")
	}

	v, err = s.ChangeAccess(ctx, func(storage.AccessState) (storage.AccessChange, error) {
		return storage.AccessChange{Delete: []storage.AccessKey{{Kind: storage.AccessPolicy, ID: a.ID}}}, nil
	})
	ok(t, err)
	equal(t, "version after delete", v, int64(2))
	_, err = s.GetAccessObject(ctx, storage.AccessPolicy, a.ID)
	is(t, err, storage.ErrNotFound)
}

func testAccessReplace(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	o := accessObject(storage.AccessLocation, "Office")
	_, err := s.ChangeAccess(ctx, put(o))
	ok(t, err)
	o2 := o
	o2.DisplayName, o2.Data, o2.CreatedAt, o2.ModifiedAt = "HQ", []byte(`{"x":1}`), at(time.Hour), at(time.Hour)
	_, err = s.ChangeAccess(ctx, func(st storage.AccessState) (storage.AccessChange, error) {
		equal(t, "state seen by the change", st.Objects, []storage.AccessObject{o})
		return storage.AccessChange{Put: []storage.AccessObject{o2}}, nil
	})
	ok(t, err)
	got, err := s.GetAccessObject(ctx, o.Kind, o.ID)
	ok(t, err)
	o2.CreatedAt = t0
	equal(t, "replaced", got, o2)
}

func testAccessRollback(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	keep := accessObject(storage.AccessStrength, "Keys")
	_, err := s.ChangeAccess(ctx, put(keep))
	ok(t, err)
	_, err = s.ChangeAccess(ctx, func(storage.AccessState) (storage.AccessChange, error) { return storage.AccessChange{}, errFn })
	is(t, err, errFn)
	// A delete of a missing object fails the whole change: the put beside it is not kept.
	_, err = s.ChangeAccess(ctx, func(storage.AccessState) (storage.AccessChange, error) {
		return storage.AccessChange{Put: []storage.AccessObject{accessObject(storage.AccessPolicy, "new")},
			Delete: []storage.AccessKey{{Kind: storage.AccessStrength, ID: uuid.NewString()}}}, nil
	})
	is(t, err, storage.ErrNotFound)
	bad := accessObject("widget", "x")
	_, err = s.ChangeAccess(ctx, put(bad))
	if err == nil {
		t.Fatal("an unknown kind was stored")
	}
	v, err := s.AccessVersion(ctx)
	ok(t, err)
	equal(t, "version after failed changes", v, int64(1))
	all, err := s.ListAccessObjects(ctx, "")
	ok(t, err)
	equal(t, "objects after failed changes", all, []storage.AccessObject{keep})
}

func testAccessEmergency(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	bg2 := newUser("bg2@example.com")
	bg2.IsEmergencyAccess = true
	bg1 := newUser("BG1@example.com")
	bg1.IsEmergencyAccess = true
	ok(t, s.CreateUser(ctx, bg2))
	ok(t, s.CreateUser(ctx, bg1))
	mustUser(t, s, "alice@example.com")
	g1, g2 := mustGroup(t, s, "glass"), mustGroup(t, s, "more glass")
	ok(t, s.AddMember(ctx, g1.ID, bg1.ID))
	ok(t, s.AddMember(ctx, g2.ID, bg1.ID))
	groups := []string{g1.ID, g2.ID}
	if groups[0] > groups[1] {
		groups[0], groups[1] = groups[1], groups[0]
	}
	var seen []storage.EmergencyAccount
	_, err := s.ChangeAccess(ctx, func(st storage.AccessState) (storage.AccessChange, error) {
		seen = st.Emergency
		return storage.AccessChange{}, nil
	})
	ok(t, err)
	want := []storage.EmergencyAccount{{User: bg1, GroupIDs: groups}, {User: bg2}}
	equal(t, "emergency accounts in a change", seen, want)
	listed, err := s.ListEmergencyAccounts(ctx)
	ok(t, err)
	equal(t, "emergency accounts listed", listed, want)
}

func testAccessAudit(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	o := accessObject(storage.AccessPolicy, "Admins")
	e := storage.AuditEvent{Time: t0, Actor: "cli", Action: "access.policy.create", Target: o.ID, Details: []byte(`{"force":true}`)}
	_, err := s.ChangeAccess(ctx, func(storage.AccessState) (storage.AccessChange, error) {
		return storage.AccessChange{Put: []storage.AccessObject{o}, Audit: []storage.AuditEvent{e}}, nil
	})
	ok(t, err)
	got, err := s.ListAudit(ctx, storage.EventFilter{})
	ok(t, err)
	if len(got) != 1 || got[0].Action != e.Action || got[0].Target != o.ID || string(got[0].Details) != `{"force":true}` {
		t.Fatalf("audit = %s", show(got))
	}
}

// testAccessRaceLimit: creators racing against a limit judged inside the
// change never pass it together.
func testAccessRaceLimit(t *testing.T, s storage.Storage) {
	const limit, racers = 3, 12
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			_, errs[i] = s.ChangeAccess(t.Context(), func(st storage.AccessState) (storage.AccessChange, error) {
				if len(st.Objects) >= limit {
					return storage.AccessChange{}, storage.ErrConflict
				}
				return storage.AccessChange{Put: []storage.AccessObject{accessObject(storage.AccessStrength, fmt.Sprint("s", i))}}, nil
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	all, err := s.ListAccessObjects(t.Context(), storage.AccessStrength)
	ok(t, err)
	equal(t, "creators that won", won, limit)
	equal(t, "strengths stored", len(all), limit)
	v, err := s.AccessVersion(t.Context())
	ok(t, err)
	equal(t, "version (refused changes roll back)", v, int64(limit))
}

// testAccessRaceInUse: deleting a strength while policies that reference it
// are being saved never leaves a policy pointing at a deleted strength, when
// both rules are judged inside the change.
func testAccessRaceInUse(t *testing.T, s storage.Storage) {
	for round := range 5 {
		st := accessObject(storage.AccessStrength, fmt.Sprint("strength ", round))
		_, err := s.ChangeAccess(t.Context(), put(st))
		ok(t, err)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				_, _ = s.ChangeAccess(t.Context(), func(state storage.AccessState) (storage.AccessChange, error) {
					exists, used := false, false
					for _, o := range state.Objects {
						exists = exists || o.ID == st.ID
						used = used || (o.Kind == storage.AccessPolicy && bytes.Contains(o.Data, []byte(st.ID)))
					}
					if i%3 == 0 { // a deleter
						if !exists || used {
							return storage.AccessChange{}, storage.ErrConflict
						}
						return storage.AccessChange{Delete: []storage.AccessKey{{Kind: storage.AccessStrength, ID: st.ID}}}, nil
					}
					if !exists {
						return storage.AccessChange{}, storage.ErrConflict
					}
					p := accessObject(storage.AccessPolicy, fmt.Sprint("p", round, i))
					p.Data = []byte(`{"grantControls":{"authenticationStrength":{"id":"` + st.ID + `"}}}`)
					return storage.AccessChange{Put: []storage.AccessObject{p}}, nil
				})
			})
		}
		wg.Wait()
		all, err := s.ListAccessObjects(t.Context(), "")
		ok(t, err)
		exists, used := false, false
		for _, o := range all {
			exists = exists || o.ID == st.ID
			used = used || (o.Kind == storage.AccessPolicy && bytes.Contains(o.Data, []byte(st.ID)))
		}
		if used && !exists {
			t.Fatalf("round %d: a policy references strength %s, which was deleted", round, st.ID)
		}
	}
}

func testAccessAdmins(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	admin := newUser("admin@example.com")
	admin.AdminRole, admin.PasswordHash = storage.RoleGlobalAdmin, "$argon2id$x"
	ok(t, s.CreateUser(ctx, admin))
	g := mustGroup(t, s, "admins")
	ok(t, s.AddMember(ctx, g.ID, admin.ID))
	mustCredential(t, s, admin.ID)
	flagged := mustCredential(t, s, admin.ID)
	_, err := s.UpdateCredential(ctx, flagged.ID, func(c storage.Credential) (storage.Credential, error) {
		c.CloneWarning = true
		return c, nil
	})
	ok(t, err)
	ok(t, s.CreateTOTP(ctx, storage.TOTPMethod{UserID: admin.ID, Secret: "JBSWY3DPEHPK3PXP", Confirmed: true, CreatedAt: t0}))
	other := newUser("other@example.com")
	other.AdminRole = storage.RoleGlobalAdmin
	ok(t, s.CreateUser(ctx, other))
	off := newUser("off@example.com")
	off.AdminRole, off.AccountEnabled = storage.RoleGlobalAdmin, false
	ok(t, s.CreateUser(ctx, off))
	reader := newUser("reader@example.com")
	reader.AdminRole = storage.RoleReader
	ok(t, s.CreateUser(ctx, reader))

	var seen []storage.AccountMethods
	_, err = s.ChangeAccess(ctx, func(st storage.AccessState) (storage.AccessChange, error) {
		seen = st.Admins
		return storage.AccessChange{}, nil
	})
	ok(t, err)
	equal(t, "global admins", seen, []storage.AccountMethods{
		{User: admin, GroupIDs: []string{g.ID}, PasskeyAAGUIDs: []string{newCredential("").AAGUID}, HasPassword: true, HasAuthenticatorApp: true},
		{User: other},
	})
}

func testSignInLogCA(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	u := mustUser(t, s, "alice@example.com")
	e := storage.SignInEvent{ID: uuid.NewString(), Time: t0, UserID: u.ID, UserPrincipalName: u.UserPrincipalName,
		Method: "session", Result: storage.ResultFailure, FailureReason: "step-up", IP: "192.0.2.1", UserAgent: "Firefox",
		AppID: uuid.NewString(), AppDisplayName: "Wiki", ConditionalAccessStatus: "failure",
		AppliedConditionalAccessPolicies: []storage.AppliedConditionalAccessPolicy{
			{ID: "p1", DisplayName: "Phishing-resistant for the wiki", EnforcedGrantControls: []string{"RequireAuthenticationStrength"}, Result: "failure"},
			{ID: "p2", DisplayName: "Trying", EnforcedGrantControls: []string{}, Result: "reportOnlySuccess"},
		}, AuthenticationRequirement: "multiFactorAuthentication"}
	ok(t, s.RecordSignIn(ctx, storage.SignInRecord{Event: e}))
	plain := storage.SignInEvent{ID: uuid.NewString(), Time: at(time.Second), UserID: u.ID, UserPrincipalName: u.UserPrincipalName,
		Method: "password", Result: storage.ResultSuccess}
	ok(t, s.RecordSignIn(ctx, storage.SignInRecord{Event: plain}))
	got, err := s.ListSignInEvents(ctx, storage.EventFilter{UserID: u.ID})
	ok(t, err)
	if len(got) != 2 {
		t.Fatalf("events: %s", show(got))
	}
	equal(t, "a sign-in without conditional access", got[0].AppliedConditionalAccessPolicies, []storage.AppliedConditionalAccessPolicy(nil))
	g := got[1]
	equal(t, "app", []string{g.AppID, g.AppDisplayName, g.ConditionalAccessStatus, g.AuthenticationRequirement},
		[]string{e.AppID, e.AppDisplayName, e.ConditionalAccessStatus, e.AuthenticationRequirement})
	equal(t, "applied policies", g.AppliedConditionalAccessPolicies, e.AppliedConditionalAccessPolicies)
	paged, _, err := s.ListSignIns(ctx, storage.SignInQuery{UserID: u.ID})
	ok(t, err)
	if len(paged) != 2 || paged[1].AppDisplayName != "Wiki" || len(paged[1].AppliedConditionalAccessPolicies) != 2 {
		t.Fatalf("ListSignIns: %s", show(paged))
	}
}
