package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// methodOp is one change an administrator makes to someone's sign-in
// methods, through the real admin API.
type methodOp string

const (
	opIssueTAP        methodOp = "issue_tap"
	opDeleteTAP       methodOp = "delete_tap"
	opProvisionBegin  methodOp = "provision_creation_options"
	opProvisionFinish methodOp = "provision_finish"
	opDeletePasskey   methodOp = "delete_passkey"
	opResetPassword   methodOp = "reset_password"
	opRemoveApp       methodOp = "remove_authenticator_app"
)

var allOps = []methodOp{opIssueTAP, opDeleteTAP, opProvisionBegin, opProvisionFinish, opDeletePasskey, opResetPassword, opRemoveApp}

// takeAway are the changes that remove a way in rather than add one.
var takeAway = []methodOp{opDeleteTAP, opDeletePasskey, opResetPassword, opRemoveApp}

const none = "none" // no admin role

// roleUser creates a user holding role (none = no role).
func (w *world) roleUser(upn, role string) string {
	w.t.Helper()
	if role == none {
		role = ""
	}
	return w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), map[string]any{
		"userPrincipalName": upn, "displayName": strings.Split(upn, "@")[0], "adminRole": role,
	}), http.StatusCreated).json(w.t)["id"].(string)
}

// methodState is what the target's methods look like to an administrator
// (and the stored password hash), to show a refusal changed nothing.
func (w *world) methodState(userID string) string {
	w.t.Helper()
	base := "/api/v1/users/" + userID + "/authentication/"
	u, err := w.store.GetUser(context.Background(), userID)
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.Join([]string{
		string(w.mustStatus(w.do("GET", base+"temporaryAccessPassMethods", bearer(w.admin), nil), http.StatusOK).body),
		string(w.mustStatus(w.do("GET", base+"fido2Methods", bearer(w.admin), nil), http.StatusOK).body),
		string(w.mustStatus(w.do("GET", base+"softwareOathMethods", bearer(w.admin), nil), http.StatusOK).body),
		u.PasswordHash,
	}, "\n")
}

// prepare sets up what op needs on target (as the global-admin token) and
// returns the change itself, to be made as an actor.
func (w *world) prepare(op methodOp, target string) func(actor cred) reply {
	w.t.Helper()
	base := "/api/v1/users/" + target + "/authentication/"
	fido2 := base + "fido2Methods"
	switch op {
	case opIssueTAP:
		return func(actor cred) reply {
			return w.do("POST", base+"temporaryAccessPassMethods", actor, map[string]any{})
		}
	case opDeleteTAP:
		id := w.mustStatus(w.do("POST", base+"temporaryAccessPassMethods", bearer(w.admin), map[string]any{}), http.StatusCreated).json(w.t)["id"].(string)
		// confirm=true: the target may have no other method (TestLastSignInMethodGuards).
		return func(actor cred) reply {
			return w.do("DELETE", base+"temporaryAccessPassMethods/"+id+"?confirm=true", actor, nil)
		}
	case opProvisionBegin:
		return func(actor cred) reply { return w.do("GET", fido2+"/creationOptions", actor, nil) }
	case opProvisionFinish:
		// Begun by someone allowed to: finishing is judged again on its own.
		opts := w.mustStatus(w.do("GET", fido2+"/creationOptions", bearer(w.admin), nil), http.StatusOK)
		resp, err := w.key(goodAAGUID, softkey.FormatPacked).Register(opts.body, w.origin())
		if err != nil {
			w.t.Fatal(err)
		}
		return func(actor cred) reply {
			return w.do("POST", fido2, actor, map[string]any{"displayName": "Issued key", "publicKeyCredential": json.RawMessage(resp)})
		}
	case opDeletePasskey:
		id := w.mustStatus(w.provision(target, w.key(goodAAGUID, softkey.FormatPacked), 5), http.StatusCreated).json(w.t)["id"].(string)
		return func(actor cred) reply { return w.do("DELETE", fido2+"/"+id+"?confirm=true", actor, nil) }
	case opResetPassword:
		return func(actor cred) reply {
			return w.do("PATCH", "/api/v1/users/"+target, actor, map[string]any{"passwordProfile": map[string]any{"password": "a new password"}})
		}
	case opRemoveApp:
		w.addApp(w.session(target, false))
		return func(actor cred) reply { return w.do("DELETE", base+"softwareOathMethods/authenticatorApp", actor, nil) }
	}
	w.t.Fatalf("unknown operation %q", op)
	return nil
}

