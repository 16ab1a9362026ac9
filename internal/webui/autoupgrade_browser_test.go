package webui_test

import (
	"context"
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/storage"
)

const upgradeTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// signInWithPasswordAndApp signs in with a password and an authenticator
// app code, and waits for the page it should land on.
func signInWithPasswordAndApp(t *testing.T, tb *tab, k *keyward, upn, password, landing string) {
	t.Helper()
	tb.open(t, "/login")
	tb.fill(t, "#username", upn)
	tb.click(t, "#username-next")
	tb.fill(t, "#password", password)
	tb.click(t, "#password-submit")
	tb.waitFor(t, "the code step", `document.querySelector("#step-totp").checkVisibility()`)
	code, err := totp.GenerateCode(upgradeTOTPSecret, k.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tb.fill(t, "#totp-code", code)
	tb.click(t, "#totp-submit")
	tb.waitPath(t, landing)
}

// createSpy records the mediation of each navigator.credentials.create call
// in sessionStorage, before any page script runs. Chromium's virtual
// authenticator reports conditionalCreate in getClientCapabilities() but
// never answers a create with mediation "conditional" (it stays pending:
// the password manager it would need is not emulated), so the spy hands
// such a call on without the mediation, and the virtual authenticator
// answers it as a password manager that creates the passkey would.
func createSpy(t *testing.T, tb *tab) {
	t.Helper()
	js := `(() => {
		const real = navigator.credentials.create.bind(navigator.credentials);
		navigator.credentials.create = (o) => {
			const calls = JSON.parse(sessionStorage.getItem("creates") || "[]");
			calls.push((o && o.mediation) || "");
			sessionStorage.setItem("creates", JSON.stringify(calls));
			if (o && o.mediation === "conditional") {
				const { mediation, ...rest } = o;
				return real(rest);
			}
			return real(o);
		};
	})();`
	if _, err := chromedp.Call(tb.ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		t.Fatalf("install the create spy: %v", err)
	}
}

// takeCreates returns the recorded create calls as JSON, and forgets them.
func takeCreates(t *testing.T, tb *tab) string {
	t.Helper()
	raw, err := tb.evalErr(`(() => { const s = sessionStorage.getItem("creates") || "[]"; sessionStorage.removeItem("creates"); return s; })()`)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// After a password + authenticator app sign-in, a user in scope with no
// passkey gets one the browser creates without asking (conditional
// create), and My security info says so; with the policy's switch off, or
// for a user outside the policy, nothing is asked and nothing is created.
func TestBrowserAutomaticUpgrade(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}
	const password = "correct horse battery staple"
	withApp := func(upn, name string) string {
		id := k.user(t, upn, name, password, "")
		if err := k.store.CreateTOTP(ctx, storage.TOTPMethod{UserID: id, Secret: upgradeTOTPSecret, Confirmed: true, CreatedAt: k.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	passkeys := func(id string) []storage.Credential {
		creds, err := k.store.ListUserCredentials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return creds
	}
	b := startBrowser(t, chromium)

	t.Run("in_scope_gets_a_passkey", func(t *testing.T) {
		alice := withApp("alice@contoso.example", "Alice")
		tb := b.newTab(t, "alice", k.url, webauthn.AuthenticatorTransportInternal)
		createSpy(t, tb)
		signInWithPasswordAndApp(t, tb, k, "alice@contoso.example", password, "/my/security-info")
		if got := takeCreates(t, tb); got != `["conditional"]` {
			t.Fatalf("navigator.credentials.create calls (mediation): %s", got)
		}
		tb.waitText(t, "#page-notice", "created a passkey for you")
		tb.waitText(t, "#methods-table", "Created automatically by your browser or password manager")
		creds := passkeys(alice)
		if len(creds) != 1 || !creds[0].Automatic {
			t.Fatalf("stored passkeys %+v", creds)
		}
		tb.screenshot(t, "security-info-automatic-passkey")
	})
	t.Run("switch_off_asks_nothing", func(t *testing.T) {
		if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"isAutomaticUpgradeAllowed":false}`)); err != nil {
			t.Fatal(err)
		}
		bob := withApp("bob@contoso.example", "Bob")
		tb := b.newTab(t, "bob", k.url, webauthn.AuthenticatorTransportInternal)
		createSpy(t, tb)
		signInWithPasswordAndApp(t, tb, k, "bob@contoso.example", password, "/my/security-info")
		tb.waitText(t, "#methods-table", "Authenticator app")
		if n := len(passkeys(bob)); n != 0 {
			t.Fatalf("%d passkeys created with the switch off", n)
		}
		if got := takeCreates(t, tb); got != `[]` {
			t.Fatalf("navigator.credentials.create called with the switch off: %s", got)
		}
		if tb.visible(t, "#page-notice") {
			t.Fatalf("a notice with the switch off: %q", tb.text(t, "#page-notice"))
		}
	})
	t.Run("out_of_scope_asks_nothing", func(t *testing.T) {
		if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"isAutomaticUpgradeAllowed":true}`)); err != nil {
			t.Fatal(err)
		}
		carol := withApp("carol@contoso.example", "Carol")
		contractors, err := k.app.Directory.CreateGroup(ctx, authz.CLI(), directory.GroupInput{DisplayName: ptr("Contractors")})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.app.Directory.AddMember(ctx, authz.CLI(), contractors.ID, carol); err != nil {
			t.Fatal(err)
		}
		if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"excludeTargets":[{"targetType":"group","id":"`+contractors.ID+`"}]}`)); err != nil {
			t.Fatal(err)
		}
		tb := b.newTab(t, "carol", k.url, webauthn.AuthenticatorTransportInternal)
		createSpy(t, tb)
		signInWithPasswordAndApp(t, tb, k, "carol@contoso.example", password, "/my/security-info")
		tb.waitText(t, "#methods-table", "Authenticator app")
		if got := takeCreates(t, tb); got != `[]` {
			t.Fatalf("navigator.credentials.create called out of scope: %s", got)
		}
		if n := len(passkeys(carol)); n != 0 {
			t.Fatalf("%d passkeys created out of scope", n)
		}
	})
}
