package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// A queue admits callers to a connection pool in the order they came.
//
// When every connection of a database/sql pool is busy, the pool hands the
// next freed connection to a random one of its waiters. Under a load that
// keeps the pool busy — PostgreSQL at concurrency 32 with 10 connections,
// where each sign-in waits for a connection twice — a waiter can lose that
// draw again and again: the slowest sign-ins were those that lost it most
// (docs/performance.md, "Connections in the order asked for"). In front of
// the pool, a queue of as many places as it has connections lets callers
// through first come, first served (Go wakes the senders blocked on a
// channel in the order they blocked), so no caller waits for a connection
// while one that came after it gets one.
type queue struct {
	places chan struct{}
	// What the waits in the queue add to the pool's own statistics.
	waits  atomic.Uint64
	waited atomic.Int64 // nanoseconds
}

func newQueue(n int) *queue {
	return &queue{places: make(chan struct{}, n)}
}

// enter waits for a place, first come first served, or until ctx ends. The
// caller calls leave once it no longer holds a connection. A nil queue
// admits everyone at once.
func (q *queue) enter(ctx context.Context) error {
	if q == nil {
		return nil
	}
	select {
	case q.places <- struct{}{}:
		return nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	defer func() {
		q.waits.Add(1)
		q.waited.Add(int64(time.Since(start)))
	}()
	select {
	case q.places <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *queue) leave() {
	if q != nil {
		<-q.places
	}
}

// stats is s with the queue's waits added, as database/sql counts its own.
func (q *queue) stats(s sql.DBStats) sql.DBStats {
	s.WaitCount += int64(q.waits.Load())
	s.WaitDuration += time.Duration(q.waited.Load())
	return s
}
