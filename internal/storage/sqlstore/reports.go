package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// PasskeyModels implements storage.Storage. Without a group it reads
// counters, never a row per passkey or per person: credential_models (a few
// rows per model), then the windows' counts of every model at once and each
// model's last use (see windowCounts and lastUses). A group's read its
// members' passkeys (memberships, then credentials_user_models per member, an
// index-only read).
func (s *Store) PasskeyModels(ctx context.Context, q storage.PasskeyModelQuery) ([]storage.PasskeyModelUsage, error) {
	const op = "passkey models report"
	query, args := `SELECT aaguid, COALESCE(MAX(CASE WHEN passkeys > 0 THEN model END), ''), SUM(passkeys), SUM(holders),
		SUM(passkeys) - SUM(synced), SUM(synced), SUM(attested)
		FROM (SELECT aaguid, model, SUM(passkeys) AS passkeys, SUM(holders) AS holders, SUM(synced) AS synced,
			SUM(attested) AS attested FROM credential_models GROUP BY aaguid, model) AS m
		GROUP BY aaguid HAVING SUM(passkeys) > 0 ORDER BY aaguid`, []any{}
	if q.GroupID != "" {
		query, args = `SELECT aaguid, MAX(model), COUNT(*), COUNT(DISTINCT user_id),
		SUM(CASE WHEN backup_eligible THEN 0 ELSE 1 END), SUM(CASE WHEN backup_eligible THEN 1 ELSE 0 END),
		SUM(CASE WHEN attestation_level = 'attested' THEN 1 ELSE 0 END)
		FROM credentials WHERE user_id IN (SELECT user_id FROM memberships WHERE group_id = ?)
		GROUP BY aaguid ORDER BY aaguid`, []any{q.GroupID}
	}
	rows, err := s.read().rows(ctx, query, args...)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	var out []storage.PasskeyModelUsage
	for rows.Next() {
		var m storage.PasskeyModelUsage
		if err := rows.Scan(&m.AAGUID, &m.Model, &m.Passkeys, &m.Users, &m.DeviceBound, &m.Synced, &m.Attested); err != nil {
			rows.Close()
			return nil, s.fail(op, err, nil)
		}
		m.NotAttested = m.Passkeys - m.Attested
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	if len(out) == 0 {
		return out, nil
	}
	if q.GroupID == "" {
		if err := s.lastUses(ctx, out); err != nil {
			return nil, s.fail(op, err, nil)
		}
	}
	if len(q.Windows) == 0 {
		return out, nil
	}
	counts, lasts, err := s.windowCounts(ctx, q)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	for i := range out {
		if last, ok := lasts[out[i].AAGUID]; ok {
			out[i].LastUsed = last.ptr()
		}
		c := counts[out[i].AAGUID]
		if c == nil {
			c = make([]int, 2*len(q.Windows))
		}
		out[i].SignIns, out[i].SignInUsers = c[:len(q.Windows)], c[len(q.Windows):]
	}
	return out, nil
}

// lastUses sets each model's last use: the latest successful sign-in of
// the latest day anyone signed in with it (sign_in_model_days_aaguid gives
// the day, sign_in_daily's key the day's rows of the model).
func (s *Store) lastUses(ctx context.Context, models []storage.PasskeyModelUsage) error {
	for i := range models {
		var last timeCol
		err := s.read().row(ctx, `SELECT MAX(last_at) FROM sign_in_daily
			WHERE day = (SELECT MAX(day) FROM sign_in_model_days WHERE aaguid = ?) AND aaguid = ?
			AND result = '`+storage.ResultSuccess+`'`, models[i].AAGUID, models[i].AAGUID).Scan(&last)
		if err != nil {
			return err
		}
		models[i].LastUsed = last.ptr()
	}
	return nil
}

// windowCounts counts each model's successful sign-ins and distinct people
// in each window: per AAGUID, the counts of the windows in order, then the
// people. Without a group it reads the roll-ups by their keys, which start
// with the day: sign_in_daily for the sign-ins, sign_in_model_days (people
// per model and latest day) for the people, a few rows per day each. A
// group's counts come from its members' records in the log (memberships,
// then sign_in_events_user per member, an index-only read), with each
// model's latest successful sign-in among them in that period.
func (s *Store) windowCounts(ctx context.Context, q storage.PasskeyModelQuery) (map[string][]int, map[string]timeCol, error) {
	n := len(q.Windows)
	oldest := q.Windows[0]
	for _, w := range q.Windows {
		if w.Before(oldest) {
			oldest = w
		}
	}
	out, lasts := map[string][]int{}, map[string]timeCol{}
	read := func(query string, args []any, offset, width int) error {
		rows, err := s.read().rows(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var aaguid string
			var last timeCol
			c := make([]int, width)
			dest := []any{&aaguid}
			for j := range c {
				dest = append(dest, &c[j])
			}
			if q.GroupID != "" {
				dest = append(dest, &last)
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if q.GroupID != "" {
				lasts[aaguid] = last
			}
			if out[aaguid] == nil {
				out[aaguid] = make([]int, 2*n)
			}
			copy(out[aaguid][offset:], c)
		}
		return rows.Err()
	}
	var cols []string
	var args []any
	if q.GroupID != "" {
		for _, w := range q.Windows {
			cols = append(cols, "COALESCE(SUM(CASE WHEN e.occurred_at >= ? THEN 1 ELSE 0 END), 0)")
			args = append(args, s.tv(storage.DayStart(w)))
		}
		for _, w := range q.Windows {
			cols = append(cols, "COUNT(DISTINCT CASE WHEN e.occurred_at >= ? THEN e.user_id END)")
			args = append(args, s.tv(storage.DayStart(w)))
		}
		args = append(args, q.GroupID, s.tv(storage.DayStart(oldest)))
		// The members' ranges of sign_in_events_user, which covers the
		// columns read (sign_in_events_result, which SQLite once read every
		// success of the period through, holds only failures since 00231).
		return out, lasts, read(`SELECT e.aaguid, `+strings.Join(cols, ", ")+`, MAX(e.occurred_at) FROM memberships m
			JOIN sign_in_events e ON e.user_id = m.user_id
			WHERE m.group_id = ? AND e.occurred_at >= ? AND e.result = '`+storage.ResultSuccess+`' AND e.aaguid <> ''
			GROUP BY e.aaguid`, args, 0, 2*n)
	}
	for _, w := range q.Windows {
		cols = append(cols, "COALESCE(SUM(CASE WHEN day >= ? THEN sign_ins ELSE 0 END), 0)")
		args = append(args, storage.DayNumber(w))
	}
	args = append(args, storage.DayNumber(oldest))
	if err := read(`SELECT aaguid, `+strings.Join(cols, ", ")+` FROM sign_in_daily
		WHERE aaguid <> '' AND result = '`+storage.ResultSuccess+`' AND day >= ? GROUP BY aaguid`, args, 0, n); err != nil {
		return nil, nil, err
	}
	cols, args = nil, nil
	for _, w := range q.Windows {
		cols = append(cols, "COALESCE(SUM(CASE WHEN day >= ? THEN people ELSE 0 END), 0)")
		args = append(args, storage.DayNumber(w))
	}
	args = append(args, storage.DayNumber(oldest))
	return out, lasts, read(`SELECT aaguid, `+strings.Join(cols, ", ")+` FROM sign_in_model_days
		WHERE day >= ? GROUP BY aaguid`, args, n, n)
}

// ListCredentialOwners implements storage.Storage: the number of passkeys
// (credential_models' counters, so the list is allocated once, not grown
// through copies of ever larger arrays), the memberships, and the
// credentials with their users.
func (s *Store) ListCredentialOwners(ctx context.Context) ([]storage.CredentialOwner, error) {
	const op = "list credentials with their owners"
	var n int
	if err := s.read().row(ctx, `SELECT COALESCE(SUM(passkeys), 0) FROM credential_models`).Scan(&n); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return s.credentialOwners(ctx, op, n, `SELECT user_id, group_id FROM memberships ORDER BY user_id, group_id`, nil,
		"", nil)
}

// privilegedUsers is the condition on users that they are a global
// administrator or an emergency-access account: the condition of the
// partial index users_privileged (migration 00221), written out rather than
// with a parameter, which neither database matches to an index's condition
// (a scan of every user, 25 ms at 100,000 users on SQLite).
const privilegedUsers = `(admin_role = '` + storage.RoleGlobalAdmin + `' OR is_emergency_access)`

// ListPrivilegedCredentialOwners implements storage.Storage: the privileged
// accounts' memberships, then their credentials with them, both found from
// the accounts (IN a list of them: joined the other way, SQLite read every
// credential and looked up its user, 0.6 s at 100,000 keys).
func (s *Store) ListPrivilegedCredentialOwners(ctx context.Context) ([]storage.CredentialOwner, error) {
	const privileged = `(SELECT id FROM users WHERE ` + privilegedUsers + `)`
	return s.credentialOwners(ctx, "list privileged accounts' credentials", 0,
		`SELECT user_id, group_id FROM memberships WHERE user_id IN `+privileged+` ORDER BY user_id, group_id`,
		nil, `WHERE c.user_id IN `+privileged, nil)
}

// ListCredentialOwnersByID implements storage.Storage: the credentials by
// their IDs (the primary key), with their users and the users' memberships.
func (s *Store) ListCredentialOwnersByID(ctx context.Context, ids []string) ([]storage.CredentialOwner, error) {
	var out []storage.CredentialOwner
	// Chunks keep the statements' parameters few (SQLite allows 32,766).
	for chunk := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(ids))), 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := placeholders(len(chunk))
		owners, err := s.credentialOwners(ctx, "list credentials by ID with their owners", len(chunk),
			`SELECT user_id, group_id FROM memberships WHERE user_id IN (SELECT user_id FROM credentials WHERE id IN `+in+`)
			ORDER BY user_id, group_id`, args, `WHERE c.id IN `+in, args)
		if err != nil {
			return nil, err
		}
		out = append(out, owners...)
	}
	return out, nil
}

