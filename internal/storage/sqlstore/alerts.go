package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// EmergencyAccountsQuery lists the emergency accounts: the few rows of the
// users_privileged partial index, whose condition it repeats so that the
// planner may use it.
const EmergencyAccountsQuery = `SELECT id FROM users
	WHERE (admin_role = 'global-admin' OR is_emergency_access) AND is_emergency_access`

// EmergencySignInsQuery is one emergency account's sign-ins from a time on
// (its parameters: user ID, since, limit): a range of sign_in_events_user
// read in that index's order, whatever the planner knows of the tables.
const EmergencySignInsQuery = `SELECT e.id, e.occurred_at, e.user_id, e.upn, e.method, e.credential_id, e.aaguid,
		e.model, e.result, e.failure_reason, e.ip, e.user_agent, e.seq
	FROM sign_in_events e WHERE e.user_id = ? AND e.occurred_at >= ?
	ORDER BY e.occurred_at, e.seq LIMIT ?`

// EmergencySignIns implements storage.Storage. It reads the emergency
// accounts, then each one's sign-ins (EmergencySignInsQuery), and merges
// them in the log's order. The alert scan asks every two seconds for the
// last five minutes; one query joining from the sign-in log read every
// sign-in of those minutes wherever the planner had no statistics (SQLite
// always, PostgreSQL until it analyzes the table): under steady load some
// 600,000 rows (at 2,000 sign-ins a second) over and over.
func (s *Store) EmergencySignIns(ctx context.Context, since time.Time, limit int) ([]storage.SignInEvent, error) {
	const op = "list emergency-account sign-ins"
	if limit <= 0 {
		return nil, fmt.Errorf("%s: limit %d is not positive", op, limit)
	}
	ids, err := s.strings(ctx, s.read(), EmergencyAccountsQuery)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	type event struct {
		storage.SignInEvent
		seq int64
	}
	var all []event
	for _, id := range ids {
		err := func() error {
			rows, err := s.read().rows(ctx, EmergencySignInsQuery, id, s.tv(since), limit)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var e event
				var at timeCol
				if err := rows.Scan(&e.ID, &at, &e.UserID, &e.UserPrincipalName, &e.Method, &e.CredentialID, &e.AAGUID,
					&e.Model, &e.Result, &e.FailureReason, &e.IP, &e.UserAgent, &e.seq); err != nil {
					return err
				}
				e.Time = at.T
				all = append(all, e)
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
	}
	slices.SortFunc(all, func(a, b event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]storage.SignInEvent, 0, min(len(all), limit))
	for _, e := range all[:min(len(all), limit)] {
		out = append(out, e.SignInEvent)
	}
	return out, nil
}

// AlertScanMark implements storage.Storage.
func (s *Store) AlertScanMark(ctx context.Context) (time.Time, error) {
	var mark timeCol
	if err := s.read().row(ctx, `SELECT mark FROM alert_scan WHERE id = 1`).Scan(&mark); err != nil {
		return time.Time{}, s.fail("alert scan mark", err, nil)
	}
	return mark.T, nil
}

// EnqueueAlerts implements storage.Storage.
func (s *Store) EnqueueAlerts(ctx context.Context, alerts []storage.Alert, urls []string, mark time.Time) ([]storage.Alert, error) {
	const op = "enqueue alerts"
	var added []storage.Alert
	err := s.inTx(ctx, func(c conn) error {
		added = nil
		var cur timeCol
		if err := c.row(ctx, `SELECT mark FROM alert_scan WHERE id = 1`+s.d.LockRow).Scan(&cur); err != nil {
			return s.fail(op, err, nil)
		}
		for _, a := range alerts {
			if err := requireKey("alert ID", a.ID); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			res, err := c.exec(ctx, `INSERT INTO alerts (id, kind, payload, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (id) DO NOTHING`, a.ID, a.Kind, blob(a.Payload), s.tv(a.CreatedAt))
			if err != nil {
				return s.fail(op, err, nil)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue
			}
			for _, u := range urls {
				_, err := c.exec(ctx, `INSERT INTO alert_deliveries (id, alert_id, url, attempts, next_attempt_at,
					gave_up, last_error) VALUES (?, ?, ?, 0, ?, ?, '')`, uuid.NewString(), a.ID, u, s.tv(a.CreatedAt), false)
				if err != nil {
					return s.fail(op, err, nil)
				}
			}
			a.CreatedAt = norm(a.CreatedAt)
			added = append(added, a)
		}
		if !mark.IsZero() && (!cur.Valid || mark.After(cur.T)) {
			if _, err := c.exec(ctx, `UPDATE alert_scan SET mark = ? WHERE id = 1`, s.tv(mark)); err != nil {
				return s.fail(op, err, nil)
			}
		}
		return nil
	})
	return added, err
}

const deliveryCols = `d.id, d.alert_id, d.url, a.payload, d.attempts, d.next_attempt_at, d.delivered_at, d.gave_up, d.last_error`

func scanDelivery(sc scanner) (storage.AlertDelivery, error) {
	var d storage.AlertDelivery
	var payload bytesCol
	var next, delivered timeCol
	if err := sc.Scan(&d.ID, &d.AlertID, &d.URL, &payload, &d.Attempts, &next, &delivered, &d.GaveUp, &d.LastError); err != nil {
		return d, err
	}
	d.Payload, d.NextAttemptAt, d.DeliveredAt = payload.V, next.T, delivered.ptr()
	return d, nil
}

// ClaimAlertDeliveries implements storage.Storage: the due rows are locked
// (skipping those another worker holds, on PostgreSQL; SQLite's single
// writer runs one claim at a time) and leased in the same transaction.
func (s *Store) ClaimAlertDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]storage.AlertDelivery, error) {
	const op = "claim alert deliveries"
	lock := ""
	if s.d.LockRow != "" {
		lock = s.d.LockRow + " SKIP LOCKED"
	}
	var out []storage.AlertDelivery
	err := s.inTx(ctx, func(c conn) error {
		out = nil
		rows, err := c.rows(ctx, `SELECT id FROM alert_deliveries WHERE delivered_at IS NULL AND NOT gave_up
			AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY next_attempt_at LIMIT ?`+lock, s.tv(now), s.tv(now), limit)
		if err != nil {
			return s.fail(op, err, nil)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return s.fail(op, err, nil)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.fail(op, err, nil)
		}
		for _, id := range ids {
			if _, err := c.exec(ctx, `UPDATE alert_deliveries SET lease_until = ? WHERE id = ?`, s.tv(now.Add(lease)), id); err != nil {
				return s.fail(op, err, nil)
			}
			d, err := scanDelivery(c.row(ctx, `SELECT `+deliveryCols+` FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
				WHERE d.id = ?`, id))
			if err != nil {
				return s.fail(op, err, nil)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// FinishAlertDelivery implements storage.Storage.
func (s *Store) FinishAlertDelivery(ctx context.Context, id string, a storage.AlertAttempt) error {
	op := fmt.Sprintf("finish alert delivery %q", id)
	var delivered any
	if a.Delivered {
		delivered = s.tv(a.At)
	}
	next := a.Next
	if next.IsZero() {
		next = a.At
	}
	errText := a.Error
	if len(errText) > 500 {
		errText = strings.ToValidUTF8(errText[:500], "")
	}
	if err := s.write().execOne(ctx, `UPDATE alert_deliveries SET attempts = attempts + 1, lease_until = NULL,
		delivered_at = ?, gave_up = ?, last_error = ?, next_attempt_at = ? WHERE id = ?`,
		delivered, !a.Delivered && a.Next.IsZero(), errText, s.tv(next), id); err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}

// ListAlertDeliveries implements storage.Storage.
func (s *Store) ListAlertDeliveries(ctx context.Context, alertID string) ([]storage.AlertDelivery, error) {
	const op = "list alert deliveries"
	rows, err := s.read().rows(ctx, `SELECT `+deliveryCols+` FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
		WHERE d.alert_id = ? ORDER BY d.url, d.id`, alertID)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var out []storage.AlertDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return out, nil
}
