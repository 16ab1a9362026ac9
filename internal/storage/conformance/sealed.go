package conformance

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

func usedChallenge() *storage.UsedChallenge {
	return &storage.UsedChallenge{ID: uuid.NewString(), ExpiresAt: at(5 * time.Minute)}
}

var sealedChallengeTests = []test{
	{"a_sealed_challenge_is_used_once", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		used := usedChallenge()
		first := signIn(u, c, at(time.Minute))
		first.Used = used
		ok(t, s.RecordSignIn(t.Context(), first))

		// The same challenge again — a success or a refusal — writes nothing.
		cur, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		again := signIn(u, cur, at(2*time.Minute))
		again.Used = &storage.UsedChallenge{ID: used.ID, ExpiresAt: at(time.Hour)}
		is(t, s.RecordSignIn(t.Context(), again), storage.ErrNotFound)
		after, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "credential unchanged", after, cur)
		_, err = s.GetSession(t.Context(), again.Session.ID)
		is(t, err, storage.ErrNotFound)
		fail := storage.SignInRecord{Used: used, Event: failure(u.ID, at(3*time.Minute))}
		is(t, s.RecordSignIn(t.Context(), fail), storage.ErrNotFound)
		flag := storage.SignInRecord{Used: used, FlagCredential: c.ID, Event: failure(u.ID, at(3*time.Minute))}
		is(t, s.RecordSignIn(t.Context(), flag), storage.ErrNotFound)
		events, err := s.ListSignInEvents(t.Context(), storage.EventFilter{})
		ok(t, err)
		equal(t, "events", len(events), 1)

		// A refusal uses a challenge up too.
		refused := usedChallenge()
		ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Used: refused, Event: failure(u.ID, at(time.Minute))}))
		late := signIn(u, after, at(4*time.Minute))
		late.Used = refused
		is(t, s.RecordSignIn(t.Context(), late), storage.ErrNotFound)

		bad := signIn(u, after, at(4*time.Minute))
		bad.Used = &storage.UsedChallenge{ExpiresAt: at(time.Minute)}
		if err := s.RecordSignIn(t.Context(), bad); err == nil {
			t.Fatal("a sealed challenge without an ID was recorded")
		}
	}},
	{"racing_records_with_one_sealed_challenge_record_once", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		c := mustCredential(t, s, u.ID)
		used := usedChallenge()
		var wg sync.WaitGroup
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range errs {
			wg.Go(func() {
				r := signIn(u, c, at(time.Minute))
				if i%2 == 1 { // refusals race successes for the same challenge
					r = storage.SignInRecord{Event: failure(u.ID, at(time.Minute))}
				}
				r.Used = used
				<-start
				errs[i] = s.RecordSignIn(t.Context(), r)
			})
		}
		close(start)
		wg.Wait()
		oneSignInWon(t, s, errs)
	}},
	{"a_registration_uses_a_sealed_challenge_once", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		used := usedChallenge()
		ok(t, s.UseChallenge(t.Context(), *used))
		is(t, s.UseChallenge(t.Context(), *used), storage.ErrNotFound)
		// Sign-ins and registrations share the used IDs: neither takes
		// the other's.
		is(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Used: used, Event: failure(u.ID, at(time.Minute))}), storage.ErrNotFound)
		signedIn := usedChallenge()
		ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Used: signedIn, Event: failure(u.ID, at(time.Minute))}))
		is(t, s.UseChallenge(t.Context(), *signedIn), storage.ErrNotFound)
		if err := s.UseChallenge(t.Context(), storage.UsedChallenge{ExpiresAt: at(time.Minute)}); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a challenge without an ID: %v, want a plain error", err)
		}
		// It sweeps with the others.
		ok(t, s.UseChallenge(t.Context(), storage.UsedChallenge{ID: uuid.NewString(), ExpiresAt: t0}))
		n, err := s.DeleteExpiredChallenges(t.Context(), t0, 10)
		ok(t, err)
		equal(t, "swept", n, 1)
	}},
	{"a_challenge_used_in_an_audited_change_is_used_when_it_commits", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		used := usedChallenge()
		event := storage.AuditEvent{ID: uuid.NewString(), Time: t0, Actor: "user:" + u.ID, Action: "user.fido2Method.create", Target: u.ID}
		refused := errors.New("refused after the challenge was used")
		err := storage.Record(t.Context(), s, event, nil, func(ctx context.Context) error {
			ok(t, s.UseChallenge(ctx, *used))
			return refused
		})
		is(t, err, refused)
		// Undone with the change: still usable, and no key was stored.
		c := newCredential(u.ID)
		event.ID = uuid.NewString()
		ok(t, storage.Record(t.Context(), s, event, nil, func(ctx context.Context) error {
			if err := s.UseChallenge(ctx, *used); err != nil {
				return err
			}
			return s.CreateCredential(ctx, c)
		}))
		is(t, s.UseChallenge(t.Context(), *used), storage.ErrNotFound)
		creds, err := s.ListUserCredentials(t.Context(), u.ID)
		ok(t, err)
		equal(t, "credentials", len(creds), 1)
		equal(t, "audit records", auditCount(t, s), 1)
	}},
	{"racing_registrations_with_one_sealed_challenge_store_one_key", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		used := usedChallenge()
		wins := race(t, func() error {
			c := newCredential(u.ID)
			event := storage.AuditEvent{ID: uuid.NewString(), Time: t0, Actor: "user:" + u.ID, Action: "user.fido2Method.create", Target: u.ID}
			return storage.Record(t.Context(), s, event, nil, func(ctx context.Context) error {
				if err := s.UseChallenge(ctx, *used); err != nil {
					return err
				}
				return s.CreateCredential(ctx, c)
			})
		})
		equal(t, "winners", wins, 1)
		creds, err := s.ListUserCredentials(t.Context(), u.ID)
		ok(t, err)
		equal(t, "credentials", len(creds), 1)
		equal(t, "audit records", auditCount(t, s), 1)
	}},
	{"challenge_keys_are_shared_until_they_expire", func(t *testing.T, s storage.Storage) {
		old := storage.ChallengeKey{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: t0, ExpiresAt: at(time.Hour)}
		cur := storage.ChallengeKey{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210"), CreatedAt: at(time.Minute), ExpiresAt: at(2 * time.Hour)}
		ok(t, s.CreateChallengeKey(t.Context(), old))
		ok(t, s.CreateChallengeKey(t.Context(), cur))
		is(t, s.CreateChallengeKey(t.Context(), old), storage.ErrAlreadyExists)
		if err := s.CreateChallengeKey(t.Context(), storage.ChallengeKey{ID: "k3", CreatedAt: t0, ExpiresAt: at(time.Hour)}); err == nil {
			t.Fatal("a key without a secret was stored")
		}
		keys, err := s.ListChallengeKeys(t.Context(), at(time.Minute))
		ok(t, err)
		equal(t, "keys, newest first", keys, []storage.ChallengeKey{cur, old})
		keys, err = s.ListChallengeKeys(t.Context(), at(time.Hour))
		ok(t, err)
		equal(t, "keys after the first expired", keys, []storage.ChallengeKey{cur})
	}},
	{"the_sweep_deletes_expired_used_challenges_and_keys", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		expired := &storage.UsedChallenge{ID: uuid.NewString(), ExpiresAt: t0}
		live := usedChallenge()
		for _, used := range []*storage.UsedChallenge{expired, live} {
			ok(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Used: used, Event: failure(u.ID, t0)}))
		}
		ok(t, s.CreateChallengeKey(t.Context(), storage.ChallengeKey{ID: "old", Secret: []byte("x"), CreatedAt: t0, ExpiresAt: t0}))
		ok(t, s.CreateChallengeKey(t.Context(), storage.ChallengeKey{ID: "new", Secret: []byte("y"), CreatedAt: t0, ExpiresAt: at(time.Hour)}))
		n, err := s.DeleteExpiredChallenges(t.Context(), t0, 10)
		ok(t, err)
		equal(t, "deleted", n, 2)
		// The live one is still refused; the swept one's challenge has expired.
		is(t, s.RecordSignIn(t.Context(), storage.SignInRecord{Used: live, Event: failure(u.ID, t0)}), storage.ErrNotFound)
		keys, err := s.ListChallengeKeys(t.Context(), t0.Add(-time.Hour))
		ok(t, err)
		equal(t, "keys left", len(keys), 1)
	}},
	{"the_sweep_of_used_challenges_goes_in_batches_earliest_first", func(t *testing.T, s storage.Storage) {
		var used []storage.UsedChallenge // made latest expiry first
		for _, exp := range []time.Duration{-time.Minute, -2 * time.Minute, -3 * time.Minute} {
			c := storage.UsedChallenge{ID: uuid.NewString(), ExpiresAt: at(exp)}
			ok(t, s.UseChallenge(t.Context(), c))
			used = append(used, c)
		}
		live := usedChallenge()
		ok(t, s.UseChallenge(t.Context(), *live))
		ok(t, s.CreateChallengeKey(t.Context(), storage.ChallengeKey{ID: "old", Secret: []byte("x"), CreatedAt: t0, ExpiresAt: t0}))
		keysLeft := func() int {
			keys, err := s.ListChallengeKeys(t.Context(), t0.Add(-time.Hour))
			ok(t, err)
			return len(keys)
		}
		n, err := s.DeleteExpiredChallenges(t.Context(), t0, 2)
		ok(t, err)
		equal(t, "deleted in the first batch", n, 2)
		// The latest expired one is still there (using it again is
		// refused); the key waits for the used challenges to be gone.
		is(t, s.UseChallenge(t.Context(), used[0]), storage.ErrNotFound)
		equal(t, "keys after a full batch", keysLeft(), 1)
		n, err = s.DeleteExpiredChallenges(t.Context(), t0, 2)
		ok(t, err)
		equal(t, "deleted in the last batch: a used challenge and the key", n, 2)
		equal(t, "keys after the last batch", keysLeft(), 0)
		n, err = s.DeleteExpiredChallenges(t.Context(), t0, 2)
		ok(t, err)
		equal(t, "deleted when nothing is left", n, 0)
		is(t, s.UseChallenge(t.Context(), *live), storage.ErrNotFound)
		if _, err := s.DeleteExpiredChallenges(t.Context(), t0, 0); err == nil {
			t.Fatal("a batch of 0: no error")
		}
	}},
}
