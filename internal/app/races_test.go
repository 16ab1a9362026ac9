package app_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

// atOnce sends n requests at the same moment and returns their replies.
func atOnce(n int, send func(i int) reply) []reply {
	out := make([]reply, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = send(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// statusCounts counts replies by status.
func statusCounts(rs []reply) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.status]++
	}
	return m
}

// failuresOf counts the failed sign-ins logged for a user.
func (w *world) failuresOf(userID string) int {
	w.t.Helper()
	events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{UserID: userID, Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Result == storage.ResultFailure {
			n++
		}
	}
	return n
}

// Attempts sent all at once are counted before they are judged: of many
// concurrent guesses for one account exactly the limit (10) are checked and
// answered 401, every other one gets 429 without being checked — for
// passwords, Temporary Access Passes and authenticator-app codes alike.
func TestConcurrentGuessesStopAtTheLimit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		wantLimit := func(what, userID string, rs []reply) {
			t.Helper()
			got := statusCounts(rs)
			if got[http.StatusUnauthorized] != 10 || got[http.StatusTooManyRequests] != len(rs)-10 {
				t.Fatalf("%d concurrent wrong %s: statuses %v, want 10×401 and %d×429", len(rs), what, got, len(rs)-10)
			}
			if n := w.failuresOf(userID); n != 10 {
				t.Fatalf("%d failed sign-ins were judged and logged, want 10", n)
			}
		}
		{
			alice := w.pwUser("alice@contoso.com", "correct horse battery")
			rs := atOnce(50, func(i int) reply { return w.passwordSignIn("alice@contoso.com", "wrong password "+itoa(i)) })
			wantLimit("passwords", alice, rs)
		}
		w.clock.Advance(15 * time.Minute) // a new window: the address's counter starts again
		{
			bob := w.user("bob@contoso.com")
			w.issueTAP(bob, map[string]any{})
			const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789" // a well-formed guess is looked up
			rs := atOnce(40, func(i int) reply {
				return w.tapSignIn("bob@contoso.com", "ABCDEFGHJKMNPQ"+alphabet[i/31:i/31+1]+alphabet[i%31:i%31+1])
			})
			wantLimit("passes", bob, rs)
		}
		w.clock.Advance(15 * time.Minute)
		{
			carol := w.pwUser("carol@contoso.com", "correct horse battery")
			c := w.signedIn(w.passwordSignIn("carol@contoso.com", "correct horse battery"), "carol@contoso.com")
			sec := w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp", cookie(c), nil), http.StatusOK).json(t)["secret"].(string)
			w.mustStatus(w.do("POST", "/api/v1/me/authenticatorApp/verify", cookie(c), map[string]any{"code": w.code(sec)}), http.StatusOK)
			pending := sessionCookie(w.mustStatus(w.passwordSignIn("carol@contoso.com", "correct horse battery"), http.StatusOK))
			right := w.code(sec)
			rs := atOnce(40, func(i int) reply {
				code := itoa(100000 + i*7919%900000)
				if code == right {
					code = "000000"
				}
				return w.do("POST", "/api/v1/auth/totp", cookie(pending), map[string]any{"code": code})
			})
			wantLimit("codes", carol, rs)
		}
	})
}

// Six valid setup links used at once make one global administrator: the
// others are told Keyward is already set up (or, for a link whose check came
// after, that it is no longer valid), and only the winner is signed in.
func TestSetupLinksUsedAtOnceMakeOneAdministrator(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		for round := range 3 {
			tokens := make([]string, 6)
			for i := range tokens {
				tokens[i] = w.setupToken()
			}
			rs := atOnce(len(tokens), func(i int) reply {
				return w.do("POST", "/api/v1/setup", cred{}, map[string]any{"token": tokens[i],
					"userPrincipalName": "admin" + itoa(i) + "@contoso.com", "displayName": "Admin " + itoa(i),
					"password": "correct horse battery"})
			})
			if got := statusCounts(rs); got[http.StatusOK] != 1 || got[http.StatusNotFound] != len(tokens)-1 {
				t.Fatalf("round %d: statuses %v, want one 200 and 404 for the rest", round, got)
			}
			for _, r := range rs {
				if r.status == http.StatusNotFound {
					wantError(t, r, http.StatusNotFound, "setupTokenInvalid", "")
				}
			}
			users, _, err := w.store.ListUsers(context.Background(), storage.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != 1 || users[0].AdminRole != storage.RoleGlobalAdmin {
				t.Fatalf("round %d: users after setup = %+v, want one global administrator", round, users)
			}
			if err := w.store.DeleteUser(context.Background(), users[0].ID); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A passkey-only user deleting both passkeys at once keeps one: the
// last-method rule is judged inside the deleting transaction.
func TestDeletingTwoPasskeysAtOnceKeepsOne(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		alice := w.user("alice@contoso.com") // passkeys only, no password
		s := w.session(alice, true)
		ids := []string{w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), s, "Key"), http.StatusCreated).json(t)["id"].(string)}
		for round := range 5 {
			ids = append(ids, w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), s, "Key"), http.StatusCreated).json(t)["id"].(string))
			rs := atOnce(2, func(i int) reply { return w.do("DELETE", "/api/v1/me/passkeys/"+ids[i], cookie(s), nil) })
			if got := statusCounts(rs); got[http.StatusNoContent] != 1 || got[http.StatusConflict] != 1 {
				t.Fatalf("round %d: deleting both passkeys at once: statuses %v, want one 204 and one 409", round, got)
			}
			left := w.mustStatus(w.do("GET", "/api/v1/me/passkeys", cookie(s), nil), http.StatusOK).json(t)["value"].([]any)
			if len(left) != 1 {
				t.Fatalf("round %d: %d passkeys left, want 1", round, len(left))
			}
			ids = []string{left[0].(map[string]any)["id"].(string)}
		}
	})
}

