package webui_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/directory"
)

// signalSpy replaces the WebAuthn Signal API's methods, before any page
// script runs, with recorders that keep each call in sessionStorage (so a
// call made just before a navigation is still there after it). With
// absent, it removes them instead, as in a browser without the API.
func signalSpy(t *testing.T, tb *tab, absent bool) {
	t.Helper()
	js := `(() => {
		const names = ["signalUnknownCredential", "signalAllAcceptedCredentials", "signalCurrentUserDetails"];
		for (const n of names) {
			if (` + map[bool]string{true: "true", false: "false"}[absent] + `) {
				try { delete PublicKeyCredential[n]; } catch {}
				if (PublicKeyCredential[n]) PublicKeyCredential[n] = undefined;
				continue;
			}
			PublicKeyCredential[n] = async (arg) => {
				const list = JSON.parse(sessionStorage.getItem("signals") || "[]");
				list.push({ name: n, arg });
				sessionStorage.setItem("signals", JSON.stringify(list));
			};
		}
	})();`
	if _, err := chromedp.Call(tb.ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		t.Fatalf("install the signal spy: %v", err)
	}
}

type signalCall struct {
	Name string `json:"name"`
	Arg  struct {
		RpID         string   `json:"rpId"`
		UserID       string   `json:"userId"`
		CredentialID string   `json:"credentialId"`
		Accepted     []string `json:"allAcceptedCredentialIds"`
		Name         string   `json:"name"`
		DisplayName  string   `json:"displayName"`
	} `json:"arg"`
}

// takeSignals returns the calls the spy recorded, and forgets them.
func takeSignals(t *testing.T, tb *tab) []signalCall {
	t.Helper()
	raw, err := tb.evalErr(`(() => { const s = sessionStorage.getItem("signals") || "[]"; sessionStorage.removeItem("signals"); return s; })()`)
	if err != nil {
		t.Fatal(err)
	}
	var calls []signalCall
	if err := json.Unmarshal([]byte(raw), &calls); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return calls
}

func lastSignal(calls []signalCall, name string) (signalCall, bool) {
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Name == name {
			return calls[i], true
		}
	}
	return signalCall{}, false
}

