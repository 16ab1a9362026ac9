package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlstore"
)

// The impact preview's read of every passkey (sqlstore's EachKeyFacts with
// this dialect's KeyFactsRow and KeyFactsOrder) is a scan of
// credentials_facts alone, in its order: no sort, no lookup of the table,
// and the kind read from the index, which it is only while KeyFactsRow names
// the expression migration 00222 indexes.
func TestPreviewReadIsAnIndexScan(t *testing.T) {
	s := migrated(t)
	q := `SELECT ` + dialect.KeyFactsRow + ` FROM credentials WHERE NOT clone_warning` + dialect.KeyFactsOrder
	if plan := queryPlan(t, s, q); len(plan) != 1 || plan[0] != "SCAN credentials USING COVERING INDEX credentials_facts" {
		t.Fatalf("plan %q", plan)
	}
	// The kind comes from the index: the program reads three of its
	// columns a row and no column of the table.
	rows, err := s.Reader().QueryContext(t.Context(), `EXPLAIN `+q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ops []string
	for rows.Next() {
		var addr, p1, p2, p3, p5 int
		var op string
		var p4, comment any
		if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(ops, " ")+" ", "Column "); n != 3 {
		t.Fatalf("%d columns read a row: %v", n, ops)
	}
}

// The alert scan's read of emergency-account sign-ins (every two seconds,
// the last five minutes) starts from the emergency accounts, found in their
// partial index, and reads each one's events by user and time in the
// index's order; it never walks the log by time, which under load is every
// sign-in of those minutes. The database has no statistics, as the
// server's has not: the plans hold without them.
func TestEmergencySignInsReadTheirOwnersEvents(t *testing.T) {
	s := migrated(t)
	if plan := queryPlan(t, s, sqlstore.EmergencyAccountsQuery); len(plan) != 1 ||
		plan[0] != "SCAN users USING INDEX users_privileged" {
		t.Errorf("emergency accounts: plan %q", plan)
	}
	if plan := queryPlan(t, s, sqlstore.EmergencySignInsQuery, "u", int64(0), 500); len(plan) != 1 ||
		plan[0] != "SEARCH e USING INDEX sign_in_events_user (user_id=? AND occurred_at>?)" {
		t.Errorf("an account's sign-ins: plan %q", plan)
	}
}

// A page of the sign-in log filtered on failures, an application or a
// passkey model reads that filter's index, though each holds only the
// records with a value there (migration 00231): ListSignIns states the
// index's condition beside the filter. A filter on successes, nearly every
// record, walks the time index.
func TestSignInFiltersReadTheirPartialIndexes(t *testing.T) {
	s := migrated(t)
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		q    storage.SignInQuery
		plan string
	}{
		{storage.SignInQuery{Result: storage.ResultFailure}, "SEARCH e USING INDEX sign_in_events_result (result=?)"},
		{storage.SignInQuery{Result: storage.ResultFailure, Since: since},
			"SEARCH e USING INDEX sign_in_events_result (result=? AND occurred_at>?)"},
		{storage.SignInQuery{AppID: "a"}, "SEARCH e USING INDEX sign_in_events_app (app_id=?)"},
		{storage.SignInQuery{AAGUID: "x"}, "SEARCH e USING INDEX sign_in_events_aaguid (aaguid=?)"},
		{storage.SignInQuery{AAGUID: "x", Result: storage.ResultSuccess}, "SEARCH e USING INDEX sign_in_events_aaguid (aaguid=?)"},
		{storage.SignInQuery{Result: storage.ResultSuccess}, "SCAN e USING INDEX sign_in_events_time"},
	} {
		q, args, err := s.ListSignInsQuery(c.q)
		if err != nil {
			t.Fatal(err)
		}
		if plan := queryPlan(t, s, q, args...); len(plan) == 0 || plan[0] != c.plan {
			t.Errorf("%+v: plan %q, want %q first", c.q, plan, c.plan)
		}
	}
}

func migrated(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "keyward.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// queryPlan is the detail column of EXPLAIN QUERY PLAN of q with args, one
// line a step.
func queryPlan(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	rows, err := s.Reader().QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
