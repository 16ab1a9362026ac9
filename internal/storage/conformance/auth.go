package conformance

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// racers is how many goroutines race for one single-use record.
const racers = 20

// race runs fn from racers goroutines at once and returns how many succeeded;
// every failure must be ErrNotFound (not a lock or busy error).
func race(t *testing.T, fn func() error) int {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, racers)
	for range racers {
		wg.Go(func() {
			<-start
			errs <- fn()
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrNotFound):
			t.Errorf("a loser got %v, want ErrNotFound", err)
		}
	}
	return wins
}

func newAPIToken(name string) storage.APIToken {
	return storage.APIToken{ID: uuid.NewString(), Name: name, Role: storage.RoleReader,
		SecretHash: randomBytes(32), CreatedAt: t0}
}

var apiTokenTests = []test{
	{"create_get_by_hash_and_list_by_name", func(t *testing.T, s storage.Storage) {
		b, a := newAPIToken("backup-job"), newAPIToken("audit-export")
		a.Role = storage.RoleGlobalAdmin
		ok(t, s.CreateAPIToken(t.Context(), b))
		ok(t, s.CreateAPIToken(t.Context(), a))
		got, err := s.GetAPITokenByHash(t.Context(), a.SecretHash)
		ok(t, err)
		equal(t, "by hash", got, a)
		list, err := s.ListAPITokens(t.Context())
		ok(t, err)
		equal(t, "list", list, []storage.APIToken{a, b})
	}},
	{"id_name_and_hash_are_unique", func(t *testing.T, s storage.Storage) {
		orig := newAPIToken("ci")
		ok(t, s.CreateAPIToken(t.Context(), orig))
		sameID, sameName, sameHash := newAPIToken("x"), newAPIToken("ci"), newAPIToken("y")
		sameID.ID, sameHash.SecretHash = orig.ID, orig.SecretHash
		for _, tok := range []storage.APIToken{sameID, sameName, sameHash} {
			is(t, s.CreateAPIToken(t.Context(), tok), storage.ErrAlreadyExists)
		}
	}},
	{"unknown_hash_is_not_found", func(t *testing.T, s storage.Storage) {
		_, err := s.GetAPITokenByHash(t.Context(), randomBytes(32))
		is(t, err, storage.ErrNotFound)
	}},
	{"revoke_by_id_or_name_keeps_the_first_time", func(t *testing.T, s storage.Storage) {
		a, b := newAPIToken("a"), newAPIToken("b")
		ok(t, s.CreateAPIToken(t.Context(), a))
		ok(t, s.CreateAPIToken(t.Context(), b))
		ok(t, s.RevokeAPIToken(t.Context(), a.ID, at(time.Hour)))
		ok(t, s.RevokeAPIToken(t.Context(), "b", at(2*time.Hour)))
		ok(t, s.RevokeAPIToken(t.Context(), "b", at(3*time.Hour)))
		got, err := s.GetAPITokenByHash(t.Context(), a.SecretHash)
		ok(t, err)
		equal(t, "a revoked", got.RevokedAt, ptr(at(time.Hour)))
		got, err = s.GetAPITokenByHash(t.Context(), b.SecretHash)
		ok(t, err)
		equal(t, "b revoked", got.RevokedAt, ptr(at(2*time.Hour)))
	}},
	{"revoke_unknown_is_not_found", func(t *testing.T, s storage.Storage) {
		is(t, s.RevokeAPIToken(t.Context(), "nope", t0), storage.ErrNotFound)
	}},
}

func newOneTimeToken(userID string) storage.OneTimeToken {
	return storage.OneTimeToken{Hash: randomBytes(32), Purpose: "setup", UserID: userID,
		CreatedAt: t0, ExpiresAt: at(time.Hour)}
}

