package webui_test

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/webauthn"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// TestBrowserPolicyEditConflict: an administrator edits the Passkey (FIDO2)
// policy while someone else saves a change to it. Their save is refused
// instead of silently undoing the other change; the page says so and shows
// both versions, and the administrator either loads the saved policy or
// keeps their changes and saves them over it, knowingly.
func TestBrowserPolicyEditConflict(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	ctx := context.Background()
	otherAdmin := func(patch string) {
		t.Helper()
		if _, err := k.app.Policies.UpdateFido2(ctx, authz.Token("other-admin", storage.RoleGlobalAdmin), []byte(patch)); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() policy.Fido2 {
		t.Helper()
		return fido2Policy(t, k)
	}

	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, fido2Page)
	admin.open(t, fido2Page)
	admin.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)

	// Someone else turns self-service off while Ada turns passkeys on.
	otherAdmin(`{"isSelfServiceRegistrationAllowed":false}`)
	admin.click(t, "#policy-enabled")
	admin.click(t, "#policy-save")
	admin.waitText(t, "#policy-conflict", "Someone else changed this policy")
	admin.waitText(t, "#conflict-mine", "Passkeys: on")
	admin.waitText(t, "#conflict-mine", "Users may set up their own passkeys: yes")
	admin.waitText(t, "#conflict-current", "Passkeys: off")
	admin.waitText(t, "#conflict-current", "Users may set up their own passkeys: no")
	if admin.visible(t, "#policy-saved") {
		admin.fail(t, "the page says the refused change was saved")
	}
	if p := stored(); p.State != policy.StateDisabled || p.IsSelfServiceRegistrationAllowed {
		t.Fatalf("stored policy after the refused save = %+v, want the other admin's change only", p)
	}

	// Load the saved policy: the form now shows the other admin's change.
	admin.click(t, "#conflict-load-current")
	admin.waitFor(t, "the conflict to close", `!document.querySelector("#policy-conflict").checkVisibility()`)
	admin.click(t, "#tab-configure")
	admin.waitFor(t, "self-service shown off", `!document.querySelector("#policy-self-service").checked`)
	admin.click(t, "#tab-target")
	admin.waitFor(t, "passkeys shown off", `!document.querySelector("#policy-enabled").checked`)

	// Again, and this time Ada keeps her change and saves it over theirs.
	admin.click(t, "#policy-enabled")
	otherAdmin(`{"excludeTargets":[]}`)
	admin.click(t, "#policy-save")
	admin.waitText(t, "#policy-conflict", "Someone else changed this policy")
	admin.click(t, "#conflict-keep-mine")
	admin.waitFor(t, "the conflict to close", `!document.querySelector("#policy-conflict").checkVisibility()`)
	savePolicy(t, admin)
	if p := stored(); p.State != policy.StateEnabled || p.IsSelfServiceRegistrationAllowed {
		t.Fatalf("stored policy after keeping her changes = %+v, want passkeys on and self-service still off", p)
	}
}
