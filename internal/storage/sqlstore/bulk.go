package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// importRows is how many rows one multi-row INSERT writes: 500 credentials
// are 10,500 parameters, under SQLite's 32,766 and PostgreSQL's 65,535.
const importRows = 500

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
	return s.inTx(ctx, func(c conn) error {
		for start := 0; start < len(users); start += importRows {
			batch := users[start:min(start+importRows, len(users))]
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
		for start := 0; start < len(creds); start += importRows {
			batch := creds[start:min(start+importRows, len(creds))]
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

// ImportSignIns implements storage.Storage: multi-row INSERTs of importRows
// records in one transaction (the ambient one when there is one).
func (s *Store) ImportSignIns(ctx context.Context, events []storage.SignInEvent) error {
	op := fmt.Sprintf("import %d sign-in records", len(events))
	if len(events) == 0 {
		return nil
	}
	cols := len(strings.Split(SignInCols, ","))
	return s.inTx(ctx, func(c conn) error {
		for start := 0; start < len(events); start += importRows {
			batch := events[start:min(start+importRows, len(events))]
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
