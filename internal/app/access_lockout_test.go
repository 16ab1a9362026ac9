package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/passkey/softkey"
)

// A conditional access change that would leave no global administrator
// able to use the admin center is refused with the reason; with a method
// that satisfies it, the same change is saved.
func TestConditionalAccessKeepsAGlobalAdmin(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		admin := w.mustStatus(w.do("POST", "/api/v1/users", bearer(w.admin), map[string]any{
			"userPrincipalName": "admin@contoso.com", "displayName": "Admin", "adminRole": "global-admin",
			"passwordProfile": map[string]any{"password": "correct horse battery"}}), http.StatusCreated).json(t)["id"].(string)
		w.addApp(w.session(admin, true))
		policy := func(strength string) string {
			return fmt.Sprintf(`{"displayName":"Strong admins","state":"enabled",
				"conditions":{"users":{"includeRoles":["global-admin"]},"applications":{"includeApplications":[%q]}},
				"grantControls":{"authenticationStrength":{"id":%q}}}`, access.AppAdmin, strength)
		}
		r := w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), policy(access.StrengthPhishingResistant)), http.StatusConflict)
		if code, msg := r.err(t); code != "lastAdminLockout" || !strings.Contains(msg, "admin@contoso.com") {
			t.Fatalf("lockout: %s %s", code, msg)
		}
		if n := w.caCount(caPolicies); n != 0 {
			t.Fatalf("the refused policy was stored (%d)", n)
		}
		// Multifactor authentication is within reach of password + app.
		mfa := w.mustStatus(w.do("POST", caPolicies, bearer(w.admin), policy(access.StrengthMFA)), http.StatusCreated).json(t)["id"].(string)

		// With a passkey, phishing-resistant MFA is within reach too.
		w.enableForAll()
		w.mustStatus(w.register(w.key(goodAAGUID, softkey.FormatPacked), w.session(admin, true), "Admin key"), http.StatusCreated)
		w.mustStatus(w.do("PATCH", caPolicies+"/"+mfa, bearer(w.admin), fmt.Sprintf(`{"grantControls":{"authenticationStrength":{"id":%q}}}`,
			access.StrengthPhishingResistant)), http.StatusOK)

		// A strength narrowed to another model would lock the admin out again.
		st := w.mustStatus(w.do("POST", caStrengths, bearer(w.admin), `{"displayName":"Our keys","allowedCombinations":["fido2"],
			"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["`+goodAAGUID+`"]}]}`), http.StatusCreated).json(t)["id"].(string)
		w.mustStatus(w.do("PATCH", caPolicies+"/"+mfa, bearer(w.admin), fmt.Sprintf(`{"grantControls":{"authenticationStrength":{"id":%q}}}`, st)), http.StatusOK)
		r = w.do("PATCH", caStrengths+"/"+st, bearer(w.admin), `{"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["`+onlyModelKey+`"]}]}`)
		if code, _ := w.mustStatus(r, http.StatusConflict).err(t); code != "lastAdminLockout" {
			t.Fatalf("narrowed strength: %s", r.body)
		}
	})
}
