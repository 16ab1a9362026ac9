package webui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/signin"
)

// TestBrowserLastWorkingPasskey: Erin has two passkeys, one of a model the
// organisation now blocks, and no password. Signed in with a one-time
// Temporary Access Pass (spent by that sign-in), she tries to delete the key
// that works: My security info refuses, says why — naming the blocked key
// and the reason it cannot sign in — and keeps the key.
func TestBrowserLastWorkingPasskey(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled","passkeyProfiles":[{"id":"default",`+
		`"keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["`+soloAAGUID+`"]}}]}`)); err != nil {
		t.Fatal(err)
	}
	const upn = "erin@contoso.example"
	erin := k.user(t, upn, "Erin Example", "", "")
	working := k.key(t, erin, virtualAAGUID, virtualModel)
	k.key(t, erin, soloAAGUID, soloModel)
	u, err := k.store.GetUser(ctx, erin)
	if err != nil {
		t.Fatal(err)
	}
	once := true
	pass, err := k.app.SignIn.IssueTAP(ctx, authz.CLI(), u, signin.TAPRequest{IsUsableOnce: &once})
	if err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, chromium)
	tb := b.newTab(t, "erin", k.url, webauthn.AuthenticatorTransportUsb)
	tb.open(t, "/login")
	tb.click(t, `#step-username [data-action="show-tap"]`)
	tb.fill(t, "#tap-username", upn)
	tb.fill(t, "#tap-code", pass.Pass)
	tb.click(t, "#tap-submit")
	tb.waitPath(t, "/my/security-info")
	tb.waitFor(t, "the key choice a pass opens", `document.querySelector("#add-passkey-kind").checkVisibility()`)
	tb.click(t, `#add-passkey-kind [data-action="cancel-add"]`)

	tb.click(t, `button[aria-label="Delete `+working.DisplayName+`"]`)
	tb.waitFor(t, "the confirmation", `document.querySelector("#confirm-dialog").open`)
	tb.click(t, "#confirm-ok")
	tb.waitText(t, "#page-notice", "This passkey is the only way you can sign in, so it cannot be removed")
	tb.waitText(t, "#page-notice", `"`+soloModel+`" cannot sign in (your organisation no longer accepts this key model, `+soloModel)
	if role, _ := tb.evalErr(`document.querySelector("#page-notice").getAttribute("role")`); role != "alert" {
		tb.fail(t, "the refusal is not announced (role %q)", role)
	}
	tb.waitText(t, "#methods-table", working.DisplayName) // still there
	tb.screenshot(t, "security-info-last-working-key")
	creds, err := k.store.ListUserCredentials(ctx, erin)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 2 {
		t.Fatalf("passkeys left = %d, want both", len(creds))
	}
	// Chromium logs the refused request (409) itself; that is the answer.
	for _, p := range tb.takeProblems() {
		if !strings.Contains(p, "409") {
			tb.fail(t, "the page logged: %s", p)
		}
	}
}
