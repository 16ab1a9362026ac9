// Package testvectors loads the WebAuthn registration responses kept under
// internal/passkey/testdata/registrations: responses made by real
// authenticators (and the W3C specification's test vectors), one JSON file
// each, with what go-webauthn reports when it verifies them. Tests across the
// project use them to check that parsing, attestation inspection and policy
// decisions work on every attestation format go-webauthn supports, not only on
// the responses our own software authenticators make.
//
// Time matters: go-webauthn checks attestation certificates against
// time.Now() and offers no way to verify "as of" another time (see the
// manifest, README.md, next to the vectors). A vector whose certificates
// expire carries Expect.ValidUntil; WantError tells a test what to expect on
// the day it runs.
package testvectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Vector is one registration response and the facts needed to verify it.
type Vector struct {
	Name      string `json:"name"`
	Format    string `json:"format"` // attestation statement format: packed, tpm, android-key, ...
	Source    string `json:"source"` // where the response was published
	Notes     string `json:"notes,omitempty"`
	Challenge string `json:"challenge"` // base64url, as the server sent it
	Origin    string `json:"origin"`
	RPID      string `json:"rpId"`

	// Response is the registration response JSON (PublicKeyCredential.toJSON()
	// form: id, rawId, type, response.clientDataJSON, response.attestationObject).
	Response json.RawMessage `json:"response"`
	Expect   Expect          `json:"expect"`

	// Path is the file the vector was loaded from.
	Path string `json:"-"`
}

// Expect is what go-webauthn v0.18.2 reports for a vector, verified with
// Vector.Verify (no metadata service, user verification not required).
type Expect struct {
	AAGUID       string `json:"aaguid"`       // hyphenated, lower case; all zero when the authenticator sent none
	CredentialID string `json:"credentialId"` // base64url of the attested credential ID

	// AttestationType is AttestationObject.Type after a successful
	// verification: basic_full, basic_surrogate (self), attca, anonca or none.
	// Empty when go-webauthn refuses the vector.
	AttestationType string `json:"attestationType,omitempty"`

	// CertificateSubjects are the subjects of the x5c certificates, leaf first.
	CertificateSubjects []string `json:"certificateSubjects,omitempty"`

	UserPresent    bool `json:"userPresent"`
	UserVerified   bool `json:"userVerified"`
	BackupEligible bool `json:"backupEligible"`
	BackupState    bool `json:"backupState"`

	// Error is a substring of the error go-webauthn returns today; empty when
	// the vector verifies.
	Error string `json:"error,omitempty"`

	// ValidUntil is when a certificate that go-webauthn checks against the
	// clock expires; from then on verification fails with ExpiredError.
	ValidUntil   *time.Time `json:"validUntil,omitempty"`
	ExpiredError string     `json:"expiredError,omitempty"`
}

// RegistrationsDir is the absolute path of the registration vectors in this
// source tree. It relies on the source being present, as it is under go test.
func RegistrationsDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("internal", "passkey", "testdata", "registrations")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "registrations")
}

// LoadRegistrations loads every vector in RegistrationsDir.
func LoadRegistrations() ([]Vector, error) {
	return Load(RegistrationsDir())
}

// Load reads every *.json file in dir as a Vector, sorted by file name. A file
// that is not a complete vector is an error naming the file.
func Load(dir string) ([]Vector, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("testvectors: list %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("testvectors: no *.json vectors in %s", dir)
	}
	slices.Sort(paths)
	vectors := make([]Vector, 0, len(paths))
	for _, p := range paths {
		v, err := loadFile(p)
		if err != nil {
			return nil, err
		}
		vectors = append(vectors, v)
	}
	return vectors, nil
}

func loadFile(path string) (Vector, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Vector{}, fmt.Errorf("testvectors: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var v Vector
	if err := dec.Decode(&v); err != nil {
		return Vector{}, fmt.Errorf("testvectors: %s: %w", filepath.Base(path), err)
	}
	v.Path = path
	if err := v.validate(); err != nil {
		return Vector{}, fmt.Errorf("testvectors: %s: %w", filepath.Base(path), err)
	}
	return v, nil
}

func (v Vector) validate() error {
	var missing []string
	for name, value := range map[string]string{
		"name": v.Name, "format": v.Format, "source": v.Source, "challenge": v.Challenge,
		"origin": v.Origin, "rpId": v.RPID, "expect.aaguid": v.Expect.AAGUID,
		"expect.credentialId": v.Expect.CredentialID,
	} {
		if value == "" {
			missing = append(missing, name)
		}
	}
	if len(v.Response) == 0 {
		missing = append(missing, "response")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if v.Expect.Error == "" && v.Expect.AttestationType == "" {
		return errors.New("expect needs attestationType (verifies) or error (refused)")
	}
	if v.Expect.ValidUntil != nil && v.Expect.ExpiredError == "" {
		return errors.New("expect.validUntil needs expect.expiredError")
	}
	return nil
}

// Parse parses the response the way a relying party's endpoint would.
func (v Vector) Parse() (*protocol.ParsedCredentialCreationData, error) {
	pcc, err := protocol.ParseCredentialCreationResponseBytes(v.Response)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", v.Name, err)
	}
	return pcc, nil
}

// Verify parses and verifies the response with go-webauthn against the
// vector's challenge, origin and RP ID: user presence required, user
// verification not, no metadata service, the library's default algorithms.
// The returned data is non-nil whenever parsing succeeded, so a caller can
// inspect the attestation object of a refused response too.
func (v Vector) Verify() (*protocol.ParsedCredentialCreationData, error) {
	pcc, err := v.Parse()
	if err != nil {
		return nil, err
	}
	_, err = pcc.Verify(v.Challenge, v.RPID, []string{v.Origin}, nil, nil,
		protocol.TopOriginExplicitVerificationMode, false, false, true, nil,
		webauthn.CredentialParametersDefault(), protocol.AttestationPolicy{}, protocol.SignaturePolicy{})
	if err != nil {
		return pcc, fmt.Errorf("verify %s: %w%s", v.Name, err, devInfo(err))
	}
	return pcc, nil
}

// devInfo returns go-webauthn's developer detail, which its Error() leaves
// out but which is what tells one refusal from another.
func devInfo(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" && pe.DevInfo != pe.Details {
		return " (" + pe.DevInfo + ")"
	}
	return ""
}

// WantError is the substring of the error go-webauthn should return when
// verifying at now, or "" when verification should succeed.
func (v Vector) WantError(now time.Time) string {
	if v.Expect.Error != "" {
		return v.Expect.Error
	}
	if v.Expect.ValidUntil != nil && now.After(*v.Expect.ValidUntil) {
		return v.Expect.ExpiredError
	}
	return ""
}
