package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

const policyCols = `name, data, version, updated_at, updated_by`

func scanPolicy(sc scanner) (storage.Policy, error) {
	var p storage.Policy
	var data bytesCol
	var updated timeCol
	if err := sc.Scan(&p.Name, &data, &p.Version, &updated, &p.UpdatedBy); err != nil {
		return storage.Policy{}, err
	}
	p.Data, p.UpdatedAt = data.V, updated.T
	return p, nil
}

// GetPolicy implements storage.Storage.
func (s *Store) GetPolicy(ctx context.Context, name string) (storage.Policy, error) {
	// version > 0 hides the placeholder row of an UpdatePolicy in flight.
	p, err := scanPolicy(s.read().row(ctx, `SELECT `+policyCols+` FROM policies WHERE name = ? AND version > 0`, name))
	if err != nil {
		return p, s.fail(fmt.Sprintf("get policy %q", name), err, nil)
	}
	return p, nil
}

// fido2Policy reads the stored "fido2" policy on c; the zero Policy when
// none was ever saved (or only an UpdatePolicy's placeholder is there).
func (s *Store) fido2Policy(ctx context.Context, c conn) (storage.Policy, error) {
	p, err := scanPolicy(c.row(ctx, `SELECT `+policyCols+` FROM policies WHERE name = 'fido2' AND version > 0`))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Policy{}, nil
	}
	if err != nil {
		return storage.Policy{}, s.fail("get policy \"fido2\"", err, nil)
	}
	return p, nil
}

// PolicyVersions implements storage.Storage.
func (s *Store) PolicyVersions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.read().rows(ctx, `SELECT name, version FROM policies WHERE version > 0`)
	if err != nil {
		return nil, s.fail("policy versions", err, nil)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, s.fail("policy versions", err, nil)
		}
		out[name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("policy versions", err, nil)
	}
	return out, nil
}

