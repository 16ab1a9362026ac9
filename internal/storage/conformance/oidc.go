package conformance

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

func newApplication(name string) storage.Application {
	return storage.Application{
		ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: name,
		WebRedirectURIs: []string{"https://app.example/cb"},
		PasswordCredentials: []storage.PasswordCredential{{KeyID: uuid.NewString(), DisplayName: "prod",
			Hint: "abc", SecretHash: randomBytes(32), StartAt: t0, EndAt: at(24 * time.Hour)}},
		AssignedGroups: []string{uuid.NewString()}, GroupsClaim: true, SigningAlg: "ES256",
		AccessTokenType: "opaque", CreatedAt: t0, UpdatedAt: t0,
	}
}

func mustApplication(t *testing.T, s storage.Storage, name string) storage.Application {
	t.Helper()
	a := newApplication(name)
	ok(t, s.CreateApplication(t.Context(), a))
	return a
}

func newAuthRequest(clientID string) storage.AuthRequest {
	return storage.AuthRequest{ID: uuid.NewString(), ClientID: clientID, Request: []byte(`{"scope":"openid"}`),
		CreatedAt: t0, ExpiresAt: at(10 * time.Minute)}
}

func newOIDCToken(a storage.Application, userID, kind, grant string) storage.OIDCToken {
	return storage.OIDCToken{ID: uuid.NewString(), Kind: kind, GrantID: grant, ApplicationID: a.ID,
		ClientID: a.AppID, UserID: userID, Scopes: []string{"openid", "offline_access"},
		Audience: []string{a.AppID}, AMR: []string{"hwk", "user", "mfa"}, ACR: "phrh", AuthTime: t0,
		CreatedAt: t0, ExpiresAt: at(time.Hour)}
}

var applicationTests = []test{
	{"create_get_update_delete", func(t *testing.T, s storage.Storage) {
		a := mustApplication(t, s, "Grafana")
		got, err := s.GetApplication(t.Context(), a.ID)
		ok(t, err)
		equal(t, "get", got, a)
		got, err = s.GetApplicationByAppID(t.Context(), a.AppID)
		ok(t, err)
		equal(t, "get by appId", got, a)
		upd, err := s.UpdateApplication(t.Context(), a.ID, func(old storage.Application) (storage.Application, error) {
			equal(t, "fn input", old, a)
			old.AppID, old.CreatedAt = "changed", at(time.Hour)
			old.DisplayName, old.WebRedirectURIs, old.PublicClientRedirectURIs = "Grafana 2", nil, []string{"http://127.0.0.1/cb"}
			old.PasswordCredentials, old.AssignedGroups, old.GroupsClaim = nil, nil, false
			old.SigningAlg, old.AccessTokenType, old.UpdatedAt = "RS256", "jwt", at(time.Minute)
			return old, nil
		})
		ok(t, err)
		want := a
		want.DisplayName, want.WebRedirectURIs, want.PublicClientRedirectURIs = "Grafana 2", nil, []string{"http://127.0.0.1/cb"}
		want.PasswordCredentials, want.AssignedGroups, want.GroupsClaim = nil, nil, false
		want.SigningAlg, want.AccessTokenType, want.UpdatedAt = "RS256", "jwt", at(time.Minute)
		equal(t, "returned", upd, want)
		got, err = s.GetApplication(t.Context(), a.ID)
		ok(t, err)
		equal(t, "stored", got, want)
		ok(t, s.DeleteApplication(t.Context(), a.ID))
		_, err = s.GetApplication(t.Context(), a.ID)
		is(t, err, storage.ErrNotFound)
		is(t, s.DeleteApplication(t.Context(), a.ID), storage.ErrNotFound)
	}},
	{"app_id_is_unique_and_cas_errors_pass_through", func(t *testing.T, s storage.Storage) {
		a := mustApplication(t, s, "One")
		b := newApplication("Two")
		b.AppID = a.AppID
		is(t, s.CreateApplication(t.Context(), b), storage.ErrAlreadyExists)
		_, err := s.UpdateApplication(t.Context(), a.ID, func(storage.Application) (storage.Application, error) { return storage.Application{}, errFn })
		is(t, err, errFn)
		_, err = s.UpdateApplication(t.Context(), "missing", func(x storage.Application) (storage.Application, error) { return x, nil })
		is(t, err, storage.ErrNotFound)
	}},
	{"list_orders_by_name_pages_and_filters", func(t *testing.T, s storage.Storage) {
		for _, n := range []string{"beta", "Alpha", "alphabet", "alpha", "Gamma"} {
			mustApplication(t, s, n)
		}
		var names []string
		next := ""
		for {
			page, n, err := s.ListApplications(t.Context(), storage.Page{Limit: 2, After: next})
			ok(t, err)
			for _, a := range page {
				names = append(names, strings.ToLower(a.DisplayName))
			}
			if n == "" {
				break
			}
			next = n
		}
		// Equal names both come before a longer name they begin.
		equal(t, "order", names, []string{"alpha", "alpha", "alphabet", "beta", "gamma"})
		page, _, err := s.ListApplications(t.Context(), storage.Page{Prefix: "AL"})
		ok(t, err)
		if len(page) != 3 {
			t.Fatalf("prefix AL: %d apps, want 3", len(page))
		}
		_, _, err = s.ListApplications(t.Context(), storage.Page{After: "!!"})
		is(t, err, storage.ErrBadCursor)
	}},
	{"get_client_reads_the_wrong_secrets_with_the_app", func(t *testing.T, s storage.Storage) {
		a := mustApplication(t, s, "Grafana")
		other := mustApplication(t, s, "Other")
		const w = 15 * time.Minute
		start := t0.Truncate(w)
		got, failures, err := s.GetClient(t.Context(), a.AppID, "oidc-client:", w, start)
		ok(t, err)
		equal(t, "app", got, a)
		equal(t, "no failures", failures, 0)
		for range 3 {
			hit(t, s, "oidc-client:"+a.ID, w, start.Add(time.Minute))
		}
		hit(t, s, "oidc-client:"+other.ID, w, start)
		hit(t, s, "other:"+a.ID, w, start)
		_, failures, err = s.GetClient(t.Context(), a.AppID, "oidc-client:", w, start.Add(2*time.Minute))
		ok(t, err)
		equal(t, "failures in the window, as RateLimitCount counts them", failures, count(t, s, "oidc-client:"+a.ID, w, start))
		equal(t, "failures", failures, 3)
		_, failures, err = s.GetClient(t.Context(), a.AppID, "oidc-client:", w, start.Add(w))
		ok(t, err)
		equal(t, "failures in the next window", failures, 0)
		_, _, err = s.GetClient(t.Context(), "no-such-app", "oidc-client:", w, start)
		is(t, err, storage.ErrNotFound)
	}},
	{"a_users_token_is_read_with_the_user", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "App")
		ref, acc := newOIDCToken(a, u.ID, storage.TokenRefresh, "g1"), newOIDCToken(a, u.ID, storage.TokenAccess, "g1")
		own := newOIDCToken(a, "", storage.TokenAccess, "g2") // client credentials: no user
		ok(t, s.CreateOIDCTokens(t.Context(), ref, acc, own))
		for _, tok := range []storage.OIDCToken{ref, acc} {
			want, err := s.GetOIDCToken(t.Context(), tok.ID)
			ok(t, err)
			got, owner, err := s.GetUserToken(t.Context(), tok.ID, tok.Kind)
			ok(t, err)
			equal(t, tok.Kind+" token", got, want)
			equal(t, "user", owner, u)
		}
		_, _, err := s.GetUserToken(t.Context(), acc.ID, storage.TokenRefresh)
		is(t, err, storage.ErrNotFound)
		_, _, err = s.GetUserToken(t.Context(), own.ID, storage.TokenAccess)
		is(t, err, storage.ErrNotFound)
		_, _, err = s.GetUserToken(t.Context(), "no-such-token", storage.TokenRefresh)
		is(t, err, storage.ErrNotFound)
	}},
	{"deleting_an_app_deletes_its_tokens", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "App")
		tok := newOIDCToken(a, u.ID, storage.TokenRefresh, "g1")
		ok(t, s.CreateOIDCTokens(t.Context(), tok))
		ok(t, s.DeleteApplication(t.Context(), a.ID))
		_, err := s.GetOIDCToken(t.Context(), tok.ID)
		is(t, err, storage.ErrNotFound)
	}},
}

