package webui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/storage"
)

// TestBrowserDistrustedModels: the administrator's Distrusted models page
// says no passkey is affected; a new MDS blob revokes the model of Ann's
// key; the page then lists Ann with her key, its model and why, and leaves
// Bob (another model) out — at desktop and phone width, with no console
// error on the way.
func TestBrowserDistrustedModels(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	ann := k.user(t, "ann@contoso.example", "Ann Example", "", "")
	bob := k.user(t, "bob@contoso.example", "Bob Example", "", "")
	annKey := k.key(t, ann, virtualAAGUID, virtualModel)
	k.key(t, bob, soloAAGUID, soloModel)
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/reports/distrusted-models")
	admin.waitText(t, "#distrusted-none", "No registered passkey is of a model the FIDO Metadata Service distrusts.")

	// The FIDO Alliance revokes the model of Ann's key.
	blob, err := k.pki.Sign(mdstest.Payload{Number: 2, NextUpdate: k.clock.Now().Add(30 * 24 * time.Hour),
		Entries: []mdstest.EntryOptions{{AAGUID: virtualAAGUID, Description: virtualModel, Statuses: []string{"FIDO_CERTIFIED_L1", "REVOKED"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.app.MDS.Import(ctx, blob, "test"); err != nil {
		t.Fatalf("import the revoking blob: %v", err)
	}

	admin.open(t, "/admin/reports/distrusted-models")
	admin.waitFor(t, "one affected passkey", `document.querySelectorAll("#distrusted-table tbody tr").length === 1`)
	admin.waitText(t, "#distrusted-summary", "1 passkey of 1 user")
	for _, want := range []string{"Ann Example", "ann@contoso.example", annKey.DisplayName, virtualModel, "REVOKED"} {
		admin.waitText(t, "#distrusted-table", want)
	}
	if txt := admin.text(t, "#distrusted-table"); strings.Contains(txt, "bob@contoso.example") {
		admin.fail(t, "Bob's key, of a model MDS does not distrust, is listed: %q", txt)
	}
	// The user's name leads to their page, where the key can be removed.
	admin.waitFor(t, "the link to Ann's page", `document.querySelector("#distrusted-table a").getAttribute("href") === "/admin/users/`+ann+`"`)
	if admin.visible(t, "#distrusted-table .show-sm") {
		admin.fail(t, "at desktop width the reason is shown twice")
	}
	admin.screenshot(t, "admin-distrusted-models")
	// At phone width the reason is under the key, in view without scrolling sideways.
	defer admin.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	admin.step(t, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	admin.waitFor(t, "the reason under the key, within the screen's width", `(() => {
		const e = document.querySelector("#distrusted-table .show-sm"), r = e.getBoundingClientRect();
		return e.checkVisibility() && r.right <= innerWidth + 1 && e.textContent.includes("as REVOKED"); })()`)
}
