package softkey_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// A security key with full packed attestation registers and signs in
// against a go-webauthn relying party.
func Example() {
	ca, _ := softkey.NewCA("Example Keys")
	key := softkey.New(softkey.Options{AAGUID: uuid.MustParse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"), CA: ca})

	rp, _ := webauthn.New(&webauthn.Config{RPID: "localhost", RPDisplayName: "Example", RPOrigins: []string{"http://localhost:8080"}})
	u := newUser()
	creation, session, _ := rp.BeginRegistration(u, webauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	options, _ := json.Marshal(creation) // {"publicKey": {…}}, as the server sends it

	response, err := key.Register(options, "http://localhost:8080")
	if err != nil {
		fmt.Println(err)
		return
	}
	parsed, _ := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(response))
	cred, err := rp.CreateCredential(u, *session, parsed)
	if err != nil {
		fmt.Println(err)
		return
	}
	u.creds = append(u.creds, *cred)
	fmt.Println(cred.AttestationFormat, cred.AttestationType)

	assertion, session, _ := rp.BeginLogin(u)
	options, _ = json.Marshal(assertion)
	response, _ = key.Assert(options, "http://localhost:8080")
	parsedAssertion, _ := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(response))
	cred, err = rp.ValidateLogin(u, *session, parsedAssertion)
	fmt.Println(cred.Authenticator.SignCount, err)
	// Output:
	// packed basic_full
	// 1 <nil>
}
