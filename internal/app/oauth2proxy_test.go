package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// oauth2ProxyBinary finds oauth2-proxy (go install
// github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6) or skips.
func oauth2ProxyBinary(t *testing.T) string {
	if p := os.Getenv("KEYWARD_OAUTH2_PROXY"); p != "" {
		return p
	}
	if p, err := exec.LookPath("oauth2-proxy"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "oauth2-proxy")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Skip("oauth2-proxy is not installed; go install github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6 (or set KEYWARD_OAUTH2_PROXY)")
	return ""
}

// TestOAuth2ProxyInFrontOfAService: a stock oauth2-proxy, configured with
// Keyward as its OIDC provider and none of its --insecure-oidc-* flags,
// protects a small service; a passkey user signs in through it.
func TestOAuth2ProxyInFrontOfAService(t *testing.T) {
	t.Parallel()
	bin := oauth2ProxyBinary(t)
	w := newWorld(t, storagetest.NewSQLite(t))
	k := w.key(goodAAGUID, softkey.FormatPacked)
	registered(t, w, k)

	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "payroll for %s", r.Header.Get("X-Forwarded-Email"))
	}))
	t.Cleanup(upstream.Close)
	// The test listens and hands the socket to oauth2-proxy (systemd socket
	// activation, --http-address=fd:3): requests wait in the socket's
	// queue until the proxy serves them, so nothing polls for it to start.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	proxyURL := "http://" + ln.Addr().String()
	p := w.newApp(t, "Payroll", map[string]any{"web": map[string]any{"redirectUris": []string{proxyURL + "/oauth2/callback"}}}, true,
		"openid", "email", "profile")

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	ctx, cancel := context.WithCancel(context.Background())
	// systemd's protocol: LISTEN_PID names the process the socket is for,
	// which sh knows as $$ and keeps through exec.
	cmd := exec.CommandContext(ctx, "sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, bin,
		"--provider=oidc", "--oidc-issuer-url="+w.origin(),
		"--client-id="+p.appID, "--client-secret="+p.secret,
		"--redirect-url="+proxyURL+"/oauth2/callback", "--http-address=fd:3",
		"--upstream="+upstream.URL, "--email-domain=*", "--code-challenge-method=S256",
		"--cookie-secret="+base64.RawURLEncoding.EncodeToString(secret), "--cookie-secure=false",
		"--skip-provider-button=true", "--pass-user-headers=true")
	cmd.ExtraFiles = []*os.File{sock}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sock.Close()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // also waits for the copy into logs
		if t.Failed() {
			t.Logf("oauth2-proxy said:\n%s", logs.String())
		}
	})

	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, w: w, client: &http.Client{Jar: jar, Transport: toNode{w, new(int)}}}
	res, _ := b.get(proxyURL + "/")
	if res.Request.URL.Path != "/login" || res.Request.URL.Query().Get("next") == "" {
		t.Fatalf("the proxy did not send the browser to Keyward's sign-in page: ended on %s (%d)", res.Request.URL, res.StatusCode)
	}
	b.passkeySignIn(k, "alice@contoso.com")
	res, body := b.get(res.Request.URL.Query().Get("next"))
	if res.StatusCode != http.StatusOK || body != "payroll for alice@contoso.com" {
		t.Fatalf("after signing in the browser got %d from %s: %q", res.StatusCode, res.Request.URL, body)
	}
}