var signingKeyTests = []test{
	{"create_and_list_oldest_first", func(t *testing.T, s storage.Storage) {
		keys, err := s.ListSigningKeys(t.Context())
		ok(t, err)
		if len(keys) != 0 {
			t.Fatalf("fresh store has %d keys", len(keys))
		}
		k2 := storage.SigningKey{ID: "k2", Alg: "RS256", PublicKey: randomBytes(40), PrivateKey: randomBytes(90),
			Sealed: true, CreatedAt: at(time.Hour), SignFrom: at(2 * time.Hour), RetiredAt: ptr(at(3 * time.Hour)),
			ExpiresAt: ptr(at(4 * time.Hour))}
		k1 := storage.SigningKey{ID: "k1", Alg: "ES256", PublicKey: randomBytes(40), PrivateKey: randomBytes(90),
			CreatedAt: t0, SignFrom: t0}
		ok(t, s.CreateSigningKey(t.Context(), k2))
		ok(t, s.CreateSigningKey(t.Context(), k1))
		is(t, s.CreateSigningKey(t.Context(), k1), storage.ErrAlreadyExists)
		keys, err = s.ListSigningKeys(t.Context())
		ok(t, err)
		equal(t, "keys", keys, []storage.SigningKey{k1, k2})
		upd, err := s.UpdateSigningKey(t.Context(), "k1", func(k storage.SigningKey) (storage.SigningKey, error) {
			equal(t, "fn input", k, k1)
			k.PrivateKey, k.Alg = nil, "none" // not changeable
			k.SignFrom, k.RetiredAt, k.ExpiresAt = at(time.Minute), ptr(at(time.Hour)), ptr(at(2*time.Hour))
			return k, nil
		})
		ok(t, err)
		want := k1
		want.SignFrom, want.RetiredAt, want.ExpiresAt = at(time.Minute), ptr(at(time.Hour)), ptr(at(2*time.Hour))
		equal(t, "returned", upd, want)
		keys, err = s.ListSigningKeys(t.Context())
		ok(t, err)
		equal(t, "stored", keys[0], want)
		_, err = s.UpdateSigningKey(t.Context(), "missing", func(k storage.SigningKey) (storage.SigningKey, error) { return k, nil })
		is(t, err, storage.ErrNotFound)
		_, err = s.UpdateSigningKey(t.Context(), "k2", func(k storage.SigningKey) (storage.SigningKey, error) { return k, errFn })
		is(t, err, errFn)
	}},
	{"delete_expired_keeps_current_and_unexpired_keys", func(t *testing.T, s storage.Storage) {
		key := func(id string, expires *time.Time) storage.SigningKey {
			k := storage.SigningKey{ID: id, Alg: "ES256", PublicKey: randomBytes(40), PrivateKey: randomBytes(90), CreatedAt: t0, SignFrom: t0}
			if expires != nil {
				k.RetiredAt, k.ExpiresAt = ptr(at(time.Minute)), expires
			}
			return k
		}
		current, expired, atNow, later := key("current", nil), key("expired", ptr(at(time.Hour))), key("now", ptr(at(2*time.Hour))), key("later", ptr(at(3*time.Hour)))
		for _, k := range []storage.SigningKey{current, expired, atNow, later} {
			ok(t, s.CreateSigningKey(t.Context(), k))
		}
		n, err := s.DeleteExpiredSigningKeys(t.Context(), at(2*time.Hour))
		ok(t, err)
		equal(t, "deleted", n, 2)
		keys, err := s.ListSigningKeys(t.Context())
		ok(t, err)
		equal(t, "kept", keys, []storage.SigningKey{current, later})
	}},
}

