package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"

	"github.com/keyward/keyward/internal/mds/mdstest"
)

// Models in the test blobs.
const (
	goodAAGUID    = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
	goodModel     = "Contoso Key 5 NFC"
	revokedAAGUID = "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa"
	revokedModel  = "Fabrikam Leaky Key"
)

// mdsFixture is a private MDS PKI, its root in a PEM file, and an
// attestation CA that the blob's entries list as their root.
type mdsFixture struct {
	t        *testing.T
	pki      *mdstest.PKI
	rootFile string
	ca       *mdstest.AttestationCA
	extra    []mdstest.EntryOptions // appended to every blob
}

func newMDSFixture(t *testing.T) *mdsFixture {
	t.Helper()
	pki, err := mdstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := mdstest.NewAttestationCA("Fabrikam Attestation Root")
	if err != nil {
		t.Fatal(err)
	}
	return &mdsFixture{t: t, pki: pki, rootFile: writeTemp(t, "mds-root.pem", pki.RootPEM()), ca: ca}
}

// payload is a blob with a certified model and a revoked one.
func (f *mdsFixture) payload(number int) mdstest.Payload {
	entries := []mdstest.EntryOptions{
		{AAGUID: goodAAGUID, Description: goodModel, Statuses: []string{"FIDO_CERTIFIED_L1"},
			AttestationRootPEMs: []string{f.ca.CertPEM()}},
		{AAGUID: revokedAAGUID, Description: revokedModel, AttestationRootPEMs: []string{f.ca.CertPEM()},
			StatusReports: []metadata.StatusReportJSON{
				{Status: metadata.FidoCertifiedL1, EffectiveDate: "2023-01-15", CertificationDescriptor: revokedModel, CertificateNumber: "FIDO20020230115001"},
				{Status: metadata.Revoked, EffectiveDate: "2024-03-01", URL: "https://fabrikam.example/advisory"},
			}},
	}
	return mdstest.Payload{Number: number, NextUpdate: time.Now().AddDate(0, 1, 0), Entries: append(entries, f.extra...)}
}

