package app_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

func tapPath(userID string) string {
	return "/api/v1/users/" + userID + "/authentication/temporaryAccessPassMethods"
}

// issueTAP issues a pass as the admin token and returns the reply's JSON.
func (w *world) issueTAP(userID string, body map[string]any) map[string]any {
	w.t.Helper()
	return w.mustStatus(w.do("POST", tapPath(userID), bearer(w.admin), body), http.StatusCreated).json(w.t)
}

func (w *world) tapSignIn(username, pass string) reply {
	w.t.Helper()
	return w.do("POST", "/api/v1/auth/tap", cred{}, map[string]any{"username": username, "temporaryAccessPass": pass})
}

func TestTemporaryAccessPass(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		alice := w.user("alice@contoso.com")
		bob := w.user("bob@contoso.com")
		wantError(t, w.do("POST", tapPath(alice), bearer(w.reader), map[string]any{}), http.StatusForbidden, "forbidden", "authentication-admin")

		t.Run("one_time_pass_signs_in_once_and_can_add_a_passkey", func(t *testing.T) {
			p := w.issueTAP(alice, map[string]any{"isUsableOnce": true})
			pass := p["temporaryAccessPass"].(string)
			if p["lifetimeInMinutes"] != float64(60) || p["isUsable"] != true || p["methodUsabilityReason"] != "EnabledByPolicy" || len(pass) != 16 {
				t.Fatalf("issued pass = %v", p)
			}
			list := w.mustStatus(w.do("GET", tapPath(alice), bearer(w.reader), nil), http.StatusOK)
			if strings.Contains(string(list.body), pass) || !strings.Contains(string(list.body), `"temporaryAccessPass":null`) {
				t.Fatalf("the list shows the pass: %s", list.body)
			}
			// Typed with the wrong username, the pass is refused and not spent.
			wantError(t, w.tapSignIn("bob@contoso.com", pass), http.StatusUnauthorized, "invalidCredentials", "Temporary Access Pass")
			c := w.signedIn(w.tapSignIn("alice@contoso.com", strings.ToLower(pass[:8])+"-"+pass[8:]), "alice@contoso.com")
			me := w.me(c)
			if !slices.Equal(amrOf(me), []string{"tap", "mfa"}) || me["mfaRecent"] != true {
				t.Fatalf("me = %v", me)
			}
			w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), c, "First key"), http.StatusCreated)
			wantError(t, w.tapSignIn("alice@contoso.com", pass), http.StatusUnauthorized, "invalidCredentials", "")
			got := w.mustStatus(w.do("GET", tapPath(alice)+"/"+p["id"].(string), bearer(w.admin), nil), http.StatusOK).json(t)
			if got["isUsable"] != false || got["methodUsabilityReason"] != "OneTimeUsed" {
				t.Fatalf("used pass = %v", got)
			}
		})
		t.Run("multi_use_pass_signs_in_twice_and_replaces_the_old_one", func(t *testing.T) {
			p := w.issueTAP(bob, map[string]any{"lifetimeInMinutes": 10})
			w.signedIn(w.tapSignIn("bob@contoso.com", p["temporaryAccessPass"].(string)), "bob@contoso.com")
			w.signedIn(w.tapSignIn("bob@contoso.com", p["temporaryAccessPass"].(string)), "bob@contoso.com")
			q := w.issueTAP(bob, nil)
			wantError(t, w.tapSignIn("bob@contoso.com", p["temporaryAccessPass"].(string)), http.StatusUnauthorized, "invalidCredentials", "")
			list := w.mustStatus(w.do("GET", tapPath(bob), bearer(w.admin), nil), http.StatusOK).json(t)["value"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["id"] != q["id"] {
				t.Fatalf("passes after replacement = %v", list)
			}
		})
		t.Run("expired_pass_is_refused", func(t *testing.T) {
			p := w.issueTAP(bob, map[string]any{"lifetimeInMinutes": 10})
			w.clock.Advance(10 * time.Minute)
			wantError(t, w.tapSignIn("bob@contoso.com", p["temporaryAccessPass"].(string)), http.StatusUnauthorized, "invalidCredentials", "expired")
			got := w.mustStatus(w.do("GET", tapPath(bob)+"/"+p["id"].(string), bearer(w.admin), nil), http.StatusOK).json(t)
			if got["methodUsabilityReason"] != "Expired" {
				t.Fatalf("expired pass = %v", got)
			}
		})
		t.Run("pass_works_only_from_its_start", func(t *testing.T) {
			start := w.clock.Now().Add(time.Hour).UTC()
			p := w.issueTAP(bob, map[string]any{"startDateTime": start.Format(time.RFC3339)})
			if p["methodUsabilityReason"] != "NotYetValid" || p["isUsable"] != false {
				t.Fatalf("future pass = %v", p)
			}
			wantError(t, w.tapSignIn("bob@contoso.com", p["temporaryAccessPass"].(string)), http.StatusUnauthorized, "invalidCredentials", "")
			w.clock.Advance(time.Hour)
			w.signedIn(w.tapSignIn("bob@contoso.com", p["temporaryAccessPass"].(string)), "bob@contoso.com")
		})
		t.Run("lifetime_bounds_and_bad_input_change_nothing", func(t *testing.T) {
			before := w.counts(bob)
			for body, fragment := range map[string]string{
				`{"lifetimeInMinutes":9}`:                         "from 10",
				`{"lifetimeInMinutes":43201}`:                     "to 43200",
				`{"lifetimeInMinutes":"60"}`:                      "integer",
				`{"isUsableOnce":"yes"}`:                          "boolean",
				`{"startDateTime":"2001-01-01T00:00:00Z"}`:        "in the past",
				`{"startDateTime":"tomorrow"}`:                    "startDateTime",
				`{"temporaryAccessPass":"I-choose-my-own-pass1"}`: "unknown field",
			} {
				wantError(t, w.do("POST", tapPath(bob), bearer(w.admin), body), http.StatusBadRequest, "invalidRequest", fragment)
			}
			w.issueTAP(bob, map[string]any{"lifetimeInMinutes": 43200})
			if after := w.counts(bob); after[1] != before[1]+1 {
				t.Fatalf("audit events %d → %d, want one more (the good request)", before[1], after[1])
			}
			wantError(t, w.do("POST", tapPath("00000000-0000-0000-0000-000000000000"), bearer(w.admin), nil), http.StatusNotFound, "notFound", "")
		})
		t.Run("deleted_pass_is_refused", func(t *testing.T) {
			p := w.issueTAP(bob, nil)
			w.mustStatus(w.do("DELETE", tapPath(bob)+"/"+p["id"].(string)+"?confirm=true", bearer(w.admin), nil), http.StatusNoContent) // his only method
			wantError(t, w.do("DELETE", tapPath(bob)+"/"+p["id"].(string), bearer(w.admin), nil), http.StatusNotFound, "notFound", "")
			wantError(t, w.tapSignIn("bob@contoso.com", p["temporaryAccessPass"].(string)), http.StatusUnauthorized, "invalidCredentials", "")
		})
		all, err := w.store.ListAudit(context.Background(), storage.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range all {
			if strings.HasPrefix(e.Action, "user.temporaryAccessPassMethod.") && e.Actor == "token:automation" {
				actions = append(actions, e.Action)
			}
		}
		if len(actions) < 7 || !slices.Contains(actions, "user.temporaryAccessPassMethod.delete") {
			t.Fatalf("audit of passes = %v", actions)
		}
	})
}

