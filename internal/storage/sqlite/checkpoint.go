package sqlite

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// The checkpointer copies the write-ahead log back into the database file
// from a connection of its own, so that the one writer does not. SQLite's
// auto-checkpoint runs inside whichever commit crosses wal_autocheckpoint:
// that commit (a sign-in's, a registration's) copies thousands of pages and
// waits for two fsyncs while every other write queues behind it — about 15%
// of the writer's time at 800 registrations a second. A PASSIVE checkpoint
// on another connection runs beside the writer: it copies what was
// committed when it began and never blocks a reader or a writer. The
// writer's own auto-checkpoint stays, at a higher mark, for when this one
// falls behind.
//
// It looks at the database every wait; when another connection has
// committed since (PRAGMA data_version), it checkpoints. The wait adapts so
// that each checkpoint copies about checkpointAim new frames: copying a hot
// page once per few thousand frames, not once per commit, keeps the copying
// as cheap as the auto-checkpoint's.
const (
	// restartFrames: a log this long is started again (restart) after the
	// pass, every second or third pass: often enough that the log stays
	// below journal_size_limit (about 8,000-12,000 frames, 33-50 MB) and is
	// never truncated, seldom enough that holding the writer costs little
	// (once a pass measured worse at concurrency 2: p99 9.7-11 ms where it
	// had been 6.7-8.4 ms).
	restartFrames     = 8000
	checkpointAim     = 3000
	checkpointMinWait = 20 * time.Millisecond
	checkpointMaxWait = time.Second
)

type checkpointer struct {
	db     *sql.DB
	writer *sql.DB // held while the log is started again
	stop   chan struct{}
	done   chan struct{}

	// What it has done, for LogStats.
	passes, restarts atomic.Uint64
	held             atomic.Int64 // nanoseconds the writer was held
}

// stats are the checkpointer's counts so far.
func (c *checkpointer) stats() storage.LogStats {
	return storage.LogStats{Checkpoints: c.passes.Load(), Restarts: c.restarts.Load(),
		WritesHeld: time.Duration(c.held.Load())}
}

func startCheckpointer(db, writer *sql.DB) *checkpointer {
	c := &checkpointer{db: db, writer: writer, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// close stops the checkpointer and waits for it; the database pool is the
// caller's to close.
func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
}

func (c *checkpointer) run() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	// data_version is per connection: keep one.
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return // the writer's auto-checkpoint still runs
	}
	defer conn.Close()
	wait := checkpointMaxWait / 4
	version, lastFrames := int64(-1), 0
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-timer.C:
		}
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil || v == version {
			// Nothing committed (or the read failed): look again later.
			wait = min(2*wait, checkpointMaxWait)
			timer.Reset(wait)
			continue
		}
		version = v
		var busy, frames, copied int
		if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err == nil {
			c.passes.Add(1)
			// frames is the log's length since it last started again from
			// its beginning; what the last wait added paces the next.
			added := frames - lastFrames
			if frames < lastFrames { // the log started again from its beginning
				added = frames
			}
			lastFrames = frames
			wait = nextCheckpointWait(wait, added)
			if frames >= restartFrames && c.restart(ctx, conn) {
				lastFrames = 0
			}
		}
		timer.Reset(wait)
	}
}

// restart starts the log again from its beginning, which a PASSIVE
// checkpoint never does: the writer starts the log again only when a write
// transaction begins with every frame copied, and under load it always finds
// a few frames committed since the last pass. Left alone, the log grew to the
// writer's auto-checkpoint mark (then 10,000 frames, about 0.7 s of sign-ins
// at concurrency 32), and that commit copied the rest and synced twice, the
// next truncating the log back to journal_size_limit: 40–80 ms in which no
// write committed, every 0.7 s — the p99 of sign-ins at concurrency 32
// (docs/performance.md, "The log started again"). Here the writer's
// connection is held idle (its queue waits in Go and is woken the moment it
// is handed back) while a RESTART checkpoint on conn copies the frames the
// passes missed, syncs, and waits at most conn's busy_timeout (about 10 ms)
// for readers of older snapshots; the next write transaction then writes
// from the log's beginning. A second PASSIVE pass first copies, beside the
// writer, what was committed during the first, so that little is left to
// copy while it is held (2–30 ms, most often about 10–25 ms). Most of the
// hold is the database file's sync, which SQLite makes only in a pass that
// ends with every frame copied — under load only the held one — so it
// writes every page the passes copied since the last restart, however few
// frames are left. Syncing the file beforehand, beside the writer, halved
// the hold at concurrency 2, but under a bulk write of fresh pages that
// sync took 150–250 ms, the log reached the writer's backstop meanwhile and
// restarts came late; it was not kept (docs/performance.md, "What the
// writer waits for"). The time held is counted (LogStats). It reports
// whether the log will start again (not when a reader outlasted the wait:
// the next pass tries again).
func (c *checkpointer) restart(ctx context.Context, conn *sql.Conn) bool {
	var busy, frames, copied int
	// First the frames committed during the pass, beside the writer: what
	// is left to copy while it is held is what commits during this one.
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return false
	}
	c.passes.Add(1)
	w, err := c.writer.Conn(ctx)
	if err != nil {
		return false
	}
	held := time.Now()
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied)
	_ = w.Close()
	c.held.Add(int64(time.Since(held)))
	if err != nil {
		return false
	}
	c.passes.Add(1)
	if busy != 0 {
		return false
	}
	c.restarts.Add(1)
	return true
}

// nextCheckpointWait aims the next wait at checkpointAim frames a
// checkpoint, given the frames the last wait saw added.
func nextCheckpointWait(wait time.Duration, added int) time.Duration {
	switch {
	case added > 2*checkpointAim:
		wait /= 2
	case added < checkpointAim/2:
		wait *= 2
	}
	return min(max(wait, checkpointMinWait), checkpointMaxWait)
}
