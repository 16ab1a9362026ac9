package webui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/policy"
)

// TestPagesCarryTheServersLimits checks that the limits the server
// enforces reach the pages from Go: as maxlength/minlength on the fields,
// and as data-* attributes on <main> for the scripts.
func TestPagesCarryTheServersLimits(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	userCookie, _ := s.user("bob@example.com", "Bob Builder")
	_, adminSess := s.user("ada@example.com", "Ada Lovelace")
	ada := admin(adminSess, "ada@example.com")
	onMain := []string{
		fmt.Sprintf(`data-max-profiles="%d"`, policy.MaxProfiles),
		fmt.Sprintf(`data-max-aaguids-per-request="%d"`, policy.MaxAAGUIDs),
		fmt.Sprintf(`data-min-password="%d"`, mfa.MinPasswordLength),
		fmt.Sprintf(`data-recent-mfa-minutes="%d"`, int(authz.RecentMFAWindow/time.Minute)),
	}
	passkeyName := fmt.Sprintf(`maxlength="%d"`, passkey.MaxDisplayNameLength)
	tests := []struct {
		name, path, cookie string
		admin              bool
		fields             []string
	}{
		{"security_info", "/my/security-info", userCookie, false, []string{`id="passkey-name" name="displayName" type="text" ` + passkeyName, `id="rename-input" type="text" ` + passkeyName}},
		{"admin_user", "/admin/users/u1", "", true, []string{`id="provision-name" name="displayName" type="text" ` + passkeyName}},
		{"admin_fido2", "/admin/authentication-methods/fido2", "", true, []string{fmt.Sprintf(`data-id="name" type="text" maxlength="%d"`, policy.MaxProfileNameLen)}},
		{"setup", "/setup?token=kwsetup_abc", "", false, []string{
			fmt.Sprintf(`minlength="%d" maxlength="%d"`, mfa.MinPasswordLength, mfa.MaxPasswordLength),
			fmt.Sprintf("At least %d characters.", mfa.MinPasswordLength)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := s.get(tt.path, tt.cookie, nil)
			if tt.admin {
				p = s.get(tt.path, "", ada)
			}
			if p.status != 200 {
				t.Fatalf("GET %s: status %d", tt.path, p.status)
			}
			for _, want := range append(onMain, tt.fields...) {
				if !strings.Contains(p.body, want) {
					t.Errorf("GET %s: page lacks %s", tt.path, want)
				}
			}
		})
	}
}
