package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/correlation"
	"github.com/keyward/keyward/internal/storage"
)

// appKeySep joins an application's folded display name and its ID in
// name_key: it sorts before every printable character, so "a" lists before "ab".
const appKeySep = "\x1f"

func appNameKey(a storage.Application) string { return foldKey(a.DisplayName) + appKeySep + a.ID }

const applicationCols = `id, app_id, display_name, web_redirect_uris, public_redirect_uris,
	password_credentials, assigned_groups, groups_claim, signing_alg, access_token_type, created_at, updated_at`

// appScan receives an application's columns (applicationCols) from a row
// that may carry other columns too.
type appScan struct {
	a                storage.Application
	web, pub, groups strListCol
	pw               string
	created, updated timeCol
}

func (s *appScan) dest() []any {
	return []any{&s.a.ID, &s.a.AppID, &s.a.DisplayName, &s.web, &s.pub, &s.pw, &s.groups, &s.a.GroupsClaim,
		&s.a.SigningAlg, &s.a.AccessTokenType, &s.created, &s.updated}
}

func (s *appScan) app() (storage.Application, error) {
	a := s.a
	if err := json.Unmarshal([]byte(s.pw), &a.PasswordCredentials); err != nil {
		return storage.Application{}, fmt.Errorf("scan password credentials: %w", err)
	}
	if len(a.PasswordCredentials) == 0 {
		a.PasswordCredentials = nil
	}
	a.WebRedirectURIs, a.PublicClientRedirectURIs, a.AssignedGroups = s.web.V, s.pub.V, s.groups.V
	a.CreatedAt, a.UpdatedAt = s.created.T, s.updated.T
	return a, nil
}

func scanApplication(sc scanner, extra ...any) (storage.Application, error) {
	var as appScan
	if err := sc.Scan(append(as.dest(), extra...)...); err != nil {
		return storage.Application{}, err
	}
	return as.app()
}

// passwords stores the credentials as JSON with times normalised like every column.
func passwords(ps []storage.PasswordCredential) string {
	out := make([]storage.PasswordCredential, len(ps))
	for i, p := range ps {
		p.StartAt, p.EndAt = norm(p.StartAt), norm(p.EndAt)
		out[i] = p
	}
	b, _ := json.Marshal(out) // strings, bytes and times always marshal
	return string(b)
}

func normApplication(a storage.Application) storage.Application {
	if len(a.WebRedirectURIs) == 0 {
		a.WebRedirectURIs = nil
	}
	if len(a.PublicClientRedirectURIs) == 0 {
		a.PublicClientRedirectURIs = nil
	}
	if len(a.AssignedGroups) == 0 {
		a.AssignedGroups = nil
	}
	var ps []storage.PasswordCredential
	for _, p := range a.PasswordCredentials {
		p.StartAt, p.EndAt = norm(p.StartAt), norm(p.EndAt)
		ps = append(ps, p)
	}
	a.PasswordCredentials = ps
	a.CreatedAt, a.UpdatedAt = norm(a.CreatedAt), norm(a.UpdatedAt)
	return a
}

func validApplication(a storage.Application) error {
	return errors.Join(requireKey("application ID", a.ID), requireKey("application appId", a.AppID),
		requireKey("application display name", a.DisplayName))
}

