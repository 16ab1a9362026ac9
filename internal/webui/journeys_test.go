package webui_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

const (
	adminUPN      = "ada@contoso.example"
	adminPassword = "correct horse battery staple"
	alexUPN       = "alex@contoso.example"
	alexPassword  = "alex's long passphrase 42"
	chrisUPN      = "chris@contoso.example"
	chrisPassword = "chris's long passphrase 42"
	danaUPN       = "dana@contoso.example"
	pilotGroup    = "Passkey pilots"
	fido2Page     = "/admin/authentication-methods/fido2"
)

// TestBrowserJourneys drives the pages in Chromium with its virtual
// authenticator, as an administrator and users would, asserting what the
// pages show. The journeys build on each other, so a failure stops the rest.
func TestBrowserJourneys(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	k.user(t, alexUPN, "Alex Wilber", alexPassword, "")
	chrisID := k.user(t, chrisUPN, "Chris Green", chrisPassword, "")
	k.plantPasskey(t, chrisID) // so only the policy can hide the passkey option from Chris

	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	alex := b.newTab(t, "alex", k.url, webauthn.AuthenticatorTransportUsb)
	var totpSecret string

	journeys := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"1_admin_enables_passkeys_for_a_group_with_an_allow_list", func(t *testing.T) {
			// A page that needs sign-in comes back after it.
			admin.open(t, "/admin/groups")
			admin.waitPath(t, "/login")
			signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
			secondFactorForTheAdminCenter(t, admin, k, "/admin/groups")
			createGroupWithMember(t, admin, pilotGroup, alexUPN)
			enablePasskeysForGroup(t, admin, k)
		}},
		{"2_user_sets_up_an_authenticator_app_then_a_usb_security_key", func(t *testing.T) {
			totpSecret = addAppThenKey(t, alex, k)
		}},
		{"3_user_signs_in_with_the_key_with_and_without_username", func(t *testing.T) {
			signInWithKey(t, alex)
		}},
		{"5_the_credential_is_useless_on_another_origin", func(t *testing.T) {
			otherOrigin(t, alex, k)
		}},
		{"6_new_user_signs_in_with_a_temporary_access_pass_and_registers_a_passkey", func(t *testing.T) {
			tapOnboarding(t, b, admin, k)
		}},
		{"4_blocked_key_model_is_refused_and_users_outside_the_group_see_no_passkey", func(t *testing.T) {
			blockTheKey(t, b, admin, alex, k, totpSecret)
		}},
		{"7_messages_are_in_view_beside_their_cause_and_models_are_picked_by_name", func(t *testing.T) {
			messagesInView(t, admin)
			layoutFaults(t, admin, k)
		}},
		{"8_temporary_access_pass_settings_and_a_scheduled_pass", func(t *testing.T) {
			tapPolicySettings(t, admin)
			tapStartTime(t, admin, chrisID)
		}},
	}
	for _, j := range journeys {
		if !t.Run(j.name, j.run) {
			return
		}
	}
}

