package authz_test

import (
	"testing"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/storage"
)

func TestGrantsFollowTheDecisions(t *testing.T) {
	for _, tt := range []struct {
		role string
		want authz.Grants
	}{
		{storage.RoleGlobalAdmin, authz.Grants{Directory: true, MethodPolicies: true, Methods: true, MethodsOfAdmins: true, AddMethodsToAdmins: true, Applications: true, ConditionalAccess: true}},
		{storage.RolePrivilegedAuthenticationAdmin, authz.Grants{MethodPolicies: true, Methods: true, MethodsOfAdmins: true}},
		{storage.RoleAuthenticationAdmin, authz.Grants{Methods: true}},
		{storage.RoleReader, authz.Grants{}},
		{"", authz.Grants{}},
	} {
		t.Run("role_"+tt.role, func(t *testing.T) {
			if got := authz.GrantsOf(tt.role); got != tt.want {
				t.Fatalf("GrantsOf(%q) = %+v, want %+v", tt.role, got, tt.want)
			}
		})
	}
}
