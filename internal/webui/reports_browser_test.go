package webui_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

const (
	yubiAAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	yubiModel  = "YubiKey 5 Series"
	soloAAGUID = "8876631b-d4a0-427f-5773-0ec71c9e0279"
	soloModel  = "Solo Secp256R1"
)

// key stores a passkey of a model for a user, as if registered earlier.
func (k *keyward) key(t *testing.T, userID, aaguid, model string) storage.Credential {
	t.Helper()
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	c := storage.Credential{ID: uuid.NewString(), UserID: userID, CredentialID: id, PublicKey: []byte{0xa0},
		AAGUID: aaguid, Model: model, DisplayName: model, AttestationFormat: "none", AttestationType: "none",
		AttestationLevel: "notAttested", UserVerified: true, CreatedAt: k.clock.Now().Add(-48 * time.Hour)}
	if err := k.store.CreateCredential(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// signedIn logs a successful passkey sign-in with c some hours ago.
func (k *keyward) signedIn(t *testing.T, u storage.User, c storage.Credential, hoursAgo int) {
	t.Helper()
	e := storage.SignInEvent{ID: uuid.NewString(), Time: k.clock.Now().Add(-time.Duration(hoursAgo) * time.Hour),
		UserID: u.ID, UserPrincipalName: u.UserPrincipalName, Method: "passkey", CredentialID: c.ID, AAGUID: c.AAGUID,
		Model: c.Model, PasskeyType: "deviceBound", Result: storage.ResultSuccess, IP: "192.0.2.7", UserAgent: "Firefox"}
	if err := k.store.RecordSignIn(context.Background(), storage.SignInRecord{Event: e}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserLogsAndReports: an administrator reads the key models in use
// with their charts, selects two models, previews the allow list (which
// names the emergency account it would cut off) and saves it; reads one
// user's sign-ins from the user's page; and finds the change, with its old
// and new allow list, in the audit log.
func TestBrowserLogsAndReports(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	users := map[string]storage.User{}
	for _, n := range []string{"ann", "bob", "eve"} {
		id := k.user(t, n+"@contoso.example", "User "+n, "", "")
		u, err := k.store.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		users[n] = u
	}
	if _, err := k.store.UpdateUser(ctx, users["eve"].ID, func(u storage.User) (storage.User, error) {
		u.IsEmergencyAccess = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	annKey := k.key(t, users["ann"].ID, yubiAAGUID, yubiModel)
	bobKey := k.key(t, users["bob"].ID, soloAAGUID, soloModel)
	eveKey := k.key(t, users["eve"].ID, virtualAAGUID, virtualModel)
	for i := range 3 {
		k.signedIn(t, users["ann"], annKey, i+1)
	}
	k.signedIn(t, users["bob"], bobKey, 30)
	k.signedIn(t, users["eve"], eveKey, 50)
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)

	t.Run("key_models_select_two_preview_and_save_as_allow_list", func(t *testing.T) {
		signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
		secondFactorForTheAdminCenter(t, admin, k, "/admin/reports/key-models")
		admin.waitFor(t, "the models table", `document.querySelectorAll("#models-table tbody tr").length === 3`)
		admin.waitFor(t, "the three charts", `Array.from(document.querySelectorAll(".chart img")).every((i) => i.complete && i.naturalWidth > 0)`)
		admin.waitText(t, "#models-table", yubiModel)
		admin.screenshot(t, "admin-key-models")
		admin.click(t, fmt.Sprintf(`input[value=%q]`, yubiAAGUID))
		admin.click(t, fmt.Sprintf(`input[value=%q]`, soloAAGUID))
		admin.click(t, "#models-preview")
		admin.waitFor(t, "the preview", `document.querySelector("#preview").checkVisibility()`)
		admin.waitText(t, "#preview-summary", "1 person would lose passkey sign-in, 1 key would stop working")
		admin.waitText(t, "#preview-privileged", "eve@contoso.example (emergency access)")
		admin.waitText(t, "#preview-users-table", virtualModel)
		admin.screenshot(t, "admin-key-models-preview")
		admin.click(t, "#preview-save")
		admin.waitFor(t, "the preview to close", `!document.querySelector("#preview").checkVisibility()`)
		pol, err := k.app.Policies.Fido2(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kr := pol.PasskeyProfiles[0].KeyRestrictions
		got := slices.Clone(kr.AAGUIDs)
		slices.Sort(got)
		if !kr.IsEnforced || kr.EnforcementType != "allow" || !slices.Equal(got, []string{soloAAGUID, yubiAAGUID}) {
			t.Fatalf("saved key restrictions %+v", kr)
		}
	})
	t.Run("a_users_sign_ins_from_the_user_page", func(t *testing.T) {
		admin.open(t, "/admin/users/"+users["ann"].ID)
		admin.click(t, "#user-sign-ins")
		admin.waitPath(t, "/admin/sign-ins")
		admin.waitFor(t, "ann's three sign-ins", `document.querySelectorAll("#signins-table tbody tr").length === 3`)
		admin.waitText(t, "#signins-table", "ann@contoso.example")
		admin.click(t, "#signins-table tbody tr:first-child button")
		admin.waitText(t, "#signin-steps", "Passkey (device-bound)")
		admin.waitText(t, "#signin-detail-fields", yubiModel)
		admin.screenshot(t, "admin-sign-ins")
	})
	t.Run("registration_details_show_the_rollout", func(t *testing.T) {
		admin.open(t, "/admin/reports/registration")
		// Four people; the allow list saved above leaves eve's model out, so
		// ann and bob are passwordless-capable.
		admin.waitText(t, "#stat-passwordless", "2 (50%)")
		admin.waitFor(t, "four users", `document.querySelectorAll("#details-table tbody tr").length === 4`)
		admin.choose(t, "#details-filter", "isPasswordlessCapable eq false")
		admin.waitFor(t, "those not yet passwordless", `document.querySelectorAll("#details-table tbody tr").length === 2`)
		admin.waitText(t, "#details-table", "eve@contoso.example")
		admin.screenshot(t, "admin-registration")
	})
	t.Run("the_policy_change_in_the_audit_log", func(t *testing.T) {
		admin.open(t, "/admin/audit-log")
		admin.choose(t, "#audit-category", "Policy")
		admin.click(t, `#audit-filters [type="submit"]`)
		admin.waitFor(t, "two policy changes", `document.querySelectorAll("#audits-table tbody tr").length === 2`)
		admin.click(t, "#audits-table tbody tr:first-child button")
		admin.waitText(t, "#audit-changes", "passkeyProfiles/0/keyRestrictions/aaGuids")
		admin.waitText(t, "#audit-changes", soloAAGUID)
		admin.screenshot(t, "admin-audit-log")
	})
}
