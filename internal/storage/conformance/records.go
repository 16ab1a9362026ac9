package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// signIn is a successful passkey sign-in of u with c at when.
func signIn(u storage.User, c storage.Credential, when time.Time) storage.SignInRecord {
	c.SignCount++
	c.BackupState, c.LastUsedAt = true, ptr(when)
	ss := newSession(u.ID)
	return storage.SignInRecord{
		Credential: &c,
		Session:    &ss,
		Event: storage.SignInEvent{
			ID: "evt-" + ss.ID, Time: when, UserID: u.ID, UserPrincipalName: u.UserPrincipalName,
			Method: "passkey", CredentialID: c.ID, AAGUID: c.AAGUID, Model: c.Model,
			Result: storage.ResultSuccess, IP: "192.0.2.1", UserAgent: "Chrome",
		},
	}
}

func failure(userID string, when time.Time) storage.SignInEvent {
	return storage.SignInEvent{Time: when, UserID: userID, Method: "passkey",
		Result: storage.ResultFailure, FailureReason: "key model blocked"}
}

// raced is how racing sign-ins ended: which signed in, and a tally.
type raced struct {
	won   []bool
	tally map[string]int // "signed in", "possible clone"
}

// raceSignIns records racers passkey sign-ins of u with c at once, each with
// its own challenge and the counter count(i).
func raceSignIns(t *testing.T, s storage.Storage, u storage.User, c storage.Credential, count func(i int) uint32) raced {
	t.Helper()
	records := make([]storage.SignInRecord, racers)
	for i := range records {
		records[i] = signIn(u, c, at(time.Minute))
		records[i].Used, records[i].CloneReason = usedChallenge(), "possible clone"
		records[i].Credential.SignCount = count(i)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, racers)
	for i := range records {
		wg.Go(func() {
			<-start
			errs[i] = s.RecordSignIn(t.Context(), records[i])
		})
	}
	close(start)
	wg.Wait()
	out := raced{won: make([]bool, racers), tally: map[string]int{}}
	for i, err := range errs {
		switch {
		case err == nil:
			out.won[i] = true
			out.tally["signed in"]++
		case errors.Is(err, storage.ErrPossibleClone):
			out.tally["possible clone"]++
		default:
			t.Fatalf("a racing sign-in got %v", err)
		}
	}
	return out
}

// unflag clears a credential's clone flag, as an administrator does.
func unflag(t *testing.T, s storage.Storage, id string) {
	t.Helper()
	_, err := s.UpdateCredential(t.Context(), id, func(c storage.Credential) (storage.Credential, error) {
		c.CloneWarning = false
		return c, nil
	})
	ok(t, err)
}

