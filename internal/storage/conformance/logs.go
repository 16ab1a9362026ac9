package conformance

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/correlation"
	"github.com/keyward/keyward/internal/storage"
)

// logEvent is a sign-in log line of u at when, without a session or a key.
func logEvent(u storage.User, when time.Time, result, aaguid string) storage.SignInEvent {
	e := storage.SignInEvent{ID: uuid.NewString(), Time: when, UserID: u.ID, UserPrincipalName: u.UserPrincipalName,
		Method: "passkey", AAGUID: aaguid, Model: "Model " + aaguid[:4], Result: result, PasskeyType: "deviceBound",
		IP: "192.0.2.1", UserAgent: "Chrome", CorrelationID: "req-" + u.ID[:8]}
	if result == storage.ResultFailure {
		e.FailureReason, e.FailureCode = "this key model is blocked", "keyRestricted"
	}
	return e
}

func mustLog(t *testing.T, s storage.Storage, e storage.SignInEvent) {
	t.Helper()
	ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Event: e}))
}

// allSignIns pages through q with page size n and returns every page's IDs.
func allSignIns(t *testing.T, s storage.Storage, q storage.SignInQuery, n int) [][]string {
	t.Helper()
	q.Limit = n
	var pages [][]string
	for range 100 {
		events, next, err := s.ListSignIns(t.Context(), q)
		ok(t, err)
		var ids []string
		for _, e := range events {
			ids = append(ids, e.ID)
		}
		pages = append(pages, ids)
		if next == "" {
			return pages
		}
		q.After = next
	}
	t.Fatal("paging did not end")
	return nil
}

const (
	aaguidA = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	aaguidB = "ee882879-721c-4913-9775-3dfcce97072a"
)