var authRequestTests = []test{
	{"create_complete_get_delete", func(t *testing.T, s storage.Storage) {
		r := newAuthRequest("client")
		ok(t, s.CreateAuthRequest(t.Context(), r))
		got, err := s.GetAuthRequest(t.Context(), r.ID)
		ok(t, err)
		equal(t, "get", got, r)
		done := storage.AuthCompletion{UserID: "user-1", SessionID: "sess", AuthTime: at(time.Second),
			AMR: []string{"swk", "user", "mfa"}, ACR: "phr"}
		want := r
		want.UserID, want.SessionID, want.AuthTime = "user-1", "sess", at(time.Second)
		want.AMR, want.ACR, want.Done = []string{"swk", "user", "mfa"}, "phr", true
		// The sign-in the completion grants is logged with it.
		signedIn := &storage.SignInEvent{ID: "e1", Time: at(time.Second), UserID: "user-1", UserPrincipalName: "u@x.org",
			Method: "session", Result: storage.ResultSuccess, IP: "192.0.2.1", UserAgent: "Chrome", AppID: "client", AppDisplayName: "App"}
		ok(t, s.CompleteAuthRequest(t.Context(), r.ID, done, at(time.Second), signedIn))
		got, err = s.GetAuthRequest(t.Context(), r.ID)
		ok(t, err)
		equal(t, "stored", got, want)
		// The same session may complete it again (a reload of the hand-off);
		// another session is refused and writes neither the request nor its line.
		again := done
		again.AMR, again.ACR = []string{"hwk", "user", "mfa"}, "phrh"
		ok(t, s.CompleteAuthRequest(t.Context(), r.ID, again, at(2*time.Second), nil))
		want.AMR, want.ACR = again.AMR, again.ACR
		other := storage.AuthCompletion{UserID: "user-2", SessionID: "another", AuthTime: at(3 * time.Second), ACR: "sf"}
		is(t, s.CompleteAuthRequest(t.Context(), r.ID, other, at(3*time.Second),
			&storage.SignInEvent{ID: "e2", Time: at(3 * time.Second), Method: "session", Result: storage.ResultSuccess}), storage.ErrConflict)
		is(t, s.CompleteAuthRequest(t.Context(), r.ID, other, at(3*time.Second), nil), storage.ErrConflict)
		got, err = s.GetAuthRequest(t.Context(), r.ID)
		ok(t, err)
		equal(t, "after a refused completion", got, want)
		// Expired or gone: not found, and nothing written.
		is(t, s.CompleteAuthRequest(t.Context(), r.ID, done, r.ExpiresAt, &storage.SignInEvent{ID: "e3",
			Time: r.ExpiresAt, Method: "session", Result: storage.ResultSuccess}), storage.ErrNotFound)
		is(t, s.CompleteAuthRequest(t.Context(), "no-such-request", done, at(time.Second), nil), storage.ErrNotFound)
		if err := s.CompleteAuthRequest(t.Context(), r.ID, storage.AuthCompletion{UserID: "user-1"}, at(time.Second), nil); err == nil {
			t.Fatal("a completion without a session was accepted")
		}
		got, err = s.GetAuthRequest(t.Context(), r.ID)
		ok(t, err)
		equal(t, "after refused completions", got, want)
		logged, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		if len(logged) != 1 || logged[0].ID != "e1" || logged[0].AppDisplayName != "App" || logged[0].IP != "192.0.2.1" {
			t.Fatalf("sign-in log after one completion with a line and three refused: %+v", logged)
		}
		ok(t, s.DeleteAuthRequest(t.Context(), r.ID))
		_, err = s.GetAuthRequest(t.Context(), r.ID)
		is(t, err, storage.ErrNotFound)
	}},
	{"a_request_created_completed_is_stored_with_its_record", func(t *testing.T, s storage.Storage) {
		r := newAuthRequest("client")
		r.UserID, r.SessionID, r.AuthTime, r.AMR, r.ACR, r.Done = "user-1", "sess", at(time.Second), []string{"hwk", "user", "mfa"}, "phrh", true
		r.CodeHash, r.CodeExpiresAt = randomBytes(32), ptr(at(time.Minute))
		signedIn := &storage.SignInEvent{ID: "e1", Time: at(time.Second), UserID: "user-1", UserPrincipalName: "u@x.org",
			Method: "session", Result: storage.ResultSuccess, IP: "192.0.2.1", AppID: "client", AppDisplayName: "App"}
		ok(t, s.CreateCompletedAuthRequest(t.Context(), r, signedIn))
		got, err := s.GetAuthRequestByCode(t.Context(), r.CodeHash)
		ok(t, err)
		equal(t, "stored", got, r)
		// Its ID again: refused, and the second record is not written.
		again := r
		again.CodeHash = randomBytes(32)
		if err := s.CreateCompletedAuthRequest(t.Context(), again, &storage.SignInEvent{ID: "e2", Time: at(2 * time.Second),
			Method: "session", Result: storage.ResultSuccess}); err == nil {
			t.Fatal("a second request with the same ID was stored")
		}
		// A request no session completed is refused.
		open := newAuthRequest("client")
		if err := s.CreateCompletedAuthRequest(t.Context(), open, nil); err == nil {
			t.Fatal("a request without its completion was stored as completed")
		}
		_, err = s.GetAuthRequest(t.Context(), open.ID)
		is(t, err, storage.ErrNotFound)
		// Without a record, the request alone.
		plain := newAuthRequest("client")
		plain.UserID, plain.SessionID, plain.Done = "user-1", "sess", true
		ok(t, s.CreateCompletedAuthRequest(t.Context(), plain, nil))
		got, err = s.GetAuthRequest(t.Context(), plain.ID)
		ok(t, err)
		equal(t, "without a record", got, plain)
		logged, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		if len(logged) != 1 || logged[0].ID != "e1" || logged[0].AppDisplayName != "App" {
			t.Fatalf("sign-in log after one completed request with a line and one refused: %+v", logged)
		}
	}},
	{"a_request_is_completed_by_one_session_even_under_a_race", func(t *testing.T, s storage.Storage) {
		r := newAuthRequest("client")
		ok(t, s.CreateAuthRequest(t.Context(), r))
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := storage.AuthCompletion{UserID: fmt.Sprint("user-", i), SessionID: fmt.Sprint("sess-", i), AuthTime: t0, ACR: "phr"}
				errs[i] = s.CompleteAuthRequest(t.Context(), r.ID, c, at(time.Second), &storage.SignInEvent{
					ID: fmt.Sprint("e", i), Time: at(time.Second), UserID: c.UserID, Method: "session", Result: storage.ResultSuccess, AppID: "client"})
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("sessions %d and %d both completed the request", winner, i)
			case !errors.Is(err, storage.ErrConflict):
				t.Fatalf("a losing completion got %v, want ErrConflict", err)
			}
		}
		if winner < 0 {
			t.Fatal("no session completed the request")
		}
		got, err := s.GetAuthRequest(t.Context(), r.ID)
		ok(t, err)
		equal(t, "completed by", got.SessionID, fmt.Sprint("sess-", winner))
		logged, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		if len(logged) != 1 || logged[0].ID != fmt.Sprint("e", winner) {
			t.Fatalf("the log after %d racing completions: %+v, want only the winner's line e%d", n, logged, winner)
		}
	}},
	{"a_request_is_given_one_code", func(t *testing.T, s storage.Storage) {
		r := newAuthRequest("client")
		ok(t, s.CreateAuthRequest(t.Context(), r))
		code, exp := randomBytes(32), at(time.Minute)
		ok(t, s.SetAuthCode(t.Context(), r.ID, code, exp))
		got, err := s.GetAuthRequest(t.Context(), r.ID)
		ok(t, err)
		want := r
		want.CodeHash, want.CodeExpiresAt = code, ptr(exp)
		equal(t, "with its code", got, want)
		byCode, err := s.GetAuthRequestByCode(t.Context(), code)
		ok(t, err)
		equal(t, "by its code", byCode, want)
		// A second code is refused and changes nothing.
		is(t, s.SetAuthCode(t.Context(), r.ID, randomBytes(32), at(time.Hour)), storage.ErrConflict)
		got, err = s.GetAuthRequest(t.Context(), r.ID)
		ok(t, err)
		equal(t, "after a second code", got, want)
		is(t, s.SetAuthCode(t.Context(), "no-such-request", randomBytes(32), exp), storage.ErrNotFound)
		if err := s.SetAuthCode(t.Context(), r.ID, nil, exp); err == nil {
			t.Fatal("an empty code was accepted")
		}
	}},
	{"a_code_is_redeemed_once_even_under_a_race", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "App")
		// Requests without a code do not collide on the code's unique index.
		ok(t, s.CreateAuthRequest(t.Context(), newAuthRequest(a.AppID)))
		r := newAuthRequest(a.AppID)
		code := randomBytes(32)
		r.CodeHash, r.CodeExpiresAt, r.Done, r.UserID = code, ptr(at(time.Minute)), true, u.ID
		ok(t, s.CreateAuthRequest(t.Context(), r))
		got, err := s.GetAuthRequestByCode(t.Context(), code)
		ok(t, err)
		equal(t, "by code", got, r)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		toks := make([]storage.OIDCToken, n)
		for i := range n {
			toks[i] = newOIDCToken(a, u.ID, storage.TokenAccess, r.ID)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.RedeemAuthCode(t.Context(), r.ID, at(time.Second), toks[i])
			}()
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			_, gerr := s.GetOIDCToken(t.Context(), toks[i].ID)
			switch {
			case err == nil:
				wins++
				ok(t, gerr)
			case errors.Is(err, storage.ErrConflict):
				is(t, gerr, storage.ErrNotFound) // a loser's tokens are not stored
			default:
				t.Fatalf("a losing redemption got %v, want ErrConflict", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d redemptions of one code won, want 1", wins)
		}
		got, err = s.GetAuthRequestByCode(t.Context(), code)
		ok(t, err)
		equal(t, "used at", got.CodeUsedAt, ptr(at(time.Second)))
	}},
	{"code_grant_reads_the_user_and_the_client_with_the_request", func(t *testing.T, s storage.Storage) {
		u := newUser("u@x.org")
		u.Mail, u.DisplayName, u.UpdatedAt = "u.mail@x.org", "U Name", t0.Add(time.Hour)
		ok(t, s.CreateUser(t.Context(), u))
		a := mustApplication(t, s, "App")
		other := mustApplication(t, s, "Other")
		const w = 15 * time.Minute
		start := t0.Truncate(w)
		r := newAuthRequest(a.AppID)
		code := randomBytes(32)
		r.CodeHash, r.CodeExpiresAt, r.Done, r.UserID, r.AMR, r.ACR = code, ptr(at(time.Minute)), true, u.ID, []string{"hwk"}, "phrh"
		ok(t, s.CreateAuthRequest(t.Context(), r))
		g, err := s.GetCodeGrant(t.Context(), code, "oidc-client:", w, start)
		ok(t, err)
		equal(t, "request", g.Request, r)
		wantU, err := s.GetUser(t.Context(), u.ID)
		ok(t, err)
		equal(t, "user's claims", g.User, wantU.Claims())
		equal(t, "user's mail", g.User.Mail, "u.mail@x.org")
		equal(t, "client", g.Client, a)
		equal(t, "no failures", g.ClientFailures, 0)
		// The client's wrong secrets in the window, as GetClient counts them.
		for range 2 {
			hit(t, s, "oidc-client:"+a.ID, w, start.Add(time.Minute))
		}
		hit(t, s, "oidc-client:"+other.ID, w, start)
		g, err = s.GetCodeGrant(t.Context(), code, "oidc-client:", w, start.Add(2*time.Minute))
		ok(t, err)
		_, want, err := s.GetClient(t.Context(), a.AppID, "oidc-client:", w, start.Add(2*time.Minute))
		ok(t, err)
		equal(t, "failures as GetClient reads them", g.ClientFailures, want)
		equal(t, "failures", g.ClientFailures, 2)
		g, err = s.GetCodeGrant(t.Context(), code, "oidc-client:", w, start.Add(w))
		ok(t, err)
		equal(t, "failures in the next window", g.ClientFailures, 0)
		_, err = s.GetCodeGrant(t.Context(), code, "oidc-client:", 0, start)
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a zero window: %v, want an error of its own", err)
		}
		// Without a user (not completed), with the user or the app gone: not found.
		noUser := newAuthRequest(a.AppID)
		noUserCode := randomBytes(32)
		noUser.CodeHash = noUserCode
		ok(t, s.CreateAuthRequest(t.Context(), noUser))
		_, err = s.GetCodeGrant(t.Context(), noUserCode, "oidc-client:", w, start)
		is(t, err, storage.ErrNotFound)
		v := mustUser(t, s, "v@x.org")
		otherReq := newAuthRequest(other.AppID)
		otherCode := randomBytes(32)
		otherReq.CodeHash, otherReq.Done, otherReq.UserID = otherCode, true, v.ID
		ok(t, s.CreateAuthRequest(t.Context(), otherReq))
		_, err = s.GetCodeGrant(t.Context(), otherCode, "oidc-client:", w, start)
		ok(t, err)
		ok(t, s.DeleteApplication(t.Context(), other.ID))
		_, err = s.GetCodeGrant(t.Context(), otherCode, "oidc-client:", w, start)
		is(t, err, storage.ErrNotFound)
		ok(t, s.DeleteUser(t.Context(), u.ID))
		_, err = s.GetCodeGrant(t.Context(), code, "oidc-client:", w, start)
		is(t, err, storage.ErrNotFound)
		_, err = s.GetCodeGrant(t.Context(), randomBytes(32), "oidc-client:", w, start)
		is(t, err, storage.ErrNotFound)
		_, err = s.GetCodeGrant(t.Context(), nil, "oidc-client:", w, start)
		is(t, err, storage.ErrNotFound)
	}},
	{"redeem_code_stores_the_tokens_its_request_names", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "App")
		jwt := newApplication("JWT app")
		jwt.AccessTokenType = "jwt"
		ok(t, s.CreateApplication(t.Context(), jwt))
		const w = 15 * time.Minute
		now := at(time.Second)
		start := now.Truncate(w)
		hit(t, s, "oidc-client:"+a.ID, w, start)
		code := func(app storage.Application, request string) ([]byte, storage.AuthRequest) {
			r := newAuthRequest(app.AppID)
			c := randomBytes(32)
			r.Request, r.CodeHash, r.CodeExpiresAt, r.Done, r.UserID = []byte(request), c, ptr(at(time.Minute)), true, u.ID
			r.AMR, r.ACR, r.AuthTime, r.SessionID = []string{"hwk", "user"}, "phrh", at(-time.Minute), "sess"
			ok(t, s.CreateAuthRequest(t.Context(), r))
			return c, r
		}
		tokens := func() storage.CodeTokens {
			return storage.CodeTokens{AccessID: "acc-" + uuid.NewString(), AccessJTI: "jti-" + uuid.NewString(),
				RefreshID: "ref-" + uuid.NewString(), AccessExpiresAt: at(time.Hour), RefreshExpiresAt: at(24 * time.Hour)}
		}
		c, r := code(a, `{"scope":"openid offline_access profile","response_type":"code","nonce":"n"}`)
		before, err := s.GetCodeGrant(t.Context(), c, "oidc-client:", w, now)
		ok(t, err)
		tk := tokens()
		got, err := s.RedeemCode(t.Context(), c, "oidc-client:", w, now, tk)
		ok(t, err)
		equal(t, "grant as GetCodeGrant reads it", got.CodeGrant, before)
		equal(t, "failures", got.ClientFailures, 1)
		equal(t, "access ID", got.AccessID, tk.AccessID)
		equal(t, "refresh", got.Refresh, true)
		acc, err := s.GetOIDCToken(t.Context(), tk.AccessID)
		ok(t, err)
		want := storage.OIDCToken{ID: tk.AccessID, Kind: storage.TokenAccess, GrantID: r.ID, ApplicationID: a.ID,
			ClientID: a.AppID, UserID: u.ID, Scopes: []string{"openid", "offline_access", "profile"}, Audience: []string{a.AppID},
			AMR: r.AMR, ACR: r.ACR, AuthTime: r.AuthTime, RefreshID: tk.RefreshID, CreatedAt: now, ExpiresAt: tk.AccessExpiresAt}
		equal(t, "access token", acc, want)
		ref, err := s.GetOIDCToken(t.Context(), tk.RefreshID)
		ok(t, err)
		want.ID, want.Kind, want.RefreshID, want.ExpiresAt = tk.RefreshID, storage.TokenRefresh, "", tk.RefreshExpiresAt
		equal(t, "refresh token", ref, want)
		stored, err := s.GetAuthRequestByCode(t.Context(), c)
		ok(t, err)
		equal(t, "used at", stored.CodeUsedAt, ptr(now))
		// Used again: the conflict comes with the grant, nothing more is stored.
		again := tokens()
		got, err = s.RedeemCode(t.Context(), c, "oidc-client:", w, at(2*time.Second), again)
		is(t, err, storage.ErrConflict)
		equal(t, "reused grant", got.Request.ID, r.ID)
		equal(t, "reused grant's use", got.Request.CodeUsedAt, ptr(now))
		equal(t, "nothing stored", got.AccessID, "")
		_, err = s.GetOIDCToken(t.Context(), again.AccessID)
		is(t, err, storage.ErrNotFound)

		// No offline_access: no refresh token. A JWT app's access token is its JTI.
		c, _ = code(jwt, `{"scope":"openid  email","response_type":"code"}`)
		tk = tokens()
		got, err = s.RedeemCode(t.Context(), c, "oidc-client:", w, now, tk)
		ok(t, err)
		equal(t, "JWT access ID", got.AccessID, tk.AccessJTI)
		equal(t, "no refresh", got.Refresh, false)
		acc, err = s.GetOIDCToken(t.Context(), tk.AccessJTI)
		ok(t, err)
		equal(t, "scopes split on each space", acc.Scopes, []string{"openid", "", "email"})
		equal(t, "no refresh ID", acc.RefreshID, "")
		equal(t, "audience", acc.Audience, []string{jwt.AppID})
		for _, id := range []string{tk.AccessID, tk.RefreshID} {
			_, err = s.GetOIDCToken(t.Context(), id)
			is(t, err, storage.ErrNotFound)
		}
		c, _ = code(a, `{"scope":"offline_access","response_type":"id_token"}`)
		got, err = s.RedeemCode(t.Context(), c, "oidc-client:", w, now, tokens())
		ok(t, err)
		equal(t, "no refresh for another response type", got.Refresh, false)

		// Expired, unfinished, unknown, or its user or app gone: not found, nothing stored.
		c, _ = code(a, `{"scope":"openid offline_access","response_type":"code"}`)
		tk = tokens()
		_, err = s.RedeemCode(t.Context(), c, "oidc-client:", w, at(time.Minute), tk)
		is(t, err, storage.ErrNotFound)
		_, err = s.GetOIDCToken(t.Context(), tk.AccessID)
		is(t, err, storage.ErrNotFound)
		unfinished := newAuthRequest(a.AppID)
		uc := randomBytes(32)
		unfinished.CodeHash, unfinished.CodeExpiresAt, unfinished.UserID = uc, ptr(at(time.Minute)), u.ID
		ok(t, s.CreateAuthRequest(t.Context(), unfinished))
		_, err = s.RedeemCode(t.Context(), uc, "oidc-client:", w, now, tk)
		is(t, err, storage.ErrNotFound)
		_, err = s.RedeemCode(t.Context(), randomBytes(32), "oidc-client:", w, now, tk)
		is(t, err, storage.ErrNotFound)
		_, err = s.RedeemCode(t.Context(), nil, "oidc-client:", w, now, tk)
		is(t, err, storage.ErrNotFound)
		ok(t, s.DeleteApplication(t.Context(), jwt.ID))
		c, _ = code(jwt, `{"scope":"openid","response_type":"code"}`)
		_, err = s.RedeemCode(t.Context(), c, "oidc-client:", w, now, tk)
		is(t, err, storage.ErrNotFound)
		_, err = s.GetOIDCToken(t.Context(), tk.AccessID)
		is(t, err, storage.ErrNotFound)
	}},
	{"redeem_code_once_even_under_a_race", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "App")
		r := newAuthRequest(a.AppID)
		code := randomBytes(32)
		r.Request = []byte(`{"scope":"openid offline_access","response_type":"code"}`)
		r.CodeHash, r.CodeExpiresAt, r.Done, r.UserID = code, ptr(at(time.Minute)), true, u.ID
		ok(t, s.CreateAuthRequest(t.Context(), r))
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		toks := make([]storage.CodeTokens, n)
		for i := range n {
			toks[i] = storage.CodeTokens{AccessID: uuid.NewString(), AccessJTI: uuid.NewString(), RefreshID: uuid.NewString(),
				AccessExpiresAt: at(time.Hour), RefreshExpiresAt: at(time.Hour)}
			wg.Go(func() {
				_, errs[i] = s.RedeemCode(t.Context(), code, "oidc-client:", 15*time.Minute, at(time.Second), toks[i])
			})
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			_, aerr := s.GetOIDCToken(t.Context(), toks[i].AccessID)
			_, rerr := s.GetOIDCToken(t.Context(), toks[i].RefreshID)
			switch {
			case err == nil:
				wins++
				ok(t, aerr)
				ok(t, rerr)
			case errors.Is(err, storage.ErrConflict):
				is(t, aerr, storage.ErrNotFound) // a loser's tokens are not stored
				is(t, rerr, storage.ErrNotFound)
			default:
				t.Fatalf("a losing redemption got %v, want ErrConflict", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d redemptions of one code won, want 1", wins)
		}
	}},
	{"expired_or_missing_code_is_not_found", func(t *testing.T, s storage.Storage) {
		r := newAuthRequest("c")
		code := randomBytes(32)
		r.CodeHash, r.CodeExpiresAt = code, ptr(at(time.Minute))
		ok(t, s.CreateAuthRequest(t.Context(), r))
		is(t, s.RedeemAuthCode(t.Context(), r.ID, at(time.Minute)), storage.ErrNotFound)
		noCode := newAuthRequest("c")
		ok(t, s.CreateAuthRequest(t.Context(), noCode))
		is(t, s.RedeemAuthCode(t.Context(), noCode.ID, t0), storage.ErrNotFound)
		_, err := s.GetAuthRequestByCode(t.Context(), randomBytes(32))
		is(t, err, storage.ErrNotFound)
		_, err = s.GetAuthRequestByCode(t.Context(), nil)
		is(t, err, storage.ErrNotFound)
	}},
	{"delete_expired", func(t *testing.T, s storage.Storage) {
		old, fresh := newAuthRequest("c"), newAuthRequest("c")
		old.ExpiresAt = at(time.Minute)
		ok(t, s.CreateAuthRequest(t.Context(), old))
		ok(t, s.CreateAuthRequest(t.Context(), fresh))
		n, err := s.DeleteExpiredAuthRequests(t.Context(), at(time.Minute), 10)
		ok(t, err)
		if n != 1 {
			t.Fatalf("deleted %d, want 1", n)
		}
		_, err = s.GetAuthRequest(t.Context(), fresh.ID)
		ok(t, err)
		if _, err := s.DeleteExpiredAuthRequests(t.Context(), at(time.Minute), 0); err == nil {
			t.Fatal("a batch of 0: no error")
		}
	}},
	{"delete_expired_goes_in_batches_earliest_first", func(t *testing.T, s storage.Storage) {
		var ids []string // made latest expiry first
		for _, exp := range []time.Duration{3 * time.Minute, 2 * time.Minute, time.Minute} {
			r := newAuthRequest("c")
			r.ExpiresAt = at(exp)
			ok(t, s.CreateAuthRequest(t.Context(), r))
			ids = append(ids, r.ID)
		}
		for _, want := range []int{2, 1, 0} {
			n, err := s.DeleteExpiredAuthRequests(t.Context(), at(5*time.Minute), 2)
			ok(t, err)
			equal(t, "deleted in the batch", n, want)
			if want == 2 { // the latest expired one is left
				_, err = s.GetAuthRequest(t.Context(), ids[0])
				ok(t, err)
			}
		}
		_, err := s.GetAuthRequest(t.Context(), ids[0])
		is(t, err, storage.ErrNotFound)
	}},
}

