package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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

// PutMDSBlob implements storage.Storage. Two concurrent puts of different
// numbers may both succeed; GetMDSBlob still returns the newest.
func (s *Store) PutMDSBlob(ctx context.Context, b storage.MDSBlob) error {
	op := fmt.Sprintf("put MDS blob %d", b.Number)
	if b.Number <= 0 {
		return fmt.Errorf("%s: number must be positive", op)
	}
	return s.inTx(ctx, func(c conn) error {
		var newest int
		if err := c.row(ctx, `SELECT COALESCE(MAX(number), 0) FROM mds_blobs`).Scan(&newest); err != nil {
			return s.fail(op, err, nil)
		}
		if b.Number <= newest {
			return fmt.Errorf("%s: stored blob %d is as new or newer: %w", op, newest, storage.ErrConflict)
		}
		_, err := c.exec(ctx, `INSERT INTO mds_blobs (number, next_update, raw, source, imported_at)
			VALUES (?, ?, ?, ?, ?)`, b.Number, s.tv(b.NextUpdate), blob(b.Raw), b.Source, s.tv(b.ImportedAt))
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("%s: %w (%w)", op, storage.ErrConflict, err)
		}
		if err != nil {
			return s.fail(op, err, nil)
		}
		_, err = c.exec(ctx, `DELETE FROM mds_blobs WHERE number NOT IN
			(SELECT number FROM mds_blobs ORDER BY number DESC LIMIT ?)`, mdsKeep)
		if err != nil {
			return s.fail(op, err, nil)
		}
		return nil
	})
}

// GetMDSBlob implements storage.Storage.
func (s *Store) GetMDSBlob(ctx context.Context) (storage.MDSBlob, error) {
	var b storage.MDSBlob
	var raw bytesCol
	var next, imported timeCol
	err := s.read().row(ctx, `SELECT number, next_update, raw, source, imported_at FROM mds_blobs
		ORDER BY number DESC LIMIT 1`).Scan(&b.Number, &next, &raw, &b.Source, &imported)
	if err != nil {
		return storage.MDSBlob{}, s.fail("get MDS blob", err, nil)
	}
	b.NextUpdate, b.Raw, b.ImportedAt = next.T, raw.V, imported.T
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
