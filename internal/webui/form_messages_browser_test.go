package webui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

// fieldError checks that the error shown for the input at input is beside
// it (in the input's own field, under its label), points back from the
// input (aria-describedby, aria-invalid), names the field by its label,
// shows none of the API's JSON field names, and is in view and announced.
func (tb *tab) fieldError(t *testing.T, input, label, want string, apiNames ...string) {
	t.Helper()
	errSel := input + "-error"
	tb.inView(t, errSel, want)
	txt := tb.text(t, errSel)
	if !strings.HasPrefix(txt, label) {
		tb.fail(t, "%s does not name the field by its label %q: %q", errSel, label, txt)
	}
	for _, n := range apiNames {
		if strings.Contains(txt, n) {
			tb.fail(t, "%s shows the API's field name %q: %q", errSel, n, txt)
		}
	}
	got, err := tb.evalErr(fmt.Sprintf(`(() => {
		const i = document.querySelector(%q), e = document.querySelector(%q);
		const holder = e.closest(".field, .check, fieldset");
		if (!holder || !holder.contains(i)) return "not in the input's field";
		if (!(i.getAttribute("aria-describedby") || "").split(" ").includes(e.id)) return "the input's aria-describedby does not name it";
		if (i.getAttribute("aria-invalid") !== "true") return "the input is not marked aria-invalid";
		const gap = e.getBoundingClientRect().top - i.getBoundingClientRect().bottom;
		return gap >= 0 && gap < 48 ? "ok" : "it is " + gap + "px from the input";
	})()`, input, errSel))
	if err != nil || got != "ok" {
		tb.fail(t, "%s is not beside %s: %s %v", errSel, input, got, err)
	}
	if tb.visible(t, "#page-error") {
		tb.fail(t, "the problem is (also) shown in the box at the top of the page")
	}
}

// besideButton checks that a form-level message at sel (a confirmation or
// a problem no field owns) is shown right under the button that caused it.
func (tb *tab) besideButton(t *testing.T, sel, button, want string) {
	t.Helper()
	tb.inView(t, sel, want)
	got, err := tb.evalErr(fmt.Sprintf(`(() => {
		const m = document.querySelector(%q).getBoundingClientRect(), b = document.querySelector(%q).getBoundingClientRect();
		const gap = m.top - b.bottom;
		return gap >= 0 && gap < 64 ? "ok" : "it is " + gap + "px below the button";
	})()`, sel, button))
	if err != nil || got != "ok" {
		tb.fail(t, "%s is not beside %s: %s %v", sel, button, got, err)
	}
}

var widths = []struct {
	name string
	set  chromedp.Action[chromedp.Void]
}{
	{"desktop", chromedp.EmulateViewport(1280, 900)},
	{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)},
}

