package conformance

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/storage"
)

// bigBlob is a blob of n random bytes: several of the chunks the store
// writes it in, and not a whole number of them.
func bigBlob(t *testing.T, number, n int) storage.MDSBlob {
	t.Helper()
	b := blobN(number)
	b.Raw = make([]byte, n)
	if _, err := rand.Read(b.Raw); err != nil {
		t.Fatal(err)
	}
	return b
}

// sqlDB reaches the backend's database, for what the Storage interface does
// not show: chunks left behind.
func sqlDB(t *testing.T, s storage.Storage) *sql.DB {
	t.Helper()
	w, ok := s.(interface{ Writer() *sql.DB })
	if !ok {
		t.Skip("the backend does not expose its database")
	}
	return w.Writer()
}

// orphanChunks counts the chunks no stored blob names.
func orphanChunks(t *testing.T, s storage.Storage) int {
	t.Helper()
	var n int
	if err := sqlDB(t, s).QueryRowContext(t.Context(),
		`SELECT COUNT(*) FROM mds_blob_chunks WHERE upload NOT IN (SELECT upload FROM mds_blobs)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var mdsChunkTests = []test{
	{"a_blob_of_many_chunks_reads_back_whole", func(t *testing.T, s storage.Storage) {
		want := bigBlob(t, 7, 5*128<<10+12345)
		ok(t, s.PutMDSBlob(t.Context(), want))
		got, err := s.GetMDSBlob(t.Context())
		ok(t, err)
		equal(t, "blob", got, want)
		empty := blobN(8)
		empty.Raw = nil
		ok(t, s.PutMDSBlob(t.Context(), empty))
		got, err = s.GetMDSBlob(t.Context())
		ok(t, err)
		if got.Number != 8 || len(got.Raw) != 0 {
			t.Fatalf("empty blob read back as %d with %d bytes", got.Number, len(got.Raw))
		}
	}},
	{"a_blob_missing_a_chunk_is_refused_not_read_short", func(t *testing.T, s storage.Storage) {
		ok(t, s.PutMDSBlob(t.Context(), bigBlob(t, 9, 3*128<<10+5)))
		if _, err := sqlDB(t, s).ExecContext(t.Context(), `DELETE FROM mds_blob_chunks WHERE seq = 1`); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetMDSBlob(t.Context())
		if err == nil || !strings.Contains(err.Error(), "blob 9 has ") || !strings.Contains(err.Error(), " of its 393221 bytes stored") {
			t.Fatalf("a blob missing its second chunk read as %d bytes, err %v", len(got.Raw), err)
		}
	}},
	{"concurrent_stores_the_newest_wins_and_leave_no_chunks", func(t *testing.T, s storage.Storage) {
		ok(t, s.PutMDSBlob(t.Context(), blobN(10)))
		blobs := map[int]storage.MDSBlob{}
		for n := 11; n <= 16; n++ {
			blobs[n] = bigBlob(t, n, 3*128<<10+n)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(blobs))
		for _, b := range blobs {
			for range 2 { // two nodes store the same blob at once
				wg.Go(func() { errs <- s.PutMDSBlob(t.Context(), b) })
			}
		}
		wg.Wait()
		close(errs)
		stored := 0
		for err := range errs {
			if err == nil {
				stored++
			} else if !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("a racing store failed with %v, want ErrConflict", err)
			}
		}
		if stored < 1 || stored > len(blobs) {
			t.Fatalf("%d stores succeeded, want 1 to %d (each number at most once)", stored, len(blobs))
		}
		got, err := s.GetMDSBlob(t.Context())
		ok(t, err)
		equal(t, "newest blob", got, blobs[16])
		equal(t, "chunks no blob names", orphanChunks(t, s), 0)
		is(t, s.PutMDSBlob(t.Context(), blobs[15]), storage.ErrConflict)
	}},
	{"readers_see_the_old_blob_or_the_new_one_never_a_mix", func(t *testing.T, s storage.Storage) {
		stored := map[int][]byte{}
		first := bigBlob(t, 20, 4*128<<10+1)
		ok(t, s.PutMDSBlob(t.Context(), first))
		stored[20] = first.Raw
		next := make([]storage.MDSBlob, 4)
		var mu sync.Mutex
		for i := range next {
			next[i] = bigBlob(t, 21+i, 4*128<<10+1)
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					got, err := s.GetMDSBlob(t.Context())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					want, known := stored[got.Number]
					mu.Unlock()
					if !known || !bytes.Equal(got.Raw, want) {
						t.Errorf("read blob %d (%d bytes) that is not the blob stored under that number", got.Number, len(got.Raw))
						return
					}
				}
			})
		}
		for _, b := range next {
			mu.Lock()
			stored[b.Number] = b.Raw // known before it can be read
			mu.Unlock()
			ok(t, s.PutMDSBlob(t.Context(), b))
		}
		close(done)
		wg.Wait()
	}},
	{"an_attempt_that_never_switched_in_leaves_the_old_blob_and_is_swept", func(t *testing.T, s storage.Storage) {
		old := bigBlob(t, 30, 2*128<<10)
		ok(t, s.PutMDSBlob(t.Context(), old))
		// A node that crashed mid-way through storing blob 31, and one still
		// writing blob 40's chunks.
		db := sqlDB(t, s)
		for _, c := range []struct {
			upload string
			number int
		}{{"crashed", 31}, {"crashed", 31}, {"in-progress", 40}} {
			var seq int
			if err := db.QueryRowContext(t.Context(), fmt.Sprintf(
				`SELECT COUNT(*) FROM mds_blob_chunks WHERE upload = '%s'`, c.upload)).Scan(&seq); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), fmt.Sprintf(
				`INSERT INTO mds_blob_chunks (upload, number, seq, data)
				SELECT '%s', %d, %d, data FROM mds_blob_chunks WHERE seq = 0 AND upload IN (SELECT upload FROM mds_blobs)`, c.upload, c.number, seq)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetMDSBlob(t.Context())
		ok(t, err)
		equal(t, "blob while chunks of another are stored", got, old)
		n, err := s.MDSBlobNumber(t.Context())
		ok(t, err)
		equal(t, "number", n, 30)
		equal(t, "chunks no blob names", orphanChunks(t, s), 3)
		ok(t, s.PutMDSBlob(t.Context(), bigBlob(t, 32, 100)))
		// The crashed 31 can never be switched in and is gone; 40 may still be.
		equal(t, "chunks no blob names", orphanChunks(t, s), 1)
	}},
	{"old_blobs_beyond_the_kept_ones_lose_their_chunks", func(t *testing.T, s storage.Storage) {
		for n := 1; n <= 6; n++ {
			ok(t, s.PutMDSBlob(t.Context(), bigBlob(t, n, 128<<10+1)))
		}
		var blobs, chunks int
		db := sqlDB(t, s)
		ok(t, db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM mds_blobs`).Scan(&blobs))
		ok(t, db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM mds_blob_chunks`).Scan(&chunks))
		equal(t, "blobs kept", blobs, 3)
		equal(t, "their chunks", chunks, 3*2)
	}},
}

// OldMDSBlobs are blobs as stored before migration 00220 (one row each, the
// whole blob in mds_blobs.raw): the newest several chunks long and not a
// whole number of them, an older one smaller than a chunk, one empty.
func OldMDSBlobs(t *testing.T) []storage.MDSBlob {
	empty := blobN(3)
	empty.Raw = []byte{}
	return []storage.MDSBlob{empty, bigBlob(t, 4, 1000), bigBlob(t, 5, 3*128<<10+777)}
}

// CheckMDSBlobUpgrade checks a store migrated over old (OldMDSBlobs): the
// newest reads back whole, a newer one is stored in chunks beside it, and
// the old blobs beyond the kept ones go with their chunks.
func CheckMDSBlobUpgrade(t *testing.T, s storage.Storage, old []storage.MDSBlob) {
	t.Helper()
	got, err := s.GetMDSBlob(t.Context())
	ok(t, err)
	equal(t, "newest blob after the upgrade", got, old[len(old)-1])
	n, err := s.MDSBlobNumber(t.Context())
	ok(t, err)
	equal(t, "number", n, old[len(old)-1].Number)
	var chunks int
	ok(t, sqlDB(t, s).QueryRowContext(t.Context(), `SELECT COUNT(*) FROM mds_blob_chunks`).Scan(&chunks))
	equal(t, "chunks of the upgraded blobs", chunks, 1+1+4)
	is(t, s.PutMDSBlob(t.Context(), old[len(old)-1]), storage.ErrConflict)
	newer := bigBlob(t, old[len(old)-1].Number+1, 200)
	ok(t, s.PutMDSBlob(t.Context(), newer))
	got, err = s.GetMDSBlob(t.Context())
	ok(t, err)
	equal(t, "blob stored after the upgrade", got, newer)
	ok(t, sqlDB(t, s).QueryRowContext(t.Context(), `SELECT COUNT(*) FROM mds_blob_chunks`).Scan(&chunks))
	equal(t, "chunks of the kept blobs", chunks, 1+4+1)
	equal(t, "chunks no blob names", orphanChunks(t, s), 0)
}
