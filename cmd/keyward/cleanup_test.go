package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

func TestCleanupLoopOnSQLite(t *testing.T) {
	testCleanupLoop(t, sqliteEnv(t))
}

func TestCleanupLoopOnPostgres(t *testing.T) {
	testCleanupLoop(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// clock is a settable time source for the loop under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// testCleanupLoop drives serve's cleanup loop with hand-made ticks: each
// sweep deletes exactly what has expired by the clock — sessions,
// used challenges, Temporary Access Passes, rate-limit counters — and keeps the rest.
func testCleanupLoop(t *testing.T, env []string) {
	ctx := context.Background()
	c := cli{t: t, env: env}
	c.ok("migrate")
	st := openTestStore(t, env)
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	a := &app{now: clk.now, logger: newLogger(io.Discard, "error", "text")}

	u := storage.User{ID: "01960000-0000-7000-8000-000000000001", UserPrincipalName: "alice@example.com",
		DisplayName: "Alice", AccountEnabled: true, CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Each kind gets a record that expires at t0+1m and one at t0+1h.
	seed := func(name string, expires time.Time) {
		t.Helper()
		err := errors.Join(
			st.CreateSession(ctx, storage.Session{ID: "session-" + name, UserID: u.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: expires}),
			st.UseChallenge(ctx, storage.UsedChallenge{ID: "challenge-" + name, ExpiresAt: expires}),
			st.CreateTAP(ctx, storage.TemporaryAccessPass{ID: tapID(name), UserID: u.ID, Hash: []byte("hash-" + name),
				CreatedAt: t0, StartAt: t0, ExpiresAt: expires, CreatedBy: "test"}),
		)
		if err != nil {
			t.Fatal(err)
		}
		limit := []storage.RateLimit{{Key: "counter-" + name, Max: 10}}
		if _, err := st.ReserveRateLimits(ctx, limit, expires.Sub(t0), t0); err != nil {
			t.Fatal(err)
		}
	}
	seed("soon", t0.Add(time.Minute))
	seed("later", t0.Add(time.Hour))

	// present reports, for each kind, whether the record named name still exists.
	present := func(name string, window time.Duration) map[string]bool {
		t.Helper()
		got := map[string]bool{}
		_, err := st.GetSession(ctx, "session-"+name)
		got["session"] = err == nil
		// A used challenge is refused as long as its row is stored; one the
		// sweep took is used (stored) again by the look, which the checks
		// after it allow for: a swept kind is not looked at again.
		err = st.UseChallenge(ctx, storage.UsedChallenge{ID: "challenge-" + name, ExpiresAt: t0.Add(window)})
		got["used challenge"] = errors.Is(err, storage.ErrNotFound)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		taps, err := st.ListUserTAPs(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		got["tap"] = false
		for _, tap := range taps {
			got["tap"] = got["tap"] || tap.ID == tapID(name)
		}
		n, err := st.RateLimitCount(ctx, "counter-"+name, window, t0)
		if err != nil {
			t.Fatal(err)
		}
		got["rate limit"] = n == 1
		return got
	}
	want := func(name string, window time.Duration, exists bool) {
		t.Helper()
		for kind, ok := range present(name, window) {
			if ok != exists {
				t.Errorf("%s %q: present = %v, want %v", kind, name, ok, exists)
			}
		}
	}

	ticks := make(chan time.Time)
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	clk.set(t0.Add(30 * time.Second)) // nothing has expired yet
	go func() { defer close(done); a.cleanupLoop(loopCtx, st, ticks) }()
	defer func() { stop(); <-done }()

	// An unbuffered send returns once the loop waits for its next tick, i.e.
	// after the sweep before it has finished. (The sweep the tick starts runs
	// alongside the checks, at the same clock, so it changes nothing.)
	ticks <- time.Time{}
	want("soon", time.Minute, true)
	want("later", time.Hour, true)

	clk.set(t0.Add(time.Minute)) // "soon" expires now
	ticks <- time.Time{}         // starts a sweep at t0+1m
	ticks <- time.Time{}         // returns after it
	want("soon", time.Minute, false)
	want("later", time.Hour, true)

	// More sessions and used challenges than one batch deletes expire at
	// once (as under steady load): one sweep still takes them all.
	many := 2*storage.SweepBatch + 1
	for i := range many {
		expires := t0.Add(10*time.Minute + time.Duration(i)*time.Millisecond)
		err := errors.Join(
			st.CreateSession(ctx, storage.Session{ID: fmt.Sprintf("session-many-%d", i), UserID: u.ID, CreatedAt: t0,
				LastSeenAt: t0, ExpiresAt: expires}),
			st.UseChallenge(ctx, storage.UsedChallenge{ID: fmt.Sprintf("challenge-many-%d", i), ExpiresAt: expires}))
		if err != nil {
			t.Fatal(err)
		}
	}
	clk.set(t0.Add(20 * time.Minute)) // all of them have expired, "later" has not
	ticks <- time.Time{}
	ticks <- time.Time{}
	for i := range many {
		if _, err := st.GetSession(ctx, fmt.Sprintf("session-many-%d", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("expired session %d of %d after a sweep: %v", i, many, err)
		}
		// Stored again by the look if the sweep took it.
		if err := st.UseChallenge(ctx, storage.UsedChallenge{ID: fmt.Sprintf("challenge-many-%d", i),
			ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("expired used challenge %d of %d after a sweep: %v", i, many, err)
		}
	}
	want("later", time.Hour, true)

	stop()
	<-done // the loop ends when its context does
}

func tapID(name string) string {
	if name == "soon" {
		return "01960000-0000-7000-8000-0000000000a1"
	}
	return "01960000-0000-7000-8000-0000000000a2"
}
