package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/odatafilter"
	"github.com/keyward/keyward/internal/storage"
)

// Logs reads the sign-in log and the audit log.
type Logs struct {
	Store storage.Storage
}

// SignIns returns one page of the sign-in log matching filter, newest first,
// and the cursor of the next page ("" at the end).
func (l *Logs) SignIns(ctx context.Context, filter string, limit int, after string) ([]SignIn, string, error) {
	q, err := SignInQuery(filter)
	if err != nil {
		return nil, "", filterError(err)
	}
	q.Limit, q.After = limit, after
	events, next, err := l.Store.ListSignIns(ctx, q)
	if err != nil {
		return nil, "", readError(err)
	}
	out := make([]SignIn, len(events))
	for i, e := range events {
		out[i] = NewSignIn(e)
	}
	return out, next, nil
}

// DirectoryAudits returns one page of the audit log matching filter.
func (l *Logs) DirectoryAudits(ctx context.Context, filter string, limit int, after string) ([]DirectoryAudit, string, error) {
	q, err := AuditQuery(filter)
	if err != nil {
		return nil, "", filterError(err)
	}
	q.Limit, q.After = limit, after
	events, next, err := l.Store.ListAuditEvents(ctx, q)
	if err != nil {
		return nil, "", readError(err)
	}
	out := make([]DirectoryAudit, len(events))
	for i, e := range events {
		out[i] = NewDirectoryAudit(e)
	}
	return out, next, nil
}

func filterError(err error) error {
	var fe *odatafilter.Error
	if errors.As(err, &fe) {
		return apperr.BadRequest("$filter: %s", fe.Message)
	}
	return err
}

func readError(err error) error {
	if errors.Is(err, storage.ErrBadCursor) {
		return apperr.BadRequest("$skiptoken is not valid; follow @odata.nextLink from the previous page instead of editing it")
	}
	return apperr.Internal(err)
}

// Export kinds.
const (
	KindSignIns = "signins"
	KindAudits  = "audits"
)

// Export writes every record of kind at or after since as JSON Lines, one
// Graph-shaped object a line, newest first, and returns how many it wrote.
// Records written while it runs are newer than its first page and are left
// for the next export.
func (l *Logs) Export(ctx context.Context, kind string, since time.Time, w io.Writer) (int, error) {
	enc := json.NewEncoder(w)
	n, after := 0, ""
	for {
		var page []any
		var next string
		switch kind {
		case KindSignIns:
			events, nx, err := l.Store.ListSignIns(ctx, storage.SignInQuery{Since: since, Limit: 1000, After: after})
			if err != nil {
				return n, fmt.Errorf("export sign-ins: %w", err)
			}
			for _, e := range events {
				page = append(page, NewSignIn(e))
			}
			next = nx
		case KindAudits:
			events, nx, err := l.Store.ListAuditEvents(ctx, storage.AuditQuery{Since: since, Limit: 1000, After: after})
			if err != nil {
				return n, fmt.Errorf("export audit records: %w", err)
			}
			for _, e := range events {
				page = append(page, NewDirectoryAudit(e))
			}
			next = nx
		default:
			return 0, apperr.BadRequest("kind %q is not signins or audits", kind)
		}
		for _, v := range page {
			if err := enc.Encode(v); err != nil {
				return n, fmt.Errorf("write export: %w", err)
			}
			n++
		}
		if next == "" {
			return n, nil
		}
		after = next
	}
}

// Retention deletes log records older than their retention, in batches, so
// that a sweep never holds the database's writer for long.
type Retention struct {
	Store  storage.Storage
	SignIn time.Duration // keep sign-in records this long (0 = forever)
	Audit  time.Duration // keep audit records this long (0 = forever)
	Batch  int           // records per delete (0 = 1000)
	Now    func() time.Time
}

// Sweep deletes everything past retention, batch by batch, and returns how
// many records of each log it deleted.
func (r *Retention) Sweep(ctx context.Context) (signIns, audits int, err error) {
	now := r.Now()
	batch := r.Batch
	if batch <= 0 {
		batch = storage.SweepBatch
	}
	sweep := func(keep time.Duration, del func(context.Context, time.Time, int) (int, error)) (int, error) {
		if keep <= 0 {
			return 0, nil
		}
		return storage.Sweep(ctx, batch, func(ctx context.Context, max int) (int, error) {
			return del(ctx, now.Add(-keep), max)
		})
	}
	if signIns, err = sweep(r.SignIn, r.Store.DeleteSignInsBefore); err != nil {
		return signIns, 0, fmt.Errorf("sweep the sign-in log: %w", err)
	}
	// The roll-ups keep what the log keeps: the days before the cutoff's,
	// and the latest sign-ins older than it.
	if _, err = sweep(r.SignIn, r.Store.DeleteSignInRollupsBefore); err != nil {
		return signIns, 0, fmt.Errorf("sweep the sign-in log's roll-ups: %w", err)
	}
	if audits, err = sweep(r.Audit, r.Store.DeleteAuditBefore); err != nil {
		return signIns, audits, fmt.Errorf("sweep the audit log: %w", err)
	}
	return signIns, audits, nil
}