var oneTimeTokenTests = []test{
	{"get_does_not_consume_and_consume_works_once", func(t *testing.T, s storage.Storage) {
		tok := newOneTimeToken("")
		ok(t, s.CreateOneTimeToken(t.Context(), tok))
		got, err := s.GetOneTimeToken(t.Context(), "setup", tok.Hash)
		ok(t, err)
		equal(t, "get", got, tok)
		used, err := s.ConsumeOneTimeToken(t.Context(), "setup", tok.Hash, at(time.Minute))
		ok(t, err)
		want := tok
		want.UsedAt = ptr(at(time.Minute))
		equal(t, "consumed", used, want)
		_, err = s.ConsumeOneTimeToken(t.Context(), "setup", tok.Hash, at(2*time.Minute))
		is(t, err, storage.ErrNotFound)
		got, err = s.GetOneTimeToken(t.Context(), "setup", tok.Hash)
		ok(t, err)
		equal(t, "after use", got, want)
	}},
	{"token_of_a_user_round_trips", func(t *testing.T, s storage.Storage) {
		tok := newOneTimeToken(mustUser(t, s, "new@x.org").ID)
		tok.Purpose = "tap"
		ok(t, s.CreateOneTimeToken(t.Context(), tok))
		got, err := s.GetOneTimeToken(t.Context(), "tap", tok.Hash)
		ok(t, err)
		equal(t, "get", got, tok)
	}},
	{"wrong_purpose_unknown_hash_or_expired_is_not_found", func(t *testing.T, s storage.Storage) {
		tok := newOneTimeToken("")
		ok(t, s.CreateOneTimeToken(t.Context(), tok))
		_, err := s.ConsumeOneTimeToken(t.Context(), "tap", tok.Hash, t0)
		is(t, err, storage.ErrNotFound)
		_, err = s.GetOneTimeToken(t.Context(), "tap", tok.Hash)
		is(t, err, storage.ErrNotFound)
		_, err = s.ConsumeOneTimeToken(t.Context(), "setup", randomBytes(32), t0)
		is(t, err, storage.ErrNotFound)
		_, err = s.ConsumeOneTimeToken(t.Context(), "setup", tok.Hash, tok.ExpiresAt)
		is(t, err, storage.ErrNotFound)
		// Still usable just before it expires.
		_, err = s.ConsumeOneTimeToken(t.Context(), "setup", tok.Hash, tok.ExpiresAt.Add(-time.Microsecond))
		ok(t, err)
	}},
	{"duplicate_is_already_exists_and_unknown_user_is_conflict", func(t *testing.T, s storage.Storage) {
		tok := newOneTimeToken("")
		ok(t, s.CreateOneTimeToken(t.Context(), tok))
		is(t, s.CreateOneTimeToken(t.Context(), tok), storage.ErrAlreadyExists)
		is(t, s.CreateOneTimeToken(t.Context(), newOneTimeToken("missing-user")), storage.ErrConflict)
	}},
	{"concurrent_consumers_have_exactly_one_winner", func(t *testing.T, s storage.Storage) {
		tok := newOneTimeToken("")
		ok(t, s.CreateOneTimeToken(t.Context(), tok))
		wins := race(t, func() error {
			_, err := s.ConsumeOneTimeToken(t.Context(), "setup", tok.Hash, at(time.Second))
			return err
		})
		equal(t, "winners", wins, 1)
	}},
}

var firstUserTests = []test{
	{"created_while_there_are_no_users_using_up_the_token", func(t *testing.T, s storage.Storage) {
		tok, spare := newOneTimeToken(""), newOneTimeToken("")
		ok(t, s.CreateOneTimeToken(t.Context(), tok))
		ok(t, s.CreateOneTimeToken(t.Context(), spare))
		u := newUser("admin@x.org")
		u.AdminRole = storage.RoleGlobalAdmin
		ok(t, s.CreateFirstUser(t.Context(), u, "setup", tok.Hash, at(time.Minute)))
		got, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "user", got, u)
		used, err := s.GetOneTimeToken(t.Context(), "setup", tok.Hash)
		ok(t, err)
		equal(t, "token used at", used.UsedAt, ptr(at(time.Minute)))

		// A second first user is refused, and the spare token stays unused.
		is(t, s.CreateFirstUser(t.Context(), newUser("second@x.org"), "setup", spare.Hash, at(time.Minute)), storage.ErrConflict)
		left, err := s.GetOneTimeToken(t.Context(), "setup", spare.Hash)
		ok(t, err)
		equal(t, "spare token", left, spare)
		n, err := s.CountUsers(t.Context())
		ok(t, err)
		equal(t, "users", n, 1)
	}},
	{"unusable_token_is_not_found_and_creates_nobody", func(t *testing.T, s storage.Storage) {
		tok := newOneTimeToken("")
		ok(t, s.CreateOneTimeToken(t.Context(), tok))
		for name, c := range map[string]struct {
			purpose string
			hash    []byte
			now     time.Time
		}{
			"unknown": {"setup", randomBytes(32), t0}, "other purpose": {"tap", tok.Hash, t0},
			"expired": {"setup", tok.Hash, tok.ExpiresAt},
		} {
			if err := s.CreateFirstUser(t.Context(), newUser("admin@x.org"), c.purpose, c.hash, c.now); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("%s token: got %v, want ErrNotFound", name, err)
			}
		}
		n, err := s.CountUsers(t.Context())
		ok(t, err)
		equal(t, "users", n, 0)
		_, err = s.ConsumeOneTimeToken(t.Context(), "setup", tok.Hash, t0)
		ok(t, err) // the refusals did not use it up
	}},
	{"racing_setups_each_with_a_valid_token_create_one_user", func(t *testing.T, s storage.Storage) {
		for round := range 5 {
			tokens := make([]storage.OneTimeToken, racers)
			for i := range tokens {
				tokens[i] = newOneTimeToken("")
				ok(t, s.CreateOneTimeToken(t.Context(), tokens[i]))
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, racers)
			for i := range racers {
				wg.Go(func() {
					<-start
					u := newUser(fmt.Sprintf("admin%d@x.org", i))
					errs[i] = s.CreateFirstUser(t.Context(), u, "setup", tokens[i].Hash, t0)
				})
			}
			close(start)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, storage.ErrConflict):
					t.Fatalf("round %d: a loser got %v, want ErrConflict", round, err)
				}
			}
			equal(t, fmt.Sprintf("round %d: first users created", round), wins, 1)
			users, _, err := s.ListUsers(t.Context(), storage.Page{})
			ok(t, err)
			equal(t, "users", len(users), 1)
			ok(t, s.DeleteUser(t.Context(), users[0].ID)) // empty again for the next round
		}
	}},
}