// setupToken creates a first-run setup link the way `keyward serve` does.
func (w *world) setupToken() string {
	w.t.Helper()
	tok := secret.New("kwsetup_")
	now := w.clock.Now()
	if err := w.store.CreateOneTimeToken(context.Background(), storage.OneTimeToken{
		Hash: secret.Hash(tok), Purpose: "setup", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		w.t.Fatal(err)
	}
	return tok
}

func TestFirstRunSetup(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		tok, spare := w.setupToken(), w.setupToken()
		check := func(token string) reply {
			return w.do("GET", "/api/v1/setup?token="+url.QueryEscape(token), cred{}, nil)
		}
		if m := w.mustStatus(check(tok), http.StatusOK).json(t); m["valid"] != true {
			t.Fatalf("setup check = %v", m)
		}
		wantError(t, check("kwsetup_made-up"), http.StatusNotFound, "setupTokenInvalid", "expired or was already used")
		wantError(t, check(""), http.StatusNotFound, "setupTokenInvalid", "")

		good := map[string]any{"token": tok, "userPrincipalName": "admin@contoso.com", "displayName": "First Admin",
			"password": "correct horse battery", "enablePasskeys": true}
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for key, val := range good {
				m[key] = val
			}
			m[k] = v
			return m
		}
		for _, bad := range []struct {
			body     map[string]any
			status   int
			code     string
			fragment string
		}{
			{with("password", "admin"), 400, "invalidRequest", "at least 8"},
			{with("password", "ADMIN@contoso.com"), 400, "invalidRequest", "user name"},
			{with("userPrincipalName", "admin"), 400, "invalidRequest", "exactly one @"},
			{with("displayName", " "), 400, "invalidRequest", "displayName"},
			{with("token", ""), 400, "invalidRequest", "token"},
			{with("enablePasskeys", "yes"), 400, "invalidRequest", "enablePasskeys"},
			{with("token", "kwsetup_made-up"), 404, "setupTokenInvalid", ""},
		} {
			wantError(t, w.do("POST", "/api/v1/setup", cred{}, bad.body), bad.status, bad.code, bad.fragment)
		}
		w.mustStatus(check(tok), http.StatusOK) // refused input did not use up the link
		if a := w.audit("policy.fido2.update"); len(a) != 0 {
			t.Fatalf("refused setups changed the policy: %+v", a)
		}

		c := w.signedIn(w.do("POST", "/api/v1/setup", cred{}, good), "admin@contoso.com")
		me := w.me(c)
		if me["adminRole"] != "global-admin" || me["mfaRecent"] != true || !slices.Equal(amrOf(me), []string{"pwd", "mfa"}) {
			t.Fatalf("me = %v", me)
		}
		// Passkeys are on, so the new admin adds one at once, then runs
		// the admin center with their session.
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), c, "Admin key"), http.StatusCreated)
		w.mustStatus(w.do("POST", "/api/v1/users", cookie(c), map[string]any{"userPrincipalName": "bob@contoso.com", "displayName": "Bob"}), http.StatusCreated)
		w.signedIn(w.passwordSignIn("admin@contoso.com", "correct horse battery"), "admin@contoso.com")

		// Used, and no second first administrator, even with another link.
		wantError(t, w.do("POST", "/api/v1/setup", cred{}, good), http.StatusNotFound, "setupTokenInvalid", "already set up")
		wantError(t, w.do("POST", "/api/v1/setup", cred{}, with("token", spare)), http.StatusNotFound, "setupTokenInvalid", "already set up")
		wantError(t, check(spare), http.StatusNotFound, "setupTokenInvalid", "already set up")
		if n, _ := w.store.CountUsers(context.Background()); n != 2 {
			t.Fatalf("users = %d, want the admin and bob", n)
		}
		if a := w.audit("user.create"); len(a) != 2 || a[len(a)-1].Actor != "setup" {
			t.Fatalf("audit = %+v", a)
		}
		if a := w.audit("policy.fido2.update"); len(a) != 1 {
			t.Fatalf("policy changes = %+v, want the setup's one", a)
		}
	})
}