var logTests = []test{
	{"sign_ins_page_newest_first_across_records_of_one_instant", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		var want []string // newest first
		for i := range 7 {
			// Three records share each instant but the last: the cursor
			// must tell them apart by insertion order.
			e := logEvent(u, at(time.Duration(i/3)*time.Second), storage.ResultSuccess, aaguidA)
			mustLog(t, s, e)
			want = append([]string{e.ID}, want...)
		}
		equal(t, "pages of 3", allSignIns(t, s, storage.SignInQuery{}, 3),
			[][]string{want[0:3], want[3:6], want[6:7]})
		equal(t, "one page of all", allSignIns(t, s, storage.SignInQuery{}, 7), [][]string{want})
	}},
	{"sign_ins_read_back_every_field_and_the_users_display_name", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "Ann@X.org")
		e := logEvent(u, t0, storage.ResultFailure, aaguidB)
		mustLog(t, s, e)
		gone := logEvent(u, at(time.Second), storage.ResultSuccess, aaguidB)
		gone.UserID = uuid.NewString() // a user deleted since
		mustLog(t, s, gone)
		got, next, err := s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		e.UserDisplayName = u.DisplayName
		equal(t, "events", got, []storage.SignInEvent{gone, e})
		equal(t, "next", next, "")
	}},
	{"sign_ins_filter_by_each_field_and_all_at_once", func(t *testing.T, s storage.Storage) {
		ann, bob := mustUser(t, s, "Ann@X.org"), mustUser(t, s, "bob@x.org")
		var all []storage.SignInEvent
		for i := range 12 {
			u, result, aaguid := ann, storage.ResultSuccess, aaguidA
			if i%2 == 1 {
				u = bob
			}
			if i%3 == 0 {
				result = storage.ResultFailure
			}
			if i%4 == 0 {
				aaguid = aaguidB
			}
			e := logEvent(u, at(time.Duration(i)*time.Hour), result, aaguid)
			if i%5 == 0 {
				e.AppID, e.AppDisplayName = "app-1", "Wiki"
			}
			mustLog(t, s, e)
			all = append([]storage.SignInEvent{e}, all...)
		}
		pick := func(keep func(e storage.SignInEvent) bool) []string {
			var out []string
			for _, e := range all {
				if keep(e) {
					out = append(out, e.ID)
				}
			}
			return out
		}
		cases := []struct {
			name string
			q    storage.SignInQuery
			keep func(e storage.SignInEvent) bool
		}{
			{"user", storage.SignInQuery{UserID: bob.ID}, func(e storage.SignInEvent) bool { return e.UserID == bob.ID }},
			{"upn_any_case", storage.SignInQuery{UserPrincipalName: "ANN@x.ORG"},
				func(e storage.SignInEvent) bool { return e.UserID == ann.ID }},
			{"aaguid", storage.SignInQuery{AAGUID: aaguidB}, func(e storage.SignInEvent) bool { return e.AAGUID == aaguidB }},
			{"app", storage.SignInQuery{AppID: "app-1"}, func(e storage.SignInEvent) bool { return e.AppID == "app-1" }},
			{"failures", storage.SignInQuery{Result: storage.ResultFailure},
				func(e storage.SignInEvent) bool { return e.Result == storage.ResultFailure }},
			{"successes", storage.SignInQuery{Result: storage.ResultSuccess},
				func(e storage.SignInEvent) bool { return e.Result == storage.ResultSuccess }},
			{"an_apps_failures", storage.SignInQuery{AppID: "app-1", Result: storage.ResultFailure},
				func(e storage.SignInEvent) bool { return e.AppID == "app-1" && e.Result == storage.ResultFailure }},
			{"period_inclusive", storage.SignInQuery{Since: at(3 * time.Hour), Until: at(7 * time.Hour)},
				func(e storage.SignInEvent) bool {
					return !e.Time.Before(at(3*time.Hour)) && !e.Time.After(at(7*time.Hour))
				}},
			{"all_at_once", storage.SignInQuery{UserID: ann.ID, AAGUID: aaguidA, Result: storage.ResultSuccess,
				Since: at(time.Hour)}, func(e storage.SignInEvent) bool {
				return e.UserID == ann.ID && e.AAGUID == aaguidA && e.Result == storage.ResultSuccess && e.Time.After(t0)
			}},
			{"nothing_matches", storage.SignInQuery{UserPrincipalName: "carol@x.org"},
				func(storage.SignInEvent) bool { return false }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var got []string
				for _, p := range allSignIns(t, s, tc.q, 2) {
					got = append(got, p...)
				}
				equal(t, "IDs", got, pick(tc.keep))
			})
		}
	}},
	{"records_without_a_correlation_id_take_the_requests_from_the_context", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		ctx := correlation.With(t.Context(), "req-42")
		e := logEvent(u, t0, storage.ResultSuccess, aaguidA)
		e.CorrelationID = ""
		ok(t, s.RecordSignIn(ctx, storage.SignInRecord{Event: e}))
		own := logEvent(u, at(time.Second), storage.ResultSuccess, aaguidA) // has its own
		ok(t, s.RecordSignIn(ctx, storage.SignInRecord{Event: own}))
		ok(t, s.Audited(ctx, func(context.Context) ([]storage.AuditEvent, error) {
			return []storage.AuditEvent{{Time: t0, Actor: "cli", Action: "user.update", Target: "user:1"}}, nil
		}))
		events, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		equal(t, "correlation IDs", []string{events[0].CorrelationID, events[1].CorrelationID}, []string{own.CorrelationID, "req-42"})
		audit, _, err := s.ListAuditEvents(t.Context(), storage.AuditQuery{})
		ok(t, err)
		equal(t, "audit correlation ID", audit[0].CorrelationID, "req-42")
	}},
	{"sign_ins_refuse_cursors_they_did_not_make", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		mustLog(t, s, logEvent(u, t0, storage.ResultSuccess, aaguidA))
		for _, c := range []string{"!!", "bm90LWEtY3Vyc29y", "MTIzNA", "MTIzLjA", "MTIzLi0x", "OTk5OTk5OTk5OTk5OTk5OTk5OS4x"} {
			_, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{After: c})
			is(t, err, storage.ErrBadCursor)
			_, _, err = s.ListAuditEvents(t.Context(), storage.AuditQuery{After: c})
			is(t, err, storage.ErrBadCursor)
		}
	}},
	{"audit_pages_newest_first_and_filters", func(t *testing.T, s storage.Storage) {
		type ev = storage.AuditEvent
		var all []ev
		actors := []string{"user:ann@x.org", "token:ci", "cli"}
		actions := []string{"policy.fido2.update", "user.fido2Method.create", "user.update", "group.create"}
		for i := range 10 {
			e := ev{ID: uuid.NewString(), Time: at(time.Duration(i/2) * time.Minute), Actor: actors[i%3],
				Action: actions[i%4], Target: fmt.Sprintf("user:%d", i%2), Details: []byte(`{"n":1}`),
				CorrelationID: fmt.Sprintf("req-%d", i)}
			ok(t, appendAudit(t, s, e))
			all = append([]ev{e}, all...)
		}
		list := func(q storage.AuditQuery) []ev {
			q.Limit = 3
			var out []ev
			for range 20 {
				page, next, err := s.ListAuditEvents(t.Context(), q)
				ok(t, err)
				out = append(out, page...)
				if next == "" {
					return out
				}
				q.After = next
			}
			t.Fatal("paging did not end")
			return nil
		}
		keep := func(f func(ev) bool) []ev {
			var out []ev
			for _, e := range all {
				if f(e) {
					out = append(out, e)
				}
			}
			return out
		}
		equal(t, "all", list(storage.AuditQuery{}), all)
		equal(t, "actor", list(storage.AuditQuery{Actor: "token:ci"}), keep(func(e ev) bool { return e.Actor == "token:ci" }))
		equal(t, "target", list(storage.AuditQuery{Targets: []string{"user:1"}}), keep(func(e ev) bool { return e.Target == "user:1" }))
		equal(t, "targets", list(storage.AuditQuery{Targets: []string{"user:1", "user:0"}}), all)
		equal(t, "action prefix", list(storage.AuditQuery{ActionPrefix: "user."}),
			keep(func(e ev) bool { return e.Action[:5] == "user." }))
		equal(t, "period", list(storage.AuditQuery{Since: at(time.Minute), Until: at(2 * time.Minute)}),
			keep(func(e ev) bool { return !e.Time.Before(at(time.Minute)) && !e.Time.After(at(2*time.Minute)) }))
		equal(t, "prefix with LIKE's wildcards matches only itself", list(storage.AuditQuery{ActionPrefix: "user%"}), []ev(nil))
	}},
	{"retention_deletes_old_records_in_bounded_batches", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		for i := range 5 {
			mustLog(t, s, logEvent(u, at(time.Duration(i)*time.Hour), storage.ResultSuccess, aaguidA))
			ok(t, appendAudit(t, s, storage.AuditEvent{Time: at(time.Duration(i) * time.Hour),
				Actor: "cli", Action: "user.update", Target: "user:" + u.ID}))
		}
		cut := at(3 * time.Hour) // records at 0h, 1h, 2h are older
		for _, del := range []func(time.Time, int) (int, error){
			func(b time.Time, n int) (int, error) { return s.DeleteSignInsBefore(t.Context(), b, n) },
			func(b time.Time, n int) (int, error) { return s.DeleteAuditBefore(t.Context(), b, n) },
		} {
			n, err := del(cut, 2)
			ok(t, err)
			equal(t, "first batch", n, 2)
			n, err = del(cut, 2)
			ok(t, err)
			equal(t, "second batch", n, 1)
			n, err = del(cut, 2)
			ok(t, err)
			equal(t, "nothing left to delete", n, 0)
		}
		events, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		equal(t, "sign-ins kept", len(events), 2)
		equal(t, "the oldest kept", events[1].Time, cut)
		audit, _, err := s.ListAuditEvents(t.Context(), storage.AuditQuery{})
		ok(t, err)
		equal(t, "audit records kept", len(audit), 2)
	}},
	{"retention_sweeps_racing_with_sign_ins_delete_each_old_record_once_and_no_new_one", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		const old = 40
		for i := range old {
			mustLog(t, s, logEvent(u, at(time.Duration(i)*time.Second), storage.ResultSuccess, aaguidA))
		}
		cut := at(time.Hour)
		var wg sync.WaitGroup
		start := make(chan struct{})
		deleted := make([]int, racers)
		for i := range racers {
			wg.Go(func() {
				<-start
				for {
					n, err := s.DeleteSignInsBefore(t.Context(), cut, 3)
					if err != nil {
						t.Errorf("sweep: %v", err)
						return
					}
					if n == 0 {
						return
					}
					deleted[i] += n
				}
			})
			wg.Go(func() {
				<-start
				if err := s.RecordSignIn(t.Context(), storage.SignInRecord{
					Event: logEvent(u, at(2*time.Hour), storage.ResultSuccess, aaguidB)}); err != nil {
					t.Errorf("sign-in during a sweep: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		total := 0
		for _, n := range deleted {
			total += n
		}
		equal(t, "deleted, all sweeps together", total, old)
		events, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{Limit: 1000})
		ok(t, err)
		equal(t, "records kept: every new one", len(events), racers)
	}},
}