var signInTests = []test{
	{"record_updates_credential_creates_session_and_logs_event", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		r := signIn(u, c, at(time.Minute))
		ok(t, s.RecordSignIn(t.Context(), r))
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		want := c
		want.SignCount, want.BackupState, want.LastUsedAt = c.SignCount+1, true, ptr(at(time.Minute))
		equal(t, "credential", got, want)
		ss, err := s.GetSession(t.Context(), r.Session.ID)
		ok(t, err)
		equal(t, "session", ss, *r.Session)
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "events", events, []storage.SignInEvent{r.Event})
	}},
	{"concurrent_records_fail_alone", func(t *testing.T, s storage.Storage) {
		// Writes that may share a commit (group commit on SQLite) stay
		// independent: a failing one writes nothing, the others all land.
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		taken := newSession(u.ID)
		ok(t, s.CreateSession(t.Context(), taken))
		const n = 24
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				r := signIn(u, c, at(time.Minute))
				r.Used, r.Credential = usedChallenge(), nil
				if i%3 == 0 {
					r.Session = &taken
				}
				errs[i] = s.RecordSignIn(t.Context(), r)
			})
		}
		wg.Wait()
		want := 0
		for i, err := range errs {
			if i%3 == 0 {
				is(t, err, storage.ErrAlreadyExists)
				continue
			}
			ok(t, err)
			want++
		}
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{Limit: 100})
		ok(t, err)
		equal(t, "events of the records that succeeded", len(events), want)
	}},
	{"counter_that_does_not_go_up_flags_the_key_and_records_a_failure", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID) // counter 7
		r := signIn(u, c, at(time.Minute))
		r.Credential.SignCount = c.SignCount // not above the stored counter
		r.Used, r.CloneReason = usedChallenge(), "possible clone"
		is(t, s.RecordSignIn(t.Context(), r), storage.ErrPossibleClone)
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		want := c
		want.CloneWarning = true
		equal(t, "credential flagged, counter and last use unchanged", got, want)
		_, err = s.GetSession(t.Context(), r.Session.ID)
		is(t, err, storage.ErrNotFound)
		is(t, s.UseChallenge(t.Context(), *r.Used), storage.ErrNotFound) // used up
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		logged := r.Event
		logged.Result, logged.FailureReason = storage.ResultFailure, "possible clone"
		logged.FailureCode = storage.FailureCodePossibleClone
		equal(t, "events", events, []storage.SignInEvent{logged})

		// Flagged, the key is refused even with a counter that goes up.
		later := signIn(u, c, at(2*time.Minute))
		later.Credential.SignCount = 100
		is(t, s.RecordSignIn(t.Context(), later), storage.ErrPossibleClone)
		got, err = s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "still flagged", got, want)
	}},
	{"zero_counters_mean_no_counter_and_are_allowed", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		c := newCredential(u.ID)
		c.SignCount = 0
		ok(t, s.CreateCredential(t.Context(), c))
		for i := range 2 {
			r := signIn(u, c, at(time.Duration(i)*time.Minute))
			r.Credential.SignCount = 0
			ok(t, s.RecordSignIn(t.Context(), r))
		}
		r := signIn(u, c, at(time.Hour))
		r.Credential.SignCount = 5
		ok(t, s.RecordSignIn(t.Context(), r))
		back := signIn(u, c, at(2*time.Hour))
		back.Credential.SignCount = 0 // a counter that fell back to 0
		is(t, s.RecordSignIn(t.Context(), back), storage.ErrPossibleClone)
	}},
	{"flag_credential_flags_it_and_logs", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Used: usedChallenge(), FlagCredential: c.ID, Event: failure(u.ID, t0)}))
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		want := c
		want.CloneWarning = true
		equal(t, "credential", got, want)
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "events", len(events), 1)
		is(t, s.RecordSignIn(t.Context(), storage.SignInRecord{FlagCredential: "missing", Event: failure(u.ID, t0)}), storage.ErrNotFound)
	}},
	{"racing_sign_ins_with_one_counter_have_one_winner", func(t *testing.T, s storage.Storage) {
		// A cloned key: every copy signs with the same next counter.
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		for round := range 5 {
			cur, err := s.GetCredential(t.Context(), c.ID)
			ok(t, err)
			outcomes := raceSignIns(t, s, u, cur, func(int) uint32 { return cur.SignCount + 1 })
			equal(t, fmt.Sprintf("round %d: outcomes", round), outcomes.tally, map[string]int{"signed in": 1, "possible clone": racers - 1})
			got, err := s.GetCredential(t.Context(), c.ID)
			ok(t, err)
			equal(t, "counter", got.SignCount, cur.SignCount+1)
			equal(t, "flagged", got.CloneWarning, true)
			unflag(t, s, c.ID)
		}
	}},
	{"racing_sign_ins_never_move_the_counter_back", func(t *testing.T, s storage.Storage) {
		// One key signing in from several tabs: counters n+1 … n+racers. The
		// stored counter ends at the highest one that signed in; each that
		// arrived after a higher one was refused and flagged the key, and a
		// flagged key refuses the rest.
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		for round := range 15 {
			cur, err := s.GetCredential(t.Context(), c.ID)
			ok(t, err)
			outcomes := raceSignIns(t, s, u, cur, func(i int) uint32 { return cur.SignCount + 1 + uint32(i) })
			got, err := s.GetCredential(t.Context(), c.ID)
			ok(t, err)
			highest := uint32(0)
			for i, won := range outcomes.won {
				if won {
					highest = max(highest, cur.SignCount+1+uint32(i))
				}
			}
			equal(t, fmt.Sprintf("round %d: counter after %v", round, outcomes.tally), got.SignCount, highest)
			equal(t, "flagged when one was refused", got.CloneWarning, outcomes.tally["possible clone"] > 0)
			unflag(t, s, c.ID)
		}
	}},
	{"record_of_a_failure_only_logs_and_gets_an_id", func(t *testing.T, s storage.Storage) {
		ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Event: failure("", t0)}))
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		if len(events) != 1 || events[0].ID == "" {
			t.Fatalf("events = %s, want one with an ID", show(events))
		}
		events[0].ID = ""
		equal(t, "event", events[0], failure("", t0))
	}},
	{"taken_session_id_fails_the_whole_record", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		r := signIn(u, c, at(time.Minute))
		ok(t, s.CreateSession(t.Context(), *r.Session))
		is(t, s.RecordSignIn(t.Context(), r), storage.ErrAlreadyExists)
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "credential unchanged", got, c)
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "events", len(events), 0)
	}},
	{"unknown_credential_fails_the_whole_record", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		r := signIn(u, newCredential(u.ID), t0)
		is(t, s.RecordSignIn(t.Context(), r), storage.ErrNotFound)
		_, err := s.GetSession(t.Context(), r.Session.ID)
		is(t, err, storage.ErrNotFound)
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "events", len(events), 0)
	}},
	{"session_of_unknown_user_is_conflict_and_writes_nothing", func(t *testing.T, s storage.Storage) {
		ss := newSession("missing-user")
		err := s.RecordSignIn(t.Context(), storage.SignInRecord{Session: &ss, Event: failure("", t0)})
		is(t, err, storage.ErrConflict)
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "events", len(events), 0)
	}},
	{"events_list_newest_first_with_filters", func(t *testing.T, s storage.Storage) {
		a, b := mustUser(t, s, "a@x.org"), mustUser(t, s, "b@x.org")
		var want []string // reasons, newest first
		for i, e := range []struct {
			user string
			when time.Duration
		}{{a.ID, 0}, {b.ID, time.Minute}, {a.ID, 2 * time.Minute}, {a.ID, 2 * time.Minute}, {b.ID, -time.Hour}} {
			ev := failure(e.user, at(e.when))
			ev.FailureReason = fmt.Sprint(i)
			ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Event: ev}))
		}
		want = []string{"3", "2", "1", "0", "4"} // same instant: last recorded first
		reasons := func(f storage.EventFilter) []string {
			events, err := s.ListSignInEvents(t.Context(), f)
			ok(t, err)
			out := []string{}
			for _, e := range events {
				out = append(out, e.FailureReason)
			}
			return out
		}
		equal(t, "all", reasons(storage.EventFilter{}), want)
		equal(t, "user a", reasons(storage.EventFilter{UserID: a.ID}), []string{"3", "2", "0"})
		equal(t, "since", reasons(storage.EventFilter{Since: at(time.Minute)}), []string{"3", "2", "1"})
		equal(t, "user b since", reasons(storage.EventFilter{UserID: b.ID, Since: t0}), []string{"1"})
		equal(t, "limit", reasons(storage.EventFilter{Limit: 2}), []string{"3", "2"})
	}},
	{"events_limit_defaults_to_100", func(t *testing.T, s storage.Storage) {
		for i := range 101 {
			ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Event: failure("", at(time.Duration(i)*time.Second))}))
		}
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "count", len(events), 100)
		equal(t, "newest", events[0].Time, at(100*time.Second))
	}},
}