// attempt prepares op on target and makes it as actor.
func (w *world) attempt(actor cred, op methodOp, target string) reply {
	w.t.Helper()
	return w.prepare(op, target)(actor)
}

// TestWhoMayChangeWhoseMethods is Entra's rule for every method-changing
// call, through the HTTP API, for people (multi-factor sessions) of each
// admin role against users of each role: an authentication administrator
// cannot touch an administrator's methods (so cannot take over a global
// administrator), a privileged authentication administrator can touch
// anyone's but only a global administrator gives another administrator a
// new way in. A refusal is a 403 that says why and changes nothing.
func TestWhoMayChangeWhoseMethods(t *testing.T) {
	t.Parallel()
	const (
		ga, paa, aa, reader = storage.RoleGlobalAdmin, storage.RolePrivilegedAuthenticationAdmin, storage.RoleAuthenticationAdmin, storage.RoleReader
	)
	rules := []struct {
		actor, target string
		allowed       []methodOp
		refusal       string // part of the refusal's message
	}{
		{ga, none, allOps, ""},
		{ga, reader, allOps, ""},
		{ga, aa, allOps, ""},
		{ga, paa, allOps, ""},
		{ga, ga, allOps, ""},
		{paa, none, allOps, ""},
		{paa, reader, allOps, ""},
		{paa, aa, takeAway, "only a global administrator may"},
		{paa, paa, takeAway, "only a global administrator may"},
		{paa, ga, takeAway, "only a global administrator may"},
		{aa, none, allOps, ""},
		{aa, reader, allOps, ""},
		{aa, aa, nil, "an authentication administrator may"},
		{aa, paa, nil, "an authentication administrator may"},
		{aa, ga, nil, "an authentication administrator may"},
		{reader, none, nil, "this call needs one of the roles"},
		{reader, ga, nil, "this call needs one of the roles"},
	}
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		actors := map[string]cred{}
		for _, role := range []string{ga, paa, aa, reader} {
			actors[role] = cookie(w.session(w.roleUser(role+"-actor@contoso.com", role), true))
		}
		n := 0
		for _, rule := range rules {
			for _, op := range allOps {
				allowed := slices.Contains(rule.allowed, op)
				verdict := "refused"
				if allowed {
					verdict = "allowed"
				}
				t.Run(rule.actor+"_on_"+rule.target+"_"+string(op)+"_"+verdict, func(t *testing.T) {
					n++
					target := w.roleUser("target"+itoa(n)+"@contoso.com", rule.target)
					change := w.prepare(op, target)
					before := w.methodState(target)
					r := change(actors[rule.actor])
					if allowed {
						if r.status/100 != 2 {
							t.Fatalf("status %d, want success: %s", r.status, r.body)
						}
						return
					}
					wantError(t, r, http.StatusForbidden, "forbidden", rule.refusal)
					if after := w.methodState(target); after != before {
						t.Fatalf("a refused change changed the methods:\n%s\n---\n%s", before, after)
					}
				})
			}
		}
	})
}

