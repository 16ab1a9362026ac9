package webui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/storage"
)

// TestBrowserAdminApplications: an administrator registers a web app in the
// admin center, copies its client ID and endpoints, adds a client secret
// (shown once, and it works at the token endpoint), edits its redirect URIs
// (a bad one is explained and changes nothing), assigns and unassigns a
// group, removes the secret and deletes the app — at desktop and phone
// widths, the phone's page never scrolling sideways.
func TestBrowserAdminApplications(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	finance, err := k.app.Directory.CreateGroup(ctx, authz.CLI(), directory.GroupInput{DisplayName: ptr("Finance")})
	if err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")

	stored := func() storage.Application {
		t.Helper()
		apps, _, err := k.store.ListApplications(ctx, storage.Page{})
		if err != nil || len(apps) != 1 {
			t.Fatalf("stored apps: %+v, %v", apps, err)
		}
		return apps[0]
	}

	admin.open(t, "/admin/applications")
	admin.waitText(t, "#apps", "No applications yet")
	admin.click(t, "#new-app")
	admin.fill(t, "#new-app-name", "Grafana")
	admin.click(t, `#create-app-form [type="submit"]`)
	admin.inView(t, "#new-app-redirect-error", "Redirect URI")
	admin.fill(t, "#new-app-redirect", "https://grafana.example.com/login/generic_oauth")
	admin.click(t, `#create-app-form [type="submit"]`)
	admin.waitText(t, "#app-title", "Grafana")
	app := stored()
	if !slices.Equal(app.WebRedirectURIs, []string{"https://grafana.example.com/login/generic_oauth"}) {
		t.Fatalf("registered %+v", app)
	}
	admin.waitText(t, "#set-token", k.url+"/oauth2/token")
	for sel, want := range map[string]string{"#set-client-id": app.AppID, "#set-issuer": k.url,
		"#set-discovery": k.url + "/.well-known/openid-configuration", "#set-authorize": k.url + "/oauth2/authorize",
		"#set-jwks": k.url + "/oauth2/keys"} {
		if got := admin.text(t, sel); got != want {
			admin.fail(t, "%s shows %q, want %q", sel, got, want)
		}
	}
	admin.click(t, `[data-copy="set-client-id"]`)
	admin.waitFor(t, "the copy's toast", `/Copied|to copy/.test(document.querySelector("#toasts").textContent)`)

	// A client secret, shown once; the app can use it at once.
	admin.fill(t, "#secret-name", "Production")
	admin.click(t, "#secret-add")
	admin.waitFor(t, "the new secret", `document.querySelector("#secret-value").checkVisibility() && document.querySelector("#secret-value").textContent.length > 20`)
	secret := admin.text(t, "#secret-value")
	admin.waitText(t, "#secrets-table", "Production")
	if status := clientCredentials(t, k.url, app.AppID, secret); status != http.StatusOK {
		t.Fatalf("the secret the page showed gets %d at the token endpoint", status)
	}
	admin.screenshot(t, "admin-application")
	noSideScroll(t, admin)
	admin.open(t, "/admin/applications/"+app.ID)
	admin.waitText(t, "#secrets-table", "Production")
	if admin.visible(t, "#secret-value") || strings.Contains(admin.text(t, "#main"), secret) {
		admin.fail(t, "the secret is shown again after a reload")
	}

	// Redirect URIs: a bad one is explained and changes nothing; good ones are saved.
	admin.fill(t, "#edit-redirects", "https://grafana.example.com/login/generic_oauth\nhttp://grafana.example.com/cb")
	admin.click(t, `#app-form [type="submit"]`)
	admin.inView(t, "#edit-redirects-error", "http://")
	if got := stored().WebRedirectURIs; len(got) != 1 {
		t.Fatalf("a refused edit changed the redirect URIs: %v", got)
	}
	admin.fill(t, "#edit-redirects", "https://grafana.example.com/login/generic_oauth\nhttps://grafana.example.com/cb")
	admin.click(t, `#app-form [type="submit"]`)
	admin.inView(t, "#app-form-saved", "Application saved")
	if got := stored().WebRedirectURIs; len(got) != 2 || got[1] != "https://grafana.example.com/cb" {
		t.Fatalf("saved redirect URIs %v", got)
	}

	// Assign a group, then unassign it.
	admin.fill(t, "#group-search", "Fin")
	admin.waitFor(t, "the search's results", `document.querySelector('#group-results[data-query="Fin"] [aria-label="Assign Finance"]') !== null`)
	dismissToasts(t, admin) // "Application saved" floats over the bottom of the page
	admin.click(t, `[aria-label="Assign Finance"]`)
	admin.waitText(t, "#assigned", "Finance")
	if got := stored().AssignedGroups; !slices.Equal(got, []string{finance.ID}) {
		t.Fatalf("assigned groups %v", got)
	}
	dismissToasts(t, admin)
	admin.click(t, `[aria-label="Unassign Finance"]`)
	admin.waitText(t, "#assign-summary", "Everyone may sign in")
	if got := stored().AssignedGroups; len(got) != 0 {
		t.Fatalf("assigned groups after unassigning %v", got)
	}

	// Remove the secret: it stops working.
	dismissToasts(t, admin)
	admin.click(t, `[aria-label="Remove the secret Production"]`)
	admin.click(t, "#confirm-ok")
	admin.waitText(t, "#secrets", "No client secrets")
	if status := clientCredentials(t, k.url, app.AppID, secret); status != http.StatusUnauthorized && status != http.StatusBadRequest {
		t.Fatalf("a removed secret gets %d at the token endpoint", status)
	}

	// A public client has no secrets to manage.
	admin.open(t, "/admin/applications")
	admin.waitText(t, "#apps-table", "Grafana")
	admin.click(t, "#new-app")
	admin.fill(t, "#new-app-name", "CLI")
	admin.click(t, "#new-app-public")
	admin.fill(t, "#new-app-redirect", "http://127.0.0.1/callback")
	admin.click(t, `#create-app-form [type="submit"]`)
	admin.waitText(t, "#app-title", "CLI")
	admin.waitText(t, "#app-kind", "Public client")
	if admin.visible(t, "#secrets-card") {
		admin.fail(t, "a public client offers client secrets")
	}
	admin.click(t, "#delete-app")
	admin.click(t, "#confirm-ok")
	admin.waitPath(t, "/admin/applications")
	admin.waitText(t, "#apps-table", "Grafana")
	noSideScroll(t, admin)
}

