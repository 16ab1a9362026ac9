package testvectors

import (
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRegistrationVectorsVerifyAsRecorded runs every stored vector through
// go-webauthn and checks that it reports what the vector's expect block says.
// go-webauthn reads the real clock, so this test does too (WantError).
func TestRegistrationVectorsVerifyAsRecorded(t *testing.T) {
	vectors, err := LoadRegistrations()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			pcc, err := v.Verify()
			if pcc == nil {
				t.Fatalf("does not parse: %v", err)
			}
			want := v.WantError(now)
			switch {
			case want == "" && err != nil:
				t.Fatalf("want success, got %v", err)
			case want != "" && err == nil:
				t.Fatalf("want error containing %q, got success", want)
			case want != "" && !strings.Contains(err.Error(), want):
				t.Fatalf("want error containing %q, got %q", want, err)
			}

			att := pcc.Response.AttestationObject
			if att.Format != v.Format {
				t.Errorf("format = %q, want %q", att.Format, v.Format)
			}
			aaguid, err := uuid.FromBytes(att.AuthData.AttData.AAGUID)
			if err != nil || aaguid.String() != v.Expect.AAGUID {
				t.Errorf("aaguid = %v (%v), want %s", aaguid, err, v.Expect.AAGUID)
			}
			if id := base64.RawURLEncoding.EncodeToString(att.AuthData.AttData.CredentialID); id != v.Expect.CredentialID {
				t.Errorf("credential id = %s, want %s", id, v.Expect.CredentialID)
			}
			if want == "" && att.Type != v.Expect.AttestationType {
				t.Errorf("attestation type = %q, want %q", att.Type, v.Expect.AttestationType)
			}
			f := att.AuthData.Flags
			got := [4]bool{f.UserPresent(), f.UserVerified(), f.HasBackupEligible(), f.HasBackupState()}
			exp := [4]bool{v.Expect.UserPresent, v.Expect.UserVerified, v.Expect.BackupEligible, v.Expect.BackupState}
			if got != exp {
				t.Errorf("flags UP,UV,BE,BS = %v, want %v", got, exp)
			}
			if subjects := x5cSubjects(att.AttStatement); !slices.Equal(subjects, v.Expect.CertificateSubjects) {
				t.Errorf("certificate subjects = %q, want %q", subjects, v.Expect.CertificateSubjects)
			}
		})
	}
}

// x5cSubjects lists the subjects of the certificates that parse; a few real
// TPM intermediates have negative serial numbers, which crypto/x509 refuses.
func x5cSubjects(stmt map[string]any) []string {
	x5c, _ := stmt["x5c"].([]any)
	var out []string
	for _, raw := range x5c {
		der, _ := raw.([]byte)
		if c, err := x509.ParseCertificate(der); err == nil {
			out = append(out, c.Subject.String())
		}
	}
	return out
}

func TestRegistrationVectorsCoverEveryFormat(t *testing.T) {
	vectors, err := LoadRegistrations()
	if err != nil {
		t.Fatal(err)
	}
	verifying := map[string]bool{}
	present := map[string]bool{}
	for _, v := range vectors {
		present[v.Format] = true
		if v.Expect.Error == "" {
			verifying[v.Format] = true
		}
	}
	for _, f := range []string{"packed", "tpm", "android-key", "apple", "fido-u2f", "none"} {
		if !verifying[f] {
			t.Errorf("no vector of format %s that go-webauthn accepts", f)
		}
	}
	if !present["android-safetynet"] {
		t.Error("no android-safetynet vector")
	}
	for _, typ := range []string{"basic_full", "basic_surrogate", "attca", "anonca", "none"} {
		if !slices.ContainsFunc(vectors, func(v Vector) bool { return v.Expect.AttestationType == typ }) {
			t.Errorf("no vector with attestation type %s", typ)
		}
	}
}

func TestVectorNamesMatchFileNames(t *testing.T) {
	vectors, err := LoadRegistrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		if base := strings.TrimSuffix(filepath.Base(v.Path), ".json"); base != v.Name {
			t.Errorf("%s holds vector %q", filepath.Base(v.Path), v.Name)
		}
	}
}

func TestLoadRejectsBadDirectories(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(RegistrationsDir(), "spec-none-es256.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{name: "empty_directory", wantErr: "no *.json vectors"},
		{name: "not_json", files: map[string]string{"a.json": "{"}, wantErr: "a.json"},
		{name: "unknown_field", files: map[string]string{"b.json": `{"name":"x","colour":"red"}`}, wantErr: "unknown field"},
		{name: "missing_fields", files: map[string]string{"c.json": `{"name":"x"}`}, wantErr: "missing challenge"},
		{name: "no_outcome", files: map[string]string{"d.json": strings.Replace(string(good), `"attestationType": "none"`, `"attestationType": ""`, 1)},
			wantErr: "expect needs attestationType"},
		{name: "one_bad_file_among_good", files: map[string]string{"a.json": string(good), "z.json": "[]"}, wantErr: "z.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWantErrorFollowsTheClock(t *testing.T) {
	until := time.Date(2027, 6, 10, 18, 54, 36, 0, time.UTC)
	v := Vector{Expect: Expect{AttestationType: "attca", ValidUntil: &until, ExpiredError: "AIK certificate"}}
	if got := v.WantError(until); got != "" {
		t.Errorf("at validUntil: %q, want success", got)
	}
	if got := v.WantError(until.Add(time.Second)); got != "AIK certificate" {
		t.Errorf("after validUntil: %q, want the expiry error", got)
	}
	v.Expect.Error = "Invalid TPM manufacturer"
	if got := v.WantError(until); got != "Invalid TPM manufacturer" {
		t.Errorf("refused vector: %q", got)
	}
}
