package app_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSelfServicePasswordChange(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		const old = "correct horse battery"
		change := func(c, current, next string) reply {
			t.Helper()
			return w.do("POST", "/api/v1/me/password", cookie(c), map[string]any{"currentPassword": current, "newPassword": next})
		}
		id := w.pwUser("pia@contoso.com", old)
		single := w.session(id, false)

		t.Run("needs_a_recent_second_factor", func(t *testing.T) {
			wantError(t, change(single, old, "a brand new passphrase"), http.StatusForbidden, "mfaRequired", "within the last 10 minutes")
			stale := w.session(id, true)
			w.clock.Advance(11 * time.Minute)
			wantError(t, change(stale, old, "a brand new passphrase"), http.StatusForbidden, "mfaRequired", "")
		})
		mfa := w.session(id, true)
		t.Run("refusals_change_nothing", func(t *testing.T) {
			for _, tc := range []struct{ name, current, next, code, says string }{
				{"wrong_current", "not my password", "a brand new passphrase", "invalidCurrentPassword", "the current password is not right"},
				{"too_short", old, "short", "invalidRequest", "at least 8"},
				{"the_user_name", old, "pia@contoso.com", "invalidRequest", "must not be the user name"},
				{"the_same", old, old, "invalidRequest", "the same as the current one"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := change(mfa, tc.current, tc.next)
					if r.status >= 500 || r.status < 400 {
						t.Fatalf("status %d: %s", r.status, r.body)
					}
					code, msg := r.err(t)
					if code != tc.code || !strings.Contains(msg, tc.says) {
						t.Fatalf("error %s %q, want %s saying %q", code, msg, tc.code, tc.says)
					}
					w.signedIn(w.passwordSignIn("pia@contoso.com", old), "pia@contoso.com")
				})
			}
		})
		t.Run("changes_the_password", func(t *testing.T) {
			w.mustStatus(change(mfa, old, "a brand new passphrase"), http.StatusNoContent)
			wantError(t, w.passwordSignIn("pia@contoso.com", old), http.StatusUnauthorized, "invalidCredentials", "")
			w.signedIn(w.passwordSignIn("pia@contoso.com", "a brand new passphrase"), "pia@contoso.com")
		})
		t.Run("two_changes_at_once_one_wins", func(t *testing.T) {
			const cur = "a brand new passphrase"
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for i, next := range []string{"first racing passphrase", "second racing passphrase"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = w.do("POST", "/api/v1/me/password", cookie(mfa), map[string]any{"currentPassword": cur, "newPassword": next}).status
				}()
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				if s == http.StatusNoContent {
					won++
				} else if s != http.StatusConflict {
					t.Fatalf("statuses %v, want one 204 and one 409", statuses)
				}
			}
			ok1 := w.passwordSignIn("pia@contoso.com", "first racing passphrase").status == http.StatusOK
			ok2 := w.passwordSignIn("pia@contoso.com", "second racing passphrase").status == http.StatusOK
			if won != 1 || ok1 == ok2 {
				t.Fatalf("statuses %v, first works %v, second works %v: want exactly one change to hold", statuses, ok1, ok2)
			}
		})
		t.Run("no_password_no_change", func(t *testing.T) {
			nopw := w.user("nopw@contoso.com")
			wantError(t, change(w.session(nopw, true), "", "a brand new passphrase"), http.StatusBadRequest, "invalidRequest", "no password to change")
		})
	})
}

// TestPasswordChangeGuessesCountAsSignInFailures races wrong current
// passwords on one account: each is reserved against the sign-in rate limit
// before the hash is checked, so exactly the limit's worth are judged, the
// rest are refused with 429, and the password sign-in page is closed too.
func TestPasswordChangeGuessesCountAsSignInFailures(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		const pw = "correct horse battery"
		id := w.pwUser("quinn@contoso.com", pw)
		mfa := w.session(id, true)
		const tries = 16
		statuses := make([]int, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = w.do("POST", "/api/v1/me/password", cookie(mfa),
					map[string]any{"currentPassword": "guess number " + itoa(i), "newPassword": "a brand new passphrase"}).status
			}()
		}
		wg.Wait()
		judged, refused := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusBadRequest:
				judged++
			case http.StatusTooManyRequests:
				refused++
			default:
				t.Fatalf("statuses %v: want only 400 and 429", statuses)
			}
		}
		if judged != 10 || refused != tries-10 {
			t.Fatalf("%d judged, %d refused (%v); want the account limit of 10 judged", judged, refused, statuses)
		}
		wantError(t, w.passwordSignIn("quinn@contoso.com", pw), http.StatusTooManyRequests, "tooManyAttempts", "for this account")
		wantError(t, w.do("POST", "/api/v1/me/password", cookie(w.session(id, true)),
			map[string]any{"currentPassword": pw, "newPassword": "a brand new passphrase"}), http.StatusTooManyRequests, "tooManyAttempts", "")
		w.clock.Advance(15 * time.Minute)
		w.mustStatus(w.do("POST", "/api/v1/me/password", cookie(w.session(id, true)),
			map[string]any{"currentPassword": pw, "newPassword": "a brand new passphrase"}), http.StatusNoContent)
		w.signedIn(w.passwordSignIn("quinn@contoso.com", "a brand new passphrase"), "quinn@contoso.com")
	})
}

// TestPasswordChangeEndsOtherSessions: the session that changed the password
// stays signed in; the user's other sessions (another browser, a thief's
// copy) end; another user's sessions are untouched.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		const pw = "correct horse battery"
		id := w.pwUser("rosa@contoso.com", pw)
		otherID := w.pwUser("sam@contoso.com", pw)
		mine := w.session(id, true)
		laptop := w.signedIn(w.passwordSignIn("rosa@contoso.com", pw), "rosa@contoso.com")
		phone := w.session(id, false)
		sams := w.session(otherID, false)
		me := func(c string) int { return w.do("GET", "/api/v1/me", cookie(c), nil).status }
		for _, c := range []string{mine, laptop, phone, sams} {
			w.mustStatus(w.do("GET", "/api/v1/me", cookie(c), nil), http.StatusOK)
		}
		// A refused change ends nothing.
		wantError(t, w.do("POST", "/api/v1/me/password", cookie(mine), map[string]any{"currentPassword": "not it", "newPassword": "a brand new passphrase"}),
			http.StatusBadRequest, "invalidCurrentPassword", "")
		if me(laptop) != http.StatusOK || me(phone) != http.StatusOK {
			t.Fatal("a refused password change ended other sessions")
		}
		w.mustStatus(w.do("POST", "/api/v1/me/password", cookie(mine), map[string]any{"currentPassword": pw, "newPassword": "a brand new passphrase"}), http.StatusNoContent)
		if got := me(mine); got != http.StatusOK {
			t.Fatalf("the session that changed the password: GET /me = %d, want 200", got)
		}
		for name, c := range map[string]string{"laptop": laptop, "phone": phone} {
			if got := me(c); got != http.StatusUnauthorized {
				t.Errorf("%s session after the change: GET /me = %d, want 401", name, got)
			}
		}
		if got := me(sams); got != http.StatusOK {
			t.Errorf("another user's session after the change: GET /me = %d, want 200", got)
		}
	})
}