// Temporary Access Passes issued at once for one user leave exactly one
// pass, and only that one signs in: a new pass replaces the old atomically.
func TestPassesIssuedAtOnceLeaveOne(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		bob := w.user("bob@contoso.com")
		var passes []string
		for round := range 3 {
			rs := atOnce(8, func(int) reply { return w.do("POST", tapPath(bob), bearer(w.admin), map[string]any{}) })
			if got := statusCounts(rs); got[http.StatusCreated] != len(rs) {
				t.Fatalf("round %d: statuses %v, want all 201", round, got)
			}
			list := w.mustStatus(w.do("GET", tapPath(bob), bearer(w.admin), nil), http.StatusOK).json(t)["value"].([]any)
			if len(list) != 1 {
				t.Fatalf("round %d: %d passes listed after issuing 8 at once, want 1", round, len(list))
			}
			passes = passes[:0]
			for _, r := range rs {
				passes = append(passes, r.json(t)["temporaryAccessPass"].(string))
			}
		}
		signedIn := 0
		for _, p := range passes {
			if w.tapSignIn("bob@contoso.com", p).status == http.StatusOK {
				signedIn++
			}
		}
		if signedIn != 1 {
			t.Fatalf("%d of the last 8 passes signed in, want 1", signedIn)
		}
	})
}

// assertions signs in with k twice: a for the first options, b for the
// second; counters as k makes them (b's after a's) unless same is set, when
// both carry the same counter — as two copies of one cloned key would.
func (w *world) twoAssertions(k *softkey.Authenticator, same bool) (a, b []byte) {
	w.t.Helper()
	sign := func() []byte {
		opts := w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, nil), http.StatusOK)
		resp, err := k.Assert(opts.body, w.origin())
		if err != nil {
			w.t.Fatal(err)
		}
		return resp
	}
	c := k.Credentials()[0]
	a = sign()
	if same {
		if err := k.SetSignCount(c.ID, c.SignCount); err != nil {
			w.t.Fatal(err)
		}
	}
	return a, sign()
}

// storedCounter reads a passkey's counter and flag as stored.
func (w *world) storedCounter(methodID string) (uint32, bool) {
	w.t.Helper()
	c, err := w.store.GetCredential(context.Background(), methodID)
	if err != nil {
		w.t.Fatal(err)
	}
	return c.SignCount, c.CloneWarning
}