var oidcTokenTests = []test{
	{"create_get_revoke", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "App")
		acc, ref := newOIDCToken(a, u.ID, storage.TokenAccess, "g"), newOIDCToken(a, u.ID, storage.TokenRefresh, "g")
		acc.RefreshID = ref.ID
		cc := newOIDCToken(a, "", storage.TokenAccess, "g2")
		cc.AuthTime, cc.AMR, cc.ACR = time.Time{}, nil, ""
		ok(t, s.CreateOIDCTokens(t.Context(), acc, ref, cc))
		for _, want := range []storage.OIDCToken{acc, ref, cc} {
			got, err := s.GetOIDCToken(t.Context(), want.ID)
			ok(t, err)
			equal(t, "token", got, want)
		}
		ok(t, s.RevokeOIDCToken(t.Context(), acc.ID))
		is(t, s.RevokeOIDCToken(t.Context(), acc.ID), storage.ErrNotFound)
		bad := newOIDCToken(a, "missing-user", storage.TokenAccess, "g")
		is(t, s.CreateOIDCTokens(t.Context(), bad), storage.ErrConflict)
	}},
	{"rotation_once_and_reuse_is_conflict", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "App")
		ref := newOIDCToken(a, u.ID, storage.TokenRefresh, "g")
		ok(t, s.CreateOIDCTokens(t.Context(), ref))
		// Each rotation carries its refresh's sign-in record: only the
		// winner's is stored.
		refreshed := func(i int) *storage.SignInEvent {
			return &storage.SignInEvent{ID: fmt.Sprint("refresh-", i), Time: at(time.Minute), UserID: u.ID,
				UserPrincipalName: u.UserPrincipalName, Method: "refreshToken", Result: storage.ResultSuccess,
				IP: "198.51.100.7", UserAgent: "app/1.0", AppID: a.AppID, AppDisplayName: a.DisplayName}
		}
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.RotateRefreshToken(t.Context(), ref.ID, at(time.Minute), refreshed(i),
					newOIDCToken(a, u.ID, storage.TokenRefresh, "g"))
			}()
		}
		wg.Wait()
		wins, winner := 0, -1
		for i, err := range errs {
			switch {
			case err == nil:
				wins, winner = wins+1, i
			case !errors.Is(err, storage.ErrConflict):
				t.Fatalf("a losing rotation got %v, want ErrConflict", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d rotations of one refresh token won, want 1", wins)
		}
		got, err := s.GetOIDCToken(t.Context(), ref.ID)
		ok(t, err)
		equal(t, "rotated at", got.RotatedAt, ptr(at(time.Minute)))
		logged, _, err := s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		if len(logged) != 1 {
			t.Fatalf("%d sign-in records after one rotation won, want 1", len(logged))
		}
		want := *refreshed(winner)
		want.UserDisplayName, want.CorrelationID = u.DisplayName, logged[0].CorrelationID
		equal(t, "the winner's record", logged[0], want)
		is(t, s.RotateRefreshToken(t.Context(), "missing", t0, refreshed(n)), storage.ErrNotFound)
		exp := newOIDCToken(a, u.ID, storage.TokenRefresh, "g3")
		ok(t, s.CreateOIDCTokens(t.Context(), exp))
		is(t, s.RotateRefreshToken(t.Context(), exp.ID, exp.ExpiresAt, refreshed(n+1)), storage.ErrNotFound)
		logged, _, err = s.ListSignIns(t.Context(), storage.SignInQuery{})
		ok(t, err)
		equal(t, "records after two refused rotations", len(logged), 1)
		n2, err := s.RevokeOIDCGrant(t.Context(), "g")
		ok(t, err)
		if n2 != 2 {
			t.Fatalf("grant revocation deleted %d tokens, want 2 (the rotated one and its successor)", n2)
		}
	}},
	{"revocation_racing_a_refresh_leaves_no_token_of_the_grant", testRevocationRacesRefresh},
	{"expired_tokens_go_in_batches_earliest_first", func(t *testing.T, s storage.Storage) {
		u := mustUser(t, s, "u@x.org")
		a := mustApplication(t, s, "A")
		var toks []storage.OIDCToken // made latest expiry first
		for i, exp := range []time.Duration{3 * time.Minute, 2 * time.Minute, time.Minute} {
			tok := newOIDCToken(a, u.ID, storage.TokenAccess, fmt.Sprint("g", i))
			tok.ExpiresAt = at(exp)
			toks = append(toks, tok)
		}
		live := newOIDCToken(a, u.ID, storage.TokenRefresh, "live")
		ok(t, s.CreateOIDCTokens(t.Context(), append(toks, live)...))
		for _, want := range []int{2, 1, 0} {
			n, err := s.DeleteExpiredOIDCTokens(t.Context(), at(5*time.Minute), 2)
			ok(t, err)
			equal(t, "deleted in the batch", n, want)
			if want == 2 { // the latest expired one is left
				_, err = s.GetOIDCToken(t.Context(), toks[0].ID)
				ok(t, err)
			}
		}
		_, err := s.GetOIDCToken(t.Context(), toks[0].ID)
		is(t, err, storage.ErrNotFound)
		_, err = s.GetOIDCToken(t.Context(), live.ID)
		ok(t, err)
		if _, err := s.DeleteExpiredOIDCTokens(t.Context(), at(5*time.Minute), -1); err == nil {
			t.Fatal("a batch of -1: no error")
		}
	}},
	{"revoke_by_user_and_expiry", func(t *testing.T, s storage.Storage) {
		u, v := mustUser(t, s, "u@x.org"), mustUser(t, s, "v@x.org")
		a, b := mustApplication(t, s, "A"), mustApplication(t, s, "B")
		ua, ub, va := newOIDCToken(a, u.ID, storage.TokenRefresh, "1"), newOIDCToken(b, u.ID, storage.TokenRefresh, "2"),
			newOIDCToken(a, v.ID, storage.TokenRefresh, "3")
		va.ExpiresAt = at(time.Minute)
		ok(t, s.CreateOIDCTokens(t.Context(), ua, ub, va))
		n, err := s.RevokeUserOIDCTokens(t.Context(), u.ID, a.ID)
		ok(t, err)
		if n != 1 {
			t.Fatalf("revoked %d for one app, want 1", n)
		}
		_, err = s.GetOIDCToken(t.Context(), ub.ID)
		ok(t, err)
		n, err = s.DeleteExpiredOIDCTokens(t.Context(), at(time.Minute), 10)
		ok(t, err)
		if n != 1 {
			t.Fatalf("expired %d, want 1", n)
		}
		ok(t, s.DeleteUser(t.Context(), u.ID))
		_, err = s.GetOIDCToken(t.Context(), ub.ID)
		is(t, err, storage.ErrNotFound)
	}},
}

