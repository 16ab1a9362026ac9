package webui_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

const tapPolicyPage = "/admin/authentication-methods/temporary-access-pass"

// tapPolicySettings: the administrator opens the Temporary Access Pass
// settings from the methods list, is refused a default outside the limits
// beside that field (by its label, not the API's name), saves, and sees the
// confirmation beside Save — in view at desktop and phone width.
func tapPolicySettings(t *testing.T, admin *tab) {
	defer admin.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	for i, width := range []struct {
		name string
		set  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)},
	} {
		admin.step(t, width.name+" width", width.set)
		admin.open(t, "/admin/authentication-methods")
		admin.click(t, "#tap-link")
		admin.waitPath(t, tapPolicyPage)
		admin.waitFor(t, "the policy form", `document.querySelector("#tap-policy-form").checkVisibility()`)

		admin.fill(t, "#tap-max", "1440")
		admin.fill(t, "#tap-default", "2880")
		admin.click(t, "#tap-policy-save")
		admin.inView(t, "#tap-default-error", "Default lifetime: must lie from the minimum to the maximum (10 to 1440), not 2880")
		if txt := admin.text(t, "#tap-default-error"); strings.Contains(txt, "InMinutes") {
			admin.fail(t, "the page shows the API's field name: %q", txt)
		}
		if admin.visible(t, "#tap-policy-save-error") {
			admin.fail(t, "the problem is shown twice, beside the field and beside Save")
		}
		admin.fill(t, "#tap-length", "seven")
		admin.click(t, "#tap-policy-save")
		admin.inView(t, "#tap-length-error", "Length: enter a whole number") // a number field takes no letters

		admin.fill(t, "#tap-default", "480")
		admin.fill(t, "#tap-length", []string{"20", "24"}[i])
		admin.click(t, "#tap-once")
		admin.click(t, "#tap-policy-save")
		admin.inView(t, "#tap-policy-saved", "The Temporary Access Pass settings were saved")
		if admin.visible(t, "#tap-default-error") || admin.visible(t, "#tap-length-error") {
			admin.fail(t, "an old error stays beside a field after the save")
		}
		if width.name == "desktop" {
			admin.screenshot(t, "admin-tap-policy-saved")
		}
		// What was saved is what the page shows after a reload.
		admin.open(t, tapPolicyPage)
		admin.waitFor(t, "the saved values", `document.querySelector("#tap-default").value === "480" && document.querySelector("#tap-max").value === "1440" && document.querySelector("#tap-length").value === "`+[]string{"20", "24"}[i]+`"`)
	}
}

// tapStartTime: on a user's page the administrator schedules a pass to start
// in two days; one more than 30 days ahead is refused beside the form, in
// words; the scheduled pass is listed as not yet valid, from its start.
func tapStartTime(t *testing.T, admin *tab, userID string) {
	defer admin.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	for _, width := range []struct {
		name string
		set  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)},
	} {
		admin.step(t, width.name+" width", width.set)
		admin.open(t, "/admin/users/"+userID)
		admin.waitFor(t, "the pass form", `document.querySelector("#tap-start").checkVisibility()`)
		// The field is the browser's own date and time picker; its value is
		// local time, as the person picks it.
		setStart := func(days int) {
			t.Helper()
			js := `(() => { const d = new Date(Date.now() + ` + strconv.Itoa(days) + ` * 86400000);
				const p = (n) => String(n).padStart(2, "0");
				const e = document.querySelector("#tap-start");
				e.value = d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
				e.dispatchEvent(new Event("input", {bubbles: true})); return e.value })()`
			if v, err := admin.evalErr(js); err != nil || v == "" {
				admin.fail(t, "set the start time: %q, %v", v, err)
			}
		}
		setStart(40)
		admin.click(t, "#tap-issue")
		admin.inView(t, "#tap-start-error", "a pass can be scheduled at most 30 days ahead")
		if txt := admin.text(t, "#tap-start-error"); !strings.HasPrefix(txt, "Start time") || strings.Contains(txt, "startDateTime") {
			admin.fail(t, "the refusal does not name the field by its label: %q", txt)
		}
		setStart(2)
		admin.click(t, "#tap-issue")
		admin.waitText(t, "#tap-details", "Valid from")
		if admin.visible(t, "#tap-start-error") {
			admin.fail(t, "the earlier refusal stays after the pass was issued")
		}
		admin.waitText(t, "#keys", "Not yet valid")
		admin.waitText(t, "#keys", "Valid from")
		if width.name == "desktop" {
			admin.screenshot(t, "admin-user-tap-scheduled")
		}
	}
}

