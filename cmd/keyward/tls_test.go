package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCert is a self-signed certificate for localhost and 127.0.0.1.
type testCert struct {
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
}

func newTestCert(t *testing.T, name string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	return testCert{cert: cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}
}

// install writes the pair where the server reads it.
func (c testCert) install(t *testing.T, certFile, keyFile string) {
	t.Helper()
	if err := os.WriteFile(keyFile, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, c.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// httpsClient trusts the given certificates and keeps its connection.
func httpsClient(certs ...testCert) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c.cert)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 1}}
}

// getHealthz sends GET /healthz and returns the serial of the certificate the
// connection was made with and whether the connection was an old one reused.
func getHealthz(t *testing.T, c *http.Client, addr string) (serial string, reused bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/healthz", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET https://%s/healthz: %v", addr, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET /healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.String(), reused
}

// TestServeHTTPSReloadsTheCertificateOnSIGHUPWithoutDroppingConnections
// starts the real binary with a certificate, renews it on disk and sends
// SIGHUP: a new connection gets the new certificate while a keep-alive
// connection opened before goes on working; a broken pair is refused with an
// error in the log and the server keeps the certificate it had.
func TestServeHTTPSReloadsTheCertificateOnSIGHUPWithoutDroppingConnections(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, second := newTestCert(t, "first"), newTestCert(t, "second")
	first.install(t, certFile, keyFile)
	n := startServe(t, []string{"KEYWARD_DATA_DIR=" + filepath.Join(dir, "data"),
		"KEYWARD_PUBLIC_URL=https://localhost:8443", "KEYWARD_TLS_CERT_FILE=" + certFile, "KEYWARD_TLS_KEY_FILE=" + keyFile})

	old := httpsClient(first, second)
	if serial, _ := getHealthz(t, old, n.addr); serial != first.cert.SerialNumber.String() {
		t.Fatalf("served certificate %s, want the first one", serial)
	}
	if resp, err := http.Get("http://" + n.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the HTTPS server answered plain HTTP")
		}
	}

	second.install(t, certFile, keyFile)
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if l := n.waitLog("TLS certificate reloaded"); l["subject"] != "CN=second" {
		t.Errorf("reload log line %v", l)
	}
	if serial, _ := getHealthz(t, httpsClient(first, second), n.addr); serial != second.cert.SerialNumber.String() {
		t.Fatalf("a new connection got certificate %s after SIGHUP, want the second one", serial)
	}
	serial, reused := getHealthz(t, old, n.addr)
	if !reused || serial != first.cert.SerialNumber.String() {
		t.Fatalf("the keep-alive connection opened before SIGHUP: reused %v, certificate %s; want it kept, with the first certificate", reused, serial)
	}

	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if l := n.waitLog("reloading the TLS certificate failed; still serving the previous one"); !strings.Contains(l["err"].(string), certFile) {
		t.Errorf("error log line %v", l)
	}
	if serial, _ := getHealthz(t, httpsClient(first, second), n.addr); serial != second.cert.SerialNumber.String() {
		t.Fatalf("after a failed reload a new connection got certificate %s, want the second one still", serial)
	}
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestServeWithoutTLSSurvivesSIGHUP(t *testing.T) {
	n := startServe(t, []string{"KEYWARD_DATA_DIR=" + t.TempDir()})
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	n.waitLog("SIGHUP: nothing to reload (no tls_cert_file)")
	n.waitReady()
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestServeRefusesAnIncompleteOrBrokenTLSPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b := newTestCert(t, "a"), newTestCert(t, "b")
	a.install(t, certFile, keyFile)
	otherKey := filepath.Join(dir, "other.key")
	if err := os.WriteFile(otherKey, b.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, env: sqliteEnv(t)}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert_without_key", []string{"--tls-cert-file", certFile}, "tls_key_file: must be set with tls_cert_file"},
		{"key_without_cert", []string{"--tls-key-file", keyFile}, "tls_cert_file: must be set with tls_key_file"},
		{"missing_file", []string{"--tls-cert-file", filepath.Join(dir, "none.crt"), "--tls-key-file", keyFile}, "no such file"},
		{"key_of_another_certificate", []string{"--tls-cert-file", certFile, "--tls-key-file", otherKey}, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.fails(tc.want, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
		})
	}
}
