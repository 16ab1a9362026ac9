package webui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

// TestBrowserPasskeyPolicyLivePreview: on the passkey-policy page, an
// administrator restricts the allow list to one of the two key models in
// use; before Save, the impact preview beside the editor names the person
// and the key it would cut off, the emergency account among them, and the
// stored policy has not changed. Save then saves it as before.
func TestBrowserPasskeyPolicyLivePreview(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	annID := k.user(t, "ann@contoso.example", "Ann Lee", "", "")
	eveID := k.user(t, "eve@contoso.example", "Eve Break-Glass", "", "")
	if _, err := k.store.UpdateUser(ctx, eveID, func(u storage.User) (storage.User, error) {
		u.IsEmergencyAccess = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	k.key(t, annID, yubiAAGUID, yubiModel)
	k.key(t, eveID, soloAAGUID, soloModel)
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}
	before, err := k.app.Policies.Fido2(ctx)
	if err != nil {
		t.Fatal(err)
	}

	admin := openPolicyEditor(t, chromium, k)
	// The saved policy, previewed on load, cuts nobody off.
	admin.waitText(t, "#impact-summary", "0 people would lose passkey sign-in, 0 keys would stop working")
	if live, _ := admin.evalErr(`document.querySelector("#impact-live").getAttribute("aria-live")`); live != "polite" {
		admin.fail(t, "the preview region is aria-live=%q, want polite", live)
	}

	admin.click(t, "#tab-configure")
	admin.click(t, "#p0-restrict")
	admin.click(t, "#p0-allow")
	// An enforced allow list with no AAGUID is refused: the preview says so
	// instead of showing the last result as if it were current.
	admin.waitText(t, "#impact-error", "could not be worked out")
	if admin.visible(t, "#impact-result") {
		admin.fail(t, "a failed preview still shows the previous result")
	}
	admin.fill(t, "#p0-aaguid", yubiAAGUID)
	admin.click(t, `[data-action="add-aaguid"]`)

	admin.waitText(t, "#impact-summary", "1 person would lose passkey sign-in, 1 key would stop working, and 1 person in scope would hold no acceptable key")
	admin.waitText(t, "#impact-privileged", "eve@contoso.example (emergency access)")
	admin.waitText(t, "#impact-users-list", "eve@contoso.example")
	admin.waitText(t, "#impact-users-list", soloModel)
	admin.waitText(t, "#impact-keys-list", soloModel)
	admin.waitText(t, "#impact-models-table", soloAAGUID)
	admin.waitText(t, "#impact-no-key-list", "Eve Break-Glass")
	if admin.visible(t, "#impact-error") {
		admin.fail(t, "the earlier error is still shown beside a current preview")
	}
	if txt := admin.text(t, "#impact"); containsAll(txt, "ann@contoso.example") {
		admin.fail(t, "the preview names ann, whose model stays allowed: %s", txt)
	}
	admin.screenshot(t, "admin-passkey-policy-preview")
	// Beside the editor on a desktop, below it at 390 px.
	if side, _ := admin.evalErr(`String(document.querySelector("#impact").getBoundingClientRect().left > document.querySelector("#policy-form").getBoundingClientRect().right - 1)`); side != "true" {
		admin.fail(t, "the preview is not beside the editor at desktop width")
	}
	admin.step(t, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	below, _ := admin.evalErr(`String(document.querySelector("#impact").getBoundingClientRect().top >= document.querySelector("#policy-form").getBoundingClientRect().bottom)`)
	admin.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	if below != "true" {
		admin.fail(t, "the preview is not below the editor at 390 px")
	}

	// Nothing is stored before Save.
	now, err := k.app.Policies.Fido2(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", now) != fmt.Sprintf("%+v", before) {
		t.Fatalf("the policy changed before Save:\nbefore %+v\nnow    %+v", before, now)
	}

	admin.click(t, "#policy-save")
	// The emergency account would be locked out: confirming saves anyway, as before.
	admin.waitFor(t, "the confirmation", `document.querySelector("#confirm-dialog").open`)
	admin.waitText(t, "#confirm-title", "locks out privileged accounts")
	admin.click(t, "#confirm-ok")
	admin.waitText(t, "#policy-saved", "were saved")
	after, err := k.app.Policies.Fido2(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kr := after.PasskeyProfiles[0].KeyRestrictions
	if !kr.IsEnforced || kr.EnforcementType != "allow" || len(kr.AAGUIDs) != 1 || kr.AAGUIDs[0] != yubiAAGUID {
		t.Fatalf("saved key restrictions %+v", kr)
	}
	// Saved, the form is the policy: the preview has nothing left to change.
	admin.waitText(t, "#impact-summary", "0 people would lose passkey sign-in, 0 keys would stop working")

	// The latest answer wins: a preview of a block list, held back by the
	// network until after the next change's answer, is not shown when it
	// arrives late.
	if _, err := admin.evalErr(`(() => {
		const real = window.fetch;
		window.slow = { started: false, done: false };
		window.fetch = (url, init) => {
			if (!String(url).endsWith("/fido2/preview") || !String(init && init.body).includes('"enforcementType":"block"')) return real(url, init);
			window.slow.started = true;
			return real(url, init).then((res) => new Promise((ok) => setTimeout(() => { window.slow.done = true; ok(res); }, 2000)));
		};
		return "";
	})()`); err != nil {
		t.Fatal(err)
	}
	admin.click(t, "#p0-block")
	admin.waitFor(t, "the block list's preview to be asked", `window.slow.started`)
	admin.waitText(t, "#impact-status", "Updating the preview")
	admin.click(t, "#p0-allow")
	admin.waitText(t, "#impact-summary", "0 people would lose passkey sign-in")
	admin.waitFor(t, "the block list's late answer", `window.slow.done`)
	time.Sleep(300 * time.Millisecond) // for the page to handle it
	if txt := admin.text(t, "#impact-summary"); !strings.HasPrefix(txt, "0 people") {
		admin.fail(t, "a late answer for an earlier form replaced the current one: %q", txt)
	}

	// Typing asks once the typing pauses, not once a keystroke.
	const count = `String(performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/fido2/preview")).length)`
	n0, _ := admin.evalErr(count)
	name := "Security keys of the staff"
	admin.fill(t, "#p0-name", name)
	admin.waitFor(t, "the preview of the renamed profile", `document.querySelector("#impact-live").getAttribute("aria-busy") === "false"`)
	time.Sleep(400 * time.Millisecond) // longer than the page waits after the last change
	n1, _ := admin.evalErr(count)
	var c0, c1 int
	_, _ = fmt.Sscan(n0, &c0)
	_, _ = fmt.Sscan(n1, &c1)
	t.Logf("typing a %d-character name asked for %d previews", len(name), c1-c0)
	if asked := c1 - c0; asked < 1 || asked > len(name)/4 {
		admin.fail(t, "typing a %d-character name asked for %d previews", len(name), asked)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// TestBrowserPreviewReadsOnPastTheFirstPage: a proposal that cuts off more
// people than one answer lists shows the first 100 with "… and N more" and a
// button that reads the next page of the same proposal into the list, until
// everyone is listed.
func TestBrowserPreviewReadsOnPastTheFirstPage(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	const people = 130
	for i := range people {
		k.key(t, k.user(t, fmt.Sprintf("p%03d@contoso.example", i), fmt.Sprintf("Person %03d", i), "", ""), soloAAGUID, soloModel)
	}
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}

	admin := openPolicyEditor(t, chromium, k)
	admin.click(t, "#tab-configure")
	admin.click(t, "#p0-restrict")
	admin.click(t, "#p0-allow")
	admin.fill(t, "#p0-aaguid", yubiAAGUID)
	admin.click(t, `[data-action="add-aaguid"]`)

	admin.waitText(t, "#impact-summary", fmt.Sprintf("%d people would lose passkey sign-in, %d keys would stop working", people, people))
	const listed = `String(document.querySelectorAll("#impact-users-list > li").length)`
	if n, _ := admin.evalErr(listed); n != "100" {
		admin.fail(t, "the first page lists %s people, want 100", n)
	}
	admin.waitText(t, "#impact-users-list-more", fmt.Sprintf("… and %d more.", people-100))
	admin.waitText(t, "#impact-users-list-more-next", fmt.Sprintf("Show %d more", people-100))
	admin.click(t, "#impact-users-list-more-next")
	admin.waitFor(t, "the second page in the list", `document.querySelectorAll("#impact-users-list > li").length === `+fmt.Sprint(people))
	if admin.visible(t, "#impact-users-list-more") {
		admin.fail(t, "the list still says there are more after the last page")
	}
	txt := admin.text(t, "#impact-users-list")
	for _, who := range []string{"p000@contoso.example", "p099@contoso.example", "p100@contoso.example", fmt.Sprintf("p%03d@contoso.example", people-1)} {
		if !strings.Contains(txt, who) {
			admin.fail(t, "the list read to the end does not name %s", who)
		}
	}
	if strings.Count(txt, "p100@contoso.example") != 1 {
		admin.fail(t, "the second page repeats the first page's last person or lists someone twice")
	}
	// The keys' list reads on the same way, with the same proposal.
	admin.click(t, "#impact-keys-list-more-next")
	admin.waitFor(t, "the keys' second page", `document.querySelectorAll("#impact-keys-list > li").length === `+fmt.Sprint(people))
}

// openPolicyEditor signs the global administrator in, in a browser of its
// own, and opens the passkey-policy page.
func openPolicyEditor(t *testing.T, chromium string, k *keyward) *tab {
	t.Helper()
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, fido2Page)
	admin.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)
	return admin
}
