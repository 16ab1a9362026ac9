package webui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// TestBrowserStepUpRegistersAPasskey: Payroll requires Phishing-resistant
// MFA by conditional access. Alex has a password and an authenticator app
// and no passkey, and signed in an hour ago. Opening Payroll, Alex is asked
// for a fresh multi-factor sign-in, then sets up a security key (the
// virtual authenticator) on the step-up page, uses it once, and lands back
// at Payroll with a phishing-resistant sign-in. With self-service passkey
// registration off, Bob in the same place gets a page saying what he needs
// and whom to ask, and no way to register.
func TestBrowserStepUpRegistersAPasskey(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled","isAutomaticUpgradeAllowed":false}`)); err != nil {
		t.Fatal(err)
	}
	withApp := func(upn, name string) string {
		id := k.user(t, upn, name, alexPassword, "")
		if err := k.store.CreateTOTP(ctx, storage.TOTPMethod{UserID: id, Secret: upgradeTOTPSecret, Confirmed: true, CreatedAt: k.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	alexID := withApp(alexUPN, "Alex Wilber")
	bobID := withApp("bob@contoso.example", "Bob Kelly")
	var appID string
	app := relyingParty(t, k.url, func(redirect string) (string, string) {
		web := []string{redirect}
		a, err := k.app.Apps.Create(ctx, "test", oidc.AppInput{DisplayName: ptr("Payroll"), WebRedirectURIs: &web})
		if err != nil {
			t.Fatal(err)
		}
		_, text, err := k.app.Apps.AddPassword(ctx, "test", a.ID, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		appID = a.AppID
		return a.AppID, text
	})
	if _, err := k.app.Access.Create(ctx, authz.CLI(), storage.AccessPolicy, []byte(fmt.Sprintf(`{"displayName":"Payroll needs a passkey",
		"state":"enabled","conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":[%q]}},
		"grantControls":{"authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}`, appID)), conditionalaccess.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium)
	// signedInAnHourAgo gives tb a session from a password and an
	// authenticator-app code, made an hour ago: too old to add a method.
	signedInAnHourAgo := func(tb *tab, userID string) {
		sess := secret.New("kws_")
		then := k.clock.Now().Add(-time.Hour)
		if err := k.store.CreateSession(ctx, storage.Session{ID: secret.HashHex(sess), UserID: userID,
			AuthMethods: []string{"pwd", "otp", "mfa"}, MFAAt: then, CreatedAt: then, LastSeenAt: then,
			ExpiresAt: then.Add(8 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(tb.ctx, network.SetCookie, network.SetCookieParams{Name: session.DefaultCookieName,
			Value: sess, URL: k.url, HTTPOnly: ptr(true)}); err != nil {
			t.Fatalf("set the session cookie: %v", err)
		}
	}

	t.Run("fresh_sign_in_then_register_then_back_to_the_app", func(t *testing.T) {
		alex := b.newTab(t, "alex", k.url, webauthn.AuthenticatorTransportUsb)
		signedInAnHourAgo(alex, alexID)
		alex.step(t, "open the app", chromedp.Navigate(app.URL+"/"))
		alex.waitPath(t, "/login/step-up")
		if got := alex.text(t, "#stepup-subtitle"); !strings.Contains(got, "your account has none yet") || !strings.Contains(got, "sign in again") {
			alex.fail(t, "the step-up page says %q", got)
		}
		alex.checkLabels(t)
		alex.click(t, "#stepup-reauth")
		alex.waitPath(t, "/login")
		alex.fill(t, "#username", alexUPN)
		alex.click(t, "#username-next")
		alex.fill(t, "#password", alexPassword)
		alex.click(t, "#password-submit")
		alex.waitFor(t, "the code step", `document.querySelector("#step-totp").checkVisibility()`)
		code, err := totp.GenerateCode(upgradeTOTPSecret, k.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		alex.fill(t, "#totp-code", code)
		alex.click(t, "#totp-submit")

		// Back on the step-up page, now to set up a passkey.
		alex.waitFor(t, "the register step", `document.querySelector("#stepup-register") !== null`)
		if got := alex.text(t, "#stepup-subtitle"); !strings.Contains(got, "Set one up now") {
			alex.fail(t, "the step-up page says %q", got)
		}
		alex.screenshot(t, "step-up-register")
		alex.click(t, "#stepup-register")
		alex.waitText(t, "#stepup-subtitle", "Your passkey is set up")
		creds, err := k.store.ListUserCredentials(ctx, alexID)
		if err != nil || len(creds) != 1 {
			t.Fatalf("Alex's passkeys: %v %+v", err, creds)
		}
		// Registering alone does not satisfy the strength: one sign-in with it does.
		alex.click(t, "#stepup-passkey")
		alex.waitFor(t, "the app's page", `location.origin === `+fmt.Sprintf("%q", app.URL)+` && document.querySelector("#who") !== null`)
		if got := alex.text(t, "#who"); got != "Signed in as Alex Wilber with hwk+user+mfa (phrh)" {
			alex.fail(t, "the app says %q", got)
		}
	})

	t.Run("no_self_service_is_a_clear_block", func(t *testing.T) {
		if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"isSelfServiceRegistrationAllowed":false}`)); err != nil {
			t.Fatal(err)
		}
		bob := b.newTab(t, "bob", k.url, webauthn.AuthenticatorTransportUsb)
		signedInAnHourAgo(bob, bobID)
		bob.step(t, "open the app", chromedp.Navigate(app.URL+"/"))
		bob.waitPath(t, "/login/step-up")
		bob.waitText(t, "#message-title", "You need a passkey to continue")
		text := bob.text(t, "main")
		for _, want := range []string{"self-service passkey registration is turned off", "Ask an administrator"} {
			if !strings.Contains(text, want) {
				bob.fail(t, "the block page does not say %q", want)
			}
		}
		if bob.visible(t, "#stepup-register") || bob.visible(t, "#stepup-reauth") {
			bob.fail(t, "the block page offers to register")
		}
		// The page is a 403, which Chromium logs; that is the answer, not a defect.
		for _, p := range bob.takeProblems() {
			if !strings.Contains(p, "/login/step-up") || !strings.Contains(p, "403") {
				bob.fail(t, "the page logged: %s", p)
			}
		}
		if creds, err := k.store.ListUserCredentials(ctx, bobID); err != nil || len(creds) != 0 {
			t.Fatalf("Bob's passkeys: %v %+v", err, creds)
		}
	})
}

// TestBrowserAdminCenterStepUpRegistersAPasskey: Ada, an authentication
// administrator signed in with a password and an authenticator app a
// moment ago, has no passkey; a policy asks her for Phishing-resistant MFA
// in the admin center. Opening it, she sets up a security key on the
// step-up page, uses it once, and is on the admin page she asked for.
func TestBrowserAdminCenterStepUpRegistersAPasskey(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled","isAutomaticUpgradeAllowed":false}`)); err != nil {
		t.Fatal(err)
	}
	// A global administrator the policy leaves alone keeps the admin center reachable.
	k.user(t, "root@contoso.example", "Root", adminPassword, storage.RoleGlobalAdmin)
	ada := k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleAuthenticationAdmin)
	if err := k.store.CreateTOTP(ctx, storage.TOTPMethod{UserID: ada, Secret: upgradeTOTPSecret, Confirmed: true, CreatedAt: k.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.app.Access.Create(ctx, authz.CLI(), storage.AccessPolicy, []byte(`{"displayName":"Phishing-resistant MFA for Ada",
		"state":"enabled","conditions":{"users":{"includeUsers":["`+ada+`"]},
		"applications":{"includeApplications":["`+access.AppAdmin+`"]}},
		"grantControls":{"authenticationStrength":{"id":"`+access.StrengthPhishingResistant+`"}}}`), conditionalaccess.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium)
	tb := b.newTab(t, "ada", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPasswordAndApp(t, tb, k, adminUPN, adminPassword, "/my/security-info")

	tb.open(t, "/admin/users")
	tb.waitPath(t, "/login/step-up")
	tb.waitFor(t, "the register step", `document.querySelector("#stepup-register") !== null`)
	tb.click(t, "#stepup-register")
	tb.waitText(t, "#stepup-subtitle", "Your passkey is set up")
	tb.click(t, "#stepup-passkey")
	tb.waitPath(t, "/admin/users")
	tb.waitText(t, "main", "root@contoso.example")
}