// TestMethodRulesHoldForTokensAndTheSelf: the domain judges API tokens by the
// same rule, and nobody — whatever their role — issues a Temporary Access
// Pass for their own account or provisions a passkey to it, while people may
// still remove their own methods.
func TestMethodRulesHoldForTokensAndTheSelf(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		boss := w.roleUser("boss@contoso.com", storage.RoleGlobalAdmin)
		alice := w.roleUser("alice@contoso.com", none)
		helpdesk := bearer(w.token("helpdesk", storage.RoleAuthenticationAdmin))
		lead := bearer(w.token("helpdesk-lead", storage.RolePrivilegedAuthenticationAdmin))

		t.Run("authentication_admin_token_cannot_issue_a_pass_for_a_global_admin", func(t *testing.T) {
			wantError(t, w.attempt(helpdesk, opIssueTAP, boss), http.StatusForbidden, "forbidden", "boss@contoso.com has the role global-admin")
		})
		t.Run("authentication_admin_token_issues_one_for_a_user", func(t *testing.T) {
			w.mustStatus(w.attempt(helpdesk, opIssueTAP, alice), http.StatusCreated)
		})
		t.Run("privileged_authentication_admin_token_resets_a_global_admins_password", func(t *testing.T) {
			w.mustStatus(w.attempt(lead, opResetPassword, boss), http.StatusOK)
		})
		t.Run("privileged_authentication_admin_token_cannot_provision_to_a_global_admin", func(t *testing.T) {
			wantError(t, w.attempt(lead, opProvisionBegin, boss), http.StatusForbidden, "forbidden", "only a global administrator may register a passkey for another administrator")
		})
		t.Run("authentication_admin_resets_only_passwords_not_other_fields", func(t *testing.T) {
			wantError(t, w.do("PATCH", "/api/v1/users/"+alice, helpdesk, map[string]any{"displayName": "Mallory"}),
				http.StatusForbidden, "forbidden", "needs the role global-admin")
			wantError(t, w.do("PATCH", "/api/v1/users/"+alice, helpdesk, map[string]any{"adminRole": "global-admin",
				"passwordProfile": map[string]any{"password": "a new password"}}), http.StatusForbidden, "forbidden", "global-admin")
			if u, _ := w.store.GetUser(context.Background(), alice); u.DisplayName != "alice" || u.AdminRole != "" {
				t.Fatalf("a refused change changed the user: %+v", u)
			}
		})

		for _, role := range []string{storage.RoleGlobalAdmin, storage.RolePrivilegedAuthenticationAdmin, storage.RoleAuthenticationAdmin} {
			t.Run(role+"_cannot_issue_a_pass_for_themselves", func(t *testing.T) {
				me := w.roleUser("self-"+role+"@contoso.com", role)
				c := cookie(w.session(me, true))
				finish := w.prepare(opProvisionFinish, me)
				before := w.methodState(me)
				wantError(t, w.attempt(c, opIssueTAP, me), http.StatusForbidden, "forbidden", "nobody may issue a Temporary Access Pass for their own account")
				wantError(t, w.attempt(c, opProvisionBegin, me), http.StatusForbidden, "forbidden", "add it yourself in My security info")
				wantError(t, finish(c), http.StatusForbidden, "forbidden", "add it yourself in My security info")
				if after := w.methodState(me); after != before {
					t.Fatalf("a refused change changed the methods:\n%s\n---\n%s", before, after)
				}
				// Removing one's own methods stays possible, except the last one.
				deleteTAP, deleteKey := w.prepare(opDeleteTAP, me), w.prepare(opDeletePasskey, me)
				w.mustStatus(deleteTAP(c), http.StatusNoContent)
				wantError(t, deleteKey(c), http.StatusConflict, "lastMethod", "the only way you can sign in")
			})
		}
	})
}

