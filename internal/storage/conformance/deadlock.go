package conformance

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// deadlockTests race writes that each touch several rows of the counters
// kept by triggers (deleting a person with passkeys of several models and
// days, while others register): each must succeed, none may be chosen as a
// deadlock victim, and the counters must end where a fresh count puts them.
var deadlockTests = []test{
	{"deleting people with several passkeys while others register never deadlocks", func(t *testing.T, s storage.Storage) {
		const people, keys, rounds = 8, 6, 5
		models := []struct{ aaguid, name string }{
			{"cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"},
			{"ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 NFC"},
			{"fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 Series with NFC"},
		}
		for r := range rounds {
			victims := make([]storage.User, people)
			for i := range victims {
				victims[i] = mustUser(t, s, fmt.Sprintf("gone%d-%d@x.org", r, i))
				for k := range keys {
					c := newCredential(victims[i].ID)
					m := models[(i+k)%len(models)]
					c.AAGUID, c.Model = m.aaguid, m.name
					c.BackupEligible = k%2 == 1
					c.CreatedAt = t0.Add(time.Duration(k) * 24 * time.Hour)
					if err := s.CreateCredential(t.Context(), c); err != nil {
						t.Fatalf("create credential: %v", err)
					}
				}
			}
			newcomers := make([]storage.User, people)
			for i := range newcomers {
				newcomers[i] = mustUser(t, s, fmt.Sprintf("new%d-%d@x.org", r, i))
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, 2*people*keys)
			for i := range people {
				wg.Go(func() {
					<-start
					if err := s.DeleteUser(t.Context(), victims[i].ID); err != nil {
						errs <- fmt.Errorf("delete %s: %w", victims[i].UserPrincipalName, err)
					}
				})
				wg.Go(func() {
					<-start
					for k := range keys {
						c := newCredential(newcomers[i].ID)
						m := models[(i+k+1)%len(models)]
						c.AAGUID, c.Model = m.aaguid, m.name
						c.CreatedAt = t0.Add(time.Duration(keys-k) * 24 * time.Hour)
						if err := s.CreateCredential(t.Context(), c); err != nil {
							errs <- fmt.Errorf("register for %s: %w", newcomers[i].UserPrincipalName, err)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("round %d: %v", r, err)
			}
			if t.Failed() {
				return
			}
		}
	}},
}
