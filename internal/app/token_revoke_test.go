package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

// A revoked API token is refused at once on every node: each request looks
// its token up in the shared database (no node keeps a validated token), so
// a revocation made elsewhere — here through another connection to the
// database, as `keyward token revoke` in another process does — applies to
// the very next request, on the node that had just accepted it too.
func TestRevokedTokenIsRefusedAtOnceOnEveryNode(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		w.addNode(w.mdsRootForNodes())
		tok := w.token("nightly-export", storage.RoleReader)
		for i := range w.nodes {
			w.mustStatus(w.call(i, "GET", "/api/v1/users?$top=1", bearer(tok), nil), http.StatusOK)
		}
		revoker := w.db.Open(t)
		if err := revoker.RevokeAPIToken(context.Background(), "nightly-export", w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		for i := range w.nodes {
			r := w.mustStatus(w.call(i, "GET", "/api/v1/users?$top=1", bearer(tok), nil), http.StatusUnauthorized)
			if code, msg := r.err(t); code != "unauthenticated" || !strings.Contains(msg, `"nightly-export" was revoked`) {
				t.Fatalf("node %d after the revocation: %s: %s", i, code, msg)
			}
		}
		// The other tokens go on working.
		w.mustStatus(w.call(1, "GET", "/api/v1/users?$top=1", bearer(w.reader), nil), http.StatusOK)
	})
}
