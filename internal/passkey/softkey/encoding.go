package softkey

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
)

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backed up
	flagAT = 0x40 // attested credential data included
)

// COSE values for an ES256 key (RFC 9052/9053).
const (
	coseKeyTypeEC2 = 2
	coseAlgES256   = -7
	coseCurveP256  = 1
)

// ctap2 encodes CBOR the way CTAP2 authenticators must: canonical, with map
// keys sorted length-first, so go-webauthn sees what a real key sends.
var ctap2 = func() cbor.EncMode {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(fmt.Sprintf("softkey: CTAP2 CBOR options: %v", err)) // fixed options; cannot fail
	}
	return em
}()

// coseKey is the credential public key as a COSE_Key map.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("softkey: public key: %w", err)
	}
	return ctap2.Marshal(map[int]any{
		1:  coseKeyTypeEC2,
		3:  coseAlgES256,
		-1: coseCurveP256,
		-2: raw[1:33],
		-3: raw[33:65],
	})
}

// authData builds authenticator data: rpIdHash, flags, signCount and, when
// cred is non-nil, the attested credential data.
func authData(rpIDHash [32]byte, flags byte, signCount uint32, cred *attestedCredential) []byte {
	out := make([]byte, 0, 37+18+len(cred.idOrNil())+77)
	out = append(out, rpIDHash[:]...)
	if cred != nil {
		flags |= flagAT
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, signCount)
	if cred != nil {
		out = append(out, cred.aaguid[:]...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(cred.id)))
		out = append(out, cred.id...)
		out = append(out, cred.publicKey...)
	}
	return out
}

type attestedCredential struct {
	aaguid    uuid.UUID
	id        []byte
	publicKey []byte // COSE_Key
}

func (c *attestedCredential) idOrNil() []byte {
	if c == nil {
		return nil
	}
	return c.id
}

// clientData is CollectedClientData with members in the order browsers write.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

func clientDataJSON(typ string, challenge []byte, origin string) ([]byte, [32]byte, error) {
	data, err := json.Marshal(clientData{Type: typ, Challenge: encode(challenge), Origin: origin})
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("softkey: client data: %w", err)
	}
	return data, sha256.Sum256(data), nil
}

// sign is ECDSA P-256 with SHA-256, ASN.1 DER encoded, as WebAuthn wants.
func sign(key *ecdsa.PrivateKey, parts ...[]byte) ([]byte, error) {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("softkey: sign: %w", err)
	}
	return sig, nil
}

// attestationObject is the CBOR map {fmt, attStmt, authData}.
func attestationObject(format string, stmt map[string]any, authData []byte) ([]byte, error) {
	if stmt == nil {
		stmt = map[string]any{}
	}
	out, err := ctap2.Marshal(map[string]any{"fmt": format, "attStmt": stmt, "authData": authData})
	if err != nil {
		return nil, fmt.Errorf("softkey: attestation object: %w", err)
	}
	return out, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