// CreateApplication implements storage.Storage.
func (s *Store) CreateApplication(ctx context.Context, a storage.Application) error {
	op := fmt.Sprintf("create application %q", a.DisplayName)
	if err := validApplication(a); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err := s.write().exec(ctx, `INSERT INTO applications (`+applicationCols+`, name_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.AppID, a.DisplayName, strList(a.WebRedirectURIs), strList(a.PublicClientRedirectURIs),
		passwords(a.PasswordCredentials), strList(a.AssignedGroups), a.GroupsClaim, a.SigningAlg, a.AccessTokenType,
		s.tv(a.CreatedAt), s.tv(a.UpdatedAt), appNameKey(a))
	if err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}

// GetApplication implements storage.Storage.
func (s *Store) GetApplication(ctx context.Context, id string) (storage.Application, error) {
	a, err := scanApplication(s.read().row(ctx, `SELECT `+applicationCols+` FROM applications WHERE id = ?`, id))
	if err != nil {
		return a, s.fail(fmt.Sprintf("get application %q", id), err, nil)
	}
	return a, nil
}

// GetApplicationByAppID implements storage.Storage.
func (s *Store) GetApplicationByAppID(ctx context.Context, appID string) (storage.Application, error) {
	a, err := scanApplication(s.read().row(ctx, `SELECT `+applicationCols+` FROM applications WHERE app_id = ?`, appID))
	if err != nil {
		return a, s.fail(fmt.Sprintf("get application by appId %q", appID), err, nil)
	}
	return a, nil
}

// GetClient implements storage.Storage.
func (s *Store) GetClient(ctx context.Context, appID, failureKeyPrefix string, w time.Duration, now time.Time) (storage.Application, int, error) {
	op := fmt.Sprintf("get client %q", appID)
	start, _, err := window(w, now)
	if err != nil {
		return storage.Application{}, 0, fmt.Errorf("%s: %w", op, err)
	}
	var failures int
	a, err := scanApplication(s.read().hotRow(ctx, `SELECT `+applicationCols+`,
		COALESCE((SELECT l.hits FROM rate_limits l WHERE l.name = ? || applications.id
			AND l.window_us = ? AND l.window_start = ?), 0)
		FROM applications WHERE app_id = ?`, failureKeyPrefix, w.Microseconds(), s.tv(start), appID), &failures)
	if err != nil {
		return a, 0, s.fail(op, err, nil)
	}
	return a, failures, nil
}

// UpdateApplication implements storage.Storage.
func (s *Store) UpdateApplication(ctx context.Context, id string, fn func(storage.Application) (storage.Application, error)) (storage.Application, error) {
	op := fmt.Sprintf("update application %q", id)
	var out storage.Application
	err := s.inTx(ctx, func(c conn) error {
		old, err := scanApplication(c.row(ctx, `SELECT `+applicationCols+` FROM applications WHERE id = ?`+s.d.LockRow, id))
		if err != nil {
			return s.fail(op, err, nil)
		}
		a, err := fn(old)
		if err != nil {
			return err
		}
		a.ID, a.AppID, a.CreatedAt = old.ID, old.AppID, old.CreatedAt
		if err := validApplication(a); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		_, err = c.exec(ctx, `UPDATE applications SET display_name = ?, name_key = ?, web_redirect_uris = ?,
			public_redirect_uris = ?, password_credentials = ?, assigned_groups = ?, groups_claim = ?,
			signing_alg = ?, access_token_type = ?, updated_at = ? WHERE id = ?`,
			a.DisplayName, appNameKey(a), strList(a.WebRedirectURIs), strList(a.PublicClientRedirectURIs),
			passwords(a.PasswordCredentials), strList(a.AssignedGroups), a.GroupsClaim, a.SigningAlg,
			a.AccessTokenType, s.tv(a.UpdatedAt), id)
		if err != nil {
			return s.fail(op, err, nil)
		}
		out = normApplication(a)
		return nil
	})
	return out, err
}

// DeleteApplication implements storage.Storage; its tokens go with it.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM applications WHERE id = ?`, id); err != nil {
		return s.fail(fmt.Sprintf("delete application %q", id), err, nil)
	}
	return nil
}

// ListApplications implements storage.Storage.
func (s *Store) ListApplications(ctx context.Context, p storage.Page) ([]storage.Application, string, error) {
	pq, err := decodePage(p)
	if err != nil {
		return nil, "", fmt.Errorf("list applications: %w", err)
	}
	rows, err := s.read().rows(ctx, `SELECT `+applicationCols+`, name_key FROM applications
		WHERE `+pq.where("name_key", s.keyBound())+` ORDER BY name_key LIMIT ?`, pq.args()...)
	if err != nil {
		return nil, "", s.fail("list applications", err, nil)
	}
	defer rows.Close()
	var apps []storage.Application
	var keys []string
	for rows.Next() {
		var key string
		a, err := scanApplication(rows, &key)
		if err != nil {
			return nil, "", s.fail("list applications", err, nil)
		}
		apps, keys = append(apps, a), append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail("list applications", err, nil)
	}
	if len(apps) <= pq.limit {
		return apps, "", nil
	}
	return apps[:pq.limit], cursor(keys[pq.limit-1]), nil
}

const signingKeyCols = `id, alg, public_key, private_key, sealed, created_at, sign_from, retired_at, expires_at`

func scanSigningKey(sc scanner) (storage.SigningKey, error) {
	var k storage.SigningKey
	var pub, priv bytesCol
	var created, from, retired, expires timeCol
	if err := sc.Scan(&k.ID, &k.Alg, &pub, &priv, &k.Sealed, &created, &from, &retired, &expires); err != nil {
		return storage.SigningKey{}, err
	}
	k.PublicKey, k.PrivateKey = pub.V, priv.V
	k.CreatedAt, k.SignFrom, k.RetiredAt, k.ExpiresAt = created.T, from.T, retired.ptr(), expires.ptr()
	return k, nil
}

// CreateSigningKey implements storage.Storage.
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	op := fmt.Sprintf("create signing key %q", k.ID)
	if err := requireKey("signing key ID", k.ID); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(k.PublicKey) == 0 || len(k.PrivateKey) == 0 {
		return fmt.Errorf("%s: key material is empty", op)
	}
	_, err := s.write().exec(ctx, `INSERT INTO oidc_signing_keys (`+signingKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Alg, k.PublicKey, k.PrivateKey, k.Sealed, s.tv(k.CreatedAt), s.tv(k.SignFrom),
		s.tvNull(k.RetiredAt), s.tvNull(k.ExpiresAt))
	if err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}

// ListSigningKeys implements storage.Storage.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := s.read().rows(ctx, `SELECT `+signingKeyCols+` FROM oidc_signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, s.fail("list signing keys", err, nil)
	}
	defer rows.Close()
	var out []storage.SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, s.fail("list signing keys", err, nil)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list signing keys", err, nil)
	}
	return out, nil
}

