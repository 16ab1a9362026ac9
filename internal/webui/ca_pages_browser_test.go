package webui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/storage"
)

const caPage = "/admin/conditional-access"

// TestBrowserConditionalAccessFormMessages: on the conditional access page
// (the policy editor, the what-if, authentication strengths, named
// locations) at desktop and phone width, each refusal sits beside the field
// that caused it, by the field's label, announced and in view below the
// sticky header; each confirmation beside the button that saved; a table
// row's Delete answers under its table.
func TestBrowserConditionalAccessFormMessages(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")
	defer admin.step(t, "desktop width", widths[0].set)

	policy := func(name, grant string) string {
		return fmt.Sprintf(`{"displayName":%q,"state":"disabled","conditions":{"users":{"includeUsers":["All"]},`+
			`"applications":{"includeApplications":["All"]}}%s}`, name, grant)
	}
	for _, width := range widths {
		t.Run(width.name, func(t *testing.T) {
			admin.step(t, width.name+" width", width.set)
			admin.open(t, caPage)
			admin.waitText(t, "#ca-strengths", "Phishing-resistant MFA")

			// The policy editor: its JSON, then a field in the JSON (the
			// editor is what the person edits, so the path stays).
			admin.fill(t, "#ca-editor", "{")
			admin.click(t, "#ca-save")
			admin.fieldError(t, "#ca-editor", "Policy", "Policy: not valid JSON")
			admin.fill(t, "#ca-editor", policy("MFA "+width.name, ""))
			admin.click(t, "#ca-save")
			admin.fieldError(t, "#ca-editor", "Policy", "grantControls: must be set")
			if strings.Contains(admin.text(t, "#ca-editor-error"), "was not saved") {
				admin.fail(t, "the editor's error repeats the API's preamble: %q", admin.text(t, "#ca-editor-error"))
			}
			admin.fill(t, "#ca-editor", policy("MFA "+width.name, `,"grantControls":{"operator":"OR","builtInControls":["mfa"]}`))
			admin.click(t, "#ca-save")
			admin.besideButton(t, "#ca-editor-form-saved", "#ca-save", "Policy “MFA "+width.name+"” saved")
			if admin.visible(t, "#ca-editor-error") {
				admin.fail(t, "the editor's error stays after the save")
			}
			if width.name == "desktop" {
				admin.screenshot(t, "admin-conditional-access-saved")
			}
			admin.click(t, `#ca-policies button.btn-link`)
			admin.waitText(t, "#ca-editor-title", "Edit MFA "+width.name)
			admin.click(t, "#ca-delete")
			admin.besideButton(t, "#ca-editor-form-saved", "#ca-save", "Policy “MFA "+width.name+"” deleted")

			// The what-if: a user left out and an address that is none.
			admin.fill(t, "#wi-user", "")
			admin.fill(t, "#wi-ip", "nowhere")
			admin.click(t, `#ca-whatif-form [type="submit"]`)
			admin.fieldError(t, "#wi-user", "User (UPN or ID)", "name the user", "userId")
			admin.fieldError(t, "#wi-ip", "IP address", `"nowhere" is not an IP address`, "ipAddress")

			// A custom strength: no name, no combination; then created.
			setChecked := func(sel string, on bool) {
				admin.step(t, "set "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).checked = %t`, sel, on)))
			}
			admin.fill(t, "#st-name", "")
			for i := 0; i < 5; i++ {
				setChecked(fmt.Sprintf("#st-combo-%d", i), false)
			}
			admin.click(t, `#ca-strength-form [type="submit"]`)
			admin.fieldError(t, "#st-name", "Name", "Name: must not be empty", "displayName")
			admin.inView(t, "#st-combos-error", "Allowed combinations: must allow at least one combination")
			if txt := admin.text(t, "#st-combos-error"); strings.Contains(txt, "allowedCombinations") {
				admin.fail(t, "the combinations' error shows the API's field name: %q", txt)
			}
			if width.name == "desktop" {
				admin.screenshot(t, "admin-conditional-access-field-error")
			}
			// A key model picked while fido2 is not allowed: beside the picker,
			// naming the other field by its label too.
			admin.fill(t, "#st-name", "Keys "+width.name)
			setChecked("#st-combo-4", true)
			admin.step(t, "pick a key model", chromedp.Evaluate[chromedp.Void](`document.querySelector("#st-models").options[0].selected = true`))
			admin.click(t, `#ca-strength-form [type="submit"]`)
			admin.fieldError(t, "#st-models", "Only these key models", "which allowed combinations does not allow", "allowedCombinations", "combinationConfigurations")
			admin.step(t, "unpick the key model", chromedp.Evaluate[chromedp.Void](`document.querySelector("#st-models").options[0].selected = false`))
			setChecked("#st-combo-4", false)
			setChecked("#st-combo-0", true)
			admin.click(t, `#ca-strength-form [type="submit"]`)
			admin.besideButton(t, "#ca-strength-form-saved", `#ca-strength-form [type="submit"]`, "Strength “Keys "+width.name+"” created")
			if admin.visible(t, "#st-name-error") || admin.visible(t, "#st-combos-error") {
				admin.fail(t, "the strength's errors stay after it was created")
			}
			admin.click(t, fmt.Sprintf(`#ca-strengths button[aria-label="Delete Keys %s"]`, width.name))
			admin.underTable(t, "#ca-strengths-saved", "#ca-strengths", "“Keys "+width.name+"” deleted")

			// A named location: no name, a range that is none; then created.
			admin.fill(t, "#loc-name", "")
			admin.fill(t, "#loc-ranges", "somewhere")
			admin.click(t, `#ca-location-form [type="submit"]`)
			admin.fieldError(t, "#loc-name", "Name", "Name: must not be empty", "displayName")
			admin.fieldError(t, "#loc-ranges", "IP ranges", `"somewhere" is not a CIDR range`, "ipRanges", "cidrAddress")
			admin.fill(t, "#loc-name", "Office "+width.name)
			admin.fill(t, "#loc-ranges", "203.0.113.0/24")
			admin.click(t, `#ca-location-form [type="submit"]`)
			admin.besideButton(t, "#ca-location-form-saved", `#ca-location-form [type="submit"]`, "Named location “Office "+width.name+"” created")
			admin.click(t, fmt.Sprintf(`#ca-locations button[aria-label="Delete Office %s"]`, width.name))
			admin.underTable(t, "#ca-locations-saved", "#ca-locations", "“Office "+width.name+"” deleted")
			if admin.visible(t, "#page-error") {
				admin.fail(t, "a message is (also) shown at the top of the page")
			}
		})
		if t.Failed() {
			return
		}
	}
}

// underTable checks that a table row's answer at sel is in view, announced
// and right under the table at table.
func (tb *tab) underTable(t *testing.T, sel, table, want string) {
	t.Helper()
	tb.inView(t, sel, want)
	got, err := tb.evalErr(fmt.Sprintf(`(() => {
		const m = document.querySelector(%q).getBoundingClientRect(), b = document.querySelector(%q).getBoundingClientRect();
		const gap = m.top - b.bottom;
		return gap >= -1 && gap < 64 ? "ok" : "it is " + gap + "px below the table";
	})()`, sel, table))
	if err != nil || got != "ok" {
		tb.fail(t, "%s is not under %s: %s %v", sel, table, got, err)
	}
}

// TestBrowserConditionalAccessReadOnly: conditional access is changed by
// global administrators only; a reader and an authentication administrator
// see its Save, Delete and Add disabled with a note naming the role that
// can, at desktop and phone width, and may still try the what-if.
func TestBrowserConditionalAccessReadOnly(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, ritaUPN, "Rita Reader", ritaPassword, storage.RoleReader)
	k.user(t, aaronUPN, "Aaron Auth", ritaPassword, storage.RoleAuthenticationAdmin)
	if _, err := k.app.Access.Create(ctx, authz.CLI(), storage.AccessLocation,
		[]byte(`{"displayName":"Office","ipRanges":[{"cidrAddress":"203.0.113.0/24"}]}`), conditionalaccess.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.app.Access.Create(ctx, authz.CLI(), storage.AccessStrength,
		[]byte(`{"displayName":"Work keys","allowedCombinations":["fido2"]}`), conditionalaccess.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium)
	for _, who := range []struct{ upn, role string }{{ritaUPN, "Reader"}, {aaronUPN, "Authentication administrator"}} {
		tb := b.newTab(t, strings.Split(who.upn, "@")[0], k.url, webauthn.AuthenticatorTransportUsb)
		signInWithPassword(t, tb, who.upn, ritaPassword, "/my/security-info")
		secondFactorForTheAdminCenter(t, tb, k, "/admin/users")
		for _, width := range widths {
			tb.step(t, width.name+" width", width.set)
			tb.open(t, caPage)
			tb.waitText(t, "#ca-locations", "Office")
			tb.waitText(t, "#ca-strengths", "Work keys")
			tb.readOnly(t, "changing conditional access (policies, authentication strengths, named locations) needs the Global administrator role. Your role is "+who.role+".",
				"#ca-new-policy", "#ca-save", "#ca-editor", "#st-name", `#ca-strength-form [type="submit"]`, "#ca-strengths button",
				"#loc-ranges", `#ca-location-form [type="submit"]`, "#ca-locations button")
			if width.name == "desktop" && who.role == "Reader" {
				tb.screenshot(t, "admin-conditional-access-read-only")
			}
			// The what-if changes nothing: every admin role may use it.
			tb.waitFor(t, "the what-if usable", `!document.querySelector('#ca-whatif-form [type="submit"]').disabled && !document.querySelector("#wi-user").disabled`)
			tb.fill(t, "#wi-user", who.upn)
			tb.click(t, `#ca-whatif-form [type="submit"]`)
			tb.waitText(t, "#ca-whatif-decision", "Granted")
		}
		tb.step(t, "desktop width", widths[0].set)
	}
}
