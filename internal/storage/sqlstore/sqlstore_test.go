package sqlstore

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

func TestRebindNumbersPlaceholdersOutsideStringLiterals(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{"x = 'it''s ?' OR y = ?", "x = 'it''s ?' OR y = $1"},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPageCursorRoundTripsAndRejectsGarbage(t *testing.T) {
	q, err := decodePage(storage.Page{After: cursor("zoë@x.org"), Prefix: "ZO", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := pageQuery{after: "zoë@x.org", lo: "zo", hi: "zo" + maxRune, limit: 5}
	if q != want {
		t.Fatalf("decodePage = %+v, want %+v", q, want)
	}
	for _, bad := range []string{"not base64!", "_w", "Zm9v="} {
		if _, err := decodePage(storage.Page{After: bad}); !errors.Is(err, storage.ErrBadCursor) {
			t.Errorf("decodePage(After: %q) = %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestColumnsDecodeWhatEitherDriverReturns(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	var tc timeCol
	for _, src := range []any{at.UnixMicro(), at.In(time.FixedZone("X", 3600))} {
		if err := tc.Scan(src); err != nil || !tc.Valid || tc.T != at {
			t.Errorf("timeCol.Scan(%T) = %v, %+v; want %v", src, err, tc, at)
		}
	}
	if err := tc.Scan(nil); err != nil || tc.Valid || tc.ptr() != nil {
		t.Errorf("timeCol.Scan(nil) = %v, %+v; want invalid", err, tc)
	}
	if err := tc.Scan("2026-01-02"); err == nil {
		t.Error("timeCol.Scan(string) succeeded")
	}
	var sl strListCol
	for src, want := range map[string][]string{`[]`: nil, `["a","b"]`: {"a", "b"}} {
		if err := sl.Scan(src); err != nil || !reflect.DeepEqual(sl.V, want) {
			t.Errorf("strListCol.Scan(%s) = %v, %#v; want %#v", src, err, sl.V, want)
		}
	}
	if err := sl.Scan(`{"not":"a list"}`); err == nil {
		t.Error("strListCol.Scan(object) succeeded")
	}
	var bc bytesCol
	if err := bc.Scan([]byte{}); err != nil || bc.V != nil {
		t.Errorf("bytesCol.Scan(empty) = %v, %#v; want nil", err, bc.V)
	}
}
