package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

func newTOTP(userID string) storage.TOTPMethod {
	return storage.TOTPMethod{UserID: userID, Secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", CreatedAt: t0}
}

var totpTests = []test{
	{"create_get_update_delete", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "t@x.org")
		m := newTOTP(u.ID)
		ok(t, s.CreateTOTP(t.Context(), m))
		got, err := s.GetTOTP(t.Context(), u.ID)
		ok(t, err)
		equal(t, "get", got, m)
		upd, err := s.UpdateTOTP(t.Context(), u.ID, func(old storage.TOTPMethod) (storage.TOTPMethod, error) {
			equal(t, "fn input", old, m)
			old.UserID, old.CreatedAt = "other", at(time.Hour)
			old.Confirmed, old.LastUsedStep, old.LastUsedAt = true, 59_000_123, ptr(at(time.Minute))
			return old, nil
		})
		ok(t, err)
		want := m
		want.Confirmed, want.LastUsedStep, want.LastUsedAt = true, 59_000_123, ptr(at(time.Minute))
		equal(t, "returned", upd, want)
		got, err = s.GetTOTP(t.Context(), u.ID)
		ok(t, err)
		equal(t, "stored", got, want)
		ok(t, s.DeleteTOTP(t.Context(), u.ID))
		_, err = s.GetTOTP(t.Context(), u.ID)
		is(t, err, storage.ErrNotFound)
	}},
	{"one_per_user_and_unknown_user_is_conflict", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "t@x.org")
		ok(t, s.CreateTOTP(t.Context(), newTOTP(u.ID)))
		is(t, s.CreateTOTP(t.Context(), newTOTP(u.ID)), storage.ErrAlreadyExists)
		is(t, s.CreateTOTP(t.Context(), newTOTP("missing-user")), storage.ErrConflict)
		bad := newTOTP(u.ID)
		bad.Secret = ""
		if err := s.CreateTOTP(t.Context(), bad); err == nil {
			t.Fatal("a TOTP method without a secret was stored")
		}
	}},
	{"unknown_is_not_found", func(t *testing.T, s storage.Storage) {
		_, err := s.GetTOTP(t.Context(), "missing")
		is(t, err, storage.ErrNotFound)
		_, err = s.UpdateTOTP(t.Context(), "missing", func(m storage.TOTPMethod) (storage.TOTPMethod, error) { return m, nil })
		is(t, err, storage.ErrNotFound)
		is(t, s.DeleteTOTP(t.Context(), "missing"), storage.ErrNotFound)
	}},
	{"update_fn_error_is_returned_and_writes_nothing", func(t *testing.T, s storage.Storage) {
		m := newTOTP(mustUser(t, s, "t@x.org").ID)
		ok(t, s.CreateTOTP(t.Context(), m))
		_, err := s.UpdateTOTP(t.Context(), m.UserID, func(old storage.TOTPMethod) (storage.TOTPMethod, error) {
			old.LastUsedStep = 9
			return old, errFn
		})
		is(t, err, errFn)
		got, err := s.GetTOTP(t.Context(), m.UserID)
		ok(t, err)
		equal(t, "stored", got, m)
	}},
	{"concurrent_updates_accept_one_code_step_once", func(t *testing.T, s storage.Storage) {
		m := newTOTP(mustUser(t, s, "t@x.org").ID)
		m.Confirmed = true
		ok(t, s.CreateTOTP(t.Context(), m))
		// Each racer presents a code of step 100; only the first to see the
		// old LastUsedStep may accept it, as the sign-in flow does.
		wins := race(t, func() error {
			_, err := s.UpdateTOTP(t.Context(), m.UserID, func(old storage.TOTPMethod) (storage.TOTPMethod, error) {
				if old.LastUsedStep >= 100 {
					return old, storage.ErrNotFound
				}
				old.LastUsedStep = 100
				return old, nil
			})
			return err
		})
		equal(t, "winners", wins, 1)
	}},
}

func newTAP(userID string) storage.TemporaryAccessPass {
	return storage.TemporaryAccessPass{ID: uuid.NewString(), UserID: userID, Hash: randomBytes(32),
		CreatedAt: t0, StartAt: t0, ExpiresAt: at(time.Hour), CreatedBy: "token:helpdesk"}
}

