package sqlstore

import (
	"context"
	"fmt"
	"sync"
)

// Group commit. SQLite has one writer, and under load each sign-in's writes
// (its challenge, then its outcome) queue for it, each paying for its own
// commit: the WAL pages it touched, written again and again for every request.
// The hot writes instead go to a committer that runs whatever has queued up
// meanwhile in one transaction, each write in a savepoint of its own, and
// commits once. Each write stays atomic and sees the ones before it, exactly as
// if they ran one after another; none is reported done before the commit.

// maxBatch bounds how many writes share one commit.
const maxBatch = 64

type batchJob struct {
	ctx  context.Context
	fn   func(c conn) error
	done chan batchResult
}

type batchResult struct {
	err      error
	panicked any // a panic in fn, re-raised in the caller's goroutine
}

type committer struct {
	once sync.Once
	jobs chan batchJob
	done chan struct{} // closed when the commit loop has finished
}

// stop ends the commit loop after the writes already queued (Close).
func (c *committer) stop() {
	c.once.Do(func() {}) // a loop that never started never will
	if c.jobs != nil {
		close(c.jobs)
		<-c.done
	}
}

// batched runs fn like inTx, sharing the commit with other batched writes
// where the dialect asks for group commit.
func (s *Store) batched(ctx context.Context, fn func(c conn) error) error {
	if _, ok := s.ambient(ctx); !s.d.GroupCommit || ok {
		return s.inTx(ctx, fn)
	}
	s.batch.once.Do(func() {
		s.batch.jobs = make(chan batchJob, maxBatch)
		s.batch.done = make(chan struct{})
		go s.commitLoop()
	})
	j := batchJob{ctx: ctx, fn: fn, done: make(chan batchResult, 1)}
	select {
	case s.batch.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	r := <-j.done // not abandoned on ctx: the write may be committed already
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// lone runs fn, one write (and at most a read that only explains why it
// changed nothing), as batched does where the dialect has group commit;
// elsewhere on its own, outside a transaction: one round trip where BEGIN,
// the write and COMMIT were three.
func (s *Store) lone(ctx context.Context, fn func(c conn) error) error {
	if _, ok := s.ambient(ctx); s.d.GroupCommit || ok {
		return s.batched(ctx, fn)
	}
	return fn(s.write())
}

func (s *Store) commitLoop() {
	defer close(s.batch.done)
	for first := range s.batch.jobs {
		batch := []batchJob{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case j, open := <-s.batch.jobs:
				if !open {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		s.runBatch(batch)
	}
}

// runBatch runs the jobs in one transaction. A job that fails is rolled back
// to its savepoint alone; a failed commit fails every job that had succeeded.
func (s *Store) runBatch(batch []batchJob) {
	// Statements run without the callers' cancellation (conn.shared): SQLite
	// rolls back the whole transaction when a statement in it is interrupted,
	// which would undo the other jobs' writes.
	ctx := context.Background()
	s.counted(2) // BEGIN and COMMIT
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		for _, j := range batch {
			j.done <- batchResult{err: fmt.Errorf("%s: begin: %w", s.d.Name, err)}
		}
		return
	}
	var misses []string
	defer func() {
		for _, q := range misses {
			_, _ = s.prepared(ctx, s.writer, q) // best effort, as in inTx
		}
	}()
	c := conn{s: s, db: s.writer, tx: tx, misses: &misses, shared: true}
	var ok []batchJob
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- batchResult{err: err}
			continue
		}
		var r batchResult
		if len(batch) == 1 {
			// Alone in its transaction, a job needs no savepoint: when it
			// fails, the transaction is rolled back below.
			r = runAlone(c, j)
		} else {
			r = s.runJob(ctx, c, j)
		}
		if r.err != nil || r.panicked != nil {
			j.done <- r
			continue
		}
		ok = append(ok, j)
	}
	if len(ok) == 0 {
		_ = tx.Rollback()
		return
	}
	err = tx.Commit()
	if err != nil {
		_ = tx.Rollback()
		err = fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	for _, j := range ok {
		j.done <- batchResult{err: err}
	}
}

// runAlone runs the one job of a transaction.
func runAlone(c conn, j batchJob) (r batchResult) {
	defer func() {
		if p := recover(); p != nil {
			r = batchResult{panicked: p}
		}
	}()
	return batchResult{err: j.fn(c)}
}

// runJob runs one job inside a savepoint and undoes it alone when it fails.
func (s *Store) runJob(ctx context.Context, c conn, j batchJob) (r batchResult) {
	s.counted(2) // SAVEPOINT and RELEASE
	if _, err := c.tx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
		return batchResult{err: fmt.Errorf("%s: savepoint: %w", s.d.Name, err)}
	}
	defer func() {
		if p := recover(); p != nil {
			r = batchResult{panicked: p}
		}
		if r.err != nil || r.panicked != nil {
			_, _ = c.tx.ExecContext(ctx, "ROLLBACK TO job")
		}
		if _, err := c.tx.ExecContext(ctx, "RELEASE job"); err != nil && r.err == nil && r.panicked == nil {
			r.err = fmt.Errorf("%s: release savepoint: %w", s.d.Name, err)
		}
	}()
	return batchResult{err: j.fn(c)}
}
