package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/passkey/softkey"
)

func TestConditionalAccessKeepsAGlobalAdminOnTheBinaryOnSQLite(t *testing.T) {
	testConditionalAccessKeepsAGlobalAdmin(t, []string{"KEYWARD_DATA_DIR=" + t.TempDir()})
}

func TestConditionalAccessKeepsAGlobalAdminOnTheBinaryOnPostgres(t *testing.T) {
	testConditionalAccessKeepsAGlobalAdmin(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t)})
}

// testConditionalAccessKeepsAGlobalAdmin: on the compiled binary, over its
// admin API, a conditional access change that would leave the only global
// administrator unable to use the admin center is refused with the reason
// and changes nothing; once the administrator has a passkey the same policy
// is saved, and moving it to a strength of another key model, or narrowing
// its strength to another model, is refused again.
func testConditionalAccessKeepsAGlobalAdmin(t *testing.T, env []string) {
	const (
		policies  = "/api/v1/identity/conditionalAccess/policies"
		strengths = "/api/v1/identity/conditionalAccess/authenticationStrength/policies"
		keyModel  = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
		other     = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	)
	ctx := t.Context()
	tok := strings.TrimSpace(runBinary(t, env, "token", "create", "--name", "ops", "--role", "global-admin"))
	n := startServe(t, env)
	n.waitReady()
	admin := opsClient(n, tok, nil)
	call := func(method, path, body string) (int, map[string]any, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, n.url(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := admin.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return resp.StatusCode, m, string(data)
	}
	must := func(want int, method, path, body string) map[string]any {
		t.Helper()
		status, m, data := call(method, path, body)
		if status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, data)
		}
		return m
	}
	refused := func(method, path, body string, names ...string) {
		t.Helper()
		status, m, data := call(method, path, body)
		e, _ := m["error"].(map[string]any)
		if status != http.StatusConflict || e["code"] != "lastAdminLockout" {
			t.Fatalf("%s %s: %d %s, want 409 lastAdminLockout", method, path, status, data)
		}
		for _, name := range names {
			if msg, _ := e["message"].(string); !strings.Contains(msg, name) {
				t.Fatalf("the refusal does not name %s: %s", name, data)
			}
		}
	}
	if _, err := admin.EnablePasskeys(ctx); err != nil {
		t.Fatal(err)
	}
	adminID := must(http.StatusCreated, "POST", "/api/v1/users", `{"userPrincipalName":"admin@contoso.com","displayName":"Admin",
		"adminRole":"global-admin","passwordProfile":{"password":"correct horse battery staple"}}`)["id"].(string)
	strongAdmins := `{"displayName":"Strong admins","state":"enabled",
		"conditions":{"users":{"includeRoles":["global-admin"]},"applications":{"includeApplications":["` + access.AppAdmin + `"]}},
		"grantControls":{"authenticationStrength":{"id":"` + access.StrengthPhishingResistant + `"}}}`

	// The only global administrator signs in with a password: requiring
	// phishing-resistant MFA for the admin center, or blocking it, locks them out.
	refused("POST", policies, strongAdmins, "admin@contoso.com")
	refused("POST", policies, `{"displayName":"Close the admin center","state":"enabled",
		"conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["`+access.AppAdmin+`"]}},
		"grantControls":{"builtInControls":["block"]}}`, "admin@contoso.com")
	if got := must(http.StatusOK, "GET", policies, "")["value"].([]any); len(got) != 0 {
		t.Fatalf("refused policies were stored: %v", got)
	}

	// With a passkey, phishing-resistant MFA is within the admin's reach.
	key := softkey.New(softkey.Options{AAGUID: uuid.MustParse(keyModel), Attestation: softkey.FormatPackedSelf})
	if err := admin.Provision(ctx, adminID, key); err != nil {
		t.Fatal(err)
	}
	id := must(http.StatusCreated, "POST", policies, strongAdmins)["id"].(string)

	// A strength of another key model would lock them out again.
	st := must(http.StatusCreated, "POST", strengths, `{"displayName":"Other keys","allowedCombinations":["fido2"],
		"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["`+other+`"]}]}`)["id"].(string)
	refused("PATCH", policies+"/"+id, `{"grantControls":{"authenticationStrength":{"id":"`+st+`"}}}`, "admin@contoso.com")
	got := must(http.StatusOK, "GET", policies+"/"+id, "")
	if s, _ := got["grantControls"].(map[string]any)["authenticationStrength"].(map[string]any); s["id"] != access.StrengthPhishingResistant {
		t.Fatalf("the refused change was saved: %v", got["grantControls"])
	}

	// A strength of the admin's key model serves; narrowing that strength
	// itself to another model is refused too, and leaves it as it was.
	ours := must(http.StatusCreated, "POST", strengths, `{"displayName":"Our keys","allowedCombinations":["fido2"],
		"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["`+keyModel+`"]}]}`)["id"].(string)
	must(http.StatusOK, "PATCH", policies+"/"+id, `{"grantControls":{"authenticationStrength":{"id":"`+ours+`"}}}`)
	refused("PATCH", strengths+"/"+ours, `{"combinationConfigurations":[{"appliesToCombinations":["fido2"],"allowedAAGUIDs":["`+other+`"]}]}`, "admin@contoso.com")
	if got := must(http.StatusOK, "GET", strengths+"/"+ours, ""); !strings.Contains(fmt.Sprint(got["combinationConfigurations"]), keyModel) {
		t.Fatalf("the refused narrowing was saved: %v", got["combinationConfigurations"])
	}
}