// TestSetupEnablesPasskeys covers the setup's enablePasskeys switch: it
// turns a disabled FIDO2 method on in the new administrator's name, changes
// nothing else, and leaves a method that is on (or the switch off) alone.
func TestSetupEnablesPasskeys(t *testing.T) {
	t.Parallel()
	const admin = "admin@contoso.com"
	allowList := `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["` + goodAAGUID + `"]}}]}`
	for _, tt := range []struct {
		name        string
		before      string // a policy PATCH made before setup, "" for none
		enable      any    // enablePasskeys, nil to leave it out
		wantState   string
		wantChanged bool // the setup saved the policy in the admin's name
		wantAllowed bool // the admin can register a passkey at once
	}{
		{name: "new_install_checked_turns_passkeys_on_for_all_users", enable: true,
			wantState: "enabled", wantChanged: true, wantAllowed: true},
		{name: "new_install_unchecked_leaves_passkeys_off", enable: false, wantState: "disabled"},
		{name: "field_left_out_leaves_passkeys_off", enable: nil, wantState: "disabled"},
		{name: "checked_keeps_the_stored_key_restrictions", before: allowList, enable: true,
			wantState: "enabled", wantChanged: true, wantAllowed: true},
		{name: "checked_with_passkeys_already_on_changes_nothing", before: `{"state":"enabled"}`, enable: true,
			wantState: "enabled", wantAllowed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, w *world) {
				if tt.before != "" {
					w.setPolicy(tt.before)
				}
				before := w.getPolicy()
				audits := len(w.audit("policy.fido2.update"))
				body := map[string]any{"token": w.setupToken(), "userPrincipalName": admin,
					"displayName": "First Admin", "password": "correct horse battery"}
				if tt.enable != nil {
					body["enablePasskeys"] = tt.enable
				}
				c := w.signedIn(w.do("POST", "/api/v1/setup", cred{}, body), admin)

				after := w.getPolicy()
				if after["state"] != tt.wantState {
					t.Fatalf("state after setup = %v, want %s", after["state"], tt.wantState)
				}
				// Only the state may change: targets, profiles, restrictions stay.
				delete(before, "state")
				delete(after, "state")
				if !reflect.DeepEqual(before, after) {
					t.Fatalf("setup changed more than the state:\nbefore %v\nafter  %v", before, after)
				}
				changes := w.audit("policy.fido2.update")
				if got := len(changes) - audits; got != map[bool]int{false: 0, true: 1}[tt.wantChanged] {
					t.Fatalf("setup recorded %d policy changes, want changed=%v: %+v", got, tt.wantChanged, changes)
				}
				if tt.wantChanged && changes[0].Actor != "user:"+admin {
					t.Fatalf("policy change recorded as %q, want the new admin", changes[0].Actor)
				}
				if tt.before == "" && !targetsAllUsers(after) {
					t.Fatalf("a new install's policy does not target all users: %v", after)
				}
				r := w.register(w.key(goodAAGUID, softkey.FormatPacked), c, "Admin key")
				if !tt.wantAllowed {
					wantError(t, r, http.StatusForbidden, "methodDisabled", "turned off")
					return
				}
				w.mustStatus(r, http.StatusCreated)
			})
		})
	}
}

