package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeRootPEM writes a self-signed CA certificate as PEM and returns the file.
func writeRootPEM(t *testing.T, dir, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMDSRootsAreReadFromTheNamedFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := writeRootPEM(t, dir, "root-a"), writeRootPEM(t, dir, "root-b")
	c := Defaults()
	c.MDSRoots = " " + a + " ,," + b + " "
	if got := c.MDSRootFiles(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("MDSRootFiles = %q", got)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	roots, err := c.ReadMDSRoots()
	if err != nil || len(roots) != 2 || !strings.HasPrefix(roots[0], "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("ReadMDSRoots = %d roots, %v", len(roots), err)
	}
	if roots, err := Defaults().ReadMDSRoots(); roots != nil || err != nil {
		t.Fatalf("default ReadMDSRoots = %v, %v; want nil (the production root)", roots, err)
	}
}

func TestMDSRootsSettingFromEveryLayer(t *testing.T) {
	got, err := Load(writeFile(t, "mds_roots: /etc/keyward/mds-root.pem\n"), nil, newFlags(t))
	if err != nil || got.MDSRoots != "/etc/keyward/mds-root.pem" {
		t.Fatalf("file: %q, %v", got.MDSRoots, err)
	}
	got, err = Load("", []string{"KEYWARD_MDS_ROOTS=/a.pem,/b.pem"}, newFlags(t, "--mds-roots", "/c.pem"))
	if err != nil || got.MDSRoots != "/c.pem" {
		t.Fatalf("flag over env: %q, %v", got.MDSRoots, err)
	}
}

func TestValidateRejectsUnusableMDSRoots(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "root.der")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	badCert := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(badCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	c := Defaults()
	c.MDSRoots = strings.Join([]string{notPEM, badCert, missing, writeRootPEM(t, dir, "good")}, ",")
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted unusable MDS roots")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per bad file, got:\n%v", err)
	}
	for i, want := range []string{notPEM + " holds no PEM certificate", badCert + ": certificate 1 cannot be read", "missing.pem"} {
		if !strings.HasPrefix(lines[i], "mds_roots: ") || !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want mds_roots: … %s", i, lines[i], want)
		}
	}
}