var tapTests = []test{
	{"create_list_and_delete", func(t *testing.T, s storage.Storage) {
		u, other := mustUser(t, s, "t@x.org"), mustUser(t, s, "o@x.org")
		newer, older := newTAP(u.ID), newTAP(u.ID)
		newer.CreatedAt, newer.IsUsableOnce, newer.UsedAt = at(time.Minute), true, ptr(at(2*time.Minute))
		ok(t, s.CreateTAP(t.Context(), newer))
		ok(t, s.CreateTAP(t.Context(), older))
		ok(t, s.CreateTAP(t.Context(), newTAP(other.ID)))
		list, err := s.ListUserTAPs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "list", list, []storage.TemporaryAccessPass{older, newer})
		ok(t, s.DeleteTAP(t.Context(), older.ID))
		is(t, s.DeleteTAP(t.Context(), older.ID), storage.ErrNotFound)
		list, err = s.ListUserTAPs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "after delete", list, []storage.TemporaryAccessPass{newer})
		none, err := s.ListUserTAPs(t.Context(), "missing")
		ok(t, err)
		equal(t, "none", len(none), 0)
	}},
	{"taken_id_or_hash_is_already_exists_and_unknown_user_is_conflict", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "t@x.org")
		p := newTAP(u.ID)
		ok(t, s.CreateTAP(t.Context(), p))
		sameID, sameHash := newTAP(u.ID), newTAP(u.ID)
		sameID.ID, sameHash.Hash = p.ID, p.Hash
		is(t, s.CreateTAP(t.Context(), sameID), storage.ErrAlreadyExists)
		is(t, s.CreateTAP(t.Context(), sameHash), storage.ErrAlreadyExists)
		is(t, s.CreateTAP(t.Context(), newTAP("missing-user")), storage.ErrConflict)
		noHash := newTAP(u.ID)
		noHash.Hash = nil
		if err := s.CreateTAP(t.Context(), noHash); err == nil {
			t.Fatal("a pass without a hash was stored")
		}
	}},
	{"one_time_pass_is_used_once", func(t *testing.T, s storage.Storage) {
		p := newTAP(mustUser(t, s, "t@x.org").ID)
		p.IsUsableOnce = true
		ok(t, s.CreateTAP(t.Context(), p))
		got, err := s.UseTAP(t.Context(), p.Hash, at(time.Minute))
		ok(t, err)
		want := p
		want.UsedAt = ptr(at(time.Minute))
		equal(t, "used", got, want)
		_, err = s.UseTAP(t.Context(), p.Hash, at(2*time.Minute))
		is(t, err, storage.ErrNotFound)
		list, err := s.ListUserTAPs(t.Context(), p.UserID)
		ok(t, err)
		equal(t, "stored", list, []storage.TemporaryAccessPass{want})
	}},
	{"multi_use_pass_works_until_it_expires", func(t *testing.T, s storage.Storage) {
		p := newTAP(mustUser(t, s, "t@x.org").ID)
		ok(t, s.CreateTAP(t.Context(), p))
		for _, d := range []time.Duration{0, time.Minute, time.Hour - time.Microsecond} {
			got, err := s.UseTAP(t.Context(), p.Hash, at(d))
			ok(t, err)
			equal(t, "last use", got.UsedAt, ptr(at(d)))
		}
		_, err := s.UseTAP(t.Context(), p.Hash, p.ExpiresAt)
		is(t, err, storage.ErrNotFound)
	}},
	{"pass_is_not_usable_before_its_start_or_when_unknown", func(t *testing.T, s storage.Storage) {
		p := newTAP(mustUser(t, s, "t@x.org").ID)
		p.StartAt = at(time.Hour)
		p.ExpiresAt = at(2 * time.Hour)
		ok(t, s.CreateTAP(t.Context(), p))
		_, err := s.UseTAP(t.Context(), p.Hash, at(time.Hour-time.Microsecond))
		is(t, err, storage.ErrNotFound)
		_, err = s.UseTAP(t.Context(), randomBytes(32), at(time.Hour))
		is(t, err, storage.ErrNotFound)
		_, err = s.UseTAP(t.Context(), p.Hash, at(time.Hour))
		ok(t, err)
	}},
	{"concurrent_users_of_a_one_time_pass_have_exactly_one_winner", func(t *testing.T, s storage.Storage) {
		p := newTAP(mustUser(t, s, "t@x.org").ID)
		p.IsUsableOnce = true
		ok(t, s.CreateTAP(t.Context(), p))
		wins := race(t, func() error {
			_, err := s.UseTAP(t.Context(), p.Hash, at(time.Second))
			return err
		})
		equal(t, "winners", wins, 1)
	}},
	{"concurrent_users_of_a_multi_use_pass_all_win", func(t *testing.T, s storage.Storage) {
		p := newTAP(mustUser(t, s, "t@x.org").ID)
		ok(t, s.CreateTAP(t.Context(), p))
		wins := race(t, func() error {
			_, err := s.UseTAP(t.Context(), p.Hash, at(time.Second))
			return err
		})
		equal(t, "winners", wins, racers)
	}},
	{"delete_expired_removes_passes_expiring_at_or_before_now", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "t@x.org")
		var live []storage.TemporaryAccessPass
		for _, exp := range []time.Duration{-time.Hour, 0, time.Microsecond, time.Hour} {
			p := newTAP(u.ID)
			p.StartAt, p.ExpiresAt = at(-2*time.Hour), at(exp)
			ok(t, s.CreateTAP(t.Context(), p))
			if exp > 0 {
				live = append(live, p)
			}
		}
		n, err := s.DeleteExpiredTAPs(t.Context(), t0)
		ok(t, err)
		equal(t, "deleted", n, 2)
		list, err := s.ListUserTAPs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "left", len(list), len(live))
	}},
	{"replace_leaves_the_new_pass_alone_and_says_what_it_replaced", func(t *testing.T, s storage.Storage) {
		u, other := mustUser(t, s, "t@x.org"), mustUser(t, s, "o@x.org")
		first, second, others := newTAP(u.ID), newTAP(u.ID), newTAP(other.ID)
		second.CreatedAt = at(time.Minute) // listed, and replaced, oldest first
		ok(t, s.CreateTAP(t.Context(), first))
		ok(t, s.CreateTAP(t.Context(), second))
		ok(t, s.CreateTAP(t.Context(), others))
		next := newTAP(u.ID)
		replaced, err := s.ReplaceTAP(t.Context(), next)
		ok(t, err)
		equal(t, "replaced", replaced, []string{first.ID, second.ID})
		list, err := s.ListUserTAPs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "passes", list, []storage.TemporaryAccessPass{next})
		list, err = s.ListUserTAPs(t.Context(), other.ID)
		ok(t, err)
		equal(t, "another user's pass", list, []storage.TemporaryAccessPass{others})
		replaced, err = s.ReplaceTAP(t.Context(), newTAP("missing-user"))
		is(t, err, storage.ErrConflict)
		equal(t, "replaced for nobody", len(replaced), 0)
	}},
	{"passes_issued_at_once_leave_exactly_one", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "t@x.org")
		for round := range 5 {
			issued := make([]storage.TemporaryAccessPass, racers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range issued {
				issued[i] = newTAP(u.ID)
				wg.Go(func() {
					<-start
					if _, err := s.ReplaceTAP(t.Context(), issued[i]); err != nil {
						t.Errorf("replace: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			list, err := s.ListUserTAPs(t.Context(), u.ID)
			ok(t, err)
			equal(t, fmt.Sprintf("round %d: passes left", round), len(list), 1)
		}
	}},
	{"user_deletion_removes_their_passes_and_app", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "t@x.org")
		p := newTAP(u.ID)
		ok(t, s.CreateTAP(t.Context(), p))
		ok(t, s.CreateTOTP(t.Context(), newTOTP(u.ID)))
		ok(t, s.DeleteUser(t.Context(), u.ID))
		_, err := s.UseTAP(t.Context(), p.Hash, at(time.Minute))
		is(t, err, storage.ErrNotFound)
		_, err = s.GetTOTP(t.Context(), u.ID)
		is(t, err, storage.ErrNotFound)
	}},
}

// hit counts one attempt against key with room to spare.
func hit(t *testing.T, s storage.Storage, key string, w time.Duration, now time.Time) {
	t.Helper()
	full, err := s.ReserveRateLimits(t.Context(), []storage.RateLimit{{Key: key, Max: 1000}}, w, now)
	ok(t, err)
	equal(t, "full limit", full, -1)
}

func count(t *testing.T, s storage.Storage, key string, w time.Duration, now time.Time) int {
	t.Helper()
	n, err := s.RateLimitCount(t.Context(), key, w, now)
	ok(t, err)
	return n
}

var rateLimitTests = []test{
	{"counts_within_a_fixed_window_and_restarts_in_the_next", func(t *testing.T, s storage.Storage) {
		const w = 15 * time.Minute
		start := t0.Truncate(w) // windows are aligned to the Unix epoch
		equal(t, "before any attempt", count(t, s, "pw:alice", w, start), 0)
		for i := 1; i <= 3; i++ {
			hit(t, s, "pw:alice", w, start.Add(time.Duration(i)*time.Minute))
			equal(t, "count", count(t, s, "pw:alice", w, start), i)
		}
		equal(t, "end of window", count(t, s, "pw:alice", w, start.Add(w-time.Microsecond)), 3)
		equal(t, "next window", count(t, s, "pw:alice", w, start.Add(w)), 0)
		hit(t, s, "pw:alice", w, start.Add(w))
		equal(t, "first attempt of next window", count(t, s, "pw:alice", w, start.Add(w)), 1)
	}},
	{"keys_and_window_lengths_are_separate_counters", func(t *testing.T, s storage.Storage) {
		for _, c := range []struct {
			key string
			w   time.Duration
		}{{"a", time.Minute}, {"a", time.Hour}, {"b", time.Minute}} {
			hit(t, s, c.key, c.w, t0)
			equal(t, c.key+" "+c.w.String(), count(t, s, c.key, c.w, t0), 1)
		}
	}},
	{"a_full_counter_refuses_and_nothing_is_counted", func(t *testing.T, s storage.Storage) {
		limits := []storage.RateLimit{{Key: "account:alice", Max: 3}, {Key: "ip:192.0.2.7", Max: 5}}
		for range 3 {
			full, err := s.ReserveRateLimits(t.Context(), limits, time.Hour, t0)
			ok(t, err)
			equal(t, "reserved", full, -1)
		}
		full, err := s.ReserveRateLimits(t.Context(), limits, time.Hour, t0)
		ok(t, err)
		equal(t, "full limit", full, 0)
		equal(t, "account", count(t, s, "account:alice", time.Hour, t0), 3)
		equal(t, "address, not counted for the refused attempt", count(t, s, "ip:192.0.2.7", time.Hour, t0), 3)
		// The address fills up through other accounts: its index is reported.
		other := []storage.RateLimit{{Key: "account:bob", Max: 3}, {Key: "ip:192.0.2.7", Max: 5}}
		for range 2 {
			full, err := s.ReserveRateLimits(t.Context(), other, time.Hour, t0)
			ok(t, err)
			equal(t, "reserved", full, -1)
		}
		full, err = s.ReserveRateLimits(t.Context(), other, time.Hour, t0)
		ok(t, err)
		equal(t, "full limit", full, 1)
		equal(t, "bob, not counted for the refused attempt", count(t, s, "account:bob", time.Hour, t0), 2)
	}},
	{"release_gives_an_attempt_back_but_not_below_zero", func(t *testing.T, s storage.Storage) {
		hit(t, s, "a", time.Hour, t0)
		hit(t, s, "a", time.Hour, t0)
		ok(t, s.ReleaseRateLimits(t.Context(), []string{"a", "never-hit"}, time.Hour, t0.Add(time.Minute)))
		equal(t, "after one release", count(t, s, "a", time.Hour, t0), 1)
		ok(t, s.ReleaseRateLimits(t.Context(), []string{"a"}, time.Hour, t0))
		ok(t, s.ReleaseRateLimits(t.Context(), []string{"a"}, time.Hour, t0))
		equal(t, "after more releases than attempts", count(t, s, "a", time.Hour, t0), 0)
		equal(t, "never hit", count(t, s, "never-hit", time.Hour, t0), 0)
	}},
	{"racing_reservations_never_pass_the_limit", func(t *testing.T, s storage.Storage) {
		// Rounds of 40 attempts at once against limits of 10 (per account)
		// and 25 (per address): exactly 10 get through each round.
		const attempts, rounds = 40, 5
		for round := range rounds {
			now := t0.Add(time.Duration(round) * time.Hour)
			var wg sync.WaitGroup
			start := make(chan struct{})
			results := make(chan int, attempts)
			for range attempts {
				wg.Go(func() {
					<-start
					full, err := s.ReserveRateLimits(t.Context(), []storage.RateLimit{
						{Key: "ip:192.0.2.7", Max: 25}, {Key: "account:alice", Max: 10}}, time.Hour, now)
					if err != nil {
						t.Errorf("reserve: %v", err)
					}
					results <- full
				})
			}
			close(start)
			wg.Wait()
			close(results)
			got := map[int]int{}
			for full := range results {
				got[full]++
			}
			equal(t, fmt.Sprintf("round %d: outcomes (-1 = reserved, 1 = account full)", round), got, map[int]int{-1: 10, 1: 30})
			equal(t, "account count", count(t, s, "account:alice", time.Hour, now), 10)
			equal(t, "address count", count(t, s, "ip:192.0.2.7", time.Hour, now), 10)
		}
	}},
	{"concurrent_reservations_and_releases_add_up", func(t *testing.T, s storage.Storage) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				if _, err := s.ReserveRateLimits(t.Context(), []storage.RateLimit{{Key: "ip:192.0.2.7", Max: 1000}}, time.Hour, t0); err != nil {
					t.Errorf("reserve: %v", err)
				}
				if i%2 == 0 {
					if err := s.ReleaseRateLimits(t.Context(), []string{"ip:192.0.2.7"}, time.Hour, t0); err != nil {
						t.Errorf("release: %v", err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		equal(t, "count", count(t, s, "ip:192.0.2.7", time.Hour, t0), racers/2)
	}},
	{"bad_key_limit_or_window_is_refused", func(t *testing.T, s storage.Storage) {
		for _, c := range []struct {
			key string
			max int
			w   time.Duration
		}{{"", 5, time.Minute}, {"k", 5, 0}, {"k", 5, -time.Minute}, {"k", 0, time.Minute}} {
			_, err := s.ReserveRateLimits(t.Context(), []storage.RateLimit{{Key: c.key, Max: c.max}}, c.w, t0)
			if err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("ReserveRateLimits(%q, %d, %v) = %v, want a validation error", c.key, c.max, c.w, err)
			}
		}
	}},
	{"delete_expired_removes_ended_windows", func(t *testing.T, s storage.Storage) {
		const w = time.Minute
		start := t0.Truncate(w)
		hit(t, s, "old", w, start.Add(-w))
		hit(t, s, "current", w, start)
		n, err := s.DeleteExpiredRateLimits(t.Context(), start)
		ok(t, err)
		equal(t, "deleted", n, 1)
		equal(t, "current kept", count(t, s, "current", w, start), 1)
	}},
}

var personTests = []test{
	{"admin_role_and_password_hash_round_trip", func(t *testing.T, s storage.Storage) {
		u := newUser("admin@x.org")
		u.AdminRole, u.PasswordHash = storage.RoleGlobalAdmin, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
		ok(t, s.CreateUser(t.Context(), u))
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "get", got, u)
		g := mustGroup(t, s, "Admins")
		ok(t, s.AddMember(t.Context(), g.ID, u.ID))
		members, _, err := s.ListMembers(t.Context(), g.ID, storage.Page{})
		ok(t, err)
		equal(t, "member", members, []storage.User{u})
		upd, err := s.UpdateUser(t.Context(), u.ID, func(old storage.User) (storage.User, error) {
			old.AdminRole, old.PasswordHash = storage.RoleReader, ""
			return old, nil
		})
		ok(t, err)
		list, _, err := s.ListUsers(t.Context(), storage.Page{})
		ok(t, err)
		equal(t, "listed", list, []storage.User{upd})
		equal(t, "role", upd.AdminRole, storage.RoleReader)
	}},
	{"pending_second_factor_round_trips_and_updates", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "p@x.org")
		ss := newSession(u.ID)
		ss.SecondFactorPending, ss.AuthMethods, ss.MFAAt = true, []string{"pwd"}, time.Time{}
		ok(t, s.CreateSession(t.Context(), ss))
		got, err := s.GetSession(t.Context(), ss.ID)
		ok(t, err)
		equal(t, "get", got, ss)
		got, err = s.UpdateSession(t.Context(), ss.ID, func(old storage.Session) (storage.Session, error) {
			old.SecondFactorPending = false
			return old, nil
		})
		ok(t, err)
		equal(t, "pending after update", got.SecondFactorPending, false)
		other := newSession(u.ID)
		other.SecondFactorPending = true
		ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Session: &other,
			Event: storage.SignInEvent{Time: t0, UserID: u.ID, Method: "password", Result: storage.ResultSuccess}}))
		got, err = s.GetSession(t.Context(), other.ID)
		ok(t, err)
		equal(t, "recorded", got, other)
	}},
}
