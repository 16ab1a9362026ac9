package secret_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/secret"
)

// A keyed secret's row ID is its time-ordered key and its SHA-256, so rows
// sort by issue; a secret of the form made before (256 bits alone) is
// looked up under its SHA-256, as it was stored; anything else is its hash.
func TestKeyedIDs(t *testing.T) {
	var prev string
	for range 50 {
		tok, id := secret.NewKeyed("kwr_")
		if secret.KeyedID(tok) != id || !strings.HasSuffix(id, "."+secret.HashHex(tok)) || len(id) != 32+1+64 {
			t.Fatalf("secret %s: row ID %s, want its key, '.' and its hex SHA-256", tok, id)
		}
		if strings.Contains(id, tok[4:]) || strings.Contains(id, tok[37:]) {
			t.Fatalf("row ID %s holds the secret", id)
		}
		if id <= prev {
			t.Fatalf("row ID %s does not sort after the one made before it, %s", id, prev)
		}
		prev = id
	}
	old := secret.New("kws_")
	if got := secret.KeyedID(old); got != secret.HashHex(old) {
		t.Fatalf("a secret made before keys has row ID %s, want its hex SHA-256", got)
	}
	tok, _ := secret.NewKeyed("kwa_")
	for _, bad := range []string{"", "kw", strings.ToUpper(tok), tok[:len(tok)-1], tok + "x", strings.Replace(tok, "_", "-", 2)} {
		if got := secret.KeyedID(bad); got != secret.HashHex(bad) {
			t.Fatalf("KeyedID(%q) = %s, want its hex SHA-256", bad, got)
		}
	}
}
