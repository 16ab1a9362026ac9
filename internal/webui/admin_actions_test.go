package webui_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

const (
	bobUPN         = "bob@contoso.example"
	bobPassword    = "bob's first long passphrase"
	bobNewPassword = "bob's second long passphrase"
	erinUPN        = "erin@contoso.example"
	contractors    = "Contractors"
	contractorsNew = "External contractors"
)

// TestBrowserAdminCenterActions drives the admin center's less travelled
// actions as an administrator would — password reset, disable and enable,
// Temporary Access Pass deletion, user deletion, a group's whole life, a
// second passkey profile and a group exclusion — and checks both what the
// page shows and what was stored. The steps build on each other, so a
// failure stops the rest.
func TestBrowserAdminCenterActions(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	bobID := k.user(t, bobUPN, "Bob Franco", bobPassword, "")
	erinID := k.user(t, erinUPN, "Erin Hannon", "", "")

	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	bob := b.newTab(t, "bob", k.url, webauthn.AuthenticatorTransportUsb)
	var groupID string

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"reset_a_password_then_the_user_signs_in_with_it", func(t *testing.T) {
			signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
			secondFactorForTheAdminCenter(t, admin, k, "/admin/users")
			resetPassword(t, admin, bob, k, bobID)
		}},
		{"set_and_clear_an_email_address", func(t *testing.T) {
			setMail(t, admin, k, bobID)
		}},
		{"disable_refuses_sign_in_and_enable_restores_it", func(t *testing.T) {
			disableAndEnable(t, admin, bob, k, bobID)
		}},
		{"delete_a_temporary_access_pass", func(t *testing.T) {
			deleteTAP(t, admin, k, bobID)
		}},
		{"clear_a_possible_clone_flag", func(t *testing.T) {
			clearCloneFlag(t, admin, k, bobID)
		}},
		{"delete_a_user_after_cancelling_once", func(t *testing.T) {
			deleteUser(t, admin, k, erinID)
		}},
		{"create_and_rename_a_group", func(t *testing.T) {
			createGroupWithMember(t, admin, contractors, bobUPN)
			groupID = k.groupID(t, contractors)
			admin.fill(t, "#edit-group-name", contractorsNew)
			admin.click(t, `#group-form [type="submit"]`)
			admin.waitText(t, "#group-title", contractorsNew)
			admin.waitText(t, "#crumb", contractorsNew)
			if g, err := k.store.GetGroup(context.Background(), groupID); err != nil || g.DisplayName != contractorsNew {
				t.Fatalf("stored group after rename = %+v, %v; want %q", g, err, contractorsNew)
			}
		}},
		{"exclude_a_group_from_passkeys", func(t *testing.T) {
			addExclusion(t, admin, k, groupID)
		}},
		{"add_a_second_passkey_profile_then_delete_it", func(t *testing.T) {
			addAndRemoveProfile(t, admin, k)
		}},
		{"remove_the_group_exclusion", func(t *testing.T) {
			admin.click(t, "#tab-target")
			admin.click(t, fmt.Sprintf(`#exclude-list button[aria-label="Remove exclusion of %s"]`, contractorsNew))
			admin.waitText(t, "#exclude-list", "No exclusions.")
			savePolicy(t, admin)
			if p := fido2Policy(t, k); len(p.ExcludeTargets) != 0 {
				t.Fatalf("exclusions after removing it = %+v, want none", p.ExcludeTargets)
			}
		}},
		{"remove_a_member_then_delete_the_group", func(t *testing.T) {
			removeMemberAndDeleteGroup(t, admin, k, groupID)
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

func openUser(t *testing.T, admin *tab, id, name string) {
	t.Helper()
	admin.open(t, "/admin/users/"+id)
	admin.waitText(t, "#user-title", name)
	// The cards below fill in after the title; a click aimed before they
	// do would land where the page has since moved.
	admin.waitFor(t, "the user's methods and groups", `document.querySelector("#keys").children.length > 0 &&
		!document.querySelector("#passkey-coverage").textContent.includes("Loading")`)
}

func resetPassword(t *testing.T, admin, bob *tab, k *keyward, bobID string) {
	t.Helper()
	openUser(t, admin, bobID, "Bob Franco")
	admin.fill(t, "#reset-password", "short")
	admin.click(t, `#password-form [type="submit"]`)
	admin.inView(t, "#reset-password-error", "at least")
	admin.fill(t, "#reset-password", bobNewPassword)
	admin.click(t, `#password-form [type="submit"]`)
	admin.inView(t, "#password-form-saved", "Password set")
	if admin.visible(t, "#reset-password-error") {
		admin.fail(t, "the error of the short password is still shown after a good one was set")
	}
	if v := admin.inputValue(t, "#reset-password"); v != "" {
		admin.fail(t, "the new password stays in the field: %q", v)
	}
	u, err := k.store.GetUser(context.Background(), bobID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := mfa.VerifyPassword(u.PasswordHash, bobNewPassword); !ok || err != nil {
		t.Fatalf("the stored password is not the one the admin set (%v)", err)
	}

	bob.open(t, "/login")
	bob.fill(t, "#username", bobUPN)
	bob.click(t, "#username-next")
	bob.fill(t, "#password", bobPassword)
	bob.click(t, "#password-submit")
	bob.waitText(t, "#login-error", "don't match")
	bob.open(t, "/login")
	signInWithPassword(t, bob, bobUPN, bobNewPassword, "/my/security-info")
	bob.waitText(t, ".site-user-display", "Bob Franco")
}

func disableAndEnable(t *testing.T, admin, bob *tab, k *keyward, bobID string) {
	t.Helper()
	admin.click(t, "#edit-enabled")
	admin.click(t, `#profile-form [type="submit"]`)
	admin.waitText(t, "#user-badges", "Disabled")
	if u, err := k.store.GetUser(context.Background(), bobID); err != nil || u.AccountEnabled {
		t.Fatalf("stored user after disabling = %+v, %v", u, err)
	}

	// Bob's open session ended with the account.
	bob.open(t, "/my/security-info")
	bob.waitPath(t, "/login")
	bob.fill(t, "#username", bobUPN)
	bob.click(t, "#username-next")
	bob.fill(t, "#password", bobNewPassword)
	bob.click(t, "#password-submit")
	// The answer is deliberately the one for a wrong password, so the page
	// does not tell a stranger which accounts exist or are disabled.
	bob.waitText(t, "#login-error", "don't match")
	if loc := bob.location(); !strings.Contains(loc, "/login") {
		bob.fail(t, "a disabled user got past the sign-in page: %s", loc)
	}
	t.Logf("a disabled user is told: %s", bob.text(t, "#login-error"))

	admin.open(t, "/admin/users")
	admin.waitText(t, fmt.Sprintf(`#users-table tr[data-user-id="%s"]`, bobID), "Disabled")
	// Disabling ended Bob's sessions for good: re-enabling him below must
	// not revive the one this tab still holds (the sign-in page would skip
	// straight to his security info).
	if n, err := k.store.DeleteUserSessions(context.Background(), bobID, ""); err != nil || n != 0 {
		t.Fatalf("sessions of the disabled user left = %d, %v; want 0", n, err)
	}
	openUser(t, admin, bobID, "Bob Franco")
	admin.click(t, "#edit-enabled")
	admin.click(t, `#profile-form [type="submit"]`)
	admin.waitText(t, "#user-badges", "Enabled")
	if u, err := k.store.GetUser(context.Background(), bobID); err != nil || !u.AccountEnabled {
		t.Fatalf("stored user after enabling = %+v, %v", u, err)
	}
	bob.open(t, "/login")
	signInWithPassword(t, bob, bobUPN, bobNewPassword, "/my/security-info")
}

func deleteTAP(t *testing.T, admin *tab, k *keyward, bobID string) {
	t.Helper()
	admin.click(t, "#tap-issue")
	admin.waitText(t, "#tap-result", "won't be shown again")
	admin.waitText(t, "#keys-table", "Temporary Access Pass")
	if taps, err := k.store.ListUserTAPs(context.Background(), bobID); err != nil || len(taps) != 1 {
		t.Fatalf("passes after issuing one: %d, %v", len(taps), err)
	}
	admin.click(t, `#keys-table button[aria-label="Delete the Temporary Access Pass"]`)
	admin.waitText(t, "#confirm-title", "Delete the Temporary Access Pass?")
	admin.click(t, "#confirm-ok")
	admin.inView(t, "#keys-saved", "Deleted the Temporary Access Pass.")
	admin.waitText(t, "#keys .empty", "No sign-in methods besides a password yet")
	admin.waitText(t, "#password-title", "Reset password")
	if taps, err := k.store.ListUserTAPs(context.Background(), bobID); err != nil || len(taps) != 0 {
		t.Fatalf("passes after deleting it: %+v, %v", taps, err)
	}
}

// clearCloneFlag: a key flagged as a possible clone shows the flag and why
// on the user's page, and "Clear flag" lifts it after a confirmation.
func clearCloneFlag(t *testing.T, admin *tab, k *keyward, bobID string) {
	t.Helper()
	flagged := storage.Credential{ID: uuid.NewString(), UserID: bobID, CredentialID: []byte("bob's flagged key"),
		PublicKey: []byte{1}, DisplayName: "Bob's key", AttestationLevel: storage.AttestationNotAttested,
		SignCount: 41, CloneWarning: true, CreatedAt: time.Now().UTC()}
	if err := k.store.CreateCredential(context.Background(), flagged); err != nil {
		t.Fatal(err)
	}
	openUser(t, admin, bobID, "Bob Franco")
	admin.waitText(t, "#keys-table", "Possible clone")
	admin.waitText(t, "#keys-table", "signature counter went backwards")
	admin.click(t, `#keys-table button[aria-label="Clear the possible-clone flag of Bob's key"]`)
	admin.waitText(t, "#confirm-title", "Clear the flag of “Bob's key”?")
	admin.click(t, "#confirm-ok")
	admin.inView(t, "#keys-saved", "Cleared the flag of “Bob's key”.")
	admin.waitText(t, "#keys-table", "Not attested")
	if c, err := k.store.GetCredential(context.Background(), flagged.ID); err != nil || c.CloneWarning || c.SignCount != 41 {
		t.Fatalf("stored key after clearing = %+v, %v; want unflagged, counter kept", c, err)
	}
	if err := k.store.DeleteCredential(context.Background(), flagged.ID); err != nil {
		t.Fatal(err)
	}
}

func deleteUser(t *testing.T, admin *tab, k *keyward, erinID string) {
	t.Helper()
	openUser(t, admin, erinID, "Erin Hannon")
	admin.click(t, "#delete-user")
	admin.waitText(t, "#confirm-title", "Delete "+erinUPN+"?")
	admin.click(t, `#confirm-dialog button[value="cancel"]`)
	admin.waitFor(t, "the dialog to close", `!document.querySelector("#confirm-dialog").open`)
	if _, err := k.store.GetUser(context.Background(), erinID); err != nil {
		t.Fatalf("cancelling deleted the user: %v", err)
	}
	admin.click(t, "#delete-user")
	admin.waitText(t, "#confirm-title", "Delete "+erinUPN+"?")
	admin.click(t, "#confirm-ok")
	admin.waitPath(t, "/admin/users")
	admin.waitText(t, "#toasts", "User "+erinUPN+" deleted.")
	admin.waitText(t, "#users-table", bobUPN)
	if strings.Contains(admin.text(t, "#users-table"), erinUPN) {
		admin.fail(t, "the deleted user is still listed")
	}
	if _, err := k.store.GetUser(context.Background(), erinID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the deleted user is still stored: %v", err)
	}
}

func fido2Policy(t *testing.T, k *keyward) policy.Fido2 {
	t.Helper()
	p, err := k.app.Policies.Fido2(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func savePolicy(t *testing.T, admin *tab) {
	t.Helper()
	admin.click(t, "#policy-save")
	admin.waitText(t, "#policy-saved", "were saved")
	if admin.visible(t, "#policy-error") {
		admin.fail(t, "the policy page shows an error")
	}
}

func addExclusion(t *testing.T, admin *tab, k *keyward, groupID string) {
	t.Helper()
	admin.open(t, fido2Page)
	admin.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)
	admin.waitText(t, "#exclude-list", "No exclusions.")
	admin.choose(t, "#exclude-group-select", groupID)
	admin.click(t, "#exclude-group-add")
	admin.waitText(t, "#exclude-list", contractorsNew)
	savePolicy(t, admin)
	p := fido2Policy(t, k)
	if len(p.ExcludeTargets) != 1 || p.ExcludeTargets[0].ID != groupID {
		t.Fatalf("exclusions after adding one = %+v, want the group %s", p.ExcludeTargets, groupID)
	}
	// The page shows what was stored after a reload.
	admin.open(t, fido2Page)
	admin.waitText(t, fmt.Sprintf(`#exclude-list li[data-target-id="%s"]`, groupID), contractorsNew)
	if opts := admin.text(t, "#exclude-group-select"); strings.Contains(opts, contractorsNew) {
		admin.fail(t, "an excluded group is still offered for exclusion: %q", opts)
	}
}

func addAndRemoveProfile(t *testing.T, admin *tab, k *keyward) {
	t.Helper()
	admin.click(t, "#tab-configure")
	admin.click(t, "#profile-add")
	admin.fill(t, "#p1-name", "Synced passkeys only")
	admin.click(t, "#p1-deviceBound") // leave synced only
	savePolicy(t, admin)
	admin.waitText(t, "#profiles .profile:nth-of-type(2) .profile-legend", "Synced passkeys only")
	p := fido2Policy(t, k)
	if len(p.PasskeyProfiles) != 2 || p.PasskeyProfiles[1].Name != "Synced passkeys only" || p.PasskeyProfiles[1].PasskeyTypes != policy.Synced {
		t.Fatalf("profiles after adding one = %+v", p.PasskeyProfiles)
	}
	second := p.PasskeyProfiles[1].ID
	// With two profiles, each target offers a choice between them.
	admin.click(t, "#tab-target")
	admin.waitText(t, "#include-list", "Synced passkeys only")

	admin.click(t, "#tab-configure")
	admin.click(t, fmt.Sprintf(`#profiles [data-profile-id="%s"] [data-action="remove-profile"]`, second))
	admin.waitFor(t, "the profile to go", fmt.Sprintf(`!document.querySelector('#profiles [data-profile-id="%s"]')`, second))
	savePolicy(t, admin)
	p = fido2Policy(t, k)
	if len(p.PasskeyProfiles) != 1 || p.PasskeyProfiles[0].ID != policy.DefaultProfileID {
		t.Fatalf("profiles after deleting the second = %+v, want only the default", p.PasskeyProfiles)
	}
	for _, target := range p.IncludeTargets {
		for _, id := range target.AllowedPasskeyProfiles {
			if id == second {
				t.Fatalf("target %s still names the deleted profile", target.ID)
			}
		}
	}
}

func removeMemberAndDeleteGroup(t *testing.T, admin *tab, k *keyward, groupID string) {
	t.Helper()
	admin.open(t, "/admin/groups/"+groupID)
	admin.waitText(t, "#member-count", "1 member")
	admin.click(t, fmt.Sprintf(`#members-table button[aria-label="Remove %s"]`, bobUPN))
	admin.waitText(t, "#member-count", "0 members")
	admin.waitText(t, "#members .empty", "No members yet")
	ctx := context.Background()
	if members, _, err := k.store.ListMembers(ctx, groupID, storage.Page{Limit: 10}); err != nil || len(members) != 0 {
		t.Fatalf("members after removing Bob: %+v, %v", members, err)
	}
	if _, err := k.store.GetUser(ctx, k.userID(t, bobUPN)); err != nil {
		t.Fatalf("removing a member removed the user: %v", err)
	}

	admin.click(t, "#delete-group")
	admin.waitText(t, "#confirm-title", "Delete the group "+contractorsNew+"?")
	admin.click(t, "#confirm-ok")
	admin.waitPath(t, "/admin/groups")
	admin.waitText(t, "#toasts", "Group "+contractorsNew+" deleted.")
	admin.waitText(t, "#groups .empty", "No groups yet")
	if _, err := k.store.GetGroup(ctx, groupID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the deleted group is still stored: %v", err)
	}
}

// setMail gives Bob an e-mail address on his page, is told why a bad one is
// refused (nothing stored), and clears it again.
func setMail(t *testing.T, admin *tab, k *keyward, bobID string) {
	t.Helper()
	stored := func() string {
		u, err := k.store.GetUser(context.Background(), bobID)
		if err != nil {
			t.Fatal(err)
		}
		return u.Mail
	}
	openUser(t, admin, bobID, "Bob Franco")
	admin.fill(t, "#edit-mail", "Bob <bob@mail.contoso.example>")
	admin.click(t, `#profile-form [type="submit"]`)
	admin.inView(t, "#edit-mail-error", "an address is one word")
	if m := stored(); m != "" {
		t.Fatalf("a refused address was stored: %q", m)
	}
	admin.fill(t, "#edit-mail", "bob.franco@mail.contoso.example")
	admin.click(t, `#profile-form [type="submit"]`)
	admin.inView(t, "#profile-form-saved", "Profile saved")
	if m := stored(); m != "bob.franco@mail.contoso.example" {
		t.Fatalf("stored mail %q", m)
	}
	openUser(t, admin, bobID, "Bob Franco")
	if v := admin.inputValue(t, "#edit-mail"); v != "bob.franco@mail.contoso.example" {
		admin.fail(t, "the page shows mail %q after a reload", v)
	}
	admin.fill(t, "#edit-mail", "")
	admin.click(t, `#profile-form [type="submit"]`)
	admin.inView(t, "#profile-form-saved", "Profile saved")
	if m := stored(); m != "" {
		t.Fatalf("mail not cleared: %q", m)
	}
}