// The sign-in page and My security info keep the browser's passkey list
// true through the WebAuthn Signal API: the accepted credentials after a
// sign-in and after one is deleted, the user's names after a rename, and a
// passkey Keyward does not know is signalled unknown while the person is
// told what happened and what to use instead. Without the API nothing
// breaks and no console error appears.
func TestBrowserSignals(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	if _, err := k.app.Policies.UpdateFido2(ctx, authz.CLI(), []byte(`{"state":"enabled"}`)); err != nil {
		t.Fatal(err)
	}
	const upn, password = "alice@contoso.example", "correct horse battery staple"
	alice := k.user(t, upn, "Alice", password, "")
	k.plantPasskey(t, alice)
	k.plantPasskey(t, alice)
	creds, err := k.store.ListUserCredentials(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	handle := uuid.MustParse(alice)
	b := startBrowser(t, chromium)
	tb := b.newTab(t, "alice", k.url, webauthn.AuthenticatorTransportUsb)
	signalSpy(t, tb, false)

	t.Run("accepted_credentials_and_details_after_sign_in", func(t *testing.T) {
		signInWithPassword(t, tb, upn, password, "/my/security-info")
		tb.waitFor(t, "the signals", `JSON.parse(sessionStorage.getItem("signals") || "[]").length >= 4`)
		calls := takeSignals(t, tb)
		all, ok := lastSignal(calls, "signalAllAcceptedCredentials")
		want := []string{b64(creds[0].CredentialID), b64(creds[1].CredentialID)}
		slices.Sort(want)
		slices.Sort(all.Arg.Accepted)
		if !ok || all.Arg.RpID != "localhost" || all.Arg.UserID != b64(handle[:]) || !slices.Equal(all.Arg.Accepted, want) {
			t.Fatalf("signalAllAcceptedCredentials = %+v, want rpId localhost, user %s, %v", all, b64(handle[:]), want)
		}
		if d, ok := lastSignal(calls, "signalCurrentUserDetails"); !ok || d.Arg.Name != upn || d.Arg.DisplayName != "Alice" {
			t.Fatalf("signalCurrentUserDetails = %+v", d)
		}
	})
	t.Run("accepted_credentials_after_deleting_one", func(t *testing.T) {
		if err := k.store.DeleteCredential(ctx, creds[0].ID); err != nil {
			t.Fatal(err)
		}
		tb.open(t, "/my/security-info")
		tb.waitFor(t, "the signals", `JSON.parse(sessionStorage.getItem("signals") || "[]").length >= 2`)
		all, ok := lastSignal(takeSignals(t, tb), "signalAllAcceptedCredentials")
		if !ok || !slices.Equal(all.Arg.Accepted, []string{b64(creds[1].CredentialID)}) {
			t.Fatalf("signalAllAcceptedCredentials after the deletion = %+v", all)
		}
	})
	t.Run("user_details_after_a_rename", func(t *testing.T) {
		name := "Alice Smith"
		if _, err := k.app.Directory.UpdateUser(ctx, authz.CLI(), alice, directory.UserInput{DisplayName: &name}); err != nil {
			t.Fatal(err)
		}
		tb.open(t, "/my/security-info")
		tb.waitFor(t, "the signals", `JSON.parse(sessionStorage.getItem("signals") || "[]").length >= 2`)
		if d, ok := lastSignal(takeSignals(t, tb), "signalCurrentUserDetails"); !ok || d.Arg.DisplayName != name || d.Arg.Name != upn {
			t.Fatalf("signalCurrentUserDetails after the rename = %+v", d)
		}
	})
	t.Run("unknown_credential", func(t *testing.T) {
		signOut(t, tb)
		takeSignals(t, tb)
		// The browser holds a passkey for this site that Keyward does not
		// know, as after a deletion or a reinstall.
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
		id := make([]byte, 32)
		_, _ = rand.Read(id)
		// cdproto's Credential always sends generateCmtgKeyOnNextOperation,
		// which this Chromium refuses; the command is sent without it.
		type credential struct {
			CredentialID         []byte `json:"credentialId"`
			IsResidentCredential bool   `json:"isResidentCredential"`
			RpID                 string `json:"rpId"`
			PrivateKey           []byte `json:"privateKey"`
			UserHandle           []byte `json:"userHandle"`
			SignCount            int    `json:"signCount"`
		}
		type params struct {
			AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
			Credential      credential               `json:"credential"`
		}
		addCredential := cdp.Command[params, cdp.Empty]{Method: webauthn.CommandAddCredential}
		if _, err := chromedp.Call(tb.ctx, addCredential, params{AuthenticatorID: tb.authenticator,
			Credential: credential{CredentialID: id, IsResidentCredential: true, RpID: "localhost", PrivateKey: pkcs8,
				UserHandle: handle[:], SignCount: 1}}); err != nil {
			t.Fatal(err)
		}
		tb.click(t, "#passkey-discoverable")
		tb.waitText(t, "#login-error", "This passkey was removed from your account")
		if msg := tb.text(t, "#login-error"); !strings.Contains(msg, "Sign in with your password or another passkey") {
			t.Fatalf("the message says %q", msg)
		}
		u, ok := lastSignal(takeSignals(t, tb), "signalUnknownCredential")
		if !ok || u.Arg.CredentialID != b64(id) || u.Arg.RpID != "localhost" {
			t.Fatalf("signalUnknownCredential = %+v, want %s", u, b64(id))
		}
		// Refused sign-ins are answers, which Chromium logs as failed requests.
		tb.takeProblems()
	})
	t.Run("without_the_api_nothing_breaks", func(t *testing.T) {
		other := b.newTab(t, "no-signal-api", k.url, webauthn.AuthenticatorTransportUsb)
		signalSpy(t, other, true)
		signInWithPassword(t, other, upn, password, "/my/security-info")
		other.waitText(t, "#methods", "Old key")
		if calls := takeSignals(t, other); len(calls) != 0 {
			t.Fatalf("signals recorded without the API: %+v", calls)
		}
		// The tab's cleanup fails the test on any console error.
	})
}
