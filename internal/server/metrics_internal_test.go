package server

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"
)

// offline is a pool that is never connected: its statistics are enough.
type offline struct{}

func (offline) Connect(context.Context) (driver.Conn, error) { return nil, errors.New("offline") }
func (offline) Driver() driver.Driver                        { return nil }

// queuedStore has a writer and a reader pool and counts waits in a queue
// of its own in front of them, as sqlstore.Store does.
type queuedStore struct{ w, r *sql.DB }

func (s queuedStore) Writer() *sql.DB { return s.w }
func (s queuedStore) Reader() *sql.DB { return s.r }
func (s queuedStore) PoolStats(db *sql.DB) sql.DBStats {
	st := db.Stats()
	if db == s.r {
		st.WaitCount += 7
	}
	return st
}

// The pools' waits reported in keyward_db_wait_count_total include those
// in the store's own queue, not only database/sql's.
func TestPoolMetricsCountTheStoresQueue(t *testing.T) {
	w, r := sql.OpenDB(offline{}), sql.OpenDB(offline{})
	defer w.Close()
	defer r.Close()
	pools := storePools(queuedStore{w, r})
	if len(pools) != 2 || pools[0].name != "writer" || pools[1].name != "reader" {
		t.Fatalf("pools = %+v, want writer and reader", pools)
	}
	if got := pools[0].stats().WaitCount; got != 0 {
		t.Errorf("writer waits = %d, want 0", got)
	}
	if got := pools[1].stats().WaitCount; got != 7 {
		t.Errorf("reader waits = %d, want the queue's 7", got)
	}
}
