package webui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// inView waits until the element at sel shows want and its bounding box
// lies wholly inside the viewport and below the sticky header, and checks
// that it (or its container) is announced as a status or an alert.
func (tb *tab) inView(t *testing.T, sel, want string) {
	t.Helper()
	tb.waitText(t, sel, want)
	cond := fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		const r = e.getBoundingClientRect();
		const header = document.querySelector(".site-header").getBoundingClientRect().bottom;
		return r.top >= header - 1 && r.bottom <= window.innerHeight + 1 && r.height > 0; // a pixel for rounding
	})()`, sel)
	if ok, err := tb.evalErr(fmt.Sprintf(`String(%s)`, cond)); err != nil || ok != "true" {
		box, _ := tb.evalErr(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
			return "top " + r.top + ", bottom " + r.bottom + "; header ends at " + document.querySelector(".site-header").getBoundingClientRect().bottom + ", viewport " + innerHeight; })()`, sel))
		tb.fail(t, "%s is not visible without scrolling (%s, %v)", sel, box, err)
	}
	if role, _ := tb.evalErr(fmt.Sprintf(`(document.querySelector(%q).closest('[role="status"], [role="alert"]') || {getAttribute: () => ""}).getAttribute("role")`, sel)); role == "" {
		tb.fail(t, "%s is not announced: neither it nor a container has role status or alert", sel)
	}
}

// messagesInView is journey 7: on the Passkey (FIDO2) page every save
// confirmation and error is visible without scrolling, beside what caused
// it, at desktop and phone width; errors name the field by its label; the
// model picker adds a model by its name.
func messagesInView(t *testing.T, admin *tab) {
	defer admin.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	for _, width := range []struct {
		name string
		set  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)},
	} {
		admin.step(t, width.name+" width", width.set)
		admin.open(t, fido2Page)
		admin.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)
		admin.click(t, "#tab-configure")
		admin.waitFor(t, "the key restrictions", `document.querySelector("#p0-model").checkVisibility()`)

		// A pasted non-AAGUID: the error sits under the field.
		admin.fill(t, "#p0-aaguid", "hello")
		admin.click(t, `#profiles [data-action="add-aaguid"]`)
		admin.inView(t, "#p0-aaguid-error", "“hello” is not an AAGUID")

		// The picker: a model by its name, no AAGUID typed.
		admin.fill(t, "#p0-model", "Google Password Manager")
		admin.click(t, `#profiles [data-action="add-model"]`)
		admin.waitText(t, `.aaguid-list li[data-aaguid="ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"]`, "Google Password Manager")
		admin.fill(t, "#p0-model", "No Such Key 9000")
		admin.click(t, `#profiles [data-action="add-model"]`)
		admin.inView(t, "#p0-model-error", "No known key model is called “No Such Key 9000”")

		// Saved: the confirmation is beside the Save button, in view.
		admin.click(t, "#policy-save")
		admin.inView(t, "#policy-saved", "were saved")

		// An allow list with nothing on it: the API's error, under the list,
		// by the field's label rather than its JSON path.
		if _, err := admin.evalErr(`(() => { let b; while ((b = document.querySelector("#profiles .aaguid-list li button"))) b.click(); return "" })()`); err != nil {
			admin.fail(t, "empty the list: %v", err)
		}
		admin.click(t, "#p0-allow")
		admin.click(t, "#policy-save")
		admin.inView(t, "#p0-aaguid-error", "Key restrictions: an enforced allow list must name at least one AAGUID")
		if txt := admin.text(t, "#p0-aaguid-error"); strings.Contains(txt, "passkeyProfiles") || strings.Contains(txt, "keyRestrictions.") {
			admin.fail(t, "the page shows a JSON path: %q", txt)
		}
		if admin.visible(t, "#policy-save-error") {
			admin.fail(t, "the problem is shown twice, beside the field and beside Save")
		}
		if width.name == "desktop" {
			admin.screenshot(t, "admin-passkey-policy-field-error")
		}
		admin.click(t, "#policy-discard")
	}
}

// changePassword: Alex, just signed in with password and app code, changes
// the password on My security info; a wrong current password is refused
// beside that field, the confirmation is beside the button, both in view, at
// desktop and phone width.
func changePassword(t *testing.T, alex *tab) {
	t.Helper()
	defer alex.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	pw := alexPassword
	for i, width := range []struct {
		name string
		set  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)},
	} {
		alex.step(t, width.name+" width", width.set)
		alex.open(t, "/my/security-info")
		alex.waitFor(t, "the password form", `document.querySelector("#password-change-form").checkVisibility()`)
		alex.waitFor(t, "Rename and Delete kept apart", `(() => { const b = Array.from(document.querySelectorAll("#methods-table td.actions"))
			.map((td) => td.querySelectorAll("button")).find((bs) => bs.length > 1);
			return !!b && b[1].getBoundingClientRect().left - b[0].getBoundingClientRect().right >= 8; })()`)
		next := fmt.Sprintf("alex's newer passphrase %d", i)
		alex.fill(t, "#current-password", "not the password")
		alex.fill(t, "#new-password", next)
		alex.fill(t, "#new-password2", next)
		alex.click(t, "#password-change-submit")
		alex.inView(t, "#current-password-error", "The current password is not right")
		alex.fill(t, "#new-password2", "something else entirely")
		alex.fill(t, "#current-password", pw)
		alex.click(t, "#password-change-submit")
		alex.inView(t, "#new-password2-error", "The two new passwords are not the same")
		alex.fill(t, "#new-password2", next)
		alex.click(t, "#password-change-submit")
		alex.inView(t, "#password-changed", "Your password was changed")
		if alex.visible(t, "#current-password-error") || alex.visible(t, "#new-password2-error") {
			alex.fail(t, "an old error stays beside a field after the change")
		}
		pw = next
		if width.name == "desktop" {
			alex.screenshot(t, "security-info-password-changed")
		}
	}
}

