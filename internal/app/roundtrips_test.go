package app_test

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// roundTrips reads keyward_db_round_trips_total from the server's /metrics.
func (w *world) roundTrips() int {
	w.t.Helper()
	body := w.mustStatus(w.do("GET", "/metrics", cred{}, nil), http.StatusOK).body
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "keyward_db_round_trips_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				w.t.Fatalf("keyward_db_round_trips_total %q: %v", v, err)
			}
			return int(f)
		}
	}
	w.t.Fatal("/metrics has no keyward_db_round_trips_total")
	return 0
}

// The database round trips of a code exchange: on PostgreSQL one read (the
// code's request with its user, its client and the client's wrong secrets)
// and one write (the code used up and the tokens stored, one statement) —
// as many as a passkey sign-in's finish. SQLite reports its statements.
func TestOIDCCodeExchangeRoundTrips(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		_, p, br := oidcSignedIn(t, w)
		exchange := func() int {
			f := p.start()
			code := br.code(t, p, f)
			before := w.roundTrips()
			if _, err := p.conf.Exchange(p.ctx(), code, oauth2.VerifierOption(f.verifier)); err != nil {
				t.Fatal(err)
			}
			return w.roundTrips() - before
		}
		// Warm: the signing keys and, on PostgreSQL, the prepared
		// statements. Then the fewest of a few: another request's queries
		// (a sweep) may fall in between.
		for range 3 {
			exchange()
		}
		least := -1
		for range 5 {
			if n := exchange(); least < 0 || n < least {
				least = n
			}
		}
		t.Logf("code exchange: %d round trips", least)
		if w.db.Name != "postgres" {
			if least <= 0 {
				t.Errorf("a code exchange on SQLite counted %d statements", least)
			}
			return
		}
		if least != 1 {
			t.Errorf("a code exchange made %d round trips on PostgreSQL, want 1 (the code read, used up and its tokens stored in one statement)", least)
		}
	})
}

// The database round trips of a passkey sign-in, as /metrics counts them:
// on PostgreSQL the discoverable options make none, options for a named
// user one, and the finish two (one read, one write); SQLite reports its
// statements.
func TestPasskeySignInRoundTrips(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		alice := w.user("alice@contoso.com")
		w.enableForAll()
		k := w.key(goodAAGUID, softkey.FormatPacked)
		w.mustStatus(w.register(k, w.session(alice, true), ""), http.StatusCreated)
		// Warm: the policy cache, the challenge key set and, on
		// PostgreSQL, the statements prepared on the connection.
		for range 3 {
			w.mustStatus(w.login(k, ""), http.StatusOK)
			w.mustStatus(w.login(k, "alice@contoso.com"), http.StatusOK)
		}
		measure := func(what string, f func()) int {
			// Another request's queries (a sweep) may fall in between:
			// the fewest of a few tries is the step's own.
			least := -1
			for range 5 {
				before := w.roundTrips()
				f()
				n := w.roundTrips() - before
				if least < 0 || n < least {
					least = n
				}
			}
			t.Logf("%s: %d round trips", what, least)
			return least
		}
		options := func(body map[string]any) func() {
			return func() { w.mustStatus(w.do("POST", "/api/v1/auth/passkey/options", cred{}, body), http.StatusOK) }
		}
		discoverable := measure("discoverable options", options(map[string]any{}))
		named := measure("options for a named user", options(map[string]any{"username": "alice@contoso.com"}))
		signIn := measure("discoverable sign-in", func() { w.mustStatus(w.login(k, ""), http.StatusOK) })
		if w.db.Name != "postgres" {
			if signIn <= 0 {
				t.Errorf("a sign-in on SQLite counted %d statements", signIn)
			}
			return
		}
		if discoverable != 0 || named != 1 || signIn != 2 {
			t.Errorf("round trips: discoverable options %d, named options %d, discoverable sign-in %d; want 0, 1, 2",
				discoverable, named, signIn)
		}
	})
}