// TestBrowserTAPPolicyEditConflict: an administrator edits the Temporary
// Access Pass settings while someone else saves a change to them. Their save
// is refused instead of silently undoing the other change; the page shows
// both versions, and the administrator loads the saved settings, or keeps
// their changes and saves them over them, knowingly.
func TestBrowserTAPPolicyEditConflict(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	ctx := context.Background()
	otherAdmin := func(patch string) {
		t.Helper()
		if _, _, err := k.app.SignIn.UpdateTAPConfigIfVersion(ctx, authz.Token("other-admin", storage.RoleGlobalAdmin), nil, []byte(patch)); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() policy.TAPConfig {
		t.Helper()
		c, err := k.app.SignIn.TAPConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, tapPolicyPage)
	for _, width := range widths {
		admin.step(t, width.name+" width", width.set)
		admin.open(t, tapPolicyPage)
		admin.waitFor(t, "the policy form", `document.querySelector("#tap-policy-form").checkVisibility()`)

		// Someone else makes passes one-time while Ada changes the default lifetime.
		otherAdmin(`{"isUsableOnce":true,"defaultLength":20}`)
		admin.fill(t, "#tap-default", "240")
		admin.click(t, "#tap-policy-save")
		admin.inView(t, "#tap-conflict-title", "Someone else changed these settings")
		admin.waitText(t, "#tap-conflict-mine", "Default lifetime: 240 minutes")
		admin.waitText(t, "#tap-conflict-mine", "Length: 16 characters")
		admin.waitText(t, "#tap-conflict-current", "Default lifetime: 60 minutes")
		admin.waitText(t, "#tap-conflict-current", "Length: 20 characters")
		admin.waitText(t, "#tap-conflict-current", "One-time use by default: yes")
		if admin.visible(t, "#tap-policy-saved") {
			admin.fail(t, "the page says the refused change was saved")
		}
		if c := stored(); c.DefaultLifetimeInMinutes != 60 || !c.IsUsableOnce || c.DefaultLength != 20 {
			t.Fatalf("stored policy after the refused save = %+v, want the other admin's change only", c)
		}
		if width.name == "desktop" {
			admin.screenshot(t, "admin-tap-policy-conflict")
		}

		// Load the saved settings: the form shows the other admin's change.
		admin.click(t, "#tap-conflict-load-current")
		admin.waitFor(t, "the saved settings", `!document.querySelector("#tap-conflict").checkVisibility() &&
			document.querySelector("#tap-length").value === "20" && document.querySelector("#tap-once").checked &&
			document.querySelector("#tap-default").value === "60"`)

		// Again, and this time Ada keeps her change and saves it over theirs.
		admin.fill(t, "#tap-default", "240")
		otherAdmin(`{"defaultLength":24}`)
		admin.click(t, "#tap-policy-save")
		admin.waitText(t, "#tap-conflict", "Someone else changed these settings")
		admin.click(t, "#tap-conflict-keep-mine")
		admin.waitFor(t, "the conflict to close", `!document.querySelector("#tap-conflict").checkVisibility()`)
		admin.click(t, "#tap-policy-save")
		admin.inView(t, "#tap-policy-saved", "were saved")
		if c := stored(); c.DefaultLifetimeInMinutes != 240 || c.DefaultLength != 20 || !c.IsUsableOnce {
			t.Fatalf("stored policy after keeping her changes = %+v, want her form saved whole over the other change", c)
		}
		otherAdmin(`{"defaultLifetimeInMinutes":60,"isUsableOnce":false,"defaultLength":16}`)
	}
}
