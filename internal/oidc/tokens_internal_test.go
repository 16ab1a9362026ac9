package oidc

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/secret"
)

// A new token's row ID is its time-ordered key and its SHA-256, so rows
// sort by issue; a token of the form issued before (256 bits alone) is
// looked up under its SHA-256, as it was stored; anything else is its hash.
func TestBearerIDs(t *testing.T) {
	var prev string
	for range 50 {
		tok, id := newBearer(refreshPrefix)
		if bearerID(tok) != id || !strings.HasSuffix(id, "."+secret.HashHex(tok)) || len(id) != 32+1+64 {
			t.Fatalf("token %s: row ID %s, want its key, '.' and its hex SHA-256", tok, id)
		}
		if strings.Contains(id, tok[4:]) || strings.Contains(id, tok[37:]) {
			t.Fatalf("row ID %s holds the token's secret", id)
		}
		if id <= prev {
			t.Fatalf("row ID %s does not sort after the one issued before it, %s", id, prev)
		}
		prev = id
	}
	old := secret.New(opaquePrefix)
	if got := bearerID(old); got != secret.HashHex(old) {
		t.Fatalf("a token issued before the key has row ID %s, want its hex SHA-256", got)
	}
	tok, _ := newBearer(opaquePrefix)
	for _, bad := range []string{"", "kw", strings.ToUpper(tok), tok[:len(tok)-1], tok + "x", strings.Replace(tok, "_", "-", 2)} {
		if got := bearerID(bad); got != secret.HashHex(bad) {
			t.Fatalf("bearerID(%q) = %s, want its hex SHA-256", bad, got)
		}
	}
}
