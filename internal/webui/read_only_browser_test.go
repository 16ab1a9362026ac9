package webui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/storage"
)

const (
	ritaUPN      = "rita@contoso.example"
	ritaPassword = "rita's long passphrase 42"
	aaronUPN     = "aaron@contoso.example"
)

// readOnly checks that each control is shown but disabled, and that the
// page says which role can change it.
func (tb *tab) readOnly(t *testing.T, note string, controls ...string) {
	t.Helper()
	for _, sel := range controls {
		tb.waitFor(t, sel+" shown disabled", fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.checkVisibility() && e.disabled; })()`, sel))
	}
	tb.waitFor(t, "the read-only note", fmt.Sprintf(`Array.from(document.querySelectorAll(".read-only-note")).some((n) => n.checkVisibility() && n.textContent.includes(%q))`, note))
}

// TestBrowserReadOnlyAdmins: a reader sees every admin page that has a Save
// or an action with its controls disabled and a note naming the role that
// can change it (the API refuses them anyway); an authentication
// administrator may manage an ordinary user's methods but sees an
// administrator's read-only.
func TestBrowserReadOnlyAdmins(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	adaID := k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	k.user(t, ritaUPN, "Rita Reader", ritaPassword, storage.RoleReader)
	k.user(t, aaronUPN, "Aaron Auth", ritaPassword, storage.RoleAuthenticationAdmin)
	bobID := k.user(t, bobUPN, "Bob Franco", bobPassword, "")
	k.key(t, bobID, yubiAAGUID, yubiModel)
	k.key(t, adaID, yubiAAGUID, yubiModel)
	groupName := contractors
	g, err := k.app.Directory.CreateGroup(ctx, authz.CLI(), directory.GroupInput{DisplayName: &groupName})
	if err != nil {
		t.Fatal(err)
	}
	name, uris := "Wiki", []string{"https://wiki.contoso.example/cb"}
	app, err := k.app.Apps.Create(ctx, "cli", oidc.AppInput{DisplayName: &name, WebRedirectURIs: &uris})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, chromium)
	rita := b.newTab(t, "rita", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, rita, ritaUPN, ritaPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, rita, k, "/admin/users")

	const (
		globalOnly = "needs the Global administrator role. Your role is Reader."
		policies   = "needs the Privileged authentication administrator or Global administrator role. Your role is Reader."
		methods    = "needs the Authentication administrator, Privileged authentication administrator or Global administrator role. Your role is Reader."
	)
	rita.open(t, "/admin/users")
	rita.readOnly(t, "creating and changing users "+globalOnly, "#new-user")
	rita.screenshot(t, "admin-users-read-only")

	rita.open(t, "/admin/users/"+bobID)
	rita.waitText(t, "#keys-table", yubiModel)
	rita.readOnly(t, "changing a user's profile and role "+globalOnly, `#profile-form [type="submit"]`, "#edit-display-name", "#edit-role")
	rita.readOnly(t, "deleting a user "+globalOnly, "#delete-user")
	rita.readOnly(t, "issuing a Temporary Access Pass for this user "+methods, "#tap-issue", "#tap-lifetime")
	rita.readOnly(t, "setting this user's password "+methods, `#password-form [type="submit"]`, "#reset-password")
	rita.readOnly(t, "registering a security key for this user "+methods, "#provision-open", "#keys-table button")
	rita.screenshot(t, "admin-user-read-only")

	rita.open(t, "/admin/groups")
	rita.readOnly(t, "creating and changing groups "+globalOnly, "#new-group")
	rita.open(t, "/admin/groups/"+g.ID)
	rita.waitText(t, "#group-title", contractors)
	rita.readOnly(t, "changing this group "+globalOnly, `#group-form [type="submit"]`, "#delete-group", "#edit-group-name")
	rita.readOnly(t, "changing the members "+globalOnly, "#member-search")

	rita.open(t, "/admin/applications")
	rita.readOnly(t, "registering and changing applications "+globalOnly, "#new-app")
	rita.open(t, "/admin/applications/"+app.ID)
	rita.waitText(t, "#app-title", "Wiki")
	rita.readOnly(t, "changing this application "+globalOnly, `#app-form [type="submit"]`, "#delete-app", "#edit-redirects")
	rita.readOnly(t, "adding and removing secrets "+globalOnly, "#secret-add")
	rita.readOnly(t, "assigning groups "+globalOnly, "#group-search")

	rita.open(t, fido2Page)
	rita.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)
	rita.readOnly(t, "changing the passkey (FIDO2) policy "+policies, "#policy-save", "#policy-enabled", "#include-all")
	// The impact preview stays readable: the saved policy cuts nobody off.
	rita.waitText(t, "#impact-summary", "0 people would lose passkey sign-in")
	rita.click(t, "#tab-configure") // reading every tab stays possible
	rita.readOnly(t, "changing the passkey (FIDO2) policy "+policies, "#profile-add", "#policy-self-service", "#p0-name")
	rita.screenshot(t, "admin-passkey-policy-read-only")

	rita.open(t, tapPolicyPage)
	rita.waitFor(t, "the policy form", `document.querySelector("#tap-policy-form").checkVisibility()`)
	rita.readOnly(t, "changing these settings "+policies, "#tap-policy-save", "#tap-default")

	rita.open(t, "/admin/reports/key-models")
	rita.waitText(t, "#models-table", yubiModel)
	rita.click(t, fmt.Sprintf(`input[value=%q]`, yubiAAGUID)) // a preview changes nothing: anyone may
	rita.click(t, "#models-preview")
	rita.waitFor(t, "the preview", `document.querySelector("#preview").checkVisibility()`)
	rita.readOnly(t, "saving an allow list "+policies, "#preview-save")

	// An authentication administrator: an ordinary user's methods are
	// theirs to manage; an administrator's are shown read-only.
	aaron := b.newTab(t, "aaron", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, aaron, aaronUPN, ritaPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, aaron, k, "/admin/users/"+bobID)
	aaron.waitText(t, "#keys-table", yubiModel)
	aaron.waitFor(t, "the pass form", `!document.querySelector("#tap-issue").disabled && !document.querySelector("#reset-password").disabled && !document.querySelector("#keys-table button").disabled`)
	aaron.readOnly(t, "changing a user's profile and role needs the Global administrator role. Your role is Authentication administrator.", `#profile-form [type="submit"]`)
	aaron.open(t, "/admin/users/"+adaID)
	aaron.waitText(t, "#keys-table", yubiModel)
	aaron.readOnly(t, "issuing a Temporary Access Pass for an administrator needs the Global administrator role. Your role is Authentication administrator.", "#tap-issue")
	aaron.readOnly(t, "setting an administrator's password needs the Privileged authentication administrator or Global administrator role. Your role is Authentication administrator.", "#reset-password", "#keys-table button")
	if strings.Contains(aaron.text(t, "#main"), "Your role is Reader") {
		aaron.fail(t, "the page names another role than the signed-in administrator's")
	}
}