// UpdatePolicy implements storage.Storage. A missing policy is first inserted
// as a version-0 placeholder inside the transaction, so concurrent creators
// queue on the same row lock instead of failing on the primary key; if fn
// fails the placeholder is rolled back with everything else.
func (s *Store) UpdatePolicy(ctx context.Context, name string, fn func(storage.Policy) (storage.Policy, error)) (storage.Policy, error) {
	op := fmt.Sprintf("update policy %q", name)
	if err := requireKey("policy name", name); err != nil {
		return storage.Policy{}, fmt.Errorf("%s: %w", op, err)
	}
	var out storage.Policy
	err := s.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO policies (`+policyCols+`) VALUES (?, ?, 0, ?, '')
			ON CONFLICT (name) DO NOTHING`, name, []byte{}, s.tv(zeroTime))
		if err != nil {
			return s.fail(op, err, nil)
		}
		old, err := scanPolicy(c.row(ctx, `SELECT `+policyCols+` FROM policies WHERE name = ?`+s.d.LockRow, name))
		if err != nil {
			return s.fail(op, err, nil)
		}
		if old.Version == 0 {
			old = storage.Policy{Name: name}
		}
		p, err := fn(old)
		if err != nil {
			return err
		}
		p.Name, p.Version = name, old.Version+1
		_, err = c.exec(ctx, `UPDATE policies SET data = ?, version = ?, updated_at = ?, updated_by = ?
			WHERE name = ?`, blob(p.Data), p.Version, s.tv(p.UpdatedAt), p.UpdatedBy, name)
		if err != nil {
			return s.fail(op, err, nil)
		}
		if len(p.Data) == 0 {
			p.Data = nil
		}
		p.UpdatedAt = norm(p.UpdatedAt)
		out = p
		return nil
	})
	return out, err
}

// mdsKeep is how many MDS blobs are kept: the newest, plus a couple of older
// ones to fall back to by hand if a verified blob turns out bad.
const mdsKeep = 3

// mdsChunkBytes is the size of the chunks an MDS blob is stored in, each in a
// transaction of its own: on SQLite a chunk holds the one writer for about a
// millisecond, where the whole blob (about 6 MB) held it for 45–90 ms and
// every sign-in's commit waited behind it (issue 11).
const mdsChunkBytes = 128 << 10

// The pause after each chunk: as long as the chunk's transaction took, and
// at least mdsChunkGap, so that the store takes a small share of the writer
// and of the CPU (a chunk costs about a millisecond of it), and a writer of
// another process waiting on SQLite's busy handler, which retries after 1,
// 2, 5 and then 10 ms, finds the lock free at its next try instead of
// retrying into the next chunk. A 10 ms gap still showed in the p99 of
// sign-ins during a refresh on a 2-core machine (docs/performance.md); the
// store of a 6 MB blob now takes about two seconds, which nothing waits for.
const (
	mdsChunkGap      = 40 * time.Millisecond
	mdsChunkMaxPause = 60 * time.Millisecond
)

// mdsCheckpointEvery is how many chunks the store writes between two of its
// checkpoints (Dialect.Checkpoint): 1 MiB, so that the write-ahead log never
// holds much of the blob when another commit's auto-checkpoint comes.
const mdsCheckpointEvery = 8

// PutMDSBlob implements storage.Storage. The blob is written in chunks, each
// in a short transaction of its own, under an upload ID of this attempt;
// then one small transaction switches it in: it judges the number against
// the newest stored (after LockMDSBlobs, so two nodes' switches are judged
// one after the other), inserts the blob's row naming the upload, drops the
// blobs beyond mdsKeep and sweeps chunks no row names whose number is not
// above the new one (attempts that lost or crashed: they can never be
// switched in). Readers see the old blob or the new one, never a mix: a
// blob is read through its row. An attempt that fails removes its chunks
// (a crash leaves them to the next sweep) and the stored blob stays current.
func (s *Store) PutMDSBlob(ctx context.Context, b storage.MDSBlob) error {
	op := fmt.Sprintf("put MDS blob %d", b.Number)
	if b.Number <= 0 {
		return fmt.Errorf("%s: number must be positive", op)
	}
	// Refused early (judged again at the switch): nothing is written.
	if newest, err := s.MDSBlobNumber(ctx); err != nil {
		return err
	} else if b.Number <= newest {
		return fmt.Errorf("%s: stored blob %d is as new or newer: %w", op, newest, storage.ErrConflict)
	}
	upload, err := newUploadID()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = s.putMDSChunks(ctx, upload, b)
	if err == nil {
		err = s.switchMDSBlob(ctx, op, upload, b)
	}
	if err == nil {
		s.checkpoint(ctx)
	}
	if err != nil {
		// Best effort, even when ctx has ended: the next sweep takes what is left.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.inTx(cleanup, func(c conn) error {
			_, err := c.exec(cleanup, `DELETE FROM mds_blob_chunks WHERE upload = ?`, upload)
			return err
		})
	}
	return err
}

func (s *Store) putMDSChunks(ctx context.Context, upload string, b storage.MDSBlob) error {
	op := fmt.Sprintf("put MDS blob %d", b.Number)
	for seq, off := 0, 0; seq == 0 || off < len(b.Raw); seq, off = seq+1, off+mdsChunkBytes {
		chunk := b.Raw[off:min(off+mdsChunkBytes, len(b.Raw))]
		start := time.Now()
		err := s.inTx(ctx, func(c conn) error {
			_, err := c.exec(ctx, `INSERT INTO mds_blob_chunks (upload, number, seq, data) VALUES (?, ?, ?, ?)`,
				upload, b.Number, seq, blob(chunk))
			return err
		})
		if err != nil {
			return s.fail(op, err, nil)
		}
		if seq%mdsCheckpointEvery == mdsCheckpointEvery-1 {
			s.checkpoint(ctx)
		}
		if off+mdsChunkBytes < len(b.Raw) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w", op, ctx.Err())
			case <-time.After(min(max(time.Since(start), mdsChunkGap), mdsChunkMaxPause)):
			}
		}
	}
	return nil
}

// checkpoint copies what the write-ahead log holds into the database, on a
// reader connection, where the dialect has a way (Dialect.Checkpoint): the
// blob's pages are copied and synced by the node that stores it, outside
// its writer, instead of in the commit of whichever sign-in next crosses the
// auto-checkpoint threshold. Best effort: what it does not copy, the next
// auto-checkpoint does, as before.
func (s *Store) checkpoint(ctx context.Context) {
	if s.d.Checkpoint == "" {
		return
	}
	var busy, logFrames, copied int
	s.counted(1)
	_ = s.reader.QueryRowContext(ctx, s.d.Checkpoint).Scan(&busy, &logFrames, &copied)
}

func (s *Store) switchMDSBlob(ctx context.Context, op, upload string, b storage.MDSBlob) error {
	return s.inTx(ctx, func(c conn) error {
		if s.d.LockMDSBlobs != "" {
			if _, err := c.exec(ctx, s.d.LockMDSBlobs); err != nil {
				return s.fail(op, err, nil)
			}
		}
		var newest int
		if err := c.row(ctx, `SELECT COALESCE(MAX(number), 0) FROM mds_blobs`).Scan(&newest); err != nil {
			return s.fail(op, err, nil)
		}
		if b.Number <= newest {
			return fmt.Errorf("%s: stored blob %d is as new or newer: %w", op, newest, storage.ErrConflict)
		}
		_, err := c.exec(ctx, `INSERT INTO mds_blobs (number, next_update, source, imported_at, upload, size)
			VALUES (?, ?, ?, ?, ?, ?)`, b.Number, s.tv(b.NextUpdate), b.Source, s.tv(b.ImportedAt), upload, len(b.Raw))
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("%s: %w (%w)", op, storage.ErrConflict, err)
		}
		if err != nil {
			return s.fail(op, err, nil)
		}
		_, err = c.exec(ctx, `DELETE FROM mds_blobs WHERE number NOT IN
			(SELECT number FROM mds_blobs ORDER BY number DESC LIMIT ?)`, mdsKeep)
		if err == nil {
			_, err = c.exec(ctx, `DELETE FROM mds_blob_chunks WHERE number <= ?
				AND upload NOT IN (SELECT upload FROM mds_blobs)`, b.Number)
		}
		if err != nil {
			return s.fail(op, err, nil)
		}
		return nil
	})
}

// newUploadID names one attempt to store a blob.
func newUploadID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// GetMDSBlob implements storage.Storage. One statement reads the newest
// blob's row and its chunks in order, so it sees one snapshot: a switch or a
// sweep committed meanwhile changes nothing it reads. Where the dialect says
// how (ReleaseCache), the read has a connection of its own, whose page cache
// it empties before giving the connection back: not left for the next
// sign-in on that connection to free. Outside a caller's transaction, on
// every dialect, it pauses after each chunk (mdsReadMinPause), the
// statement kept open, so that the 46 chunks of a 6 MB blob are not read in
// one burst of the reading node's CPU.
func (s *Store) GetMDSBlob(ctx context.Context) (storage.MDSBlob, error) {
	const op = "get MDS blob"
	if _, ambient := s.read().joins(ctx); s.d.ReleaseCache == "" || ambient {
		rows, err := s.read().rows(ctx, getMDSBlobQuery)
		if err != nil {
			return storage.MDSBlob{}, s.fail(op, err, nil)
		}
		// Paced unless inside a caller's transaction, which must not
		// wait on it: on PostgreSQL too the 46 chunks are not copied
		// in one burst of the reading node's CPU.
		return s.scanMDSBlob(ctx, op, rows, !ambient)
	}
	c, err := s.reader.Conn(ctx)
	if err != nil {
		return storage.MDSBlob{}, s.fail(op, err, nil)
	}
	defer c.Close()
	s.counted(2)
	rows, err := c.QueryContext(ctx, getMDSBlobQuery)
	if err != nil {
		return storage.MDSBlob{}, s.fail(op, err, nil)
	}
	b, err := s.scanMDSBlob(ctx, op, &rowSet{Rows: rows}, true)
	// Best effort: a cache left full is freed later, as before.
	_, _ = c.ExecContext(context.WithoutCancel(ctx), s.d.ReleaseCache)
	return b, err
}

const getMDSBlobQuery = `SELECT b.number, b.next_update, b.source, b.imported_at, b.size, c.data
		FROM mds_blobs b JOIN mds_blob_chunks c ON c.upload = b.upload
		WHERE b.number = (SELECT MAX(number) FROM mds_blobs) ORDER BY c.seq`

// The pause after each chunk GetMDSBlob reads on a connection of its own:
// as long as the chunk took, within these bounds.
const (
	mdsReadMinPause = time.Millisecond
	mdsReadMaxPause = 5 * time.Millisecond
)

// scanMDSBlob reads GetMDSBlob's rows and closes them; with pace, it pauses
// after each row.
func (s *Store) scanMDSBlob(ctx context.Context, op string, rows *rowSet, pace bool) (storage.MDSBlob, error) {
	defer rows.Close()
	var (
		b    storage.MDSBlob
		size int
		rowN int
	)
	start := time.Now()
	for rows.Next() {
		if pace && rowN > 0 {
			// The last chunk took time.Since(start) to step to and copy.
			select {
			case <-ctx.Done():
				return storage.MDSBlob{}, fmt.Errorf("%s: %w", op, ctx.Err())
			case <-time.After(min(max(time.Since(start), mdsReadMinPause), mdsReadMaxPause)):
			}
			start = time.Now()
		}
		var next, imported timeCol
		var data sql.RawBytes // appended at once: no copy of each chunk by database/sql
		if err := rows.Scan(&b.Number, &next, &b.Source, &imported, &size, &data); err != nil {
			return storage.MDSBlob{}, s.fail(op, err, nil)
		}
		if rowN == 0 {
			b.NextUpdate, b.ImportedAt = next.T, imported.T
			b.Raw = make([]byte, 0, size)
		}
		rowN++
		b.Raw = append(b.Raw, data...)
	}
	if err := rows.Err(); err != nil {
		return storage.MDSBlob{}, s.fail(op, err, nil)
	}
	if rowN == 0 {
		return storage.MDSBlob{}, s.fail(op, sql.ErrNoRows, nil)
	}
	if len(b.Raw) != size {
		return storage.MDSBlob{}, fmt.Errorf("%s: blob %d has %d of its %d bytes stored", op, b.Number, len(b.Raw), size)
	}
	return b, nil
}

// MDSBlobNumber implements storage.Storage.
func (s *Store) MDSBlobNumber(ctx context.Context) (int, error) {
	var n int
	if err := s.read().row(ctx, `SELECT COALESCE(MAX(number), 0) FROM mds_blobs`).Scan(&n); err != nil {
		return 0, s.fail("MDS blob number", err, nil)
	}
	return n, nil
}
