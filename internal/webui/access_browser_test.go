package webui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/storage"
)

// TestBrowserConditionalAccess: an administrator adds a named location and
// a custom strength, saves the template policy "phishing-resistant MFA for
// administrators" — refused at first because it would catch the emergency
// account, saved when forced, the lint then naming the account — and asks
// the what-if beside the editor.
func TestBrowserConditionalAccess(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	upn, name, role, yes := "glass@contoso.example", "Break glass", storage.RoleGlobalAdmin, true
	if _, err := k.app.Directory.CreateUser(ctx, authz.CLI(), directory.UserInput{UserPrincipalName: &upn, DisplayName: &name,
		AdminRole: &role, IsEmergencyAccess: &yes}); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")

	admin.open(t, "/admin/conditional-access")
	admin.waitText(t, "#ca-policies", "No policies yet")
	admin.waitText(t, "#ca-strengths", "Phishing-resistant MFA")

	admin.fill(t, "#loc-name", "Office")
	admin.fill(t, "#loc-ranges", "203.0.113.0/24\n2001:db8:42::/48")
	admin.click(t, "#loc-trusted")
	admin.click(t, `#ca-location-form [type="submit"]`)
	admin.waitText(t, "#ca-locations", "2001:db8:42::/48")

	admin.fill(t, "#loc-name", "Everywhere")
	admin.fill(t, "#loc-ranges", "0.0.0.0/0")
	admin.click(t, `#ca-location-form [type="submit"]`)
	admin.fieldError(t, "#loc-ranges", "IP ranges", "covers every address", "ipRanges", "cidrAddress")

	admin.fill(t, "#st-name", "Work keys")
	admin.click(t, `#ca-strength-form [type="submit"]`)
	admin.waitText(t, "#ca-strengths", "Work keys")

	// The template policy takes in every global admin, the emergency account too.
	admin.click(t, "#ca-save")
	admin.waitText(t, "#ca-editor-error", upn)
	if !admin.visible(t, "#ca-force") {
		admin.fail(t, "no way to save anyway")
	}
	admin.click(t, "#ca-force")
	admin.waitText(t, "#ca-policies", "Phishing-resistant MFA for administrators")
	admin.waitText(t, "#ca-lint", upn)
	audits, err := k.store.ListAudit(ctx, storage.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	forced := false
	for _, e := range audits {
		forced = forced || (e.Action == "access.policy.create" && strings.Contains(string(e.Details), `"force":true`))
	}
	if !forced {
		t.Fatal("the forced save was not audited as forced")
	}

	// What if Ada signs in to the admin center with her password and app?
	admin.fill(t, "#wi-user", adminUPN)
	admin.click(t, "#wi-password")
	admin.click(t, "#wi-otp")
	admin.click(t, `#ca-whatif-form [type="submit"]`)
	admin.waitText(t, "#ca-whatif-decision", "Granted")
	admin.waitText(t, "#ca-whatif-result", "reportOnlyInterrupted")
	admin.checkLabels(t)
}

// TestBrowserAdminCenterNeedsAPasskey: with "phishing-resistant MFA for
// administrators" enabled for the admin center, Ada, signed in with a
// password and an authenticator app, opens the admin center: Keyward sends
// her to the passkey step-up page, she uses her security key and is back in
// the admin center, which now works.
func TestBrowserAdminCenterNeedsAPasskey(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")

	// Ada adds a security key in My security info.
	admin.open(t, "/my/security-info")
	admin.click(t, "#add-method")
	admin.choose(t, "#method-choice", "passkey")
	admin.click(t, `#add-choose [type="submit"]`)
	admin.click(t, "#kind-usb")
	admin.click(t, "#passkey-create")
	admin.waitFor(t, "the name step", `document.querySelector("#add-passkey-name").checkVisibility()`)
	admin.fill(t, "#passkey-name", "Ada's key")
	admin.click(t, "#passkey-name-save")
	admin.waitText(t, "#methods-table", "Ada's key")

	if _, err := k.app.Access.Create(ctx, authz.CLI(), storage.AccessPolicy, []byte(`{"displayName":"Phishing-resistant MFA for administrators",
		"state":"enabled","conditions":{"users":{"includeRoles":["62e90394-69f5-4237-9190-012177145e10"]},
		"applications":{"includeApplications":["`+access.AppAdmin+`"]}},
		"grantControls":{"authenticationStrength":{"id":"`+access.StrengthPhishingResistant+`"}}}`), conditionalaccess.SaveOptions{}); err != nil {
		t.Fatal(err)
	}

	admin.open(t, "/admin/users")
	admin.waitPath(t, "/login/step-up")
	if got := admin.text(t, "#stepup-subtitle"); !strings.Contains(got, "passkey or security key") {
		admin.fail(t, "the step-up page says %q", got)
	}
	admin.click(t, "#stepup-passkey")
	admin.waitPath(t, "/admin/users")
	admin.waitText(t, "main", adminUPN)
}

// TestBrowserPolicyEditorWarnsAboutEmergencyAccounts: editing a policy in
// the admin center, the administrator is told which emergency-access
// account it would take in before saving; Save without force is refused
// beside the editor (role="alert") and stores nothing; excluding the
// account clears the warning; opening a saved policy that takes one in
// warns at once.
func TestBrowserPolicyEditorWarnsAboutEmergencyAccounts(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	ada := k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	upn, name, yes := "glass@contoso.example", "Break glass", true
	glass, err := k.app.Directory.CreateUser(ctx, authz.CLI(), directory.UserInput{UserPrincipalName: &upn, DisplayName: &name, IsEmergencyAccess: &yes})
	if err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")
	admin.open(t, "/admin/conditional-access")
	admin.waitText(t, "#ca-policies", "No policies yet")

	// A block for everyone but Ada (the last global administrator must keep
	// a way in, force or not), and, with exclude, the emergency account.
	policy := func(exclude string) string {
		return `{"displayName":"Block legacy","state":"enabled","conditions":{"users":{"includeUsers":["All"],"excludeUsers":["` + ada + `"` + exclude + `]},` +
			`"applications":{"includeApplications":["All"]}},"grantControls":{"builtInControls":["block"]}}`
	}
	admin.fill(t, "#ca-editor", policy(""))
	admin.waitText(t, "#ca-editor-warning", upn)
	if admin.visible(t, "#ca-editor-error") {
		admin.fail(t, "an error before Save")
	}
	admin.click(t, "#ca-save")
	admin.waitText(t, "#ca-editor-error", upn)
	if got, _ := admin.evalErr(`(() => { const e = document.querySelector("#ca-editor-error"); return e.getAttribute("role") + " " + e.closest(".field").contains(document.querySelector("#ca-editor")); })()`); got != "alert true" {
		admin.fail(t, "the refusal is not an alert beside the editor: %s", got)
	}
	if !admin.visible(t, "#ca-force") {
		admin.fail(t, "no way to save anyway")
	}
	admin.checkLabels(t)
	if c, err := k.app.Access.Current(ctx); err != nil || len(c.Policies) != 0 {
		t.Fatalf("a refused save stored policies: %v %+v", err, c.Policies)
	}

	// Excluding the account clears the warning.
	admin.fill(t, "#ca-editor", policy(`,"`+glass.ID+`"`))
	admin.waitFor(t, "the warning to clear", `document.querySelector("#ca-editor-warning").hidden`)

	// Saved anyway, then opened again: the warning is there at once.
	admin.fill(t, "#ca-editor", policy(""))
	admin.waitText(t, "#ca-editor-warning", upn)
	admin.click(t, "#ca-save")
	admin.waitText(t, "#ca-editor-error", upn)
	admin.click(t, "#ca-force")
	admin.waitText(t, "#ca-policies", "Block legacy")
	admin.waitFor(t, "the editor to clear", `document.querySelector("#ca-editor-title").textContent === "New policy"`)
	admin.click(t, `#ca-policies button.btn-link`)
	admin.waitText(t, "#ca-editor-title", "Edit Block legacy")
	admin.waitText(t, "#ca-editor-warning", upn)
}