// layoutFaults checks the layout faults the first-hour review found, by
// geometry at desktop and phone width.
func layoutFaults(t *testing.T, admin *tab, k *keyward) {
	t.Helper()
	defer admin.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	check := func(what, js string) {
		t.Helper()
		if got, err := admin.evalErr(js); err != nil || got != "ok" {
			admin.fail(t, "%s: %s %v", what, got, err)
		}
	}
	for _, width := range []struct {
		name string
		set  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)},
	} {
		admin.step(t, width.name+" width", width.set)

		admin.open(t, "/admin/users/"+k.userID(t, danaUPN))
		admin.waitText(t, "#keys-table", "Dana's laptop")
		check("the AAGUID is on one line", `(() => { const e = document.querySelector("#keys-table .aaguid");
			const lines = e.getClientRects().length, r = e.getBoundingClientRect();
			return lines === 1 && r.height < 24 ? "ok" : "lines " + lines + ", height " + r.height; })()`)
		check("the methods table fits, its Delete buttons in view", `(() => { const w = document.querySelector("#keys"), b = document.querySelector("#keys-table td.actions button").getBoundingClientRect();
			return w.scrollWidth <= w.clientWidth && b.right <= innerWidth ? "ok" : "table " + w.scrollWidth + "px in " + w.clientWidth + "px; Delete ends at " + b.right; })()`)
		check("the Enabled badge sits by the name", `(() => { const b = document.querySelector("#user-badges .badge").getBoundingClientRect();
			const t = document.querySelector("#user-title").getBoundingClientRect();
			return b.left - t.left < 40 && b.top >= t.bottom ? "ok" : "badge at " + b.left + "," + b.top + "; title at " + t.left + "," + t.bottom; })()`)
		check("the pass's start time has room for a date and a time, and looks like the other fields", `(() => { const r = document.querySelector("#tap-start").getBoundingClientRect();
			const l = document.querySelector("#tap-lifetime").getBoundingClientRect();
			return r.width >= 240 && Math.abs(r.height - l.height) <= 2 ? "ok" : "the field is " + r.width + "×" + r.height + "px, the lifetime " + l.height + "px high"; })()`)
		if width.name == "desktop" {
			check("Register a security key is at the right of the description", `(() => { const b = document.querySelector("#provision-open").getBoundingClientRect();
				const d = document.querySelector("#keys-title").parentElement.getBoundingClientRect();
				return b.left >= d.right && b.top < d.bottom ? "ok" : "button at " + b.left + "," + b.top + "; text box right " + d.right + ", bottom " + d.bottom; })()`)
		}

		admin.open(t, "/admin/users")
		admin.waitFor(t, "the user list", `!!document.querySelector("#users-table tbody tr")`)
		check("the admin role column is shown", `(() => { const th = document.querySelector("#users-table th:nth-child(3)");
			return th && th.checkVisibility() && th.textContent.includes("Admin role") ? "ok" : "hidden"; })()`)
		check("the whole user table fits, without scrolling sideways", `(() => { const w = document.querySelector("#users"), th = document.querySelector("#users-table th:nth-child(3)").getBoundingClientRect();
			return w.scrollWidth <= w.clientWidth && th.right <= innerWidth ? "ok" : "table " + w.scrollWidth + "px in " + w.clientWidth + "px; the role column ends at " + th.right; })()`)
		check("the search placeholder fits", `(() => { const i = document.querySelector("#user-search"), s = getComputedStyle(i);
			const c = document.createElement("canvas").getContext("2d"); c.font = s.font;
			const room = i.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
			const need = c.measureText(i.placeholder).width;
			return need <= room ? "ok" : "placeholder needs " + need + "px, has " + room; })()`)

		admin.open(t, fido2Page)
		admin.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)
		check("Add group is off when every group is listed", `(() => { const groups = document.querySelectorAll("#include-group-select option[value]:not([value=''])").length;
			const add = document.querySelector("#include-group-add");
			return groups === 0 && add.disabled && document.querySelector("#include-group-select").disabled ? "ok" : "groups left " + groups + ", disabled " + add.disabled; })()`)
		check("the radio buttons keep apart from the list", `(() => { const f = document.querySelector("#include-groups").closest("fieldset").getBoundingClientRect();
			const l = document.querySelector("#include-list").getBoundingClientRect();
			return l.top - f.bottom >= 8 ? "ok" : "gap " + (l.top - f.bottom); })()`)
	}
}