// UpdateSigningKey implements storage.Storage.
func (s *Store) UpdateSigningKey(ctx context.Context, id string, fn func(storage.SigningKey) (storage.SigningKey, error)) (storage.SigningKey, error) {
	op := fmt.Sprintf("update signing key %q", id)
	var out storage.SigningKey
	err := s.inTx(ctx, func(c conn) error {
		old, err := scanSigningKey(c.row(ctx, `SELECT `+signingKeyCols+` FROM oidc_signing_keys WHERE id = ?`+s.d.LockRow, id))
		if err != nil {
			return s.fail(op, err, nil)
		}
		k, err := fn(old)
		if err != nil {
			return err
		}
		k.ID, k.Alg, k.PublicKey, k.PrivateKey, k.Sealed, k.CreatedAt = old.ID, old.Alg, old.PublicKey, old.PrivateKey, old.Sealed, old.CreatedAt
		_, err = c.exec(ctx, `UPDATE oidc_signing_keys SET sign_from = ?, retired_at = ?, expires_at = ? WHERE id = ?`,
			s.tv(k.SignFrom), s.tvNull(k.RetiredAt), s.tvNull(k.ExpiresAt), id)
		if err != nil {
			return s.fail(op, err, nil)
		}
		k.SignFrom, k.RetiredAt, k.ExpiresAt = norm(k.SignFrom), normPtr(k.RetiredAt), normPtr(k.ExpiresAt)
		out = k
		return nil
	})
	return out, err
}

const authRequestCols = `id, client_id, request, user_id, session_id, auth_time, amr, acr, done,
	code_hash, code_expires_at, code_used_at, created_at, expires_at`

func scanAuthRequest(sc scanner, extra ...any) (storage.AuthRequest, error) {
	var r storage.AuthRequest
	var req, code bytesCol
	var user strCol
	var amr strListCol
	var authTime, codeExp, codeUsed, created, expires timeCol
	if err := sc.Scan(append([]any{&r.ID, &r.ClientID, &req, &user, &r.SessionID, &authTime, &amr, &r.ACR, &r.Done,
		&code, &codeExp, &codeUsed, &created, &expires}, extra...)...); err != nil {
		return storage.AuthRequest{}, err
	}
	r.Request, r.UserID, r.AMR, r.CodeHash = req.V, user.V, amr.V, code.V
	r.AuthTime, r.CodeExpiresAt, r.CodeUsedAt = authTime.T, codeExp.ptr(), codeUsed.ptr()
	r.CreatedAt, r.ExpiresAt = created.T, expires.T
	return r, nil
}

// codeParam binds an absent code hash as NULL, so that many requests without
// a code do not collide on the UNIQUE index.
func codeParam(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateAuthRequest implements storage.Storage: on SQLite in the group
// commit, as every write of an app's sign-in is; elsewhere a lone statement.
func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	return s.createAuthRequest(ctx, "create auth request", r, nil)
}

// CreateCompletedAuthRequest implements storage.Storage: the request and
// its record as one statement where the dialect has GatedInsertStatement
// (the INSERT of the request is the gate), else a job of the group commit.
func (s *Store) CreateCompletedAuthRequest(ctx context.Context, r storage.AuthRequest, event *storage.SignInEvent) error {
	op := "create completed auth request"
	if !r.Done || r.SessionID == "" || r.UserID == "" {
		return fmt.Errorf("%s: the request is not completed by a session", op)
	}
	return s.createAuthRequest(ctx, op, r, s.withEventDefaults(ctx, event))
}