var sessionTests = []test{
	{"a_session_is_read_with_its_user", func(t *testing.T, s storage.Storage) {
		a, b := mustUser(t, s, "a@x.org"), mustUser(t, s, "b@x.org")
		sa, sb := newSession(a.ID), newSession(b.ID)
		ok(t, s.CreateSession(t.Context(), sa))
		ok(t, s.CreateSession(t.Context(), sb))
		for _, c := range []struct {
			sess storage.Session
			user storage.User
		}{{sa, a}, {sb, b}} {
			want, err := s.GetSession(t.Context(), c.sess.ID)
			ok(t, err)
			got, u, err := s.GetSessionWithUser(t.Context(), c.sess.ID)
			ok(t, err)
			equal(t, "session", got, want)
			equal(t, "user", u, c.user)
		}
		_, _, err := s.GetSessionWithUser(t.Context(), "no-such-session")
		is(t, err, storage.ErrNotFound)
		// Deleting the user ends the session: it is not found with a user gone.
		ok(t, s.DeleteUser(t.Context(), b.ID))
		_, _, err = s.GetSessionWithUser(t.Context(), sb.ID)
		is(t, err, storage.ErrNotFound)
	}},
	{"delete_user_sessions_ends_only_that_users", func(t *testing.T, s storage.Storage) {
		a, b := mustUser(t, s, "a@x.org"), mustUser(t, s, "b@x.org")
		a1, a2, b1 := newSession(a.ID), newSession(a.ID), newSession(b.ID)
		for _, ss := range []storage.Session{a1, a2, b1} {
			ok(t, s.CreateSession(t.Context(), ss))
		}
		n, err := s.DeleteUserSessions(t.Context(), a.ID, "")
		ok(t, err)
		equal(t, "deleted", n, 2)
		for _, id := range []string{a1.ID, a2.ID} {
			_, err := s.GetSession(t.Context(), id)
			is(t, err, storage.ErrNotFound)
		}
		_, err = s.GetSession(t.Context(), b1.ID)
		ok(t, err)
		n, err = s.DeleteUserSessions(t.Context(), a.ID, "")
		ok(t, err)
		equal(t, "deleted again", n, 0)
	}},
	{"delete_user_sessions_can_keep_one", func(t *testing.T, s storage.Storage) {
		a, b := mustUser(t, s, "a@x.org"), mustUser(t, s, "b@x.org")
		a1, a2, a3, b1 := newSession(a.ID), newSession(a.ID), newSession(a.ID), newSession(b.ID)
		for _, ss := range []storage.Session{a1, a2, a3, b1} {
			ok(t, s.CreateSession(t.Context(), ss))
		}
		n, err := s.DeleteUserSessions(t.Context(), a.ID, a2.ID)
		ok(t, err)
		equal(t, "deleted", n, 2)
		for _, id := range []string{a1.ID, a3.ID} {
			_, err := s.GetSession(t.Context(), id)
			is(t, err, storage.ErrNotFound)
		}
		for _, id := range []string{a2.ID, b1.ID} {
			_, err := s.GetSession(t.Context(), id)
			ok(t, err)
		}
		// Another user's session ID keeps nothing of this user's.
		n, err = s.DeleteUserSessions(t.Context(), a.ID, b1.ID)
		ok(t, err)
		equal(t, "deleted with a foreign exception", n, 1)
	}},
	{"create_get_update_delete", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "s@x.org")
		ss := newSession(u.ID)
		ok(t, s.CreateSession(t.Context(), ss))
		got, err := s.GetSession(t.Context(), ss.ID)
		ok(t, err)
		equal(t, "get", got, ss)
		upd, err := s.UpdateSession(t.Context(), ss.ID, func(old storage.Session) (storage.Session, error) {
			equal(t, "fn input", old, ss)
			old.ID, old.UserID, old.CreatedAt = "other", "other", at(time.Hour)
			old.LastSeenAt, old.AuthMethods = at(5*time.Minute), []string{"pwd"}
			old.MFAAt = time.Time{}
			return old, nil
		})
		ok(t, err)
		want := ss
		want.LastSeenAt, want.AuthMethods, want.MFAAt = at(5*time.Minute), []string{"pwd"}, time.Time{}
		equal(t, "update", upd, want)
		got, err = s.GetSession(t.Context(), ss.ID)
		ok(t, err)
		equal(t, "stored", got, want)
		ok(t, s.DeleteSession(t.Context(), ss.ID))
		_, err = s.GetSession(t.Context(), ss.ID)
		is(t, err, storage.ErrNotFound)
	}},
	{"session_without_mfa_or_methods_round_trips", func(t *testing.T, s storage.Storage) {
		ss := newSession(mustUser(t, s, "s@x.org").ID)
		ss.AuthMethods, ss.MFAAt = nil, time.Time{}
		ok(t, s.CreateSession(t.Context(), ss))
		got, err := s.GetSession(t.Context(), ss.ID)
		ok(t, err)
		equal(t, "get", got, ss)
	}},
	{"duplicate_id_is_already_exists_and_unknown_user_is_conflict", func(t *testing.T, s storage.Storage) {
		ss := newSession(mustUser(t, s, "s@x.org").ID)
		ok(t, s.CreateSession(t.Context(), ss))
		is(t, s.CreateSession(t.Context(), ss), storage.ErrAlreadyExists)
		is(t, s.CreateSession(t.Context(), newSession("missing-user")), storage.ErrConflict)
	}},
	{"u2f_key_keeps_its_attestation_key_id", func(t *testing.T, s storage.Storage) {
		c := newCredential(mustUser(t, s, "u2f@x.org").ID)
		c.AAGUID, c.AttestationFormat, c.AttestationKeyID = "00000000-0000-0000-0000-000000000000", "fido-u2f", "bf7bcaa0d0c6187a8c6abbdd16a15640e7c7bde2"
		ok(t, s.CreateCredential(t.Context(), c))
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "stored", got, c)
		got, err = s.UpdateCredential(t.Context(), c.ID, func(old storage.Credential) (storage.Credential, error) {
			old.AttestationKeyID = ""
			return old, nil
		})
		ok(t, err)
		equal(t, "updated key id", got.AttestationKeyID, "")
		got, err = s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "stored after update", got.AttestationKeyID, "")
	}},
	{"automatic_flag_is_stored_and_survives_an_update", func(t *testing.T, s storage.Storage) {
		c := newCredential(mustUser(t, s, "auto@x.org").ID)
		c.Automatic = true
		ok(t, s.CreateCredential(t.Context(), c))
		plain := newCredential(mustUser(t, s, "plain@x.org").ID)
		ok(t, s.CreateCredential(t.Context(), plain))
		_, err := s.UpdateCredential(t.Context(), c.ID, func(old storage.Credential) (storage.Credential, error) {
			old.DisplayName = "Renamed"
			return old, nil
		})
		ok(t, err)
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "automatic after rename", got.Automatic, true)
		got, err = s.GetCredential(t.Context(), plain.ID)
		ok(t, err)
		equal(t, "plain key", got.Automatic, false)
	}},
	{"update_fn_error_is_returned_and_writes_nothing", func(t *testing.T, s storage.Storage) {
		ss := newSession(mustUser(t, s, "s@x.org").ID)
		ok(t, s.CreateSession(t.Context(), ss))
		_, err := s.UpdateSession(t.Context(), ss.ID, func(old storage.Session) (storage.Session, error) {
			old.LastSeenAt = at(time.Hour)
			return old, errFn
		})
		is(t, err, errFn)
		got, err := s.GetSession(t.Context(), ss.ID)
		ok(t, err)
		equal(t, "stored", got, ss)
	}},
	{"unknown_session_is_not_found", func(t *testing.T, s storage.Storage) {
		_, err := s.GetSession(t.Context(), "missing")
		is(t, err, storage.ErrNotFound)
		_, err = s.UpdateSession(t.Context(), "missing", func(ss storage.Session) (storage.Session, error) { return ss, nil })
		is(t, err, storage.ErrNotFound)
		is(t, s.DeleteSession(t.Context(), "missing"), storage.ErrNotFound)
	}},
	{"delete_expired_removes_sessions_expiring_at_or_before_now", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "s@x.org")
		var ids []string
		for _, exp := range []time.Duration{-time.Hour, 0, time.Microsecond, time.Hour} {
			ss := newSession(u.ID)
			ss.ExpiresAt = at(exp)
			ok(t, s.CreateSession(t.Context(), ss))
			ids = append(ids, ss.ID)
		}
		n, err := s.DeleteExpiredSessions(t.Context(), t0, 10)
		ok(t, err)
		equal(t, "deleted", n, 2)
		for i, id := range ids {
			_, err := s.GetSession(t.Context(), id)
			if gone := errors.Is(err, storage.ErrNotFound); gone != (i < 2) {
				t.Fatalf("session %d: gone=%v, err=%v", i, gone, err)
			}
		}
	}},
	{"delete_expired_sessions_goes_in_batches_earliest_first", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "s@x.org")
		// Made in an order of their own, so that the order deleted is
		// the expiry's, not the insertion's or the ID's.
		exps := []time.Duration{-3 * time.Minute, -5 * time.Minute, time.Hour, -time.Minute, -4 * time.Minute, -2 * time.Minute}
		ids := map[time.Duration]string{}
		for _, exp := range exps {
			ss := newSession(u.ID)
			ss.ExpiresAt = at(exp)
			ok(t, s.CreateSession(t.Context(), ss))
			ids[exp] = ss.ID
		}
		gone := func(exp time.Duration) bool {
			_, err := s.GetSession(t.Context(), ids[exp])
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				t.Fatal(err)
			}
			return err != nil
		}
		for _, step := range []struct {
			n    int
			gone []time.Duration
		}{
			{2, []time.Duration{-5 * time.Minute, -4 * time.Minute}},
			{2, []time.Duration{-3 * time.Minute, -2 * time.Minute}},
			{1, []time.Duration{-time.Minute}},
			{0, nil},
		} {
			n, err := s.DeleteExpiredSessions(t.Context(), t0, 2)
			ok(t, err)
			equal(t, "deleted in the batch", n, step.n)
			for _, exp := range step.gone {
				if !gone(exp) {
					t.Fatalf("session expired at %v kept after a batch of %d", exp, step.n)
				}
			}
		}
		if gone(time.Hour) {
			t.Fatal("a live session was deleted")
		}
		for _, max := range []int{0, -1} {
			if _, err := s.DeleteExpiredSessions(t.Context(), t0, max); err == nil {
				t.Fatalf("a batch of %d: no error", max)
			}
		}
	}},
}

