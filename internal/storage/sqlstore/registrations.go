package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/storage"
)

// passwordless is the SQL condition that the user aliased u is passwordless
// capable under rule (see storage.PasswordlessRule): index probes of
// memberships_user and credentials_user for that one user.
func passwordless(rule storage.PasswordlessRule) (string, []any) {
	var args []any
	cond := "u.account_enabled"
	if len(rule.ExcludeGroups) > 0 {
		cond += " AND NOT EXISTS (SELECT 1 FROM memberships x WHERE x.user_id = u.id AND x.group_id IN " +
			placeholders(len(rule.ExcludeGroups)) + ")"
		for _, g := range rule.ExcludeGroups {
			args = append(args, g)
		}
	}
	key, kargs := acceptedKey(rule, true)
	if key == "1 = 0" {
		return key, nil
	}
	return cond + " AND " + key, append(args, kargs...)
}

// acceptedKey is the SQL condition that the user aliased u holds a key one
// of rule's targets accepts for them (a model it accepts, and the target's
// group when it has one) — with clones, one that is not flagged as a
// possible clone. "1 = 0" when no target accepts anything.
func acceptedKey(rule storage.PasswordlessRule, clones bool) (string, []any) {
	var args []any
	var targets []string
	for _, t := range rule.Targets {
		var parts []string
		switch {
		case len(t.AAGUIDs) == 0 && t.Except:
			// every model
		case len(t.AAGUIDs) == 0:
			continue // no model
		case t.Except:
			parts = append(parts, "c.aaguid NOT IN "+placeholders(len(t.AAGUIDs)))
		default:
			parts = append(parts, "c.aaguid IN "+placeholders(len(t.AAGUIDs)))
		}
		for _, a := range t.AAGUIDs {
			args = append(args, a)
		}
		if t.GroupID != "" {
			parts = append(parts, "EXISTS (SELECT 1 FROM memberships y WHERE y.user_id = u.id AND y.group_id = ?)")
			args = append(args, t.GroupID)
		}
		if len(parts) == 0 {
			parts = append(parts, "1 = 1")
		}
		targets = append(targets, "("+strings.Join(parts, " AND ")+")")
	}
	if len(targets) == 0 {
		return "1 = 0", nil
	}
	clone := ""
	if clones {
		clone = " AND NOT c.clone_warning"
	}
	return "EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id" + clone + " AND (" +
		strings.Join(targets, " OR ") + "))", args
}

// keyHolders is a query of the IDs of the people holding a key one of
// rule's targets accepts for them (clones included; see acceptedKey), read
// from the models' holders (credential_holders, by model) and the targeted
// groups' members, never a row per user of the directory; a person holding
// several such keys is listed once per model and target (count them
// DISTINCT). "" when no target accepts anything.
func keyHolders(rule storage.PasswordlessRule) (string, []any) {
	var args []any
	var parts []string
	for _, t := range rule.Targets {
		if len(t.AAGUIDs) == 0 && !t.Except {
			continue
		}
		model := ""
		switch {
		case len(t.AAGUIDs) == 0:
		case t.Except:
			model = " NOT IN " + placeholders(len(t.AAGUIDs))
		default:
			model = " IN " + placeholders(len(t.AAGUIDs))
		}
		if t.GroupID == "" {
			q := "SELECT user_id FROM credential_holders"
			if model != "" {
				q += " WHERE aaguid" + model
			}
			parts = append(parts, q)
			for _, a := range t.AAGUIDs {
				args = append(args, a)
			}
			continue
		}
		q := "SELECT m.user_id FROM memberships m WHERE m.group_id = ? AND EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = m.user_id"
		args = append(args, t.GroupID)
		if model != "" {
			q += " AND c.aaguid" + model
			for _, a := range t.AAGUIDs {
				args = append(args, a)
			}
		}
		parts = append(parts, q+")")
	}
	return strings.Join(parts, " UNION ALL "), args
}

func placeholders(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }

// registered is the SQL condition that the user aliased u registered method.
func (s *Store) registered(method string, now time.Time) (string, []any, error) {
	switch method {
	case storage.RegisteredPasskeyDeviceBound:
		return "EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id AND NOT c.backup_eligible)", nil, nil
	case storage.RegisteredPasskeySynced:
		return "EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id AND c.backup_eligible)", nil, nil
	case storage.RegisteredPassword:
		return "u.password_hash <> ''", nil, nil
	case storage.RegisteredSoftwareOath:
		return "EXISTS (SELECT 1 FROM totp_methods t WHERE t.user_id = u.id AND t.confirmed)", nil, nil
	case storage.RegisteredTAP:
		return "EXISTS (SELECT 1 FROM temporary_access_passes p WHERE p.user_id = u.id AND " + usablePass + ")",
			[]any{s.tv(now), s.tv(now)}, nil
	}
	return "", nil, fmt.Errorf("registration method %q is not one of the report's", method)
}

// usablePass is the condition on temporary_access_passes p (two time
// parameters: now, now) that a pass is usable.
const usablePass = "p.start_at <= ? AND p.expires_at > ? AND (NOT p.is_usable_once OR p.used_at IS NULL)"