// Two assertions of one key racing: the stored counter never moves back,
// and an assertion whose counter is not above the stored one — a clone, or
// the loser of a race with a later counter — is refused as a possible clone
// and flags the key, which stays refused until an administrator clears it.
func TestSignatureCounterRaces(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		methods := "/api/v1/users/" + alice + "/authentication/fido2Methods/"
		m := w.mustStatus(w.do("GET", strings.TrimSuffix(methods, "/"), bearer(w.reader), nil), http.StatusOK).json(t)["value"].([]any)[0].(map[string]any)
		method := m["id"].(string)
		clear := func() {
			t.Helper()
			r := w.mustStatus(w.do("PATCH", methods+method, bearer(w.admin), map[string]any{"cloneWarning": false}), http.StatusOK).json(t)
			if r["cloneWarning"] != false {
				t.Fatalf("after clearing: %v", r)
			}
		}

		// A cloned key: both copies sign the same next counter; one signs in.
		for round := range 8 {
			before, _ := w.storedCounter(method)
			a, b := w.twoAssertions(k, true)
			rs := atOnce(2, func(i int) reply { return w.do("POST", "/api/v1/auth/passkey", cred{}, [][]byte{a, b}[i]) })
			if got := statusCounts(rs); got[http.StatusOK] != 1 || got[http.StatusUnauthorized] != 1 {
				t.Fatalf("round %d: two assertions with one counter: statuses %v, want one 200 and one 401", round, got)
			}
			loser := rs[0]
			if rs[0].status == http.StatusOK {
				loser = rs[1]
			}
			wantError(t, loser, http.StatusUnauthorized, "possibleClonedKey", "cloned")
			if sessionCookie(loser) != "" {
				t.Fatal("the refused sign-in set a session cookie")
			}
			if n, flagged := w.storedCounter(method); n != before+1 || !flagged {
				t.Fatalf("round %d: stored counter %d flagged %v, want %d and flagged", round, n, flagged, before+1)
			}
			clear()
		}

		// One key, two tabs: counters n+1 and n+2 at once. Whatever the
		// order, the stored counter ends at n+2; n+1 arriving last is refused.
		for round := range 15 {
			before, _ := w.storedCounter(method)
			a, b := w.twoAssertions(k, false)
			rs := atOnce(2, func(i int) reply { return w.do("POST", "/api/v1/auth/passkey", cred{}, [][]byte{a, b}[i]) })
			if rs[1].status != http.StatusOK {
				t.Fatalf("round %d: the later counter was refused: %d %s", round, rs[1].status, rs[1].body)
			}
			n, flagged := w.storedCounter(method)
			if n != before+2 {
				t.Fatalf("round %d: stored counter %d, want %d: it moved back", round, n, before+2)
			}
			if rs[0].status != http.StatusOK {
				wantError(t, rs[0], http.StatusUnauthorized, "possibleClonedKey", "")
				if !flagged {
					t.Fatalf("round %d: refused as a clone but not flagged", round)
				}
				clear()
			}
		}

		// Flagged, the key stays refused — even with a counter that goes
		// up — until an administrator clears the flag; clearing is audited.
		a, b := w.twoAssertions(k, true)
		w.mustStatus(w.do("POST", "/api/v1/auth/passkey", cred{}, a), http.StatusOK)
		wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, b), http.StatusUnauthorized, "possibleClonedKey", "")
		wantError(t, w.do("POST", "/api/v1/auth/passkey", cred{}, b), http.StatusBadRequest, "challengeNotFound", "") // used up
		wantError(t, w.login(k, ""), http.StatusUnauthorized, "possibleClonedKey", "until an administrator")
		wantError(t, w.login(k, "alice@contoso.com"), http.StatusUnauthorized, "possibleClonedKey", "until an administrator")
		if m := w.mustStatus(w.do("GET", methods+method, bearer(w.reader), nil), http.StatusOK).json(t); m["cloneWarning"] != true {
			t.Fatalf("method = %v, want cloneWarning true", m)
		}
		wantError(t, w.do("PATCH", methods+method, bearer(w.reader), map[string]any{"cloneWarning": false}), http.StatusForbidden, "forbidden", "")
		wantError(t, w.do("PATCH", methods+method, bearer(w.admin), map[string]any{"cloneWarning": true}), http.StatusBadRequest, "invalidRequest", `{"cloneWarning": false}`)
		wantError(t, w.do("PATCH", methods+method, bearer(w.admin), map[string]any{"displayName": "x"}), http.StatusBadRequest, "invalidRequest", "")
		wantError(t, w.do("PATCH", methods+"not-a-method", bearer(w.admin), map[string]any{"cloneWarning": false}), http.StatusNotFound, "notFound", "")
		before := len(w.audit("user.fido2Method.update"))
		clear()
		if a := w.audit("user.fido2Method.update"); len(a) != before+1 || a[0].Actor != "token:automation" {
			t.Fatalf("audit = %+v, want the clearing recorded", a)
		}
		w.mustStatus(w.login(k, ""), http.StatusOK)

		refusals := 0
		events, err := w.store.ListSignInEvents(context.Background(), storage.EventFilter{UserID: alice, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Result == storage.ResultFailure && strings.Contains(e.FailureReason, "cloned") {
				refusals++
			}
		}
		if refusals < 8+3 {
			t.Fatalf("%d refusals logged with a reason, want at least one per flagged round", refusals)
		}
	})
}