func (f *mdsFixture) sign(p mdstest.Payload) []byte {
	f.t.Helper()
	b, err := f.pki.Sign(p)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// blobFile writes blob number n to a file.
func (f *mdsFixture) blobFile(n int) string {
	f.t.Helper()
	return writeTemp(f.t, "blob.jwt", string(f.sign(f.payload(n))))
}

func TestMDSOnSQLite(t *testing.T) {
	testMDS(t, sqliteEnv(t))
}

func TestMDSOnPostgres(t *testing.T) {
	testMDS(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

func testMDS(t *testing.T, env []string) {
	f := newMDSFixture(t)
	c := cli{t: t, env: env}
	// Commands other than import trust the private root through mds_roots.
	trusting := cli{t: t, env: append(append([]string{}, env...), "KEYWARD_MDS_ROOTS="+f.rootFile)}

	t.Run("status_without_a_blob", func(t *testing.T) {
		c.t = t
		if out := c.ok("mds", "status"); !strings.Contains(out, "No MDS blob imported") {
			t.Fatalf("status:\n%s", out)
		}
		var s mdsStatusJSON
		c.json(&s, "mds", "status")
		if s.Imported || s.Number != 0 {
			t.Fatalf("status %+v", s)
		}
		c.fails("no MDS blob is imported", "mds", "show", goodAAGUID)
	})
	t.Run("import_verifies_against_the_given_root", func(t *testing.T) {
		c.t = t
		file := f.blobFile(5)
		r := c.run("mds", "import", file, "--root", f.rootFile)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{"Imported MDS blob number 5.", "Entries:", "2 (2 FIDO2 models by AAGUID)",
			"Source:      " + file, "Signed by:", "mds.keyward.test", "Warnings:    0"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("import output lacks %q:\n%s", want, r.stdout)
			}
		}
		if !strings.Contains(r.stderr, "mds_roots does not name the root in "+f.rootFile) {
			t.Errorf("no note that mds_roots lacks the root:\n%s", r.stderr)
		}
	})
	t.Run("import_refuses_what_it_must", func(t *testing.T) {
		other := newMDSFixture(t)
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"older_number", []string{f.blobFile(4), "--root", f.rootFile}, "number 4, which is not newer than the stored blob (number 5)"},
			{"same_number", []string{f.blobFile(5), "--root", f.rootFile}, "not newer than the stored blob (number 5)"},
			{"signed_under_another_root", []string{other.blobFile(9), "--root", f.rootFile}, "does not chain to the trusted MDS root"},
			{"production_root_by_default", []string{f.blobFile(9)}, "does not chain to the trusted MDS root"},
			{"garbage", []string{writeTemp(t, "garbage.jwt", "this is not a JWT"), "--root", f.rootFile}, "is not a JWT"},
			{"root_file_not_pem", []string{f.blobFile(9), "--root", writeTemp(t, "root.txt", "hello")}, "--root:"},
			{"missing_file", []string{filepath.Join(t.TempDir(), "none.jwt")}, "none.jwt"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c.t = t
				c.fails(tt.want, append([]string{"mds", "import"}, tt.args...)...)
				var s mdsStatusJSON
				trusting.t = t
				trusting.json(&s, "mds", "status")
				if s.Number != 5 {
					t.Fatalf("a refused import changed the stored blob: %+v", s)
				}
			})
		}
	})
	t.Run("status_needs_mds_roots_to_trust_a_private_root", func(t *testing.T) {
		c.t = t
		c.fails("a blob imported with --root CERT is trusted only when mds_roots names CERT", "mds", "status")
	})
	t.Run("status_with_mds_roots", func(t *testing.T) {
		trusting.t = t
		var s mdsStatusJSON
		trusting.json(&s, "mds", "status")
		if !s.Imported || s.Number != 5 || s.Entries != 2 || s.FIDO2Models != 2 || s.Stale ||
			s.NextUpdate != time.Now().AddDate(0, 1, 0).UTC().Format(time.DateOnly) || s.ImportedDateTime == "" ||
			!strings.HasSuffix(s.Source, "blob.jwt") || len(s.Warnings) != 0 {
			t.Fatalf("status %+v", s)
		}
		if out := trusting.ok("mds", "status", "--mds-roots", f.rootFile); !strings.Contains(out, "Number:      5") {
			t.Fatalf("status:\n%s", out)
		}
	})
	t.Run("show_a_revoked_model", func(t *testing.T) {
		trusting.t = t
		out := trusting.ok("mds", "show", strings.ToUpper(revokedAAGUID))
		for _, want := range []string{"Model:                 " + revokedModel, "no: the FIDO Alliance reports this model (" + revokedModel + ") as REVOKED",
			"FIDO_CERTIFIED_L1", "2023-01-15", "FIDO20020230115001", "REVOKED", "2024-03-01",
			"Attestation roots:", "CN=Fabrikam Attestation Root,O=Keyward Test", "valid from "} {
			if !strings.Contains(out, want) {
				t.Errorf("show lacks %q:\n%s", want, out)
			}
		}
		var e mdsEntryJSON
		trusting.json(&e, "mds", "show", revokedAAGUID)
		if e.AAGUID != revokedAAGUID || e.Description != revokedModel || !e.Undesired || e.BlobNumber != 5 ||
			len(e.StatusReports) != 2 || e.StatusReports[1].Status != "REVOKED" || e.StatusReports[1].EffectiveDate != "2024-03-01" ||
			e.StatusReports[1].URL != "https://fabrikam.example/advisory" ||
			len(e.AttestationRoots) != 1 || e.AttestationRoots[0].Subject != f.ca.Cert.Subject.String() ||
			e.AttestationRoots[0].Expired || len(e.AttestationRoots[0].SHA256) != 64 {
			t.Fatalf("show --json %+v", e)
		}
		var good mdsEntryJSON
		trusting.json(&good, "mds", "show", goodAAGUID)
		if good.Undesired || good.Description != goodModel {
			t.Fatalf("good model %+v", good)
		}
	})
	t.Run("show_refuses_unknown_and_invalid_aaguids", func(t *testing.T) {
		trusting.t = t
		trusting.fails("AAGUID 6b2c7c42-0d5d-4c11-8a4e-2a9bb1b2c3d4 is not in the MDS blob (number 5, 2 FIDO2 models)",
			"mds", "show", "6b2c7c42-0d5d-4c11-8a4e-2a9bb1b2c3d4")
		trusting.fails(`"xyz" is not an AAGUID`, "mds", "show", "xyz")
	})
	t.Run("policy_show_names_models_from_mds", func(t *testing.T) {
		trusting.t = t
		trusting.ok("policy", "passkey", "set", "--key-restrictions", "block", "--add-aaguid", revokedAAGUID)
		if out := trusting.ok("policy", "passkey", "show"); !strings.Contains(out, revokedAAGUID+"  "+revokedModel) {
			t.Fatalf("policy summary:\n%s", out)
		}
	})
}