// registrationUsers is ListUsers with the filter's conditions in the query,
// so each page reads users in UPN order until it is full.
func (s *Store) registrationUsers(ctx context.Context, p storage.Page, now time.Time, f storage.RegistrationFilter) ([]storage.User, string, error) {
	if f.PasswordlessCapable == nil && f.Method == "" {
		return s.ListUsers(ctx, p)
	}
	const op = "list user registrations"
	pq, err := decodePage(p)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	pageArgs := pq.args()
	// The bounds as plain values, as for a group's members: the conditions
	// below weigh against the key range in the plan.
	where, args := pq.where("u.upn_key", "?"), pageArgs[:2:2]
	if f.Method != "" {
		cond, a, err := s.registered(f.Method, now)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", op, err)
		}
		where, args = where+" AND "+cond, append(args, a...)
	}
	if f.PasswordlessCapable != nil {
		cond, a := passwordless(f.Rule)
		if !*f.PasswordlessCapable {
			cond = "NOT (" + cond + ")"
		}
		where, args = where+" AND "+cond, append(args, a...)
	}
	rows, err := s.read().rows(ctx, `SELECT `+prefixed("u", userCols)+`, u.upn_key FROM users u
		WHERE `+where+` ORDER BY u.upn_key LIMIT ?`, append(args, pageArgs[2])...)
	if err != nil {
		return nil, "", s.fail(op, err, nil)
	}
	users, next, err := collectUsers(rows, pq.limit)
	if err != nil {
		return nil, "", s.fail(op, err, nil)
	}
	return users, next, nil
}

// CountRegistrations implements storage.Storage: the users and the
// methods from registration_counts (kept by triggers, a few rows per
// method), the usable passes by a counting query (a pass is usable for a
// while, so no counter can say when it stops), the passwordless-capable
// people from the passkey holders' count when the rule accepts every key of
// everyone (see capableCount), and one query that judges each member once
// per group.
func (s *Store) CountRegistrations(ctx context.Context, now time.Time, rule storage.PasswordlessRule) (storage.RegistrationCounts, error) {
	const op = "count registrations"
	out := storage.RegistrationCounts{Methods: map[string]int{}, Groups: map[string]storage.GroupRegistrationCount{}}
	for _, m := range []string{storage.RegisteredPasskeyDeviceBound, storage.RegisteredPasskeySynced,
		storage.RegisteredPassword, storage.RegisteredSoftwareOath} {
		out.Methods[m] = 0
	}
	holders := 0
	rows, err := s.read().rows(ctx, `SELECT method, SUM(users) FROM registration_counts GROUP BY method`)
	if err != nil {
		return out, s.fail(op, err, nil)
	}
	for rows.Next() {
		var m string
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			rows.Close()
			return out, s.fail(op, err, nil)
		}
		switch m {
		case "users":
			out.Users = n
		case "passkey":
			holders = n
		default:
			out.Methods[m] = n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, s.fail(op, err, nil)
	}
	var taps int
	if err := s.read().row(ctx, `SELECT COUNT(DISTINCT p.user_id) FROM temporary_access_passes p WHERE `+usablePass,
		s.tv(now), s.tv(now)).Scan(&taps); err != nil {
		return out, s.fail(op, err, nil)
	}
	out.Methods[storage.RegisteredTAP] = taps
	capable, args := passwordless(rule)
	if out.PasswordlessCapable, err = s.capableCount(ctx, rule, holders); err != nil {
		return out, s.fail(op, err, nil)
	}
	// Each member's user is probed by its key: joined, PostgreSQL's planner
	// read every user for a 1,000-member group rather than probe 1,000.
	rows, err = s.read().rows(ctx, `SELECT m.group_id, COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (
		SELECT 1 FROM users u WHERE u.id = m.user_id AND `+capable+`) THEN 1 ELSE 0 END), 0)
		FROM memberships m GROUP BY m.group_id`, args...)
	if err != nil {
		return out, s.fail(op, err, nil)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var c storage.GroupRegistrationCount
		if err := rows.Scan(&g, &c.Users, &c.PasswordlessCapable); err != nil {
			return out, s.fail(op, err, nil)
		}
		out.Groups[g] = c
	}
	if err := rows.Err(); err != nil {
		return out, s.fail(op, err, nil)
	}
	return out, nil
}

// capableCount counts the people rule makes passwordless capable: the
// people holding a key a target accepts for them, less those of them the
// rule still refuses — who can only be among the few people whose account
// is disabled, who are in an excluded group or who hold a key flagged as a
// possible clone (partial indexes users_disabled and credentials_clone, the
// excluded groups' memberships). When a target accepts every key of
// everyone, the holders are every passkey holder (holders, from
// registration_counts); otherwise they are read from the accepted models'
// holders (credential_holders) and the targeted groups' members, so the
// count grows with the people holding the accepted models, not with the
// directory.
func (s *Store) capableCount(ctx context.Context, rule storage.PasswordlessRule, holders int) (int, error) {
	capable, args := passwordless(rule)
	everyKey := false
	for _, t := range rule.Targets {
		everyKey = everyKey || (t.GroupID == "" && t.Except && len(t.AAGUIDs) == 0)
	}
	if !everyKey {
		q, hargs := keyHolders(rule)
		if q == "" {
			return 0, nil
		}
		if err := s.read().row(ctx, `SELECT COUNT(DISTINCT h.user_id) FROM (`+q+`) AS h`, hargs...).Scan(&holders); err != nil {
			return 0, err
		}
	}
	suspects := `SELECT id FROM users WHERE NOT account_enabled UNION SELECT user_id FROM credentials WHERE clone_warning`
	var sargs []any
	if len(rule.ExcludeGroups) > 0 {
		suspects += ` UNION SELECT user_id FROM memberships WHERE group_id IN ` + placeholders(len(rule.ExcludeGroups))
		for _, g := range rule.ExcludeGroups {
			sargs = append(sargs, g)
		}
	}
	held, hargs := acceptedKey(rule, false)
	var n int
	err := s.read().row(ctx, `SELECT COUNT(*) FROM users u WHERE u.id IN (`+suspects+`)
		AND `+held+` AND NOT (`+capable+`)`, append(append(sargs, hargs...), args...)...).Scan(&n)
	return holders - n, err
}
