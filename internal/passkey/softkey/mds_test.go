package softkey_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// TestAttestationChainsToTheCARootInGoWebAuthnsMetadataCheck registers a
// packed key against a relying party whose metadata lists a CA root: the
// key's own CA passes go-webauthn's trust-anchor check, another CA fails.
func TestAttestationChainsToTheCARootInGoWebAuthnsMetadataCheck(t *testing.T) {
	listed := newCA(t)
	tests := []struct {
		name   string
		ca     *softkey.CA
		wantOK bool
	}{
		{name: "root_listed_for_the_aaguid", ca: listed, wantOK: true},
		{name: "root_not_listed", ca: newCA(t), wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mds, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{
				testAAGUID: {
					AaGUID: testAAGUID,
					MetadataStatement: metadata.Statement{
						AaGUID:                      testAAGUID,
						AttestationTypes:            metadata.AuthenticatorAttestationTypes{metadata.BasicFull},
						AttestationRootCertificates: []*x509.Certificate{listed.Root()},
					},
					StatusReports: []metadata.StatusReport{{Status: metadata.FidoCertified}},
				},
			}))
			if err != nil {
				t.Fatal(err)
			}
			rp, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Keyward test", RPOrigins: []string{origin}, MDS: mds})
			if err != nil {
				t.Fatal(err)
			}
			a := softkey.New(softkey.Options{AAGUID: testAAGUID, CA: tt.ca})
			_, _, err = register(t, rp, newUser(), a, origin)
			if !tt.wantOK && err != nil && !strings.Contains(err.Error()+devInfo(err), "trust") {
				t.Errorf("refused for another reason: %v%s", err, devInfo(err))
			}
			if (err == nil) != tt.wantOK {
				t.Fatalf("registration error %v%s, want ok=%v", err, devInfo(err), tt.wantOK)
			}
		})
	}
}