// A policy that cannot be changed (here: unreadable) must not cost the new
// administrator their account: setup signs them in with passkeys still off,
// and My security info then leads them to the policy page.
func TestSetupSignsInWhenPasskeysCannotBeTurnedOn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.NewSQLite(t))
	if _, err := w.store.UpdatePolicy(context.Background(), "fido2", func(p storage.Policy) (storage.Policy, error) {
		p.Data, p.UpdatedAt, p.UpdatedBy = []byte("{not json"), w.clock.Now(), "test"
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	c := w.signedIn(w.do("POST", "/api/v1/setup", cred{}, map[string]any{"token": w.setupToken(),
		"userPrincipalName": "admin@contoso.com", "displayName": "First Admin", "password": "correct horse battery",
		"enablePasskeys": true}), "admin@contoso.com")
	if me := w.me(c); me["adminRole"] != "global-admin" {
		t.Fatalf("me = %v", me)
	}
	if a := w.audit("policy.fido2.update"); len(a) != 0 {
		t.Fatalf("policy changes = %+v, want none", a)
	}
}

// targetsAllUsers reports whether a policy's only include target is all
// users with the default passkey profile.
func targetsAllUsers(p map[string]any) bool {
	inc, _ := p["includeTargets"].([]any)
	if len(inc) != 1 {
		return false
	}
	t, _ := inc[0].(map[string]any)
	profiles, _ := t["allowedPasskeyProfiles"].([]any)
	return t["id"] == "all_users" && len(profiles) == 1 && profiles[0] == "default"
}

// getPolicy reads the FIDO2 policy as the reader token.
func (w *world) getPolicy() map[string]any {
	w.t.Helper()
	return w.mustStatus(w.do("GET", policyPath, bearer(w.reader), nil), http.StatusOK).json(w.t)
}

func TestSetupLinkExpires(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.NewSQLite(t))
	tok := w.setupToken()
	w.clock.Advance(time.Hour)
	wantError(t, w.do("GET", "/api/v1/setup?token="+tok, cred{}, nil), http.StatusNotFound, "setupTokenInvalid", "")
	wantError(t, w.do("POST", "/api/v1/setup", cred{}, map[string]any{"token": tok, "userPrincipalName": "a@contoso.com",
		"displayName": "A", "password": "correct horse battery"}), http.StatusNotFound, "setupTokenInvalid", "")
}

