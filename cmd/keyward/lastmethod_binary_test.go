package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/session"
)

// On the real binary, over HTTP: a person whose older key is of a model the
// organisation now blocks cannot delete the key that still signs them in —
// the blocked one is no way in — and an administrator deleting it is warned
// first. (Before the check judged keys by the policy, the deletion went
// through and left the account with a key that cannot sign in.)
func TestBlockedKeyDoesNotCountAsAWayInOnTheBinary(t *testing.T) {
	const (
		oldModel = "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa"
		newModel = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
	)
	ctx := t.Context()
	env := []string{"KEYWARD_DATA_DIR=" + t.TempDir()}
	tok := strings.TrimSpace(runBinary(t, env, "token", "create", "--name", "ops", "--role", "global-admin"))
	n := startServe(t, env)
	n.waitReady()
	admin := opsClient(n, tok, nil)
	if _, err := admin.EnablePasskeys(ctx); err != nil {
		t.Fatal(err)
	}
	erin, err := admin.CreateUser(ctx, "erin@contoso.com", "Erin")
	if err != nil {
		t.Fatal(err)
	}
	oldKey := softkey.New(softkey.Options{AAGUID: uuid.MustParse(oldModel), Attestation: softkey.FormatPackedSelf})
	newKey := softkey.New(softkey.Options{AAGUID: uuid.MustParse(newModel), Attestation: softkey.FormatPackedSelf})
	for _, k := range []*softkey.Authenticator{oldKey, newKey} {
		if err := admin.Provision(ctx, erin, k); err != nil {
			t.Fatal(err)
		}
	}

	call := func(method, path, body string, auth func(*http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, n.url(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != nil {
			auth(req)
		}
		resp, err := admin.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	asAdmin := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	methods := "/api/v1/users/" + erin + "/authentication/fido2Methods"
	var list struct {
		Value []struct {
			ID     string `json:"id"`
			AAGUID string `json:"aaGuid"`
		} `json:"value"`
	}
	if status, body := call("GET", methods, "", asAdmin); status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("list passkeys: %d %s", status, body)
	}
	newID := ""
	for _, m := range list.Value {
		if m.AAGUID == newModel {
			newID = m.ID
		}
	}
	if len(list.Value) != 2 || newID == "" {
		t.Fatalf("passkeys = %+v", list.Value)
	}

	// The organisation blocks the old model.
	if status, body := call("PATCH", bench.PolicyPath, `{"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"block","aaGuids":["`+oldModel+`"]}}]}`, asAdmin); status != http.StatusOK {
		t.Fatalf("block the old model: %d %s", status, body)
	}

	// Erin signs in with her new key and tries to delete it.
	signIn := func() []*http.Cookie {
		t.Helper()
		status, opts := call("POST", "/api/v1/auth/passkey/options", `{}`, nil)
		if status != http.StatusOK {
			t.Fatalf("sign-in options: %d %s", status, opts)
		}
		assertion, err := newKey.Assert([]byte(opts), admin.Origin)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", n.url("/api/v1/auth/passkey"), strings.NewReader(string(assertion)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := admin.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(resp.Cookies()) == 0 {
			t.Fatalf("sign-in with the new key: %d", resp.StatusCode)
		}
		return resp.Cookies()
	}
	cookies := signIn()
	withCookies := func(r *http.Request) {
		for _, c := range cookies {
			r.AddCookie(c)
		}
	}
	var me struct {
		CSRFToken string `json:"csrfToken"`
	}
	if status, body := call("GET", "/api/v1/me", "", withCookies); status != http.StatusOK || json.Unmarshal([]byte(body), &me) != nil || me.CSRFToken == "" {
		t.Fatalf("me: %d %s", status, body)
	}
	asErin := func(r *http.Request) { withCookies(r); r.Header.Set(session.CSRFHeader, me.CSRFToken) }
	status, body := call("DELETE", "/api/v1/me/passkeys/"+newID, "", asErin)
	if status != http.StatusConflict || !strings.Contains(body, `"code":"lastMethod"`) ||
		!strings.Contains(body, "this passkey is the only way you can sign in") || !strings.Contains(body, "it is blocked by your organisation") {
		t.Fatalf("deleting her last working key: %d %s", status, body)
	}
	// An administrator is warned and must confirm.
	status, body = call("DELETE", methods+"/"+newID, "", asAdmin)
	if status != http.StatusConflict || !strings.Contains(body, `"code":"confirmationRequired"`) || !strings.Contains(body, "this is the only way erin@contoso.com can sign in") {
		t.Fatalf("an administrator deleting her last working key: %d %s", status, body)
	}
	signIn() // the key is still there and still signs her in
}
