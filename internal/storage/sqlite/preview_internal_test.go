package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// The impact preview's read of every passkey (sqlstore's EachKeyFacts with
// this dialect's KeyFactsRow and KeyFactsOrder) is a scan of
// credentials_facts alone, in its order: no sort, no lookup of the table,
// and the kind read from the index, which it is only while KeyFactsRow names
// the expression migration 00222 indexes.
func TestPreviewReadIsAnIndexScan(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "keyward.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	q := `SELECT ` + dialect.KeyFactsRow + ` FROM credentials WHERE NOT clone_warning` + dialect.KeyFactsOrder
	rows, err := s.Reader().QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || plan[0] != "SCAN credentials USING COVERING INDEX credentials_facts" {
		t.Fatalf("plan %q", plan)
	}
	// The kind comes from the index: the program reads three of its
	// columns a row and no column of the table.
	rows, err = s.Reader().QueryContext(t.Context(), `EXPLAIN `+q)
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
