package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// blockedInQueue counts the goroutines parked in queue.enter's wait.
func blockedInQueue() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "sqlstore.(*queue).enter") {
			n++
		}
	}
	return n
}

func waitBlocked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for blockedInQueue() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers waiting in the queue, want %d", blockedInQueue(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Callers that find every place taken get one in the order they came —
// which database/sql's own waiting (a random waiter gets the connection)
// does not give — and their waits are counted as the pool's.
func TestQueueAdmitsCallersInTheOrderTheyCame(t *testing.T) {
	q := newQueue(2)
	ctx := t.Context()
	for range 2 {
		if err := q.enter(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const callers = 8
	admitted := make(chan int, callers)
	for i := range callers {
		go func() {
			if err := q.enter(ctx); err != nil {
				t.Error(err)
				return
			}
			admitted <- i
			q.leave()
		}()
		waitBlocked(t, i+1) // the next caller comes after this one waits
	}
	q.leave()
	for want := range callers {
		if got := <-admitted; got != want {
			t.Fatalf("caller %d got a place before caller %d", got, want)
		}
	}
	q.leave()
	st := q.stats(sql.DBStats{WaitCount: 3, WaitDuration: time.Second})
	if st.WaitCount != 3+callers || st.WaitDuration <= time.Second {
		t.Errorf("stats = %d waits, %v; want %d waits, over 1s", st.WaitCount, st.WaitDuration, 3+callers)
	}
	if len(q.places) != 0 || blockedInQueue() != 0 {
		t.Errorf("after every caller left: %d places taken, %d waiting", len(q.places), blockedInQueue())
	}
}

// A caller whose request goes away while it waits leaves the queue without
// a place, and the callers behind it move up.
func TestQueueLetsAWaiterGoWhenItsRequestEnds(t *testing.T) {
	q := newQueue(1)
	if err := q.enter(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	gone := make(chan error, 1)
	go func() { gone <- q.enter(ctx) }()
	waitBlocked(t, 1)
	next := make(chan error, 1)
	go func() { next <- q.enter(t.Context()) }()
	waitBlocked(t, 2)

	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("enter after its context ended = %v, want context.Canceled", err)
	}
	q.leave()
	if err := <-next; err != nil {
		t.Fatalf("the caller behind: %v", err)
	}
	if len(q.places) != 1 {
		t.Errorf("%d places taken, want 1 (the caller behind)", len(q.places))
	}
	q.leave()

	// A request already gone does not wait at all.
	if err := q.enter(t.Context()); err != nil {
		t.Fatal(err)
	}
	done, stop := context.WithCancel(t.Context())
	stop()
	if err := q.enter(done); !errors.Is(err, context.Canceled) {
		t.Errorf("enter with no place and an ended context = %v, want context.Canceled", err)
	}
	q.leave()
}

// A query's place in the queue is held while its rows are open and given
// back when they close: by Close, or by the Next that finds no more rows
// (database/sql gives the connection back then too); a query that fails
// gives it back at once.
func TestQueryHoldsItsPlaceUntilItsRowsClose(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "queue.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE probe (x INTEGER); INSERT INTO probe VALUES (1), (2)`); err != nil {
		t.Fatal(err)
	}
	s := New(Dialect{Name: "sqlite"}, db, db, nil)
	s.QueueConnections(db, 1)
	q, ctx := s.readerQueue, t.Context()
	taken := func() int { return len(q.places) }

	rows, err := s.read().rows(ctx, `SELECT x FROM probe ORDER BY x`)
	if err != nil {
		t.Fatal(err)
	}
	if taken() != 1 {
		t.Fatalf("rows open: %d places taken, want 1", taken())
	}
	n := 0
	for rows.Next() {
		n++
	}
	if n != 2 || taken() != 0 {
		t.Fatalf("read to the end: %d rows, %d places taken; want 2 rows, none taken", n, taken())
	}
	if err := rows.Close(); err != nil || taken() != 0 {
		t.Fatalf("Close after the end: %v, %d places taken", err, taken())
	}

	rows, err = s.read().rows(ctx, `SELECT x FROM probe`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	if err := rows.Close(); err != nil || taken() != 0 {
		t.Fatalf("closed after one row: %v, %d places taken", err, taken())
	}

	if _, err := s.read().rows(ctx, `SELECT nothing FROM nowhere`); err == nil || taken() != 0 {
		t.Fatalf("a failed query: %v, %d places taken; want an error and none taken", err, taken())
	}
	var x int
	if err := s.read().row(ctx, `SELECT x FROM probe WHERE x = 2`).Scan(&x); err != nil || x != 2 || taken() != 0 {
		t.Fatalf("a row after them: %d, %v, %d places taken", x, err, taken())
	}
}
