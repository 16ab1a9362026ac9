package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// PasskeyModels implements storage.Storage: one grouped read of the
// credentials (index credentials_aaguid), then, per model, one range read of
// sign_in_events_aaguid over the longest window that counts every window at
// once.
func (s *Store) PasskeyModels(ctx context.Context, q storage.PasskeyModelQuery) ([]storage.PasskeyModelUsage, error) {
	const op = "passkey models report"
	member, args := "", []any{}
	if q.GroupID != "" {
		member = ` WHERE user_id IN (SELECT user_id FROM memberships WHERE group_id = ?)`
		args = append(args, q.GroupID)
	}
	rows, err := s.read().rows(ctx, `SELECT aaguid, MAX(model), COUNT(*), COUNT(DISTINCT user_id),
		SUM(CASE WHEN backup_eligible THEN 0 ELSE 1 END), SUM(CASE WHEN backup_eligible THEN 1 ELSE 0 END),
		SUM(CASE WHEN attestation_level = 'attested' THEN 1 ELSE 0 END), MAX(last_used_at)
		FROM credentials`+member+` GROUP BY aaguid ORDER BY aaguid`, args...)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	var out []storage.PasskeyModelUsage
	for rows.Next() {
		var m storage.PasskeyModelUsage
		var last timeCol
		if err := rows.Scan(&m.AAGUID, &m.Model, &m.Passkeys, &m.Users, &m.DeviceBound, &m.Synced, &m.Attested, &last); err != nil {
			rows.Close()
			return nil, s.fail(op, err, nil)
		}
		m.NotAttested, m.LastUsed = m.Passkeys-m.Attested, last.ptr()
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	if len(q.Windows) == 0 {
		return out, nil
	}
	query, oldest := s.windowCounts(q)
	for i := range out {
		a := append([]any{}, windowArgs(s, q)...)
		a = append(a, out[i].AAGUID, s.tv(oldest))
		if q.GroupID != "" {
			a = append(a, q.GroupID)
		}
		counts := make([]int, 2*len(q.Windows))
		dest := make([]any, len(counts))
		for j := range counts {
			dest[j] = &counts[j]
		}
		if err := s.read().row(ctx, query, a...).Scan(dest...); err != nil {
			return nil, s.fail(fmt.Sprintf("%s: sign-ins of %s", op, out[i].AAGUID), err, nil)
		}
		out[i].SignIns, out[i].SignInUsers = counts[:len(q.Windows)], counts[len(q.Windows):]
	}
	return out, nil
}

// windowCounts is the per-model query: a count and a distinct-user count
// for each window, over the range of the oldest.
func (s *Store) windowCounts(q storage.PasskeyModelQuery) (string, time.Time) {
	oldest := q.Windows[0]
	var cols []string
	for _, w := range q.Windows {
		if w.Before(oldest) {
			oldest = w
		}
		cols = append(cols, "COALESCE(SUM(CASE WHEN occurred_at >= ? THEN 1 ELSE 0 END), 0)")
	}
	for range q.Windows {
		cols = append(cols, "COUNT(DISTINCT CASE WHEN occurred_at >= ? THEN user_id END)")
	}
	member := ""
	if q.GroupID != "" {
		member = " AND user_id IN (SELECT user_id FROM memberships WHERE group_id = ?)"
	}
	return `SELECT ` + strings.Join(cols, ", ") + ` FROM sign_in_events
		WHERE aaguid = ? AND occurred_at >= ? AND result = '` + storage.ResultSuccess + `'` + member, oldest
}

func windowArgs(s *Store, q storage.PasskeyModelQuery) []any {
	var a []any
	for range 2 {
		for _, w := range q.Windows {
			a = append(a, s.tv(w))
		}
	}
	return a
}

// ListCredentialOwners implements storage.Storage: two reads, the
// memberships and the credentials with their users.
func (s *Store) ListCredentialOwners(ctx context.Context) ([]storage.CredentialOwner, error) {
	const op = "list credentials with their owners"
	groups := map[string][]string{}
	rows, err := s.read().rows(ctx, `SELECT user_id, group_id FROM memberships ORDER BY user_id, group_id`)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	for rows.Next() {
		var u, g string
		if err := rows.Scan(&u, &g); err != nil {
			rows.Close()
			return nil, s.fail(op, err, nil)
		}
		groups[u] = append(groups[u], g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	rows, err = s.read().rows(ctx, `SELECT `+prefixed("c", credentialCols)+`, `+prefixed("u", userCols)+`
		FROM credentials c JOIN users u ON u.id = c.user_id ORDER BY u.upn_key, c.created_at, c.id`)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var out []storage.CredentialOwner
	for rows.Next() {
		var o storage.CredentialOwner
		c, err := scanCredential(scanFunc(func(credDest ...any) error {
			var uerr error
			o.User, uerr = scanUser(scanFunc(func(userDest ...any) error {
				return rows.Scan(append(credDest, userDest...)...)
			}))
			return uerr
		}))
		if err != nil {
			return nil, s.fail(op, err, nil)
		}
		o.Credential, o.GroupIDs = c, groups[o.User.ID]
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return out, nil
}

// ListUserRegistrations implements storage.Storage: the page of users, then
// one read each of their credentials, memberships, apps and passes.
func (s *Store) ListUserRegistrations(ctx context.Context, p storage.Page, now time.Time) ([]storage.UserRegistration, string, error) {
	const op = "list user registrations"
	users, next, err := s.ListUsers(ctx, p)
	if err != nil || len(users) == 0 {
		return nil, next, err
	}
	regs := make([]storage.UserRegistration, len(users))
	index := map[string]*storage.UserRegistration{}
	ids := make([]any, len(users))
	for i, u := range users {
		regs[i].User, ids[i] = u, u.ID
		index[u.ID] = &regs[i]
	}
	in := "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
	reads := []struct {
		q    string
		args []any
		scan func(rows scanner) error
	}{
		{`SELECT user_id, id, aaguid, model, backup_eligible, clone_warning, created_at FROM credentials
			WHERE user_id IN ` + in + ` ORDER BY user_id, created_at, id`, ids,
			func(rows scanner) error {
				var c storage.Credential
				var created timeCol
				if err := rows.Scan(&c.UserID, &c.ID, &c.AAGUID, &c.Model, &c.BackupEligible, &c.CloneWarning, &created); err != nil {
					return err
				}
				c.CreatedAt = created.T
				r := index[c.UserID]
				r.Credentials = append(r.Credentials, c)
				return nil
			}},
		{`SELECT user_id, group_id FROM memberships WHERE user_id IN ` + in + ` ORDER BY user_id, group_id`, ids,
			func(rows scanner) error {
				var u, g string
				if err := rows.Scan(&u, &g); err != nil {
					return err
				}
				index[u].GroupIDs = append(index[u].GroupIDs, g)
				return nil
			}},
		{`SELECT user_id, created_at FROM totp_methods WHERE confirmed AND user_id IN ` + in, ids,
			func(rows scanner) error {
				var u string
				var at timeCol
				if err := rows.Scan(&u, &at); err != nil {
					return err
				}
				index[u].TOTPAt = at.ptr()
				return nil
			}},
		{`SELECT user_id, MAX(created_at) FROM temporary_access_passes WHERE start_at <= ? AND expires_at > ?
			AND (NOT is_usable_once OR used_at IS NULL) AND user_id IN ` + in + ` GROUP BY user_id`,
			append([]any{s.tv(now), s.tv(now)}, ids...),
			func(rows scanner) error {
				var u string
				var at timeCol
				if err := rows.Scan(&u, &at); err != nil {
					return err
				}
				index[u].TAPAt = at.ptr()
				return nil
			}},
	}
	for _, rd := range reads {
		rows, err := s.read().rows(ctx, rd.q, rd.args...)
		if err != nil {
			return nil, "", s.fail(op, err, nil)
		}
		for rows.Next() {
			if err := rd.scan(rows); err != nil {
				rows.Close()
				return nil, "", s.fail(op, err, nil)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, "", s.fail(op, err, nil)
		}
	}
	return regs, next, nil
}

// SignInsPerDay implements storage.Storage: one read of the time range of
// the log (sign_in_events_time).
func (s *Store) SignInsPerDay(ctx context.Context, since time.Time) ([]storage.DailyCount, error) {
	day := s.d.DayNumber("occurred_at")
	return s.dailyCounts(ctx, "sign-ins per day", `SELECT `+day+`, method, passkey_type, COUNT(*) FROM sign_in_events
		WHERE occurred_at >= ? AND result = '`+storage.ResultSuccess+`' GROUP BY `+day+`, method, passkey_type
		ORDER BY 1, 2, 3`, s.tv(since))
}

// PasskeysRegisteredPerDay implements storage.Storage.
func (s *Store) PasskeysRegisteredPerDay(ctx context.Context, since time.Time) ([]storage.DailyCount, error) {
	day := s.d.DayNumber("created_at")
	return s.dailyCounts(ctx, "passkeys registered per day", `SELECT `+day+`, CASE WHEN backup_eligible THEN 'synced'
		ELSE 'deviceBound' END, '', COUNT(*) FROM credentials WHERE created_at >= ? GROUP BY 1, 2 ORDER BY 1, 2`, s.tv(since))
}

func (s *Store) dailyCounts(ctx context.Context, op, q string, args ...any) ([]storage.DailyCount, error) {
	rows, err := s.read().rows(ctx, q, args...)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	var out []storage.DailyCount
	for rows.Next() {
		var day int64
		var key, sub string
		var c storage.DailyCount
		if err := rows.Scan(&day, &key, &sub, &c.Count); err != nil {
			return nil, s.fail(op, err, nil)
		}
		if sub != "" {
			key += "/" + sub
		}
		c.Day, c.Key = time.Unix(day*86400, 0).UTC(), key
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return out, nil
}