// testRevocationRacesRefresh: a grant revoked (or its user's tokens, on
// disabling the user) while a refresh of it is being stored must end with
// no token of the grant at all — not with the refresh's new tokens, stored
// after the revocation looked, still working. Each round races one
// rotation against one revocation; whichever wins, nothing may survive.
func testRevocationRacesRefresh(t *testing.T, s storage.Storage) {
	u := mustUser(t, s, "u@x.org")
	a := mustApplication(t, s, "App")
	for round := range 40 {
		grant := fmt.Sprintf("g%d", round)
		ref := newOIDCToken(a, u.ID, storage.TokenRefresh, grant)
		ok(t, s.CreateOIDCTokens(t.Context(), ref))
		next, acc := newOIDCToken(a, u.ID, storage.TokenRefresh, grant), newOIDCToken(a, u.ID, storage.TokenAccess, grant)
		acc.RefreshID = next.ID
		var wg sync.WaitGroup
		var rotateErr, revokeErr error
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			rotateErr = s.RotateRefreshToken(t.Context(), ref.ID, at(time.Minute), nil, acc, next)
		}()
		go func() {
			defer wg.Done()
			<-start
			if round%2 == 0 {
				_, revokeErr = s.RevokeOIDCGrant(t.Context(), grant)
			} else {
				_, revokeErr = s.RevokeUserOIDCTokens(t.Context(), u.ID, a.ID)
			}
		}()
		close(start)
		wg.Wait()
		ok(t, revokeErr)
		if rotateErr != nil && !errors.Is(rotateErr, storage.ErrNotFound) {
			t.Fatalf("round %d: a refresh that lost to the revocation got %v, want ErrNotFound", round, rotateErr)
		}
		for _, id := range []string{ref.ID, next.ID, acc.ID} {
			if _, err := s.GetOIDCToken(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("round %d (refresh: %v): token %s of the revoked grant survived (%v)", round, rotateErr, id, err)
			}
		}
	}
}