func TestSecurityInfoPasskeysAndTheLastMethodRule(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		alice := w.user("alice@contoso.com") // passkeys only, no password
		s := w.session(alice, true)
		k1, k2 := w.key(goodAAGUID, softkey.FormatPacked), w.key(goodAAGUID, softkey.FormatPacked)
		first := w.mustStatus(w.register(k1, s, "First"), http.StatusCreated).json(t)["id"].(string)
		wantError(t, w.do("DELETE", "/api/v1/me/passkeys/"+first, cookie(s), nil), http.StatusConflict, "lastMethod", "only way you can sign in")

		second := w.mustStatus(w.register(k2, s, "Second"), http.StatusCreated).json(t)["id"].(string)
		r := w.mustStatus(w.do("PATCH", "/api/v1/me/passkeys/"+second, cookie(s), map[string]any{"displayName": "  Backup key "}), http.StatusOK).json(t)
		if r["displayName"] != "Backup key" {
			t.Fatalf("renamed = %v", r)
		}
		wantError(t, w.do("PATCH", "/api/v1/me/passkeys/"+second, cookie(s), map[string]any{"displayName": ""}), http.StatusBadRequest, "invalidRequest", "displayName")
		wantError(t, w.do("PATCH", "/api/v1/me/passkeys/"+second, cookie(s), map[string]any{}), http.StatusBadRequest, "invalidRequest", "displayName")
		w.mustStatus(w.do("DELETE", "/api/v1/me/passkeys/"+first, cookie(s), nil), http.StatusNoContent)
		wantError(t, w.do("DELETE", "/api/v1/me/passkeys/"+second, cookie(s), nil), http.StatusConflict, "lastMethod", "")

		// Another user's passkey is not theirs to see, rename or delete.
		bob := w.pwUser("bob@contoso.com", "correct horse battery")
		bs := w.session(bob, true)
		wantError(t, w.do("PATCH", "/api/v1/me/passkeys/"+second, cookie(bs), map[string]any{"displayName": "Mine"}), http.StatusNotFound, "notFound", "")
		wantError(t, w.do("DELETE", "/api/v1/me/passkeys/"+second, cookie(bs), nil), http.StatusNotFound, "notFound", "")
		wantError(t, w.do("DELETE", "/api/v1/me/passkeys/not-an-id", cookie(bs), nil), http.StatusNotFound, "notFound", "")

		// A usable Temporary Access Pass is a way back in; so is a password.
		w.issueTAP(alice, nil)
		w.mustStatus(w.do("DELETE", "/api/v1/me/passkeys/"+second, cookie(s), nil), http.StatusNoContent)
		bobKey := w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), bs, "Bob's key"), http.StatusCreated).json(t)["id"].(string)
		w.mustStatus(w.do("DELETE", "/api/v1/me/passkeys/"+bobKey, cookie(bs), nil), http.StatusNoContent)
		if a := w.audit("user.fido2Method.delete"); len(a) != 3 || a[0].Actor != "user:bob@contoso.com" {
			t.Fatalf("audit = %+v", a)
		}
	})
}
