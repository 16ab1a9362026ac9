package oidc

import (
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage/storagetest"
)

// TestKeyRotation: a new key is published at once, signs only after the
// overlap, and the old one stays in the key set until the tokens it signed
// have expired.
func TestKeyRotation(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			p, err := New(Config{Store: b.New(t).Open(t), Issuer: "https://id.example.com", Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			signerID := func() string {
				t.Helper()
				k, err := p.keys.signer(t.Context(), AlgES256)
				if err != nil {
					t.Fatal(err)
				}
				return k.ID()
			}
			publishedIDs := func() []string {
				t.Helper()
				ks, err := p.keys.published(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, k := range ks {
					ids = append(ids, k.ID())
				}
				return ids
			}
			old := signerID()
			if _, err := p.RotateKeys(t.Context(), 5*time.Second); err == nil {
				t.Fatal("an overlap shorter than the nodes' key cache was accepted")
			}
			made, err := p.RotateKeys(t.Context(), 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			var next string
			for _, k := range made {
				if k.Alg == AlgES256 {
					next = k.ID
				}
			}
			if ids := publishedIDs(); !slices.Contains(ids, old) || !slices.Contains(ids, next) {
				t.Fatalf("right after rotation the key set is %v, want both %s and %s", ids, old, next)
			}
			if got := signerID(); got != old {
				t.Fatalf("during the overlap tokens are signed with %s, want the old key %s", got, old)
			}
			now = now.Add(10 * time.Minute)
			if got := signerID(); got != next {
				t.Fatalf("after the overlap tokens are signed with %s, want the new key %s", got, next)
			}
			stored := func() int {
				t.Helper()
				keys, err := p.store.ListSigningKeys(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return len(keys)
			}
			now = now.Add(time.Hour - time.Second)
			if _, _, n, err := p.Cleanup(t.Context()); err != nil || n != 0 {
				t.Fatalf("cleanup while tokens the old keys signed are valid deleted %d keys (%v)", n, err)
			}
			if ids := publishedIDs(); !slices.Contains(ids, old) {
				t.Fatal("the old key left the key set while tokens it signed are still valid")
			}
			now = now.Add(time.Second)
			if ids := publishedIDs(); slices.Contains(ids, old) || !slices.Contains(ids, next) {
				t.Fatalf("once its tokens expired the key set is %v: the old key should be gone", ids)
			}
			// Gone from the database too, old ES256 and RS256 alike; the new ones stay.
			if _, _, n, err := p.Cleanup(t.Context()); err != nil || n != 2 || stored() != 2 {
				t.Fatalf("cleanup after the old keys expired deleted %d (%v), %d keys left, want 2 and 2", n, err, stored())
			}
			if got := signerID(); got != next {
				t.Fatalf("after the cleanup tokens are signed with %s, want %s", got, next)
			}
		})
	}
}
