package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// A write in the group commit whose request goes away while its statement
// runs must not take the other writes of its batch with it: SQLite rolls
// back the whole transaction when a write statement in it is interrupted,
// and the commit would then report writes done that were undone. Every job
// reported done must be in the database.
func TestGroupCommitSurvivesACallerThatGoesAway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "batch.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE probe (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	s := New(Dialect{Name: "sqlite", GroupCommit: true}, db, db, nil)

	insert := func(ctx context.Context, x int) func(c conn) error {
		return func(c conn) error {
			_, err := c.exec(ctx, `INSERT INTO probe (x) VALUES (?)`, x)
			return err
		}
	}
	// A write that takes seconds, cancelled after a few milliseconds.
	gone, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	slow := func(c conn) error {
		_, err := c.exec(gone, `INSERT INTO probe (x)
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
			SELECT 3 FROM n WHERE i = 1000000`)
		return err
	}
	bg := context.Background()
	jobs := []batchJob{
		{ctx: bg, fn: insert(bg, 1)},
		{ctx: bg, fn: slow},
		{ctx: bg, fn: insert(bg, 2)},
	}
	for i := range jobs {
		jobs[i].done = make(chan batchResult, 1)
	}
	s.runBatch(jobs)

	for i, want := range []int{1, 3, 2} {
		r := <-jobs[i].done
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM probe WHERE x = ?`, want).Scan(&n); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.err == nil && n != 1:
			t.Errorf("job %d was reported done, but its row is not in the database", i)
		case r.err != nil && n != 0:
			t.Errorf("job %d was reported failed (%v), but its row is in the database", i, r.err)
		case i != 1 && r.err != nil:
			t.Errorf("job %d failed because another caller went away: %v", i, r.err)
		}
	}
}