// clientCredentials asks the token endpoint for a token with the client's
// secret and returns the status.
func clientCredentials(t *testing.T, base, clientID, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// noSideScroll checks at a 390 px phone width that the page fits: nothing
// makes it scroll sideways.
func noSideScroll(t *testing.T, tb *tab) {
	t.Helper()
	tb.step(t, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	defer tb.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		tb.fail(t, "measure the page: %v", err)
	}
	if wide {
		tb.fail(t, "at 390 px the page is wider than the screen")
	}
}

// dismissToasts closes the notes that float over the page's corner, as a
// person waits for them to go before clicking what is under them.
func dismissToasts(t *testing.T, tb *tab) {
	t.Helper()
	tb.step(t, "dismiss the toasts", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".toast").forEach((e) => e.remove())`))
}

// TestBrowserAdminApplicationAccessTokenType: an app's page shows the type
// of access token it gets (opaque for a new app) and an administrator
// changes it there: the app's next token is a JWT, the page shows jwt after
// a reload, and a value the API refuses is explained beside the field and
// changes nothing.
func TestBrowserAdminApplicationAccessTokenType(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	ctx := context.Background()
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	web := []string{"https://grafana.example.com/login/generic_oauth"}
	app, err := k.app.Apps.Create(ctx, "test", oidc.AppInput{DisplayName: ptr("Grafana"), WebRedirectURIs: &web})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := k.app.Apps.AddPassword(ctx, "test", app.ID, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		t.Helper()
		a, err := k.store.GetApplication(ctx, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a.AccessTokenType
	}
	isJWT := func() bool {
		t.Helper()
		return strings.Count(clientCredentialsToken(t, k.url, app.AppID, secret), ".") == 2
	}
	if isJWT() {
		t.Fatal("a new app's access token is a JWT, want opaque")
	}

	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")
	admin.open(t, "/admin/applications/"+app.ID)
	admin.waitText(t, "#app-title", "Grafana")
	admin.waitFor(t, "the access token type", `document.querySelector("#edit-access-token-type").value === "opaque"`)
	if got := admin.text(t, `#edit-access-token-type option:checked`); !strings.HasPrefix(got, "Opaque") {
		admin.fail(t, "the access token type shows %q, want Opaque", got)
	}

	// A value the API refuses (the select offers none, but a page may be
	// old or edited): explained beside the field, nothing saved.
	admin.step(t, "offer a bad value", chromedp.Evaluate[chromedp.Void](`document.querySelector("#edit-access-token-type").add(new Option("JWT", "JWT "))`))
	admin.choose(t, "#edit-access-token-type", "JWT ")
	admin.click(t, `#app-form [type="submit"]`)
	admin.inView(t, "#edit-access-token-type-error", "opaque or jwt")
	if got := stored(); got != "opaque" {
		t.Fatalf("a refused change stored accessTokenType %q", got)
	}

	admin.choose(t, "#edit-access-token-type", "jwt")
	admin.click(t, `#app-form [type="submit"]`)
	admin.inView(t, "#app-form-saved", "Application saved")
	if got := stored(); got != "jwt" {
		t.Fatalf("after saving jwt the app's accessTokenType is %q", got)
	}
	if !isJWT() {
		t.Fatal("after the page saved jwt the app's access token is not a JWT")
	}
	admin.open(t, "/admin/applications/"+app.ID)
	admin.waitText(t, "#app-title", "Grafana")
	admin.waitFor(t, "the saved access token type", `document.querySelector("#edit-access-token-type").value === "jwt"`)
	admin.screenshot(t, "admin-application-token-type")

	admin.choose(t, "#edit-access-token-type", "opaque")
	admin.click(t, `#app-form [type="submit"]`)
	admin.inView(t, "#app-form-saved", "Application saved")
	if got := stored(); got != "opaque" || isJWT() {
		t.Fatalf("after saving opaque the app's accessTokenType is %q", got)
	}
}

// clientCredentialsToken asks the token endpoint for a token with the
// client's secret and returns the access token.
func clientCredentialsToken(t *testing.T, base, clientID, secret string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("client credentials: %d %v", res.StatusCode, err)
	}
	return body.AccessToken
}