// TestBrowserSetup is the first run: the setup link creates the first global
// administrator, who (with "Turn on passkeys" left checked) adds a passkey
// at once, or (unchecked) is led to the policy page first.
func TestBrowserSetup(t *testing.T) {
	chromium := chromiumPath(t)
	b := startBrowser(t, chromium)
	t.Run("passkeys_turned_on_the_admin_adds_a_key_at_once", func(t *testing.T) {
		k := startKeyward(t)
		token := k.setupToken(t)
		tb := b.newTab(t, "setup", k.url, webauthn.AuthenticatorTransportUsb)

		tb.open(t, "/setup?token=nope")
		tb.waitText(t, "#setup-invalid", "This setup link is not valid")

		tb.open(t, "/setup?token="+token)
		tb.waitFor(t, "the setup form", `document.querySelector("#setup-form").checkVisibility()`)
		tb.waitText(t, "#setup-form", "Turn on passkeys (FIDO2) for all users")
		if on, err := tb.evalErr(`String(document.querySelector("#setup-passkeys").checked)`); err != nil || on != "true" {
			tb.fail(t, "the passkeys box is not checked by default (%s, %v)", on, err)
		}
		tb.screenshot(t, "setup")
		tb.fill(t, "#setup-upn", adminUPN)
		tb.fill(t, "#setup-name", "Ada Lovelace")
		tb.fill(t, "#setup-password", "short")
		tb.click(t, "#setup-submit")
		tb.waitText(t, "#setup-error", "at least 8 characters")
		tb.fill(t, "#setup-password", adminPassword)
		tb.fill(t, "#setup-password2", adminPassword)
		tb.click(t, "#setup-submit")

		// Straight to adding a key: passkeys are on and the setup counted
		// as multi-factor, so the key choice opens without a detour.
		tb.waitPath(t, "/my/security-info")
		tb.waitFor(t, "the security key choice", `document.querySelector("#add-passkey-kind").checkVisibility()`)
		tb.waitText(t, "#page-notice", "Your administrator account is ready")
		tb.click(t, "#passkey-create")
		tb.waitFor(t, "the name step", `document.querySelector("#add-passkey-name").checkVisibility()`)
		if v := tb.inputValue(t, "#passkey-name"); v != virtualModel {
			tb.fail(t, "the suggested name is %q, want the MDS model name %q", v, virtualModel)
		}
		tb.fill(t, "#passkey-name", "Ada's desk key")
		tb.click(t, "#passkey-name-save")
		tb.waitText(t, "#methods-table", "Ada's desk key")
		if !tb.visible(t, `a[href="/admin"]`) {
			tb.fail(t, "the global administrator sees no Admin center link")
		}
		p, err := k.app.Policies.Fido2(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.State != "enabled" || len(p.IncludeTargets) != 1 || p.IncludeTargets[0].ID != "all_users" {
			t.Fatalf("policy after setup = %+v, want enabled for all users", p)
		}
		audit, err := k.store.ListAudit(context.Background(), storage.EventFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(audit, func(e storage.AuditEvent) bool {
			return e.Action == "policy.fido2.update" && e.Actor == "user:"+adminUPN
		}) {
			t.Fatalf("no policy change recorded in the admin's name: %+v", audit)
		}

		tb.open(t, "/setup?token="+token)
		tb.waitText(t, "#setup-invalid", "This setup link is not valid")
	})
	t.Run("passkeys_left_off_the_admin_is_led_to_the_policy_page", func(t *testing.T) {
		k := startKeyward(t)
		tb := b.newTab(t, "setup-off", k.url, webauthn.AuthenticatorTransportUsb)
		tb.open(t, "/setup?token="+k.setupToken(t))
		tb.waitFor(t, "the setup form", `document.querySelector("#setup-form").checkVisibility()`)
		tb.fill(t, "#setup-upn", adminUPN)
		tb.fill(t, "#setup-name", "Ada Lovelace")
		tb.fill(t, "#setup-password", adminPassword)
		tb.fill(t, "#setup-password2", adminPassword)
		tb.click(t, "#setup-passkeys")
		tb.click(t, "#setup-submit")
		tb.waitPath(t, "/my/security-info")
		tb.waitText(t, "#page-notice", "Passkeys are turned off")
		tb.waitText(t, "#page-notice", "You can turn them on")
		if txt := tb.text(t, "#page-notice"); strings.Contains(txt, "ask an administrator") || strings.Count(txt, "turned off") != 1 {
			tb.fail(t, "the notice to the only administrator repeats itself or sends them to an administrator: %q", txt)
		}
		tb.click(t, "#enable-passkeys")
		tb.waitPath(t, fido2Page)
		tb.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)
		if on, err := tb.evalErr(`String(document.querySelector("#policy-enabled").checked)`); err != nil || on != "false" {
			tb.fail(t, "passkeys are on although the box was unchecked (%s, %v)", on, err)
		}
	})
}

// setupToken stores a first-run setup link, as `keyward serve` prints it.
func (k *keyward) setupToken(t *testing.T) string {
	t.Helper()
	token := secret.New("kwsetup_")
	now := k.clock.Now()
	if err := k.store.CreateOneTimeToken(context.Background(), storage.OneTimeToken{
		Hash: secret.Hash(token), Purpose: signin.SetupPurpose, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	return token
}

// --- the world ---

func (k *keyward) user(t *testing.T, upn, name, password, role string) string {
	t.Helper()
	in := directory.UserInput{UserPrincipalName: &upn, DisplayName: &name}
	if password != "" {
		in.Password = &password
	}
	if role != "" {
		in.AdminRole = &role
	}
	u, err := k.app.Directory.CreateUser(context.Background(), authz.CLI(), in)
	if err != nil {
		t.Fatalf("create %s: %v", upn, err)
	}
	return u.ID
}

// plantPasskey stores a passkey for a user directly, as if registered
// before the policy left them out.
func (k *keyward) plantPasskey(t *testing.T, userID string) {
	t.Helper()
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	if err := k.store.CreateCredential(context.Background(), storage.Credential{
		ID: uuid.NewString(), UserID: userID, CredentialID: id, PublicKey: []byte{0xa0}, AAGUID: virtualAAGUID,
		DisplayName: "Old key", AttestationFormat: "none", AttestationType: "none", AttestationLevel: "notAttested",
		UserVerified: true, CreatedAt: k.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
}

// --- steps shared by journeys ---

// signInWithPassword signs in on the sign-in page the tab shows (or opens)
// and waits for the page it should land on.
func signInWithPassword(t *testing.T, tb *tab, upn, password, landing string) {
	t.Helper()
	if !strings.Contains(tb.location(), "/login") {
		tb.open(t, "/login")
	}
	tb.fill(t, "#username", upn)
	tb.click(t, "#username-next")
	tb.fill(t, "#password", password)
	tb.click(t, "#password-submit")
	tb.waitPath(t, landing)
}

// secondFactorForTheAdminCenter is an administrator signed in with a
// password alone: the admin center sends them to My security info, which
// says why; they add an authenticator app there, and the admin center opens.
func secondFactorForTheAdminCenter(t *testing.T, admin *tab, k *keyward, adminPage string) {
	t.Helper()
	admin.open(t, adminPage)
	admin.waitPath(t, "/my/security-info")
	admin.waitText(t, "#admin-mfa-notice", "The admin center needs a multi-factor sign-in")
	admin.screenshot(t, "security-info-admin-needs-mfa")
	admin.waitText(t, "#methods-table", "Password")
	admin.click(t, "#add-method")
	admin.choose(t, "#method-choice", "app")
	admin.click(t, `#add-choose [type="submit"]`)
	admin.waitFor(t, "the authenticator app secret", `document.querySelector("#totp-secret").textContent !== ""`)
	code, err := totp.GenerateCode(admin.text(t, "#totp-secret"), k.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin.fill(t, "#totp-verify-code", code)
	admin.click(t, "#totp-verify")
	admin.waitText(t, "#admin-mfa-notice", "now multi-factor")
	admin.open(t, adminPage)
	admin.waitPath(t, adminPage)
}

func signOut(t *testing.T, tb *tab) {
	t.Helper()
	tb.click(t, `[data-action="sign-out"]`)
	tb.waitPath(t, "/login")
	tb.waitFor(t, "the username step", `document.querySelector("#step-username").checkVisibility()`)
}

func createGroupWithMember(t *testing.T, admin *tab, group, member string) {
	t.Helper()
	admin.open(t, "/admin/groups")
	admin.click(t, "#new-group")
	admin.fill(t, "#new-group-name", group)
	admin.fill(t, "#new-group-description", "People trying passkeys first")
	admin.click(t, `#create-group-form [type="submit"]`)
	admin.waitText(t, "#group-title", group)
	admin.fill(t, "#member-search", strings.Split(member, "@")[0])
	sel := fmt.Sprintf(`#member-results button[aria-label="Add %s"]`, member)
	admin.click(t, sel)
	admin.waitText(t, "#members-table", member)
	admin.waitText(t, "#member-count", "1 member")
}

func enablePasskeysForGroup(t *testing.T, admin *tab, k *keyward) {
	t.Helper()
	admin.open(t, "/admin/authentication-methods")
	admin.waitText(t, "#fido2-state", "No")
	admin.click(t, "#fido2-link")
	admin.waitPath(t, fido2Page)
	admin.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)

	// Enable and target: on, for the pilot group only.
	admin.click(t, "#policy-enabled")
	admin.click(t, "#include-groups")
	admin.waitText(t, "#include-list", "No groups yet")
	groupID := k.groupID(t, pilotGroup)
	admin.choose(t, "#include-group-select", groupID)
	admin.click(t, "#include-group-add")
	admin.waitText(t, "#include-list", pilotGroup)

	// Configure: enforce an allow list with the virtual authenticator's
	// model, plus a quick-added provider.
	admin.click(t, "#tab-configure")
	admin.click(t, "#p0-restrict")
	admin.click(t, "#p0-allow")
	admin.fill(t, "#p0-aaguid", "not-an-aaguid")
	admin.click(t, `[data-action="add-aaguid"]`)
	admin.waitText(t, "#p0-aaguid-error", "is not an AAGUID")
	admin.fill(t, "#p0-aaguid", strings.ToUpper(virtualAAGUID))
	admin.click(t, `[data-action="add-aaguid"]`)
	// The server names the model: from the MDS blob, else the built-in list.
	virtualKey := `.aaguid-list li[data-aaguid="` + virtualAAGUID + `"]`
	admin.waitText(t, virtualKey+" .cell-main", virtualModel)
	admin.waitText(t, virtualKey+" .model-source", "FIDO Metadata Service")
	admin.choose(t, "#p0-provider", "0") // Microsoft Authenticator, the first well-known provider
	admin.click(t, `[data-action="add-provider"]`)
	admin.waitText(t, ".aaguid-list", "Microsoft Authenticator (Android)")
	admin.waitText(t, ".aaguid-list", "Microsoft Authenticator (iOS)")
	admin.click(t, "#policy-save")
	admin.waitText(t, "#policy-saved", "were saved")
	admin.screenshot(t, "admin-passkey-policy-configure")
	admin.click(t, "#tab-target")
	admin.screenshot(t, "admin-passkey-policy-target")

	p, err := k.app.Policies.Fido2(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kr := p.PasskeyProfiles[0].KeyRestrictions
	if p.State != "enabled" || len(p.IncludeTargets) != 1 || p.IncludeTargets[0].ID != groupID ||
		!kr.IsEnforced || kr.EnforcementType != "allow" || !slices.Contains(kr.AAGUIDs, virtualAAGUID) || len(kr.AAGUIDs) != 3 {
		t.Fatalf("the saved policy is not what the page set: %+v", p)
	}

	admin.open(t, "/admin/authentication-methods")
	admin.waitText(t, "#fido2-state", "Yes")
	admin.waitText(t, "#fido2-target", pilotGroup)
	admin.screenshot(t, "admin-authentication-methods")
}

func (k *keyward) groupID(t *testing.T, name string) string {
	t.Helper()
	groups, _, err := k.app.Directory.ListGroups(context.Background(), storage.Page{Limit: 100, Prefix: name})
	if err != nil || len(groups) != 1 {
		t.Fatalf("find group %q: %v (%d found)", name, err, len(groups))
	}
	return groups[0].ID
}

// addAppThenKey is journey 2; it returns the authenticator app's secret.
func addAppThenKey(t *testing.T, alex *tab, k *keyward) string {
	t.Helper()
	signInWithPassword(t, alex, alexUPN, alexPassword, "/my/security-info")
	alex.waitText(t, "#methods-summary", "method")
	alex.waitText(t, "#methods-table", "Password")
	alex.click(t, "#add-method")
	alex.choose(t, "#method-choice", "passkey")
	alex.click(t, `#add-choose [type="submit"]`)
	alex.waitText(t, "#add-passkey-mfa", "first set up multi-factor authentication")
	alex.screenshot(t, "security-info-mfa-first")

	alex.click(t, "#mfa-setup-app")
	alex.waitFor(t, "the QR code", `document.querySelector("#totp-qr").complete && document.querySelector("#totp-qr").naturalWidth > 0`)
	secretText := alex.text(t, "#totp-secret")
	if secretText == "" {
		alex.fail(t, "no authenticator app secret is shown")
	}
	alex.fill(t, "#totp-verify-code", "000000")
	alex.click(t, "#totp-verify")
	alex.waitFor(t, "a refusal of the wrong code", `document.querySelector("#add-error").checkVisibility()`)
	code, err := totp.GenerateCode(secretText, k.clock.Now())
	if err != nil {
		t.Fatalf("compute the code from the secret the page shows (%q): %v", secretText, err)
	}
	alex.fill(t, "#totp-verify-code", code)
	alex.click(t, "#totp-verify")

	// Confirming the app was a multi-factor proof: the key set-up goes on.
	alex.waitFor(t, "the security key choice", `document.querySelector("#add-passkey-kind").checkVisibility()`)
	alex.waitText(t, "#methods-table", "Authenticator app")
	alex.screenshot(t, "security-info-choose-key")
	alex.click(t, "#kind-usb")
	alex.click(t, "#passkey-create")
	alex.waitFor(t, "the name step", `document.querySelector("#add-passkey-name").checkVisibility()`)
	if v := alex.inputValue(t, "#passkey-name"); v == "" {
		alex.fail(t, "no name is suggested for the new key")
	}
	alex.fill(t, "#passkey-name", "Alex's USB key")
	alex.click(t, "#passkey-name-save")
	alex.waitText(t, "#methods-table", "Alex's USB key")
	alex.waitText(t, "#methods-table", "Security key (device-bound)")
	alex.screenshot(t, "security-info")
	return secretText
}

func (tb *tab) inputValue(t *testing.T, sel string) string {
	t.Helper()
	v, err := tb.evalErr(fmt.Sprintf(`document.querySelector(%q).value`, sel))
	if err != nil {
		tb.fail(t, "read %s: %v", sel, err)
	}
	return v
}

// signInWithKey is journey 3.
func signInWithKey(t *testing.T, alex *tab) {
	t.Helper()
	signOut(t, alex)
	alex.screenshot(t, "login")
	alex.fill(t, "#username", alexUPN)
	alex.click(t, "#username-next")
	alex.waitText(t, "#passkey-for-user", "Use your face, fingerprint, PIN or security key instead")
	alex.screenshot(t, "login-password-step")
	alex.click(t, "#passkey-for-user")
	alex.waitPath(t, "/my/security-info")
	alex.waitText(t, ".site-user-display", "Alex Wilber")

	signOut(t, alex)
	alex.click(t, "#passkey-discoverable")
	alex.waitPath(t, "/my/security-info")
	alex.waitText(t, ".site-user-display", "Alex Wilber")
	alex.waitText(t, "#methods-table", "Alex's USB key")
	if used := alex.text(t, "#methods-table tr[data-passkey-id] td:nth-child(3)"); used == "Never" || used == "" {
		alex.fail(t, "the key's last use is %q after signing in with it", used)
	}

	// Rename it, cancelling once.
	alex.click(t, `#methods-table button[aria-label="Rename Alex's USB key"]`)
	alex.fill(t, "#rename-input", "Alex's blue key")
	alex.click(t, `#rename-dialog button[value="cancel"]`)
	alex.waitText(t, "#methods-table", "Alex's USB key")
	alex.click(t, `#methods-table button[aria-label="Rename Alex's USB key"]`)
	alex.fill(t, "#rename-input", "Alex's blue key")
	alex.click(t, "#rename-ok")
	alex.waitText(t, "#methods-table", "Alex's blue key")
}

// otherOrigin is journey 5: the same browser on http://127.0.0.1, where the
// key would be refused without a word (WebAuthn binds it to localhost). The
// page load there gets a page that names the right address and links to the
// same page at it; nothing of Keyward's sign-in runs on 127.0.0.1.
func otherOrigin(t *testing.T, alex *tab, k *keyward) {
	t.Helper()
	other := "http://127.0.0.1:" + k.port
	alex.step(t, "open the other origin", chromedp.Navigate(other+"/login"))
	alex.waitFor(t, "the page naming the public URL", `document.querySelector("#public-url") !== null && document.readyState === "complete"`)
	if h := alex.text(t, "h1"); h != "Open Keyward at localhost:"+k.port {
		alex.fail(t, "the heading says %q", h)
	}
	if p := alex.text(t, "main p"); !strings.Contains(p, "127.0.0.1:"+k.port) || !strings.Contains(p, "Passkeys work only there") {
		alex.fail(t, "the page does not say why: %q", p)
	}
	if c := alex.cookies(t, other+"/"); slices.Contains(c, "keyward_session") {
		alex.fail(t, "a session cookie was set for %s: %v", other, c)
	}
	alex.screenshot(t, "wrong-host")
	// The page is a 400, which Chromium logs; that is the answer, not a defect.
	for _, p := range alex.takeProblems() {
		if !strings.Contains(p, other+"/login") || !strings.Contains(p, "400") {
			alex.fail(t, "the page logged: %s", p)
		}
	}
	// The link leads to the same page at the public URL; Alex, signed in
	// there, is taken on from the sign-in page to My security info.
	alex.click(t, "#public-url")
	alex.waitPath(t, "/my/security-info")
	if loc := alex.location(); !strings.HasPrefix(loc, k.url+"/") {
		alex.fail(t, "the link led to %s, want a page of %s", loc, k.url)
	}
}

// tapOnboarding is journey 6: the admin creates Dana, adds her to the pilot
// group and issues a pass; Dana signs in with it and registers a passkey.
func tapOnboarding(t *testing.T, b *browser, admin *tab, k *keyward) {
	t.Helper()
	admin.open(t, "/admin/users")
	admin.waitText(t, "#users-table", alexUPN)
	admin.waitText(t, "#users-table", "Global administrator")
	admin.screenshot(t, "admin-users")
	admin.fill(t, "#user-search", "al")
	admin.waitFor(t, "the search result", `(() => { const t = document.querySelector("#users-table"); return !!t && t.textContent.includes("alex@") && !t.textContent.includes("chris@"); })()`)
	admin.screenshot(t, "admin-users-search")
	admin.fill(t, "#user-search", "")
	admin.click(t, "#new-user")
	admin.fill(t, "#new-upn", danaUPN)
	admin.fill(t, "#new-display-name", "Dana Scully")
	admin.click(t, `#create-user-form [type="submit"]`)
	admin.waitText(t, "#user-title", "Dana Scully")
	// Dana has no password and no method: the page says so, and offers to set one.
	admin.waitText(t, "#keys .empty", "No sign-in methods yet: this user cannot sign in")
	admin.waitText(t, "#password-title", "Set a password")
	admin.waitText(t, "#password-state", "The user has no password.")
	admin.waitText(t, "#user-groups", "Not a member of any group")
	admin.waitText(t, "#passkey-coverage", "None of the user's groups is targeted")

	admin.click(t, "#edit-emergency")
	admin.click(t, `#profile-form [type="submit"]`)
	admin.waitText(t, "#user-badges", "Emergency access")
	admin.click(t, "#edit-emergency")
	admin.click(t, `#profile-form [type="submit"]`)
	admin.waitFor(t, "the flag to go", `!document.querySelector("#user-badges").textContent.includes("Emergency")`)

	// The form starts from the Temporary Access Pass policy's defaults
	// (reusable); the admin makes this pass one-time.
	admin.waitFor(t, "the pass policy's defaults", `document.querySelector("#tap-lifetime").value === "60" && !document.querySelector("#tap-once").checked`)
	admin.click(t, "#tap-once")
	admin.choose(t, "#tap-lifetime", "60")
	admin.click(t, "#tap-issue")
	admin.waitText(t, "#tap-result", "won't be shown again")
	pass := admin.text(t, "#tap-value")
	if !regexp.MustCompile(`^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$`).MatchString(pass) {
		admin.fail(t, "the pass is not shown in groups of four: %q", pass)
	}
	if !admin.visible(t, "#tap-copy") {
		admin.fail(t, "the pass has no copy button")
	}
	admin.screenshot(t, "admin-user")

	admin.open(t, "/admin/groups")
	admin.click(t, fmt.Sprintf(`#groups-table a[href="/admin/groups/%s"]`, k.groupID(t, pilotGroup)))
	admin.fill(t, "#member-search", "dana")
	admin.click(t, fmt.Sprintf(`#member-results button[aria-label="Add %s"]`, danaUPN))
	admin.waitText(t, "#members-table", danaUPN)
	admin.waitText(t, "#group-passkey-policy", "Targeted")
	admin.screenshot(t, "admin-group")

	// Dana's passkey lives in her laptop: a platform authenticator.
	dana := b.newTab(t, "dana", k.url, webauthn.AuthenticatorTransportInternal)
	dana.open(t, "/login")
	dana.click(t, `#step-username [data-action="show-tap"]`)
	dana.fill(t, "#tap-username", danaUPN)
	dana.fill(t, "#tap-code", pass)
	dana.screenshot(t, "login-temporary-access-pass")
	dana.click(t, "#tap-submit")
	dana.waitPath(t, "/my/security-info")
	// The pass counts as multi-factor: the key choice opens at once.
	dana.waitFor(t, "the security key choice", `document.querySelector("#add-passkey-kind").checkVisibility()`)
	dana.click(t, "#kind-device")
	dana.click(t, "#passkey-create")
	dana.waitFor(t, "the name step", `document.querySelector("#add-passkey-name").checkVisibility()`)
	dana.fill(t, "#passkey-name", "Dana's laptop")
	dana.click(t, "#passkey-name-save")
	dana.waitText(t, "#methods-table", "Dana's laptop")
	dana.screenshot(t, "security-info-passkey-only")

	// Her only way to sign in cannot be deleted.
	dana.click(t, `#methods-table button[aria-label="Delete Dana's laptop"]`)
	dana.waitText(t, "#confirm-title", "Delete “Dana's laptop”?")
	dana.click(t, "#confirm-ok")
	dana.waitFor(t, "the refusal", `document.querySelector("#page-notice").checkVisibility()`)
	t.Logf("deleting Dana's last method: %s", dana.text(t, "#page-notice"))
	dana.waitText(t, "#methods-table", "Dana's laptop")

	// The admin sees the new key on Dana's page.
	admin.open(t, "/admin/users/"+k.userID(t, danaUPN))
	admin.waitText(t, `#keys-table tr .cell-sub`, "· one-time use")
	admin.waitFor(t, "the pass's time of use", `/Used .*· one-time use/.test(document.querySelector("#keys-table").textContent)`)
	admin.waitText(t, "#user-groups", pilotGroup)
	admin.waitText(t, "#passkey-coverage", "Through group “"+pilotGroup+"”, under the passkey profile")
	admin.waitText(t, "#keys-table", "Dana's laptop")

	// The admin registers a spare key for her from this browser, then
	// deletes it again.
	admin.click(t, "#provision-open")
	admin.fill(t, "#provision-name", "Dana's spare key")
	admin.click(t, "#provision-start")
	admin.waitText(t, "#keys-table", "Dana's spare key")
	admin.screenshot(t, "admin-user-keys")
	admin.click(t, `#keys-table button[aria-label="Delete Dana's spare key"]`)
	admin.click(t, "#confirm-ok")
	admin.waitFor(t, "the key to go", `!document.querySelector("#keys-table").textContent.includes("spare")`)
	admin.waitText(t, "#keys-table", "Dana's laptop")
}

func (k *keyward) userID(t *testing.T, upn string) string {
	t.Helper()
	u, err := k.app.Directory.GetUser(context.Background(), upn)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// blockTheKey is journey 4.
func blockTheKey(t *testing.T, b *browser, admin, alex *tab, k *keyward, totpSecret string) {
	t.Helper()
	admin.open(t, fido2Page)
	admin.waitFor(t, "the policy form", `document.querySelector("#policy-form").checkVisibility()`)
	admin.click(t, "#tab-configure")
	// On load, one request names every AAGUID of the lists.
	admin.waitText(t, `.aaguid-list li[data-aaguid="`+virtualAAGUID+`"] .cell-main`, virtualModel)
	admin.waitText(t, ".aaguid-list", "Microsoft Authenticator (iOS)")
	admin.waitText(t, ".aaguid-list", "Well-known provider")
	if n, err := admin.evalErr(`String(performance.getEntriesByType("resource").filter((e) => e.name.includes("/fido2/models?")).length)`); err != nil || n != "1" {
		admin.fail(t, "the page asked for model names %s times (%v), want once", n, err)
	}
	admin.click(t, "#p0-block")
	admin.click(t, "#policy-save")
	admin.waitText(t, "#policy-saved", "were saved")

	alex.open(t, "/my/security-info") // still signed in from journey 3
	alex.waitText(t, "#methods-table", "Used together with a code from your authenticator app")
	signOut(t, alex)
	alex.fill(t, "#username", alexUPN)
	alex.click(t, "#username-next")
	alex.click(t, "#passkey-for-user")
	// The refusal names the model in words and offers Alex's password right there.
	alex.waitText(t, "#login-error", "Your organisation no longer accepts this key model, "+virtualModel)
	alex.waitText(t, "#login-error", "sign in with your password instead")
	alex.waitFor(t, "the password form beside the refusal", `document.querySelector("#password").checkVisibility()`)
	if loc := alex.location(); !strings.Contains(loc, "/login") {
		alex.fail(t, "signed in with a blocked key: %s", loc)
	}
	alex.screenshot(t, "login-key-blocked")

	// The password and the authenticator app still work (a fresh code window:
	// the code used at set-up cannot be used again).
	k.clock.Advance(31 * time.Second)
	alex.fill(t, "#password", alexPassword)
	alex.click(t, "#password-submit")
	alex.waitFor(t, "the code step", `document.querySelector("#step-totp").checkVisibility()`)
	alex.screenshot(t, "login-code-step")
	code, err := totp.GenerateCode(totpSecret, k.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	alex.fill(t, "#totp-code", code)
	alex.click(t, "#totp-submit")
	alex.waitPath(t, "/my/security-info")
	changePassword(t, alex)

	chris := b.newTab(t, "chris", k.url, webauthn.AuthenticatorTransportUsb)
	// Chris signs in with the keyboard only: Enter submits each step.
	chris.open(t, "/login")
	chris.fill(t, "#username", chrisUPN)
	chris.press(t, "#username", kb.Enter)
	chris.waitFor(t, "the password step", `document.querySelector("#password").checkVisibility()`)
	if chris.visible(t, "#passkey-for-user") {
		chris.fail(t, "a user outside the group is offered a passkey sign-in")
	}
	chris.fill(t, "#password", "wrong password")
	chris.press(t, "#password", kb.Enter)
	chris.waitText(t, "#login-error", "")
	chris.fill(t, "#password", chrisPassword)
	chris.press(t, "#password", kb.Enter)
	chris.waitPath(t, "/my/security-info")
	chris.waitText(t, "#methods-table", "Used alone, without a second factor: add an authenticator app to protect it")
	chris.click(t, "#add-method")
	chris.waitFor(t, "the method choice", `document.querySelector("#add-choose").checkVisibility()`)
	if opts := chris.text(t, "#method-choice"); strings.Contains(opts, "Security key") {
		chris.fail(t, "a user outside the group may add a security key: %q", opts)
	}
	chris.waitFor(t, "the reason", `document.querySelector("#add-unavailable").checkVisibility()`)
	t.Logf("Chris is told: %s", chris.text(t, "#add-unavailable"))
	if admin.visible(t, "#policy-error") {
		admin.fail(t, "the policy page shows an error")
	}
}
