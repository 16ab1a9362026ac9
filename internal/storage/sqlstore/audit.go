package sqlstore

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/internal/storage"
)

// The one audit writer. An audited change runs in one transaction on the
// writer, carried in its ctx: every statement the store runs with that ctx
// joins it (conn.in), every inTx and batched write becomes a savepoint in it,
// and the change's audit records are inserted last, before the one commit.

type ambientKey struct{}

// ambientTx is an Audited change's transaction, tied to the store that
// began it so that another store handed the same ctx ignores it.
type ambientTx struct {
	s *Store
	c conn
}

// ambient returns the transaction of the Audited change ctx belongs to.
func (s *Store) ambient(ctx context.Context) (conn, bool) {
	a, ok := ctx.Value(ambientKey{}).(*ambientTx)
	if !ok || a.s != s {
		return conn{}, false
	}
	return a.c, true
}

// savepoint runs fn inside the change's transaction c and undoes fn's
// writes alone when it fails, so a caller that handles the error (an
// ErrAlreadyExists it expected, say) can go on, and PostgreSQL does not
// refuse the rest of the transaction.
func (s *Store) savepoint(ctx context.Context, c conn, fn func(c conn) error) error {
	s.counted(2) // SAVEPOINT and RELEASE
	if _, err := c.tx.ExecContext(ctx, "SAVEPOINT change"); err != nil {
		return fmt.Errorf("%s: savepoint: %w", s.d.Name, err)
	}
	if err := fn(c); err != nil {
		if _, rerr := c.tx.ExecContext(ctx, "ROLLBACK TO change"); rerr != nil {
			return fmt.Errorf("%w (and undoing it: %s: %w)", err, s.d.Name, rerr)
		}
		_, _ = c.tx.ExecContext(ctx, "RELEASE change")
		return err
	}
	if _, err := c.tx.ExecContext(ctx, "RELEASE change"); err != nil {
		return fmt.Errorf("%s: release savepoint: %w", s.d.Name, err)
	}
	return nil
}

// savepointRow runs a one-row statement (an UPDATE … RETURNING, say) on the
// change's transaction c in a savepoint, released or undone when the row is
// scanned.
func (c conn) savepointRow(ctx context.Context, q string, args ...any) scanner {
	c.s.counted(2) // SAVEPOINT and RELEASE
	if _, err := c.tx.ExecContext(ctx, "SAVEPOINT change"); err != nil {
		return errRow{fmt.Errorf("%s: savepoint: %w", c.s.d.Name, err)}
	}
	return &savepointScanner{ctx: ctx, c: c, row: c.row(ctx, q, args...)}
}

type savepointScanner struct {
	ctx context.Context
	c   conn
	row scanner
}

func (r *savepointScanner) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if err != nil {
		_, _ = r.c.tx.ExecContext(r.ctx, "ROLLBACK TO change")
	}
	if _, rerr := r.c.tx.ExecContext(r.ctx, "RELEASE change"); rerr != nil && err == nil {
		return fmt.Errorf("%s: release savepoint: %w", r.c.s.d.Name, rerr)
	}
	return err
}

// Audited implements storage.Storage. Where the dialect asks for group
// commit (SQLite) the change shares its commit with the other hot writes
// queued meanwhile, in a savepoint of its own, and returns only once that
// commit is done: a change reported done is stored with its records. Its
// reads still see its own writes and the ones committed or queued before it,
// on the one writer, so a rule that reads and then writes holds as in a
// transaction of its own.
func (s *Store) Audited(ctx context.Context, change func(ctx context.Context) ([]storage.AuditEvent, error)) error {
	return s.batched(ctx, func(c conn) error {
		inner := ctx
		if _, ok := s.ambient(ctx); !ok {
			inner = context.WithValue(ctx, ambientKey{}, &ambientTx{s: s, c: c})
		}
		events, err := change(inner)
		if err != nil {
			return err
		}
		for _, e := range events {
			if e.Action == "" || e.Actor == "" || e.Time.IsZero() {
				return fmt.Errorf("append audit record %q by %q: a record needs an action, an actor and a time", e.Action, e.Actor)
			}
			if err := s.insertAudit(inner, c, e); err != nil {
				return s.fail(fmt.Sprintf("append audit %q", e.Action), err, nil)
			}
		}
		// A caller gone before its change is committed has it undone, as a
		// transaction of its own would be: the group commit's statements run
		// without the caller's cancellation.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: audited change: %w", s.d.Name, err)
		}
		return nil
	})
}