func (s *Store) createAuthRequest(ctx context.Context, op string, r storage.AuthRequest, event *storage.SignInEvent) error {
	if err := errors.Join(requireKey("auth request ID", r.ID), requireKey("auth request client ID", r.ClientID)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	const insert = `INSERT INTO oidc_auth_requests (` + authRequestCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := []any{r.ID, r.ClientID, blob(r.Request), nullStr(r.UserID), r.SessionID, s.tvZeroNull(r.AuthTime),
		strList(r.AMR), r.ACR, r.Done, codeParam(r.CodeHash), s.tvNull(r.CodeExpiresAt), s.tvNull(r.CodeUsedAt),
		s.tv(r.CreatedAt), s.tv(r.ExpiresAt)}
	var err error
	if event == nil {
		err = s.lone(ctx, func(c conn) error {
			_, err := c.exec(ctx, insert, args...)
			return err
		})
	} else if won, ok, gerr := s.gated(ctx, insert, args, s.signInRows(*event)); ok {
		err = gerr
		if err == nil && !won {
			err = errors.New("the request was not stored")
		}
	} else {
		err = s.batched(ctx, func(c conn) error {
			if _, err := c.exec(ctx, insert, args...); err != nil {
				return err
			}
			return s.insertSignInEvent(ctx, c, *event)
		})
	}
	if err != nil {
		return s.fail(op, err, nil)
	}
	return nil
}

// GetAuthRequest implements storage.Storage. Expired requests are returned
// too; the provider decides.
func (s *Store) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	r, err := scanAuthRequest(s.read().row(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE id = ?`, id))
	if err != nil {
		return r, s.fail("get auth request", err, nil)
	}
	return r, nil
}

// SetAuthCode implements storage.Storage: one conditional UPDATE (in the
// group commit on SQLite, a lone statement elsewhere); when it changes
// nothing, a read says why.
func (s *Store) SetAuthCode(ctx context.Context, id string, codeHash []byte, expires time.Time) error {
	op := "set auth code"
	if len(codeHash) == 0 {
		return fmt.Errorf("%s: the code's hash is empty", op)
	}
	err := s.lone(ctx, func(c conn) error {
		err := c.execOne(ctx, `UPDATE oidc_auth_requests SET code_hash = ?, code_expires_at = ?
			WHERE id = ? AND code_hash IS NULL`, codeHash, s.tv(expires), id)
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		var n int
		if err := c.row(ctx, `SELECT COUNT(*) FROM oidc_auth_requests WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a code was already issued for this request: %w", storage.ErrConflict)
		}
		return storage.ErrNotFound
	})
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// CompleteAuthRequest implements storage.Storage: one conditional UPDATE,
// with the sign-in record gated on it in the same statement where the
// dialect has GatedInsertStatement (one round trip on PostgreSQL), else a
// job of the group commit (SQLite) or a lone statement. When the UPDATE
// changes nothing, a read says why.
func (s *Store) CompleteAuthRequest(ctx context.Context, id string, c storage.AuthCompletion, now time.Time, event *storage.SignInEvent) error {
	op := "complete auth request"
	if err := errors.Join(requireKey("auth request ID", id), requireKey("completing session ID", c.SessionID),
		requireKey("completing user ID", c.UserID)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	const update = `UPDATE oidc_auth_requests SET user_id = ?, session_id = ?, auth_time = ?, amr = ?, acr = ?, done = ?
		WHERE id = ? AND expires_at > ? AND (done = ? OR session_id = ?)`
	args := []any{c.UserID, c.SessionID, s.tvZeroNull(c.AuthTime), strList(c.AMR), c.ACR, true,
		id, s.tv(now), false, c.SessionID}
	event = s.withEventDefaults(ctx, event)
	if event != nil {
		won, ok, err := s.gated(ctx, update, args, s.signInRows(*event))
		if ok {
			if err == nil && !won {
				err = s.authRequestNotCompleted(ctx, s.write(), id, now)
			}
			if err != nil {
				return s.fail(op, err, storage.ErrConflict)
			}
			return nil
		}
	}
	run := s.batched
	if event == nil {
		run = s.lone
	}
	err := run(ctx, func(cn conn) error {
		err := cn.execOne(ctx, update, args...)
		if errors.Is(err, storage.ErrNotFound) {
			return s.authRequestNotCompleted(ctx, cn, id, now)
		}
		if err != nil || event == nil {
			return err
		}
		return s.insertSignInEvent(ctx, cn, *event)
	})
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// authRequestNotCompleted says why a completion's UPDATE found no row: the
// request is gone or expired (ErrNotFound), or another session completed it
// (ErrConflict).
func (s *Store) authRequestNotCompleted(ctx context.Context, c conn, id string, now time.Time) error {
	var expires timeCol
	err := c.row(ctx, `SELECT expires_at FROM oidc_auth_requests WHERE id = ?`, id).Scan(&expires)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !expires.T.After(now) {
		return storage.ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("the request was completed by another session: %w", storage.ErrConflict)
}

// GetAuthRequestByCode implements storage.Storage.
func (s *Store) GetAuthRequestByCode(ctx context.Context, codeHash []byte) (storage.AuthRequest, error) {
	if len(codeHash) == 0 {
		return storage.AuthRequest{}, fmt.Errorf("get auth request by code: %w", storage.ErrNotFound)
	}
	r, err := scanAuthRequest(s.read().row(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests
		WHERE code_hash = ?`, codeHash))
	if err != nil {
		return r, s.fail("get auth request by code", err, nil)
	}
	return r, nil
}

// codeGrantQuery is GetCodeGrant's one read, built once: building it on
// each exchange took 36 of its 200 allocations. It reads no column twice
// (the request's client and user are the joined rows', its code hash the
// one asked for) and of the user only the claims: every column is an
// allocation or more on each exchange.
var (
	codeGrantCols = `r.id, r.request, r.session_id, r.auth_time, r.amr, r.acr, r.done,
		r.code_expires_at, r.code_used_at, r.created_at, r.expires_at,
		u.id, u.upn, u.display_name, u.mail, u.account_enabled, u.updated_at,
		` + prefixed("a", applicationCols) + `,
		COALESCE((SELECT l.hits FROM rate_limits l WHERE l.name = ? || a.id
			AND l.window_us = ? AND l.window_start = ?), 0)`
	codeGrantFrom  = `FROM oidc_auth_requests r JOIN users u ON u.id = r.user_id JOIN applications a ON a.app_id = r.client_id`
	codeGrantQuery = `SELECT ` + codeGrantCols + ` ` + codeGrantFrom + ` WHERE r.code_hash = ?`
)

// codeGrantScan receives GetCodeGrant's columns (codeGrantCols).
type codeGrantScan struct {
	g                                                  storage.CodeGrant
	req                                                bytesCol
	amr                                                strListCol
	authTime, codeExp, codeUsed, created, expires, upd timeCol
	a                                                  appScan
}

func (c *codeGrantScan) dest() []any {
	r, u := &c.g.Request, &c.g.User
	return append(append([]any{&r.ID, &c.req, &r.SessionID, &c.authTime, &c.amr, &r.ACR, &r.Done,
		&c.codeExp, &c.codeUsed, &c.created, &c.expires,
		&u.ID, &u.UserPrincipalName, &u.DisplayName, &u.Mail, &u.AccountEnabled, &c.upd}, c.a.dest()...), &c.g.ClientFailures)
}

func (c *codeGrantScan) grant(codeHash []byte) (storage.CodeGrant, error) {
	g := c.g
	var err error
	if g.Client, err = c.a.app(); err != nil {
		return storage.CodeGrant{}, err
	}
	r, u := &g.Request, &g.User
	r.ClientID, r.UserID, r.CodeHash, r.Request, r.AMR = g.Client.AppID, u.ID, slices.Clone(codeHash), c.req.V, c.amr.V
	r.AuthTime, r.CodeExpiresAt, r.CodeUsedAt = c.authTime.T, c.codeExp.ptr(), c.codeUsed.ptr()
	r.CreatedAt, r.ExpiresAt, u.UpdatedAt = c.created.T, c.expires.T, c.upd.T
	return g, nil
}

// GetCodeGrant implements storage.Storage.
func (s *Store) GetCodeGrant(ctx context.Context, codeHash []byte, failureKeyPrefix string, w time.Duration, now time.Time) (storage.CodeGrant, error) {
	op := "get code grant"
	if len(codeHash) == 0 {
		return storage.CodeGrant{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	start, _, err := window(w, now)
	if err != nil {
		return storage.CodeGrant{}, fmt.Errorf("%s: %w", op, err)
	}
	var c codeGrantScan
	err = s.read().scanRow(ctx, codeGrantQuery, []any{failureKeyPrefix, w.Microseconds(), s.tv(start), codeHash}, c.dest()...)
	if err != nil {
		return storage.CodeGrant{}, s.fail(op, err, nil)
	}
	g, err := c.grant(codeHash)
	if err != nil {
		return storage.CodeGrant{}, fmt.Errorf("%s: %w", op, err)
	}
	return g, nil
}

// RedeemCode implements storage.Storage: on PostgreSQL one statement
// (Dialect.RedeemCodeStatement) reads the grant, uses the code up and
// stores the tokens; elsewhere GetCodeGrant, then RedeemAuthCode with the
// rows built here, which on SQLite shares the group commit.
func (s *Store) RedeemCode(ctx context.Context, codeHash []byte, failureKeyPrefix string, w time.Duration, now time.Time, t storage.CodeTokens) (storage.RedeemedCode, error) {
	if s.d.RedeemCodeStatement == nil {
		return s.redeemCodeInTwo(ctx, codeHash, failureKeyPrefix, w, now, t)
	}
	op := "redeem code"
	if len(codeHash) == 0 {
		return storage.RedeemedCode{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	if err := errors.Join(requireKey("access token ID", t.AccessID), requireKey("access token JTI", t.AccessJTI),
		requireKey("refresh token ID", t.RefreshID)); err != nil {
		return storage.RedeemedCode{}, fmt.Errorf("%s: %w", op, err)
	}
	start, _, err := window(w, now)
	if err != nil {
		return storage.RedeemedCode{}, fmt.Errorf("%s: %w", op, err)
	}
	s.redeemOnce.Do(func() { s.redeemQuery = s.d.RedeemCodeStatement(codeGrantCols, codeGrantFrom) })
	var c codeGrantScan
	var updated, refreshes int
	var access strCol
	n := s.tv(now)
	args := []any{n, codeHash, n, t.AccessID, t.AccessJTI, t.RefreshID, n, s.tv(t.AccessExpiresAt),
		t.RefreshID, n, s.tv(t.RefreshExpiresAt), failureKeyPrefix, w.Microseconds(), s.tv(start), codeHash}
	if err := s.write().scanRow(ctx, s.redeemQuery, args, append(c.dest(), &updated, &access, &refreshes)...); err != nil {
		return storage.RedeemedCode{}, s.fail(op, err, nil)
	}
	g, err := c.grant(codeHash)
	if err != nil {
		return storage.RedeemedCode{}, fmt.Errorf("%s: %w", op, err)
	}
	out := storage.RedeemedCode{CodeGrant: g, AccessID: access.V, Refresh: refreshes > 0}
	if updated > 0 {
		return out, nil
	}
	// The statement's read saw the row as it was before: a code it saw
	// unused and unexpired was used meanwhile by a concurrent exchange.
	r := g.Request
	if r.CodeUsedAt != nil || r.Done && r.CodeExpiresAt != nil && now.Before(*r.CodeExpiresAt) {
		return out, fmt.Errorf("%s: code already used: %w", op, storage.ErrConflict)
	}
	return out, fmt.Errorf("%s: code expired: %w", op, storage.ErrNotFound)
}

// redeemCodeInTwo is RedeemCode as a read and a write: the tokens' rows are
// built here as RedeemCodeStatement builds them in SQL.
func (s *Store) redeemCodeInTwo(ctx context.Context, codeHash []byte, failureKeyPrefix string, w time.Duration, now time.Time, t storage.CodeTokens) (storage.RedeemedCode, error) {
	g, err := s.GetCodeGrant(ctx, codeHash, failureKeyPrefix, w, now)
	if err != nil {
		return storage.RedeemedCode{}, err
	}
	out := storage.RedeemedCode{CodeGrant: g}
	r := g.Request
	if r.CodeUsedAt != nil {
		return out, fmt.Errorf("redeem code: code already used: %w", storage.ErrConflict)
	}
	if r.CodeExpiresAt == nil || !now.Before(*r.CodeExpiresAt) || !r.Done {
		return out, fmt.Errorf("redeem code: code expired: %w", storage.ErrNotFound)
	}
	var req struct {
		Scope        *string `json:"scope"`
		ResponseType string  `json:"response_type"`
	}
	if err := json.Unmarshal(r.Request, &req); err != nil {
		return out, fmt.Errorf("redeem code: the stored request: %w", err)
	}
	scopes, refresh := storage.CodeScopes(req.Scope, req.ResponseType)
	acc := storage.OIDCToken{ID: t.AccessID, Kind: storage.TokenAccess, GrantID: r.ID, ApplicationID: g.Client.ID,
		ClientID: r.ClientID, UserID: r.UserID, Scopes: scopes, Audience: []string{r.ClientID}, AMR: r.AMR,
		ACR: r.ACR, AuthTime: r.AuthTime, CreatedAt: now, ExpiresAt: t.AccessExpiresAt}
	if g.Client.AccessTokenType != "opaque" { // as the provider reads it: JWTs unless opaque
		acc.ID = t.AccessJTI
	}
	ts := []storage.OIDCToken{acc}
	if refresh {
		ref := acc
		ref.ID, ref.Kind, ref.ExpiresAt = t.RefreshID, storage.TokenRefresh, t.RefreshExpiresAt
		ts[0].RefreshID = ref.ID
		ts = append(ts, ref)
	}
	if err := s.RedeemAuthCode(ctx, r.ID, now, ts...); err != nil {
		return out, err
	}
	out.AccessID, out.Refresh = ts[0].ID, refresh
	return out, nil
}

// RedeemAuthCode implements storage.Storage: one conditional UPDATE decides
// the winner, and the tokens commit with it or not at all. On SQLite it
// shares the commit with the other hot writes (batched), as a sign-in does.
func (s *Store) RedeemAuthCode(ctx context.Context, requestID string, now time.Time, ts ...storage.OIDCToken) error {
	const update = `UPDATE oidc_auth_requests SET code_used_at = ?
			WHERE id = ? AND code_used_at IS NULL AND code_expires_at > ?`
	updateArgs := []any{s.tv(now), requestID, s.tv(now)}
	if won, ok, err := s.gatedTokens(ctx, update, updateArgs, ts, nil); ok {
		if err == nil && !won {
			err = s.codeNotRedeemed(ctx, s.write(), requestID)
		}
		if err != nil {
			return s.fail("redeem auth code", err, storage.ErrConflict)
		}
		return nil
	}
	err := s.batched(ctx, func(c conn) error {
		err := c.execOne(ctx, update, updateArgs...)
		if errors.Is(err, storage.ErrNotFound) {
			return s.codeNotRedeemed(ctx, c, requestID)
		}
		if err != nil {
			return err
		}
		return s.insertOIDCTokens(ctx, c, ts)
	})
	if err != nil {
		return s.fail("redeem auth code", err, storage.ErrConflict)
	}
	return nil
}

// codeNotRedeemed says why a redemption's UPDATE found no row: the code was
// used (ErrConflict), or it expired or never was (ErrNotFound).
func (s *Store) codeNotRedeemed(ctx context.Context, c conn, requestID string) error {
	var used timeCol
	if e := c.row(ctx, `SELECT code_used_at FROM oidc_auth_requests WHERE id = ?`, requestID).Scan(&used); e == nil && used.Valid {
		return fmt.Errorf("code already used: %w", storage.ErrConflict)
	}
	return storage.ErrNotFound
}

// DeleteAuthRequest implements storage.Storage.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM oidc_auth_requests WHERE id = ?`, id); err != nil {
		return s.fail("delete auth request", err, nil)
	}
	return nil
}

// DeleteExpiredAuthRequests implements storage.Storage.
func (s *Store) DeleteExpiredAuthRequests(ctx context.Context, now time.Time, max int) (int, error) {
	return s.deleteExpiredBatch(ctx, "oidc_auth_requests", now, max)
}

const oidcTokenCols = `id, kind, grant_id, application_id, client_id, user_id, scopes, audience, amr, acr,
	auth_time, refresh_id, created_at, expires_at, rotated_at`

// scanOIDCToken scans a row of oidcTokenCols, then extra.
func scanOIDCToken(sc scanner, extra ...any) (storage.OIDCToken, error) {
	var t storage.OIDCToken
	var user strCol
	var scopes, aud, amr strListCol
	var authTime, created, expires, rotated timeCol
	if err := sc.Scan(append([]any{&t.ID, &t.Kind, &t.GrantID, &t.ApplicationID, &t.ClientID, &user, &scopes, &aud, &amr,
		&t.ACR, &authTime, &t.RefreshID, &created, &expires, &rotated}, extra...)...); err != nil {
		return storage.OIDCToken{}, err
	}
	t.UserID, t.Scopes, t.Audience, t.AMR = user.V, scopes.V, aud.V, amr.V
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.RotatedAt = authTime.T, created.T, expires.T, rotated.ptr()
	return t, nil
}

// insertOIDCTokens stores ts in one statement: a code exchange's access and
// refresh token are one INSERT, not two.
func (s *Store) insertOIDCTokens(ctx context.Context, c conn, ts []storage.OIDCToken) error {
	if len(ts) == 0 {
		return nil
	}
	args, err := s.oidcTokenArgs(ts)
	if err != nil {
		return err
	}
	_, err = c.exec(ctx, `INSERT INTO oidc_tokens (`+oidcTokenCols+`) VALUES `+valueRows(len(ts), 15), args...)
	return err
}

// oidcTokenArgs gives the tokens' values, row after row, in oidcTokenCols order.
func (s *Store) oidcTokenArgs(ts []storage.OIDCToken) ([]any, error) {
	args := make([]any, 0, 15*len(ts))
	for _, t := range ts {
		if err := errors.Join(requireKey("token ID", t.ID), requireKey("token grant ID", t.GrantID),
			requireKey("token application ID", t.ApplicationID)); err != nil {
			return nil, err
		}
		args = append(args, t.ID, t.Kind, t.GrantID, t.ApplicationID, t.ClientID, nullStr(t.UserID), strList(t.Scopes),
			strList(t.Audience), strList(t.AMR), t.ACR, s.tvZeroNull(t.AuthTime), t.RefreshID,
			s.tv(t.CreatedAt), s.tv(t.ExpiresAt), s.tvNull(t.RotatedAt))
	}
	return args, nil
}

// gatedRows are an INSERT of a gated write (gated) with its rows' values.
type gatedRows struct {
	GatedInsert
	args []any
}

// signInRows is the INSERT of one sign-in record in a gated write.
func (s *Store) signInRows(e storage.SignInEvent) gatedRows {
	return gatedRows{GatedInsert{Table: "sign_in_events", Cols: SignInCols, Rows: 1}, Codec{s}.SignInEvent(e)}
}

// withEventDefaults gives a sign-in record about to be stored its ID and
// the request's correlation ID where it has none (a copy; nil stays nil).
func (s *Store) withEventDefaults(ctx context.Context, event *storage.SignInEvent) *storage.SignInEvent {
	if event == nil {
		return nil
	}
	e := *event
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	if e.CorrelationID == "" {
		e.CorrelationID = correlation.ID(ctx)
	}
	return &e
}

// gated runs update and, when it changed a row, the inserts, as one
// statement where the dialect has GatedInsertStatement (ok false: it has
// not). won reports whether the update changed a row; an insert that
// stored fewer rows than it was given is an error.
func (s *Store) gated(ctx context.Context, update string, updateArgs []any, ins ...gatedRows) (won, ok bool, err error) {
	if s.d.GatedInsertStatement == nil {
		return false, false, nil
	}
	inserts := make([]GatedInsert, len(ins))
	counts := make([]int, 1+len(ins))
	dest := []any{&counts[0]}
	args := slices.Clone(updateArgs)
	for i, in := range ins {
		inserts[i] = in.GatedInsert
		args = append(args, in.args...)
		dest = append(dest, &counts[i+1])
	}
	if err := s.write().scanRow(ctx, s.d.GatedInsertStatement(update, inserts...), args, dest...); err != nil {
		return false, true, err
	}
	if counts[0] == 0 {
		return false, true, nil
	}
	for i, in := range ins {
		if counts[i+1] != in.Rows {
			return false, true, fmt.Errorf("stored %d of %d rows of %s", counts[i+1], in.Rows, in.Table)
		}
	}
	return true, true, nil
}

// gatedTokens is gated with the INSERTs of ts and event (nil: none).
func (s *Store) gatedTokens(ctx context.Context, update string, updateArgs []any, ts []storage.OIDCToken, event *storage.SignInEvent) (won, ok bool, err error) {
	if s.d.GatedInsertStatement == nil || len(ts) == 0 {
		return false, false, nil
	}
	args, err := s.oidcTokenArgs(ts)
	if err != nil {
		return false, true, err
	}
	ins := []gatedRows{{GatedInsert{Table: "oidc_tokens", Cols: oidcTokenCols, Rows: len(ts)}, args}}
	if event != nil {
		ins = append(ins, s.signInRows(*event))
	}
	return s.gated(ctx, update, updateArgs, ins...)
}

// CreateOIDCTokens implements storage.Storage. An unknown application or
// user is ErrConflict.
func (s *Store) CreateOIDCTokens(ctx context.Context, ts ...storage.OIDCToken) error {
	err := s.inTx(ctx, func(c conn) error { return s.insertOIDCTokens(ctx, c, ts) })
	if err != nil {
		return s.fail("create tokens", err, storage.ErrConflict)
	}
	return nil
}

// GetOIDCToken implements storage.Storage. Expired tokens are returned too.
func (s *Store) GetOIDCToken(ctx context.Context, id string) (storage.OIDCToken, error) {
	t, err := scanOIDCToken(s.read().hotRow(ctx, `SELECT `+oidcTokenCols+` FROM oidc_tokens WHERE id = ?`, id))
	if err != nil {
		return t, s.fail("get token", err, nil)
	}
	return t, nil
}

// GetUserToken implements storage.Storage: the token and its user in one
// read, as a refresh, an introspection and userinfo each need both.
func (s *Store) GetUserToken(ctx context.Context, id, kind string) (storage.OIDCToken, storage.User, error) {
	var u userScan
	t, err := scanOIDCToken(s.read().hotRow(ctx, `SELECT `+userTokenCols+`
		FROM oidc_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ? AND t.kind = ?`, id, kind), u.dest()...)
	if err != nil {
		return t, storage.User{}, s.fail("get token with its user", err, nil)
	}
	return t, u.user(), nil
}

// userTokenCols are GetUserToken's columns: the token's, then its user's.
var userTokenCols = prefixed("t", oidcTokenCols) + ", " + prefixed("u", userCols)

// RotateRefreshToken implements storage.Storage: as RedeemAuthCode, one
// conditional UPDATE decides the winner; batched on SQLite.
func (s *Store) RotateRefreshToken(ctx context.Context, oldID string, now time.Time, event *storage.SignInEvent, next ...storage.OIDCToken) error {
	op := "rotate refresh token"
	event = s.withEventDefaults(ctx, event)
	const update = `UPDATE oidc_tokens SET rotated_at = ?
			WHERE id = ? AND kind = 'refresh' AND rotated_at IS NULL AND expires_at > ?`
	updateArgs := []any{s.tv(now), oldID, s.tv(now)}
	if won, ok, err := s.gatedTokens(ctx, update, updateArgs, next, event); ok {
		if err == nil && !won {
			err = s.refreshNotRotated(ctx, s.write(), oldID)
		}
		if err != nil {
			return s.fail(op, err, storage.ErrConflict)
		}
		return nil
	}
	err := s.batched(ctx, func(c conn) error {
		err := c.execOne(ctx, update, updateArgs...)
		if errors.Is(err, storage.ErrNotFound) {
			return s.refreshNotRotated(ctx, c, oldID)
		}
		if err != nil {
			return err
		}
		if err := s.insertOIDCTokens(ctx, c, next); err != nil || event == nil {
			return err
		}
		return s.insertSignInEvent(ctx, c, *event)
	})
	if err != nil {
		return s.fail(op, err, storage.ErrConflict)
	}
	return nil
}

// refreshNotRotated says why a rotation's UPDATE found no row: the token was
// rotated before (ErrConflict), or it expired or is gone (ErrNotFound).
func (s *Store) refreshNotRotated(ctx context.Context, c conn, oldID string) error {
	var rotated timeCol
	if e := c.row(ctx, `SELECT rotated_at FROM oidc_tokens WHERE id = ? AND kind = 'refresh'`, oldID).Scan(&rotated); e == nil && rotated.Valid {
		return fmt.Errorf("refresh token already used: %w", storage.ErrConflict)
	}
	return storage.ErrNotFound
}

// RevokeOIDCToken implements storage.Storage.
func (s *Store) RevokeOIDCToken(ctx context.Context, id string) error {
	if err := s.write().execOne(ctx, `DELETE FROM oidc_tokens WHERE id = ?`, id); err != nil {
		return s.fail("revoke token", err, nil)
	}
	return nil
}

// RevokeOIDCGrant implements storage.Storage.
func (s *Store) RevokeOIDCGrant(ctx context.Context, grantID string) (int, error) {
	return s.revokeTokens(ctx, "revoke grant", `grant_id = ?`, grantID)
}

// RevokeUserOIDCTokens implements storage.Storage.
func (s *Store) RevokeUserOIDCTokens(ctx context.Context, userID, appID string) (int, error) {
	if appID == "" {
		return s.revokeTokens(ctx, "revoke tokens of user", `user_id = ?`, userID)
	}
	return s.revokeTokens(ctx, "revoke tokens of user", `user_id = ? AND application_id = ?`, userID, appID)
}

// revokeTokens deletes the tokens matching where. On PostgreSQL it first
// locks them, which waits for a refresh rotating one of them to commit;
// the DELETE, a new statement, then sees the tokens that refresh stored
// too. A single DELETE would not: under READ COMMITTED it misses rows
// committed after it began, and a refresh racing the revocation would
// leave working tokens behind. A refresh that comes after the lock finds
// its token gone. Rows are locked in ID order, so two revocations cannot
// deadlock. (SQLite's single writer serializes all of this anyway.)
func (s *Store) revokeTokens(ctx context.Context, op, where string, args ...any) (int, error) {
	var n int
	err := s.inTx(ctx, func(c conn) error {
		if s.d.LockRow != "" {
			if _, err := c.exec(ctx, `SELECT id FROM oidc_tokens WHERE `+where+` ORDER BY id`+s.d.LockRow, args...); err != nil {
				return err
			}
		}
		res, err := c.exec(ctx, `DELETE FROM oidc_tokens WHERE `+where, args...)
		if err != nil {
			return err
		}
		affected, err := res.RowsAffected()
		n = int(affected)
		return err
	})
	if err != nil {
		return 0, s.fail(op, err, nil)
	}
	return n, nil
}

// DeleteExpiredSigningKeys implements storage.Storage.
func (s *Store) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	return s.deleteExpired(ctx, "signing keys", `DELETE FROM oidc_signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?`, now)
}

// DeleteExpiredOIDCTokens implements storage.Storage.
func (s *Store) DeleteExpiredOIDCTokens(ctx context.Context, now time.Time, max int) (int, error) {
	return s.deleteExpiredBatch(ctx, "oidc_tokens", now, max)
}