var policyTests = []test{
	{"missing_policy_is_not_found_and_has_no_version", func(t *testing.T, s storage.Storage) {
		_, err := s.GetPolicy(t.Context(), "fido2")
		is(t, err, storage.ErrNotFound)
		v, err := s.PolicyVersions(t.Context())
		ok(t, err)
		equal(t, "versions", len(v), 0)
	}},
	{"update_creates_at_version_1_then_increments", func(t *testing.T, s storage.Storage) {
		p, err := s.UpdatePolicy(t.Context(), "fido2", func(old storage.Policy) (storage.Policy, error) {
			equal(t, "fn input for a new policy", old, storage.Policy{Name: "fido2"})
			return storage.Policy{Name: "ignored", Data: []byte(`{"state":"enabled"}`), Version: 42,
				UpdatedAt: t0, UpdatedBy: "cli"}, nil
		})
		ok(t, err)
		v1 := storage.Policy{Name: "fido2", Data: []byte(`{"state":"enabled"}`), Version: 1, UpdatedAt: t0, UpdatedBy: "cli"}
		equal(t, "created", p, v1)
		p, err = s.UpdatePolicy(t.Context(), "fido2", func(old storage.Policy) (storage.Policy, error) {
			equal(t, "fn input", old, v1)
			old.Data, old.UpdatedAt, old.UpdatedBy = []byte(`{"state":"disabled"}`), at(time.Hour), "token:ci"
			return old, nil
		})
		ok(t, err)
		v2 := storage.Policy{Name: "fido2", Data: []byte(`{"state":"disabled"}`), Version: 2, UpdatedAt: at(time.Hour), UpdatedBy: "token:ci"}
		equal(t, "updated", p, v2)
		got, err := s.GetPolicy(t.Context(), "fido2")
		ok(t, err)
		equal(t, "stored", got, v2)
	}},
	{"fn_error_writes_nothing_even_for_a_new_policy", func(t *testing.T, s storage.Storage) {
		refuse := func(p storage.Policy) (storage.Policy, error) { return p, errFn }
		_, err := s.UpdatePolicy(t.Context(), "fido2", refuse)
		is(t, err, errFn)
		_, err = s.GetPolicy(t.Context(), "fido2")
		is(t, err, storage.ErrNotFound)
		_, err = s.UpdatePolicy(t.Context(), "tap", func(p storage.Policy) (storage.Policy, error) { return p, nil })
		ok(t, err)
		_, err = s.UpdatePolicy(t.Context(), "tap", refuse)
		is(t, err, errFn)
		v, err := s.PolicyVersions(t.Context())
		ok(t, err)
		equal(t, "versions", v, map[string]int64{"tap": 1})
	}},
	{"versions_lists_every_policy", func(t *testing.T, s storage.Storage) {
		touch := func(p storage.Policy) (storage.Policy, error) { return p, nil }
		for _, name := range []string{"fido2", "fido2", "fido2", "tap"} {
			_, err := s.UpdatePolicy(t.Context(), name, touch)
			ok(t, err)
		}
		v, err := s.PolicyVersions(t.Context())
		ok(t, err)
		equal(t, "versions", v, map[string]int64{"fido2": 3, "tap": 1})
	}},
	{"concurrent_updates_lose_nothing", func(t *testing.T, s storage.Storage) {
		const writers = 10
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for range writers {
			wg.Go(func() {
				_, err := s.UpdatePolicy(t.Context(), "counter", func(p storage.Policy) (storage.Policy, error) {
					p.UpdatedBy = fmt.Sprint(p.Version) // records which version fn saw
					return p, nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			ok(t, err)
		}
		p, err := s.GetPolicy(t.Context(), "counter")
		ok(t, err)
		equal(t, "version", p.Version, int64(writers))
		equal(t, "fn saw the previous version", p.UpdatedBy, fmt.Sprint(writers-1))
	}},
}

var auditTests = []test{
	{"append_and_list_newest_first_with_filters", func(t *testing.T, s storage.Storage) {
		events := []storage.AuditEvent{
			{ID: "1", Time: t0, Actor: "cli", Action: "user.create", Target: "u1", Details: []byte(`{"upn":"a@x.org"}`)},
			{ID: "2", Time: at(time.Minute), Actor: "token:ci", Action: "group.create", Target: "g1"},
			{ID: "3", Time: at(2 * time.Minute), Actor: "cli", Action: "user.update", Target: "u1"},
		}
		for _, e := range events {
			ok(t, appendAudit(t, s, e))
		}
		got, err := s.ListAudit(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "all", got, []storage.AuditEvent{events[2], events[1], events[0]})
		got, err = s.ListAudit(t.Context(), storage.EventFilter{UserID: "u1", Since: at(time.Second)})
		ok(t, err)
		equal(t, "target u1 since", got, []storage.AuditEvent{events[2]})
		got, err = s.ListAudit(t.Context(), storage.EventFilter{Limit: 1})
		ok(t, err)
		equal(t, "limit", got, []storage.AuditEvent{events[2]})
	}},
	{"empty_id_gets_one", func(t *testing.T, s storage.Storage) {
		ok(t, appendAudit(t, s, storage.AuditEvent{Time: t0, Actor: "cli", Action: "x"}))
		ok(t, appendAudit(t, s, storage.AuditEvent{Time: t0, Actor: "cli", Action: "x"}))
		got, err := s.ListAudit(t.Context(), storage.EventFilter{})
		ok(t, err)
		if len(got) != 2 || got[0].ID == "" || got[0].ID == got[1].ID {
			t.Fatalf("events = %s, want two with distinct IDs", show(got))
		}
	}},
}

func blobN(n int) storage.MDSBlob {
	return storage.MDSBlob{Number: n, NextUpdate: at(time.Duration(n) * 24 * time.Hour),
		Raw: fmt.Appendf(nil, "eyJ.blob-%d.sig", n), Source: "https://mds3.fidoalliance.org/", ImportedAt: t0}
}

var mdsTests = []test{
	{"empty_has_number_0_and_no_blob", func(t *testing.T, s storage.Storage) {
		n, err := s.MDSBlobNumber(t.Context())
		ok(t, err)
		equal(t, "number", n, 0)
		_, err = s.GetMDSBlob(t.Context())
		is(t, err, storage.ErrNotFound)
	}},
	{"newest_number_wins_and_older_or_equal_is_conflict", func(t *testing.T, s storage.Storage) {
		ok(t, s.PutMDSBlob(t.Context(), blobN(50)))
		is(t, s.PutMDSBlob(t.Context(), blobN(49)), storage.ErrConflict)
		is(t, s.PutMDSBlob(t.Context(), blobN(50)), storage.ErrConflict)
		got, err := s.GetMDSBlob(t.Context())
		ok(t, err)
		equal(t, "blob", got, blobN(50))
		for n := 51; n <= 56; n++ {
			ok(t, s.PutMDSBlob(t.Context(), blobN(n)))
		}
		got, err = s.GetMDSBlob(t.Context())
		ok(t, err)
		equal(t, "blob", got, blobN(56))
		num, err := s.MDSBlobNumber(t.Context())
		ok(t, err)
		equal(t, "number", num, 56)
		is(t, s.PutMDSBlob(t.Context(), blobN(52)), storage.ErrConflict)
	}},
	{"non_positive_number_is_refused", func(t *testing.T, s storage.Storage) {
		err := s.PutMDSBlob(t.Context(), blobN(0))
		if err == nil || errors.Is(err, storage.ErrConflict) {
			t.Fatalf("PutMDSBlob(0) = %v, want a validation error", err)
		}
	}},
}

// oneSignInWon checks the outcome of sign-ins raced with one challenge: exactly
// one succeeded, every other was refused as ErrNotFound (the challenge was
// used up), and the sign-in log holds exactly one record.
func oneSignInWon(t *testing.T, s storage.Storage, errs []error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("loser error = %v, want ErrNotFound", err)
		}
	}
	equal(t, "winners", wins, 1)
	events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
	ok(t, err)
	equal(t, "events", len(events), 1)
}