// TestBrowserAdminFormMessages goes through every admin page with a form
// (the passkey and Temporary Access Pass settings have their own journeys)
// at desktop and phone width: each refusal appears beside the field that
// caused it, by the field's label, announced and in view; each confirmation
// beside the button that saved.
func TestBrowserAdminFormMessages(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	adaID := k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	bobID := k.user(t, bobUPN, "Bob Franco", bobPassword, "")
	k.key(t, bobID, yubiAAGUID, yubiModel)
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")
	createGroupWithMember(t, admin, contractors, bobUPN)
	groupID := k.groupID(t, contractors)
	defer admin.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))

	for i, width := range widths {
		t.Run(width.name, func(t *testing.T) {
			admin.step(t, width.name+" width", width.set)

			// Users: a new user with a malformed name.
			admin.open(t, "/admin/users")
			admin.click(t, "#new-user")
			admin.fill(t, "#new-upn", "")
			admin.fill(t, "#new-display-name", "")
			admin.click(t, `#create-user-form [type="submit"]`)
			admin.fieldError(t, "#new-upn", "User principal name", "User principal name: enter one")
			admin.fieldError(t, "#new-display-name", "Display name", "Display name: enter one")
			admin.fill(t, "#new-upn", "carol.contoso.example")
			admin.fill(t, "#new-display-name", "Carol")
			admin.click(t, `#create-user-form [type="submit"]`)
			admin.fieldError(t, "#new-upn", "User principal name", "must contain exactly one @", "userPrincipalName")
			if admin.visible(t, "#new-display-name-error") {
				admin.fail(t, "the display name's earlier error stays after it was filled in")
			}
			if width.name == "desktop" {
				admin.screenshot(t, "admin-users-field-error")
			}

			// One user: profile, then password.
			admin.open(t, "/admin/users/"+bobID)
			admin.waitText(t, "#user-upn", bobUPN)
			admin.fill(t, "#edit-mail", "Bob <bob@mail.contoso.example>")
			admin.click(t, `#profile-form [type="submit"]`)
			admin.fieldError(t, "#edit-mail", "Email", "an address is one word")
			admin.fill(t, "#edit-mail", "")
			admin.fill(t, "#edit-display-name", []string{"Bob F.", "Bob Franco"}[i])
			admin.click(t, `#profile-form [type="submit"]`)
			admin.besideButton(t, "#profile-form-saved", `#profile-form [type="submit"]`, "Profile saved")
			if admin.visible(t, "#edit-mail-error") {
				admin.fail(t, "the email's error stays after the save")
			}
			admin.fill(t, "#reset-password", "short")
			admin.click(t, `#password-form [type="submit"]`)
			admin.fieldError(t, "#reset-password", "New password", "at least 8")

			// A row's action: a key someone else deleted meanwhile. The
			// refusal sits under the table of methods, not at the top.
			gone := k.key(t, bobID, soloAAGUID, "Gone key "+width.name)
			admin.open(t, "/admin/users/"+bobID)
			admin.waitText(t, "#keys-table", "Gone key "+width.name)
			if err := k.store.DeleteCredential(ctx, gone.ID); err != nil {
				t.Fatal(err)
			}
			admin.click(t, fmt.Sprintf(`#keys-table button[aria-label="Delete Gone key %s"]`, width.name))
			admin.click(t, "#confirm-ok")
			admin.inView(t, "#keys-error", "")
			if got, err := admin.evalErr(`(() => { const e = document.querySelector("#keys-error"), t = document.querySelector("#keys").getBoundingClientRect();
				return e.closest("section") === document.querySelector("#keys").closest("section") && e.getBoundingClientRect().top >= t.bottom - 1 ? "ok" : "elsewhere"; })()`); err != nil || got != "ok" {
				admin.fail(t, "the refusal is not under the table of methods: %s %v", got, err)
			}
			if admin.visible(t, "#page-error") {
				admin.fail(t, "the refusal is (also) shown at the top of the page")
			}

			// One's own page: nobody issues a pass for themselves.
			admin.open(t, "/admin/users/"+adaID)
			admin.waitText(t, "#user-upn", adminUPN)
			admin.readOnly(t, "Nobody may issue a Temporary Access Pass for their own account", "#tap-issue", "#provision-open")
			if width.name == "desktop" {
				admin.screenshot(t, "admin-user-field-error")
			}

			// Groups: a name that is taken, on the list and on the group's page.
			admin.open(t, "/admin/groups")
			admin.click(t, "#new-group")
			admin.fill(t, "#new-group-name", contractors)
			admin.click(t, `#create-group-form [type="submit"]`)
			admin.fieldError(t, "#new-group-name", "Name", "already exists", "displayName")
			admin.open(t, "/admin/groups/"+groupID)
			admin.waitText(t, "#group-title", contractors)
			admin.fill(t, "#edit-group-name", "")
			admin.click(t, `#group-form [type="submit"]`)
			admin.fieldError(t, "#edit-group-name", "Name", "Name: a group needs one")
			admin.fill(t, "#edit-group-name", contractors)
			admin.fill(t, "#edit-group-description", []string{"People from outside", "People from elsewhere"}[i])
			admin.click(t, `#group-form [type="submit"]`)
			admin.besideButton(t, "#group-form-saved", `#group-form [type="submit"]`, "Group saved")

			// Applications: an http:// redirect URI on the list, and on the app's page.
			admin.open(t, "/admin/applications")
			admin.click(t, "#new-app")
			admin.fill(t, "#new-app-name", "Wiki "+width.name)
			admin.fill(t, "#new-app-redirect", "http://wiki.contoso.example/cb")
			admin.click(t, `#create-app-form [type="submit"]`)
			admin.fieldError(t, "#new-app-redirect", "Redirect URI", "http:// is allowed only for localhost", "redirectUris")
			admin.fill(t, "#new-app-redirect", "https://wiki.contoso.example/cb")
			admin.click(t, `#create-app-form [type="submit"]`)
			admin.waitText(t, "#app-title", "Wiki "+width.name)
			// The "registered" toast floats over the page for a while; a
			// click must not land on it.
			admin.step(t, "dismiss the toasts", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".toast").forEach((e) => e.remove())`))
			admin.fill(t, "#secret-name", strings.Repeat("s", 300))
			admin.click(t, "#secret-add")
			admin.fieldError(t, "#secret-name", "Description", "at most", "displayName")
			admin.fill(t, "#edit-redirects", "https://wiki.contoso.example/cb#frag")
			admin.click(t, `#app-form [type="submit"]`)
			admin.fieldError(t, "#edit-redirects", "Redirect URIs", "must not have a fragment", "redirectUris")
			if width.name == "desktop" {
				admin.screenshot(t, "admin-application-field-error")
			}

			// The sign-in log's filters.
			admin.open(t, "/admin/sign-ins")
			admin.fill(t, "#filter-aaguid", "hello")
			admin.click(t, "#signin-apply")
			admin.fieldError(t, "#filter-aaguid", "Key model AAGUID", "Key model AAGUID 'hello' is not an AAGUID", "aaGuid", "$filter")
			admin.fill(t, "#filter-aaguid", "")
			admin.click(t, "#signin-apply")
			admin.waitFor(t, "the error to go", `!document.querySelector("#filter-aaguid-error").checkVisibility()`)

			// Key models: a save that lost to another change is refused
			// beside its button; a save is confirmed beside Preview.
			admin.open(t, "/admin/reports/key-models")
			admin.waitText(t, "#models-table", yubiModel)
			admin.click(t, fmt.Sprintf(`input[value=%q]`, yubiAAGUID))
			admin.click(t, "#models-preview")
			admin.waitFor(t, "the preview", `document.querySelector("#preview").checkVisibility()`)
			if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"isSelfServiceRegistrationAllowed":`+[]string{"false", "true"}[i]+`}`)); err != nil {
				t.Fatal(err)
			}
			admin.click(t, "#preview-save")
			admin.besideButton(t, "#preview-list-error", "#preview-save", "Someone changed the passkey policy meanwhile")
			admin.click(t, "#models-preview")
			admin.waitFor(t, "the preview again", `!document.querySelector("#preview-list-error").checkVisibility()`)
			admin.click(t, "#preview-save")
			admin.besideButton(t, "#models-preview-saved", "#models-preview", "The allow list is saved")
		})
		if t.Failed() {
			return
		}
	}
}