// blobServer serves whatever blob the test sets, like an MDS endpoint.
type blobServer struct {
	mu     sync.Mutex
	body   []byte
	status int
}

func (s *blobServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *blobServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.WriteHeader(s.status)
	_, _ = w.Write(s.body)
}

func TestMDSUpdateOnSQLite(t *testing.T) {
	testMDSUpdate(t, sqliteEnv(t))
}

func TestMDSUpdateOnPostgres(t *testing.T) {
	testMDSUpdate(t, []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t), "KEYWARD_LOG_LEVEL=warn"})
}

func testMDSUpdate(t *testing.T, env []string) {
	f := newMDSFixture(t)
	src := &blobServer{}
	srv := httptest.NewServer(src)
	t.Cleanup(srv.Close)
	c := cli{t: t, env: append(append([]string{}, env...), "KEYWARD_MDS_URL="+srv.URL+"/", "KEYWARD_MDS_ROOTS="+f.rootFile)}

	t.Run("first_download_without_a_blob_fails_and_says_so", func(t *testing.T) {
		c.t = t
		src.set(http.StatusServiceUnavailable, nil)
		c.fails("the server answered 503 Service Unavailable; no MDS blob is stored yet", "mds", "update")
	})
	t.Run("good_blob", func(t *testing.T) {
		c.t = t
		src.set(http.StatusOK, f.sign(f.payload(1)))
		out := c.ok("mds", "update")
		if !strings.Contains(out, "Updated the MDS blob to number 1.") || !strings.Contains(out, "Source:      "+srv.URL+"/") {
			t.Fatalf("update:\n%s", out)
		}
	})
	t.Run("same_blob_again_is_nothing_newer", func(t *testing.T) {
		c.t = t
		if out := c.ok("mds", "update"); !strings.Contains(out, "has nothing newer than the stored MDS blob number 1") {
			t.Fatalf("update:\n%s", out)
		}
	})
	t.Run("garbage_keeps_the_last_good_blob", func(t *testing.T) {
		c.t = t
		src.set(http.StatusOK, []byte("<html>maintenance</html>"))
		c.fails("the last good blob (number 1) is kept", "mds", "update")
		var s mdsStatusJSON
		c.json(&s, "mds", "status")
		if s.Number != 1 {
			t.Fatalf("status after a failed update: %+v", s)
		}
	})
	t.Run("server_error_keeps_the_last_good_blob", func(t *testing.T) {
		c.t = t
		src.set(http.StatusInternalServerError, nil)
		c.fails("500 Internal Server Error; the last good blob (number 1) is kept", "mds", "update")
	})
	t.Run("newer_blob_replaces_it", func(t *testing.T) {
		c.t = t
		src.set(http.StatusOK, f.sign(f.payload(2)))
		c.ok("mds", "update")
		var s mdsStatusJSON
		c.json(&s, "mds", "status")
		if s.Number != 2 {
			t.Fatalf("status %+v", s)
		}
	})
	t.Run("no_url_configured", func(t *testing.T) {
		c.t = t
		c.fails("no MDS URL is configured", "mds", "update", "--mds-url", "")
	})
}
