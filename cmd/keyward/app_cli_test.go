package main

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/server"
)

func TestAppCLIOnSQLite(t *testing.T) {
	testAppCLI(t, sqliteEnv(t))
}

func TestAppCLIOnPostgres(t *testing.T) {
	testAppCLI(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

// testAppCLI registers an application the way an administrator would, from
// the command line: add, a secret shown once, show, update, remove, delete.
func testAppCLI(t *testing.T, env []string) {
	c := cli{t: t, env: append(env, "KEYWARD_PUBLIC_URL=https://id.example.com")}
	var app server.ApplicationView
	c.json(&app, "app", "add", "--name", "Grafana", "--web-redirect-uri", "https://grafana.example.com/login/generic_oauth")
	if app.AppID == "" || app.DisplayName != "Grafana" || len(app.Web.RedirectURIs) != 1 || len(app.PublicClient.RedirectURIs) != 0 ||
		app.TokenSigningAlgorithm != "ES256" || app.AccessTokenType != "opaque" {
		t.Fatalf("added %+v", app)
	}
	c.fails("http:// is allowed only for localhost", "app", "add", "--name", "Plain", "--web-redirect-uri", "http://grafana.example.com/cb")
	c.fails("wildcards", "app", "add", "--name", "Wild", "--web-redirect-uri", "https://*.example.com/cb")
	c.fails("redirect URIs", "app", "add", "--name", "Nowhere")

	var pw server.PasswordView
	c.json(&pw, "app", "add-secret", "Grafana", "--name", "prod")
	if !strings.HasPrefix(pw.SecretText, "kwcs_") || pw.KeyID == "" {
		t.Fatalf("add-secret printed %+v", pw)
	}
	show := c.ok("app", "show", app.AppID)
	for _, want := range []string{app.ID, app.AppID, "https://id.example.com", "/.well-known/openid-configuration", pw.KeyID} {
		if !strings.Contains(show, want) {
			t.Errorf("app show lacks %q:\n%s", want, show)
		}
	}
	if strings.Contains(show, pw.SecretText) {
		t.Fatal("app show prints the secret; it must be shown only when added")
	}
	if out := c.ok("app", "list"); !strings.Contains(out, "Grafana") || !strings.Contains(out, app.AppID) {
		t.Fatalf("app list:\n%s", out)
	}

	var cli server.ApplicationView
	c.json(&cli, "app", "add", "--name", "Deploy CLI", "--public-redirect-uri", "http://127.0.0.1/callback")
	c.fails("public client", "app", "add-secret", "Deploy CLI")
	c.json(&app, "app", "update", "Grafana", "--name", "Grafana Prod", "--signing-alg", "RS256")
	if app.DisplayName != "Grafana Prod" || app.TokenSigningAlgorithm != "RS256" || len(app.PasswordCredentials) != 1 {
		t.Fatalf("updated %+v", app)
	}
	c.fails("ES256 or RS256", "app", "update", app.ID, "--signing-alg", "HS256")
	c.json(&app, "app", "update", app.ID, "--access-token-type", "jwt")
	if app.AccessTokenType != "jwt" || app.TokenSigningAlgorithm != "RS256" {
		t.Fatalf("after --access-token-type jwt: %+v", app)
	}
	c.fails("opaque or jwt", "app", "update", app.ID, "--access-token-type", "bearer")
	if show := c.ok("app", "show", app.ID); !strings.Contains(show, "accessTokenType") || !strings.Contains(show, "jwt") {
		t.Errorf("app show does not say the access token type:\n%s", show)
	}
	c.fails("nothing to change", "app", "update", app.ID)

	c.ok("app", "remove-secret", app.ID, pw.KeyID)
	c.json(&app, "app", "show", app.ID)
	if len(app.PasswordCredentials) != 0 {
		t.Fatalf("the secret is still there: %+v", app.PasswordCredentials)
	}
	c.fails("no secret", "app", "remove-secret", app.ID, pw.KeyID)
	c.ok("app", "delete", "Grafana Prod")
	c.fails("no application", "app", "show", "Grafana Prod")
}

// TestKeysCLI: keyward keys list shows the keys serve would create, and
// keys rotate adds new ones that sign after the overlap while the old ones
// stay published.
func TestKeysCLI(t *testing.T) {
	c := cli{t: t, env: append(sqliteEnv(t), "KEYWARD_OIDC_KEY_ENCRYPTION_KEY=BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")}
	var keys []signingKeyJSON
	c.json(&keys, "keys", "list")
	if len(keys) != 2 || !keys[0].Encrypted || keys[0].Retired != nil {
		t.Fatalf("first list: %+v", keys)
	}
	out := c.ok("keys", "rotate", "--overlap", "15m")
	if !strings.Contains(out, "Published new signing keys") {
		t.Fatalf("rotate said:\n%s", out)
	}
	c.json(&keys, "keys", "list")
	retired := 0
	for _, k := range keys {
		if k.Retired != nil && k.Expires != nil {
			retired++
		}
	}
	if len(keys) != 4 || retired != 2 {
		t.Fatalf("after rotation: %+v", keys)
	}
	c.fails("at least", "keys", "rotate", "--overlap", "1s")
	bad := cli{t: t, env: append(c.env[:len(c.env):len(c.env)], "KEYWARD_OIDC_KEY_ENCRYPTION_KEY=")}
	bad.fails("oidc_key_encryption_key", "keys", "list")
}
