package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// importRows is how many rows one multi-row INSERT writes at most, and
// maxParams the parameters one statement may bind (SQLite's 32,766;
// PostgreSQL's 65,535): 1,500 credentials are 31,500. On SQLite each
// statement inside a transaction keeps a statement journal of every page it
// changes, which the next statement builds again for the same hot index
// leaves; 1,500 rows a statement instead of 500 cut the CPU of a seeding
// by a fifth (docs/performance.md, "A million users").
const (
	importRows = 1500
	maxParams  = 32766
)

// rowsPerInsert is how many rows of cols columns one INSERT writes.
func rowsPerInsert(cols int) int { return min(importRows, maxParams/cols) }

// ImportUsers implements storage.Storage: every record is checked first,
// then the users and the credentials go in with multi-row INSERTs in one
// transaction (the ambient one when there is one), so a failure stores
// nothing.
func (s *Store) ImportUsers(ctx context.Context, users []storage.UserImport) error {
	op := fmt.Sprintf("import %d users", len(users))
	var creds []storage.Credential
	for i, u := range users {
		if err := validUser(u.User); err != nil {
			return fmt.Errorf("%s: user %d: %w", op, i, err)
		}
		for _, c := range u.Credentials {
			if err := errors.Join(requireKey("credential ID", c.ID), requireKey("credential user ID", c.UserID)); err != nil {
				return fmt.Errorf("%s: user %d: %w", op, i, err)
			}
			if c.UserID != u.User.ID {
				return fmt.Errorf("%s: user %d: credential %q belongs to user %q, not %q", op, i, c.ID, c.UserID, u.User.ID)
			}
			if len(c.CredentialID) == 0 {
				return fmt.Errorf("%s: user %d: credential %q: WebAuthn credential ID is empty", op, i, c.ID)
			}
			creds = append(creds, c)
		}
	}
	if len(users) == 0 {
		return nil
	}
	return s.inTx(ctx, func(c conn) (err error) {
		if s.d.ImportCacheKiB > 0 {
			restore, err := c.widenCache(ctx, s.d.ImportCacheKiB)
			if err != nil {
				return s.fail(op, err, nil)
			}
			defer func() { err = errors.Join(err, restore()) }()
		}
		for start, n := 0, rowsPerInsert(12); start < len(users); start += n {
			batch := users[start:min(start+n, len(users))]
			args := make([]any, 0, len(batch)*12)
			for _, u := range batch {
				u := u.User
				args = append(args, u.ID, u.UserPrincipalName, u.DisplayName, u.AccountEnabled, u.IsEmergencyAccess,
					u.PasswordHash, s.tv(u.CreatedAt), s.tv(u.UpdatedAt), u.AdminRole, u.Mail, foldKey(u.UserPrincipalName), foldKey(u.DisplayName))
			}
			q := `INSERT INTO users (` + userCols + `, upn_key, name_key) VALUES ` + valueRows(len(batch), 12)
			if _, err := c.exec(ctx, q, args...); err != nil {
				return s.fail(op, err, nil)
			}
		}
		for start, n := 0, rowsPerInsert(21); start < len(creds); start += n {
			batch := creds[start:min(start+n, len(creds))]
			args := make([]any, 0, len(batch)*21)
			for _, cr := range batch {
				args = append(args, cr.ID, cr.UserID, cr.CredentialID, blob(cr.PublicKey), cr.AAGUID, cr.Model, cr.DisplayName,
					cr.AttestationFormat, cr.AttestationType, cr.AttestationLevel, strList(cr.AttestationCertSubjects),
					strList(cr.Transports), cr.UserVerified, cr.BackupEligible, cr.BackupState, int64(cr.SignCount),
					cr.CloneWarning, s.tv(cr.CreatedAt), s.tvNull(cr.LastUsedAt), cr.AttestationKeyID, cr.Automatic)
			}
			q := `INSERT INTO credentials (` + credentialCols + `) VALUES ` + valueRows(len(batch), 21)
			if _, err := c.exec(ctx, q, args...); err != nil {
				return s.fail(op, err, storage.ErrConflict)
			}
		}
		return nil
	})
}

// widenCache sets the connection's page cache to kib KiB for a bulk write
// and returns what sets it back. cache_size is the connection's, outside
// any transaction, so it changes no data and survives a rollback.
func (c conn) widenCache(ctx context.Context, kib int) (restore func() error, err error) {
	var was int64
	if err := c.row(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
		return nil, err
	}
	if _, err := c.exec(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -kib)); err != nil {
		return nil, err
	}
	return func() error {
		_, err := c.exec(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, was))
		return err
	}, nil
}

// valueRows is "(?, …), (?, …)…": rows groups of cols placeholders.
func valueRows(rows, cols int) string {
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(rows * (len(one) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// ImportSignIns implements storage.Storage: multi-row INSERTs of rowsPerInsert
// records in one transaction (the ambient one when there is one).
func (s *Store) ImportSignIns(ctx context.Context, events []storage.SignInEvent) error {
	op := fmt.Sprintf("import %d sign-in records", len(events))
	if len(events) == 0 {
		return nil
	}
	cols := len(strings.Split(SignInCols, ","))
	return s.inTx(ctx, func(c conn) error {
		for start, n := 0, rowsPerInsert(cols); start < len(events); start += n {
			batch := events[start:min(start+n, len(events))]
			args := make([]any, 0, len(batch)*cols)
			for _, e := range batch {
				if e.ID == "" {
					e.ID = uuid.NewString()
				}
				args = append(args, Codec{s}.SignInEvent(e)...)
			}
			q := `INSERT INTO sign_in_events (` + SignInCols + `) VALUES ` + valueRows(len(batch), cols)
			if _, err := c.exec(ctx, q, args...); err != nil {
				return s.fail(op, err, nil)
			}
		}
		return nil
	})
}
