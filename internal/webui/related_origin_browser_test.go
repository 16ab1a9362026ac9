package webui_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// A page at https://other.test, listed in related_origins, registers and
// uses a passkey of Keyward's RP ID rp.test: Chromium reads
// https://rp.test/.well-known/webauthn, finds the origin and runs the
// ceremony, and Keyward accepts the origin. https://third.test, not
// listed, is refused by the browser itself. The host names reach the test
// servers through Chromium's host-resolver rules; their certificate, from a
// test CA, is trusted by its key (ignore-certificate-errors-spki-list).
func TestBrowserRelatedOrigin(t *testing.T) {
	path := chromiumPath(t)
	cert, spki, pool := testTLS(t, "rp.test", "other.test", "third.test")
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}

	clock := &offsetClock{}
	store := storagetest.NewSQLite(t).Open(t)
	public, _ := url.Parse("https://rp.test")
	a, err := app.New(app.Options{
		Store: store, Now: clock.Now, PublicURL: public, Registry: prometheus.NewRegistry(),
		RelatedOrigins: []string{"https://other.test"},
		Logger:         slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	kw := httptest.NewUnstartedServer(a.Handler())
	kw.TLS = tlsConfig
	kw.StartTLS()
	t.Cleanup(kw.Close)
	fabrikam := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Fabrikam</title><p>Fabrikam intranet</p>")
	}))
	fabrikam.TLS = tlsConfig
	fabrikam.StartTLS()
	t.Cleanup(fabrikam.Close)

	// Go's client reaches rp.test the way the browser does.
	kwAddr := kw.Listener.Addr().String()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, kwAddr)
		},
	}}
	call := func(method, path, cookie string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, "https://rp.test"+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if strings.HasPrefix(cookie, "kw_") {
			req.Header.Set("Authorization", "Bearer "+cookie)
		} else if cookie != "" {
			req.AddCookie(&http.Cookie{Name: session.SecureCookieName, Value: cookie})
			req.Header.Set(session.CSRFHeader, session.CSRFToken(secret.KeyedID(cookie)))
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, data
	}

	// Alice, passkeys on for everyone, and a multi-factor session to add one.
	ctx := context.Background()
	now := clock.Now()
	admin := secret.New("kw_")
	if err := store.CreateAPIToken(ctx, storage.APIToken{ID: uuid.NewString(), Name: "automation",
		Role: storage.RoleGlobalAdmin, SecretHash: secret.Hash(admin), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if st, body := call("PATCH", "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2", admin,
		map[string]any{"state": "enabled"}); st != http.StatusOK {
		t.Fatalf("enable passkeys: %d %s", st, body)
	}
	st, body := call("POST", "/api/v1/users", admin, map[string]any{"userPrincipalName": "alice@fabrikam.test", "displayName": "Alice"})
	if st != http.StatusCreated {
		t.Fatalf("create alice: %d %s", st, body)
	}
	var alice struct{ ID string }
	_ = json.Unmarshal(body, &alice)
	sess := secret.New("kws_")
	if err := store.CreateSession(ctx, storage.Session{ID: secret.HashHex(sess), UserID: alice.ID,
		AuthMethods: []string{"pwd", "otp", "mfa"}, MFAAt: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, path,
		chromedp.Flag("host-resolver-rules", "MAP rp.test "+kwAddr+", MAP other.test "+fabrikam.Listener.Addr().String()+
			", MAP third.test "+fabrikam.Listener.Addr().String()),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	tb := b.newTab(t, "fabrikam", "https://other.test", webauthn.AuthenticatorTransportUsb)

	// The browser runs the ceremony at the page's origin with options from
	// Keyward, and hands back the response for Keyward to judge.
	ceremony := func(origin, kind string, options []byte) (string, error) {
		t.Helper()
		tb.step(t, "open "+origin, chromedp.Navigate(origin+"/"))
		js := `(async () => {
			const o = ` + string(options) + `.publicKey;
			try {
				const c = ` + kind + `;
				return JSON.stringify(c.toJSON());
			} catch (e) { return "error: " + e.name + ": " + e.message; }
		})()`
		ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
		defer cancel()
		return chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	}
	const create = `await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o)})`
	const get = `await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o)})`

	st, opts := call("POST", "/api/v1/me/passkeys/registration/options", sess, nil)
	if st != http.StatusOK {
		t.Fatalf("registration options: %d %s", st, opts)
	}
	resp, err := ceremony("https://other.test", create, opts)
	if err != nil || strings.HasPrefix(resp, "error") {
		t.Fatalf("register at https://other.test: %s %v", resp, err)
	}
	if st, body := call("POST", "/api/v1/me/passkeys", sess, map[string]any{
		"displayName": "Fabrikam key", "publicKeyCredential": json.RawMessage(resp)}); st != http.StatusCreated {
		t.Fatalf("Keyward refused the registration made at the related origin: %d %s", st, body)
	}

	st, opts = call("POST", "/api/v1/auth/passkey/options", "", map[string]any{"username": "alice@fabrikam.test"})
	if st != http.StatusOK {
		t.Fatalf("sign-in options: %d %s", st, opts)
	}
	resp, err = ceremony("https://other.test", get, opts)
	if err != nil || strings.HasPrefix(resp, "error") {
		t.Fatalf("sign in at https://other.test: %s %v", resp, err)
	}
	if st, body := call("POST", "/api/v1/auth/passkey", "", json.RawMessage(resp)); st != http.StatusOK {
		t.Fatalf("Keyward refused the sign-in made at the related origin: %d %s", st, body)
	}

	// An origin the well-known document does not list gets nothing from the browser.
	_, opts = call("POST", "/api/v1/auth/passkey/options", "", map[string]any{"username": "alice@fabrikam.test"})
	resp, err = ceremony("https://third.test", get, opts)
	if err != nil || !strings.HasPrefix(resp, "error: SecurityError") {
		t.Fatalf("at https://third.test the browser answered %s %v, want a SecurityError", resp, err)
	}
	// Chromium logs the refused request itself; that is the answer.
	tb.takeProblems()
}

// testTLS makes a CA and a certificate for hosts, and returns the
// certificate, the base64 SHA-256 of its public key (Chromium's
// ignore-certificate-errors-spki-list) and a pool with the CA for Go.
func testTLS(t *testing.T, hosts ...string) (tls.Certificate, string, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Keyward test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key, Leaf: leaf},
		base64.StdEncoding.EncodeToString(sum[:]), pool
}
