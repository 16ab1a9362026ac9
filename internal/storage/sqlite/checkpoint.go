package sqlite

import (
	"context"
	"database/sql"
	"time"
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
	checkpointAim     = 3000
	checkpointMinWait = 20 * time.Millisecond
	checkpointMaxWait = time.Second
)

type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
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
			// frames is the log's length since it last started again from
			// its beginning; what the last wait added paces the next.
			added := frames - lastFrames
			if frames < lastFrames { // the log started again from its beginning
				added = frames
			}
			lastFrames = frames
			wait = nextCheckpointWait(wait, added)
		}
		timer.Reset(wait)
	}
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