// credentialOwners reads memberships (user_id, group_id rows ordered by
// user) with their args, then the credentials the condition where keeps
// with their users, ordered by UPN, into a list allocated for n.
func (s *Store) credentialOwners(ctx context.Context, op string, n int, memberships string, margs []any, where string, args []any) ([]storage.CredentialOwner, error) {
	groups, err := s.memberships(ctx, s.read(), op, memberships, margs)
	if err != nil {
		return nil, err
	}
	rows, err := s.read().rows(ctx, `SELECT `+prefixed("c", credentialCols)+`, `+prefixed("u", userCols)+`
		FROM credentials c JOIN users u ON u.id = c.user_id `+where+` ORDER BY u.upn_key, c.created_at, c.id`, args...)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	out := make([]storage.CredentialOwner, 0, max(n, 0))
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

// memberships reads (user_id, group_id) rows ordered by user into each
// user's group IDs.
func (s *Store) memberships(ctx context.Context, c conn, op, q string, args []any) (map[string][]string, error) {
	groups := map[string][]string{}
	rows, err := c.rows(ctx, q, args...)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	for rows.Next() {
		var u, g string
		if err := rows.Scan(&u, &g); err != nil {
			return nil, s.fail(op, err, nil)
		}
		groups[u] = append(groups[u], g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return groups, nil
}

// keyFactsRow is a passkey's facts as EachKeyFacts reads them: "user key
// b aaguid keyid model", b being 1 for a key eligible for backup, else 0
// (Dialect.KeyFactsRow builds the same string). No column is NULL.
const keyFactsRow = `user_id || ' ' || id || ' ' || CASE WHEN backup_eligible THEN '1 ' ELSE '0 ' END ||
	aaguid || ' ' || attestation_key_id || ' ' || model`

// keyOwners is what EachKeyFacts knows of the keys' owners before it reads
// the keys: their memberships of the groups asked about, and the disabled
// and the privileged accounts.
type keyOwners struct {
	groups               map[string][]string
	disabled, privileged map[string]bool
}

// EachKeyFacts implements storage.Storage: in one read-only transaction, the
// memberships of the groups asked about (none when none are), the disabled
// and the privileged accounts (few, each through a partial index of their
// own), then the keys alone: joined to users for every key, the read looked
// up a user per key, which cost more than all the rest (2.4 times the time
// in the sqlite3 shell at 100,000 keys); see keyFacts.
func (s *Store) EachKeyFacts(ctx context.Context, groupIDs []string, each func(kind int, f storage.KeyFacts) error) error {
	const op = "list the facts of passkeys that sign in"
	return s.snapshot(ctx, func(c conn) error {
		o := keyOwners{groups: map[string][]string{}}
		if len(groupIDs) > 0 {
			args := make([]any, len(groupIDs))
			for i, g := range groupIDs {
				args[i] = g
			}
			var err error
			o.groups, err = s.memberships(ctx, c, op, `SELECT user_id, group_id FROM memberships WHERE group_id IN `+
				placeholders(len(groupIDs))+` ORDER BY user_id, group_id`, args)
			if err != nil {
				return err
			}
		}
		var err error
		if o.disabled, err = s.userIDs(ctx, c, op, `SELECT id FROM users WHERE NOT account_enabled`); err != nil {
			return err
		}
		if o.privileged, err = s.userIDs(ctx, c, op, `SELECT id FROM users WHERE `+privilegedUsers); err != nil {
			return err
		}
		return s.keyFacts(ctx, c, op, o, each)
	})
}

// keyFacts reads every key with its kind as one string (keyFactsRow or
// Dialect.KeyFactsRow). The IDs (UUIDs, no spaces) come first, then the kind
// (backup eligibility, AAGUID, key identifier and model, the model last
// since it may hold spaces), which repeats across keys, so each distinct
// kind is split and kept once and numbered. One column: the driver's cost
// is per column fetched, and per row (a string each). Where the dialect
// has KeyFactsOrder the rows come in the owners' order and each is handed
// on as it is read, so the keys are never all held at once; elsewhere
// they are collected and sorted first.
func (s *Store) keyFacts(ctx context.Context, c conn, op string, o keyOwners, each func(int, storage.KeyFacts) error) error {
	row := keyFactsRow
	if s.d.KeyFactsRow != "" {
		row = s.d.KeyFactsRow
	}
	type fact struct {
		kind int
		f    storage.KeyFacts
	}
	var out []fact
	if s.d.KeyFactsOrder == "" {
		var n int
		if err := c.row(ctx, `SELECT COALESCE(SUM(passkeys), 0) FROM credential_models`).Scan(&n); err != nil {
			return s.fail(op, err, nil)
		}
		out = make([]fact, 0, max(n, 0))
	}
	rows, err := c.rows(ctx, `SELECT `+row+` FROM credentials WHERE NOT clone_warning`+s.d.KeyFactsOrder)
	if err != nil {
		return s.fail(op, err, nil)
	}
	defer rows.Close()
	kinds := map[string]fact{}
	var line string
	for rows.Next() {
		if err := rows.Scan(&line); err != nil {
			return s.fail(op, err, nil)
		}
		// The IDs are substrings of the row's one string: no copy of them.
		user, rest, _ := strings.Cut(line, " ")
		id, kind, _ := strings.Cut(rest, " ")
		if o.disabled[user] {
			continue
		}
		f, ok := kinds[kind]
		if !ok {
			if len(kind) < 2 || kind[0] != '0' && kind[0] != '1' || kind[1] != ' ' {
				return s.fail(op, fmt.Errorf("credential %s: no kind", id), nil)
			}
			f.kind = len(kinds)
			f.f.BackupEligible = kind[0] == '1'
			var rest string
			f.f.AAGUID, rest, _ = strings.Cut(kind[2:], " ")
			f.f.AttestationKeyID, f.f.Model, _ = strings.Cut(rest, " ")
			kinds[kind] = f
		}
		f.f.CredentialID, f.f.UserID = id, user
		f.f.Privileged, f.f.GroupIDs = o.privileged[user], o.groups[user]
		if s.d.KeyFactsOrder == "" {
			out = append(out, f)
			continue
		}
		if err := each(f.kind, f.f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail(op, err, nil)
	}
	if s.d.KeyFactsOrder != "" {
		return nil
	}
	// Sorted here where the query did not (checking costs a pass over the
	// list): ordered by the query, the IDs are in the database's collation,
	// which is bytewise on SQLite.
	byOwner := func(a, b fact) int {
		if c := strings.Compare(a.f.UserID, b.f.UserID); c != 0 {
			return c
		}
		return strings.Compare(a.f.CredentialID, b.f.CredentialID)
	}
	if !slices.IsSortedFunc(out, byOwner) {
		slices.SortFunc(out, byOwner)
	}
	for _, f := range out {
		if err := each(f.kind, f.f); err != nil {
			return err
		}
	}
	return nil
}

// userIDs reads the user IDs q selects into a set.
func (s *Store) userIDs(ctx context.Context, c conn, op, q string, args ...any) (map[string]bool, error) {
	rows, err := c.rows(ctx, q, args...)
	if err != nil {
		return nil, s.fail(op, err, nil)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.fail(op, err, nil)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err, nil)
	}
	return ids, nil
}

// ListUserRegistrations implements storage.Storage: the page of users (the
// filter's conditions in its query), then one read each of their
// credentials, memberships, apps and passes.
func (s *Store) ListUserRegistrations(ctx context.Context, p storage.Page, now time.Time, f storage.RegistrationFilter) ([]storage.UserRegistration, string, error) {
	const op = "list user registrations"
	users, next, err := s.registrationUsers(ctx, p, now, f)
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

// SignInsPerDay implements storage.Storage: one range of the daily
// roll-ups (sign_in_daily's key starts with the day).
func (s *Store) SignInsPerDay(ctx context.Context, since time.Time) ([]storage.DailyCount, error) {
	return s.dailyCounts(ctx, "sign-ins per day", `SELECT day, method, passkey_type, SUM(sign_ins) FROM sign_in_daily
		WHERE day >= ? AND result = '`+storage.ResultSuccess+`' GROUP BY day, method, passkey_type
		ORDER BY 1, 2, 3`, storage.DayNumber(since))
}

// DeleteSignInRollupsBefore implements storage.Storage: the days before
// before's in one statement each (a few rows a day: the sign-ins, and the
// people whose latest day they are), the people's latest days in a bounded
// batch (a scan of a row per person and model: no index on the day, which
// a sign-in on a new day would have to update). A person whose row is still
// there after their day's count went signs in as before: the trigger takes
// them from a count that is gone (nothing) and adds them to the new day.
func (s *Store) DeleteSignInRollupsBefore(ctx context.Context, before time.Time, max int) (int, error) {
	const op = "delete old sign-in roll-ups"
	if max <= 0 {
		return 0, fmt.Errorf("%s: batch size %d is not positive", op, max)
	}
	day := storage.DayNumber(before)
	for _, q := range []string{`DELETE FROM sign_in_daily WHERE day < ?`, `DELETE FROM sign_in_model_days WHERE day < ?`} {
		if _, err := s.write().exec(ctx, q, day); err != nil {
			return 0, s.fail(op, err, nil)
		}
	}
	res, err := s.write().exec(ctx, `DELETE FROM sign_in_user_days WHERE (user_id, aaguid) IN (
		SELECT user_id, aaguid FROM sign_in_user_days WHERE day < ? LIMIT ?)`, day, max)
	if err != nil {
		return 0, s.fail(op, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail(op, err, nil)
	}
	return int(n), nil
}

// PasskeysRegisteredPerDay implements storage.Storage: one range of the
// registrations' daily roll-up (credential_daily's key starts with the day).
func (s *Store) PasskeysRegisteredPerDay(ctx context.Context, since time.Time) ([]storage.DailyCount, error) {
	return s.dailyCounts(ctx, "passkeys registered per day", `SELECT day, CASE WHEN synced THEN 'synced'
		ELSE 'deviceBound' END, '', SUM(passkeys) FROM credential_daily WHERE day >= ? GROUP BY 1, 2
		HAVING SUM(passkeys) > 0 ORDER BY 1, 2`, storage.DayNumber(since))
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