var credentialTests = []test{
	{"delete_user_credential_asks_the_check_with_the_users_methods", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		a, b := mustCredential(t, s, u.ID), newCredential(u.ID)
		b.CreatedAt = at(time.Minute) // listed oldest first
		ok(t, s.CreateCredential(t.Context(), b))
		p := newTAP(u.ID)
		ok(t, s.CreateTAP(t.Context(), p))
		other := mustCredential(t, s, mustUser(t, s, "b@x.org").ID)
		var seen storage.UserMethods
		refuse := func(m storage.UserMethods) error { seen = m; return errFn }
		is(t, s.DeleteUserCredential(t.Context(), u.ID, a.ID, refuse), errFn)
		equal(t, "methods the check saw", seen, storage.UserMethods{User: u, Credentials: []storage.Credential{a, b}, TAPs: []storage.TemporaryAccessPass{p}})
		// With groups and a stored passkey policy, the check sees those too.
		g1, g2 := mustGroup(t, s, "Keys"), mustGroup(t, s, "Admins")
		ok(t, s.AddMember(t.Context(), g1.ID, u.ID))
		ok(t, s.AddMember(t.Context(), g2.ID, u.ID))
		_, err := s.UpdatePolicy(t.Context(), "fido2", func(p storage.Policy) (storage.Policy, error) {
			p.Data, p.UpdatedAt, p.UpdatedBy = []byte(`{"state":"enabled"}`), t0, "token:admin"
			return p, nil
		})
		ok(t, err)
		pol, err := s.GetPolicy(t.Context(), "fido2")
		ok(t, err)
		is(t, s.DeleteUserCredential(t.Context(), u.ID, a.ID, refuse), errFn)
		groups := []string{g1.ID, g2.ID}
		slices.Sort(groups)
		equal(t, "groups the check saw", seen.GroupIDs, groups)
		equal(t, "policy the check saw", seen.Fido2Policy, pol)
		_, err = s.GetCredential(t.Context(), a.ID)
		ok(t, err) // refused: still there
		is(t, s.DeleteUserCredential(t.Context(), u.ID, other.ID, nil), storage.ErrNotFound)
		is(t, s.DeleteUserCredential(t.Context(), "missing-user", a.ID, nil), storage.ErrNotFound)
		ok(t, s.DeleteUserCredential(t.Context(), u.ID, a.ID, func(storage.UserMethods) error { return nil }))
		ok(t, s.DeleteUserCredential(t.Context(), u.ID, b.ID, nil))
		left, err := s.ListUserCredentials(t.Context(), u.ID)
		ok(t, err)
		equal(t, "left", len(left), 0)
		_, err = s.GetCredential(t.Context(), other.ID)
		ok(t, err)
	}},
	{"racing_deletions_with_a_last_credential_check_leave_one", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		keep := func(id string) func(storage.UserMethods) error {
			return func(m storage.UserMethods) error {
				for _, c := range m.Credentials {
					if c.ID != id {
						return nil
					}
				}
				return errFn // the last one stays
			}
		}
		creds := []storage.Credential{mustCredential(t, s, u.ID)}
		for round := range 5 {
			creds = append(creds, mustCredential(t, s, u.ID))
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, racers)
			for i := range racers {
				wg.Go(func() {
					<-start
					id := creds[i%2].ID
					errs[i] = s.DeleteUserCredential(t.Context(), u.ID, id, keep(id))
				})
			}
			close(start)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, errFn) && !errors.Is(err, storage.ErrNotFound):
					t.Fatalf("round %d: a loser got %v", round, err)
				}
			}
			equal(t, fmt.Sprintf("round %d: deletions", round), wins, 1)
			creds, _ = s.ListUserCredentials(t.Context(), u.ID)
			equal(t, "credentials left", len(creds), 1)
		}
	}},
	{"delete_user_tap_asks_the_check_and_deletes_only_that_users_pass", func(t *testing.T, s storage.Storage) {
		u, other := mustUser(t, s, "a@x.org"), mustUser(t, s, "b@x.org")
		c := mustCredential(t, s, u.ID)
		p, q := newTAP(u.ID), newTAP(other.ID)
		ok(t, s.CreateTAP(t.Context(), p))
		ok(t, s.CreateTAP(t.Context(), q))
		var seen storage.UserMethods
		is(t, s.DeleteUserTAP(t.Context(), u.ID, p.ID, func(m storage.UserMethods) error { seen = m; return errFn }), errFn)
		equal(t, "methods the check saw", seen, storage.UserMethods{User: u, Credentials: []storage.Credential{c}, TAPs: []storage.TemporaryAccessPass{p}})
		is(t, s.DeleteUserTAP(t.Context(), u.ID, q.ID, nil), storage.ErrNotFound)
		is(t, s.DeleteUserTAP(t.Context(), "missing-user", p.ID, nil), storage.ErrNotFound)
		ok(t, s.DeleteUserTAP(t.Context(), u.ID, p.ID, nil))
		left, err := s.ListUserTAPs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "passes left", len(left), 0)
		theirs, err := s.ListUserTAPs(t.Context(), other.ID)
		ok(t, err)
		equal(t, "other user's passes", len(theirs), 1)
	}},
	{"racing_pass_and_passkey_deletions_leave_one_method", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "a@x.org")
		// The check a last-method guard makes: something must remain.
		keepOne := func(credID, tapID string) func(storage.UserMethods) error {
			return func(m storage.UserMethods) error {
				left := 0
				for _, c := range m.Credentials {
					if c.ID != credID {
						left++
					}
				}
				for _, p := range m.TAPs {
					if p.ID != tapID {
						left++
					}
				}
				if left == 0 {
					return errFn
				}
				return nil
			}
		}
		for round := range 5 {
			c, p := mustCredential(t, s, u.ID), newTAP(u.ID)
			ok(t, s.CreateTAP(t.Context(), p))
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, racers)
			for i := range racers {
				wg.Go(func() {
					<-start
					if i%2 == 0 {
						errs[i] = s.DeleteUserCredential(t.Context(), u.ID, c.ID, keepOne(c.ID, ""))
					} else {
						errs[i] = s.DeleteUserTAP(t.Context(), u.ID, p.ID, keepOne("", p.ID))
					}
				})
			}
			close(start)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, errFn) && !errors.Is(err, storage.ErrNotFound):
					t.Fatalf("round %d: a loser got %v", round, err)
				}
			}
			equal(t, fmt.Sprintf("round %d: deletions", round), wins, 1)
			creds, _ := s.ListUserCredentials(t.Context(), u.ID)
			taps, _ := s.ListUserTAPs(t.Context(), u.ID)
			equal(t, fmt.Sprintf("round %d: methods left", round), len(creds)+len(taps), 1)
			for _, c := range creds {
				ok(t, s.DeleteCredential(t.Context(), c.ID))
			}
			for _, p := range taps {
				ok(t, s.DeleteTAP(t.Context(), p.ID))
			}
		}
	}},
	{"credential_owner_comes_with_user_and_sorted_groups", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "Owner@x.org")
		other := mustUser(t, s, "other@x.org")
		c := mustCredential(t, s, u.ID)
		alone := mustCredential(t, s, other.ID)
		g1, g2, g3 := mustGroup(t, s, "g1"), mustGroup(t, s, "g2"), mustGroup(t, s, "g3")
		ok(t, s.AddMember(t.Context(), g1.ID, u.ID))
		ok(t, s.AddMember(t.Context(), g2.ID, u.ID))
		ok(t, s.AddMember(t.Context(), g3.ID, other.ID))
		got, err := s.GetCredentialOwner(t.Context(), c.CredentialID)
		ok(t, err)
		equal(t, "credential", got.Credential, c)
		wantUser, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "user", got.User, wantUser)
		wantGroups, err := s.UserGroupIDs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "groups", got.GroupIDs, wantGroups)
		equal(t, "two groups", len(got.GroupIDs), 2)

		ok(t, s.RemoveMember(t.Context(), g3.ID, other.ID))
		got, err = s.GetCredentialOwner(t.Context(), alone.CredentialID)
		ok(t, err)
		equal(t, "owner without groups", got.GroupIDs, []string(nil))
		equal(t, "owner", got.User.ID, other.ID)
		equal(t, "policy version before any policy", got.Fido2PolicyVersion, int64(0))

		// The stored passkey policy's version comes with the owner.
		for range 2 {
			_, err = s.UpdatePolicy(t.Context(), "fido2", func(p storage.Policy) (storage.Policy, error) {
				p.Data = []byte(`{}`)
				return p, nil
			})
			ok(t, err)
		}
		versions, err := s.PolicyVersions(t.Context())
		ok(t, err)
		got, err = s.GetCredentialOwner(t.Context(), c.CredentialID)
		ok(t, err)
		equal(t, "policy version", got.Fido2PolicyVersion, versions["fido2"])
		equal(t, "policy version after two saves", got.Fido2PolicyVersion, int64(2))

		_, err = s.GetCredentialOwner(t.Context(), []byte("unknown"))
		is(t, err, storage.ErrNotFound)
	}},
	{"registrant_comes_with_groups_keys_policy_version_and_blob_number", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "Registrant@x.org")
		other := mustUser(t, s, "other@x.org")
		got, err := s.GetRegistrant(t.Context(), u.ID, true)
		ok(t, err)
		wantUser, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "user", got.User, wantUser)
		equal(t, "no groups", got.GroupIDs, []string(nil))
		equal(t, "no keys", got.Keys, []storage.KeyRef(nil))
		equal(t, "policy version before any policy", got.Fido2PolicyVersion, int64(0))
		equal(t, "blob number before any blob", got.MDSBlobNumber, 0)

		first := newCredential(u.ID)
		first.Transports = []string{"usb", "nfc"}
		ok(t, s.CreateCredential(t.Context(), first))
		second := newCredential(u.ID)
		second.CreatedAt, second.Transports = at(time.Hour), nil
		ok(t, s.CreateCredential(t.Context(), second))
		mustCredential(t, s, other.ID)
		g1, g2, g3 := mustGroup(t, s, "g1"), mustGroup(t, s, "g2"), mustGroup(t, s, "g3")
		ok(t, s.AddMember(t.Context(), g2.ID, u.ID))
		ok(t, s.AddMember(t.Context(), g1.ID, u.ID))
		ok(t, s.AddMember(t.Context(), g3.ID, other.ID))
		for range 2 {
			_, err = s.UpdatePolicy(t.Context(), "fido2", func(p storage.Policy) (storage.Policy, error) {
				p.Data = []byte(`{}`)
				return p, nil
			})
			ok(t, err)
		}
		ok(t, s.PutMDSBlob(t.Context(), blobN(7)))

		got, err = s.GetRegistrant(t.Context(), u.ID, true)
		ok(t, err)
		equal(t, "user with keys and groups", got.User, wantUser)
		wantGroups, err := s.UserGroupIDs(t.Context(), u.ID)
		ok(t, err)
		equal(t, "groups", got.GroupIDs, wantGroups)
		equal(t, "two groups", len(got.GroupIDs), 2)
		equal(t, "keys, oldest first", got.Keys, []storage.KeyRef{
			{CredentialID: first.CredentialID, Transports: []string{"usb", "nfc"}},
			{CredentialID: second.CredentialID}})
		equal(t, "policy version after two saves", got.Fido2PolicyVersion, int64(2))
		equal(t, "blob number", got.MDSBlobNumber, 7)

		without, err := s.GetRegistrant(t.Context(), u.ID, false)
		ok(t, err)
		got.Keys = nil
		equal(t, "without keys", without, got)

		_, err = s.GetRegistrant(t.Context(), "no-such-user", true)
		is(t, err, storage.ErrNotFound)
		_, err = s.GetRegistrant(t.Context(), "no-such-user", false)
		is(t, err, storage.ErrNotFound)
	}},
	{"create_then_get_by_id_and_by_credential_id", func(t *testing.T, s storage.Storage) {
		c := newCredential(mustUser(t, s, "k@x.org").ID)
		c.LastUsedAt, c.SignCount, c.BackupEligible, c.BackupState = ptr(at(time.Second)), 1<<32-1, true, true
		ok(t, s.CreateCredential(t.Context(), c))
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "by ID", got, c)
		got, err = s.GetCredentialByCredentialID(t.Context(), c.CredentialID)
		ok(t, err)
		equal(t, "by credential ID", got, c)
	}},
	{"minimal_credential_round_trips", func(t *testing.T, s storage.Storage) {
		c := storage.Credential{ID: uuid.NewString(), UserID: mustUser(t, s, "k@x.org").ID,
			CredentialID: randomBytes(16), AttestationLevel: storage.AttestationNotAttested, CreatedAt: t0}
		ok(t, s.CreateCredential(t.Context(), c))
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "get", got, c)
	}},
	{"taken_ids_are_already_exists_and_unknown_user_is_conflict", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "k@x.org")
		c := mustCredential(t, s, u.ID)
		sameID, sameCredID := newCredential(u.ID), newCredential(u.ID)
		sameID.ID, sameCredID.CredentialID = c.ID, c.CredentialID
		is(t, s.CreateCredential(t.Context(), sameID), storage.ErrAlreadyExists)
		is(t, s.CreateCredential(t.Context(), sameCredID), storage.ErrAlreadyExists)
		is(t, s.CreateCredential(t.Context(), newCredential("missing-user")), storage.ErrConflict)
	}},
	{"user_with_credentials_by_upn_in_one_read", func(t *testing.T, s storage.Storage) {
		u, other := mustUser(t, s, "Kim@X.org"), mustUser(t, s, "o@x.org")
		newer, older := newCredential(u.ID), newCredential(u.ID)
		newer.CreatedAt, older.CreatedAt = at(time.Hour), at(-time.Hour)
		ok(t, s.CreateCredential(t.Context(), newer))
		ok(t, s.CreateCredential(t.Context(), older))
		mustCredential(t, s, other.ID)
		gotUser, creds, err := s.GetUserCredentialsByUPN(t.Context(), "kim@x.ORG")
		ok(t, err)
		wantUser, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "user", gotUser, wantUser)
		equal(t, "credentials", creds, []storage.Credential{older, newer})

		// No passkey, or no such user: not found alike.
		mustUser(t, s, "none@x.org")
		_, _, err = s.GetUserCredentialsByUPN(t.Context(), "none@x.org")
		is(t, err, storage.ErrNotFound)
		_, _, err = s.GetUserCredentialsByUPN(t.Context(), "nobody@x.org")
		is(t, err, storage.ErrNotFound)
	}},
	{"list_returns_the_users_credentials_oldest_first", func(t *testing.T, s storage.Storage) {
		u, other := mustUser(t, s, "k@x.org"), mustUser(t, s, "o@x.org")
		newer, older := newCredential(u.ID), newCredential(u.ID)
		newer.CreatedAt, older.CreatedAt = at(time.Hour), at(-time.Hour)
		ok(t, s.CreateCredential(t.Context(), newer))
		ok(t, s.CreateCredential(t.Context(), older))
		mustCredential(t, s, other.ID)
		list, err := s.ListUserCredentials(t.Context(), u.ID)
		ok(t, err)
		equal(t, "list", list, []storage.Credential{older, newer})
		none, err := s.ListUserCredentials(t.Context(), "missing")
		ok(t, err)
		equal(t, "none", len(none), 0)
	}},
	{"update_keeps_identity_fields", func(t *testing.T, s storage.Storage) {
		c := mustCredential(t, s, mustUser(t, s, "k@x.org").ID)
		got, err := s.UpdateCredential(t.Context(), c.ID, func(old storage.Credential) (storage.Credential, error) {
			equal(t, "fn input", old, c)
			old.ID, old.UserID, old.CredentialID, old.CreatedAt = "x", "y", []byte("z"), at(time.Hour)
			old.DisplayName, old.SignCount, old.CloneWarning = "Red key", 99, true
			old.Transports, old.LastUsedAt = nil, ptr(at(time.Minute))
			return old, nil
		})
		ok(t, err)
		want := c
		want.DisplayName, want.SignCount, want.CloneWarning = "Red key", 99, true
		want.Transports, want.LastUsedAt = nil, ptr(at(time.Minute))
		equal(t, "returned", got, want)
		stored, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "stored", stored, want)
	}},
	{"update_fn_error_is_returned_and_writes_nothing", func(t *testing.T, s storage.Storage) {
		c := mustCredential(t, s, mustUser(t, s, "k@x.org").ID)
		_, err := s.UpdateCredential(t.Context(), c.ID, func(old storage.Credential) (storage.Credential, error) {
			old.DisplayName = "changed"
			return old, errFn
		})
		is(t, err, errFn)
		got, err := s.GetCredential(t.Context(), c.ID)
		ok(t, err)
		equal(t, "stored", got, c)
	}},
	{"unknown_credential_is_not_found", func(t *testing.T, s storage.Storage) {
		_, err := s.GetCredential(t.Context(), "missing")
		is(t, err, storage.ErrNotFound)
		_, err = s.GetCredentialByCredentialID(t.Context(), randomBytes(16))
		is(t, err, storage.ErrNotFound)
		_, err = s.UpdateCredential(t.Context(), "missing", func(c storage.Credential) (storage.Credential, error) { return c, nil })
		is(t, err, storage.ErrNotFound)
		is(t, s.DeleteCredential(t.Context(), "missing"), storage.ErrNotFound)
	}},
	{"delete_removes_it", func(t *testing.T, s storage.Storage) {
		c := mustCredential(t, s, mustUser(t, s, "k@x.org").ID)
		ok(t, s.DeleteCredential(t.Context(), c.ID))
		_, err := s.GetCredentialByCredentialID(t.Context(), c.CredentialID)
		is(t, err, storage.ErrNotFound)
	}},
}