// TestAdminWorkNeedsAMultiFactorSession is the single-factor takeover: a
// global administrator signed in with a password alone issued themselves a
// pass and signed in with it as multi-factor. By default such a session
// cannot use the admin API at all (403 mfaRequired) but can still add a
// second method in My security info, after which it can; API tokens are
// unaffected. With require_mfa_for_admins off the session may administer,
// and still cannot issue itself a pass.
func TestAdminWorkNeedsAMultiFactorSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		allowOneFactor bool
	}{
		{"required_by_default", false},
		{"switched_off", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, b := range storagetest.Backends() {
				t.Run(b.Name, func(t *testing.T) {
					w := newWorldWith(t, b.New(t), func(o *app.Options) { o.AllowSingleFactorAdmins = tc.allowOneFactor })
					bob := w.roleUser("bob@contoso.com", none)
					admin := w.pwUser("admin@contoso.com", "correct horse battery")
					w.mustStatus(w.do("PATCH", "/api/v1/users/"+admin, bearer(w.admin), map[string]any{"adminRole": storage.RoleGlobalAdmin}), http.StatusOK)
					c := w.signedIn(w.passwordSignIn("admin@contoso.com", "correct horse battery"), "admin@contoso.com")
					if amr := amrOf(w.me(c)); !slices.Equal(amr, []string{"pwd"}) {
						t.Fatalf("a password sign-in has amr %v, want [pwd]", amr)
					}
					self := w.attempt(cookie(c), opIssueTAP, admin)
					other := w.attempt(cookie(c), opIssueTAP, bob)
					users := w.do("GET", "/api/v1/users", cookie(c), nil)
					if tc.allowOneFactor {
						wantError(t, self, http.StatusForbidden, "forbidden", "their own account")
						w.mustStatus(other, http.StatusCreated)
						w.mustStatus(users, http.StatusOK)
						return
					}
					for _, r := range []reply{self, other, users} {
						wantError(t, r, http.StatusForbidden, "mfaRequired", "administration needs a multi-factor sign-in")
					}
					if taps := w.mustStatus(w.do("GET", tapPath(admin), bearer(w.admin), nil), http.StatusOK).json(t)["value"].([]any); len(taps) != 0 {
						t.Fatalf("a refused session issued passes: %v", taps)
					}
					// API tokens are not people: no second factor to ask for.
					w.mustStatus(w.do("GET", "/api/v1/users", bearer(w.reader), nil), http.StatusOK)
					// My security info works with a password alone; adding an
					// authenticator app makes the session multi-factor.
					w.addApp(c)
					w.mustStatus(w.do("GET", "/api/v1/users", cookie(c), nil), http.StatusOK)
					w.mustStatus(w.attempt(cookie(c), opIssueTAP, bob), http.StatusCreated)
					wantError(t, w.attempt(cookie(c), opIssueTAP, admin), http.StatusForbidden, "forbidden", "their own account")
				})
			}
		})
	}
}

// TestPasswordAloneCannotAddAnAppBesideAPasskey: an account with a passkey
// signed in with its password alone must not make that session multi-factor
// by adding an authenticator app (a stolen password would become an
// administrator's second factor); signed in with the passkey, it may. An
// account without a passkey adds its first second factor with the password.
func TestPasswordAloneCannotAddAnAppBesideAPasskey(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		w.enableForAll()
		admin := w.pwUser("admin@contoso.com", "correct horse battery")
		w.mustStatus(w.do("PATCH", "/api/v1/users/"+admin, bearer(w.admin), map[string]any{"adminRole": storage.RoleGlobalAdmin}), http.StatusOK)
		k := w.key(goodAAGUID, softkey.FormatPacked)
		w.mustStatus(w.provision(admin, k, 5), http.StatusCreated)

		c := w.signedIn(w.passwordSignIn("admin@contoso.com", "correct horse battery"), "admin@contoso.com")
		wantError(t, w.do("POST", "/api/v1/me/authenticatorApp", cookie(c), nil), http.StatusForbidden, "mfaRequired", "sign in with your passkey first")
		wantError(t, w.do("GET", "/api/v1/users", cookie(c), nil), http.StatusForbidden, "mfaRequired", "")
		if m := w.mustStatus(w.do("GET", "/api/v1/me/methods", cookie(c), nil), http.StatusOK).json(t); m["authenticatorApp"] != nil {
			t.Fatalf("a refused enrollment left an app: %v", m)
		}

		pk := w.signedIn(w.login(k, ""), "admin@contoso.com")
		w.addApp(pk)
		w.mustStatus(w.do("GET", "/api/v1/users", cookie(pk), nil), http.StatusOK)
	})
}
