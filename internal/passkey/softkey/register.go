package softkey

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"
)

// credentialIDLen is what many security keys use; any length up to 1023 works.
const credentialIDLen = 32

type registrationResponse struct {
	ID                      string              `json:"id"`
	RawID                   string              `json:"rawId"`
	Type                    string              `json:"type"`
	AuthenticatorAttachment string              `json:"authenticatorAttachment"`
	Response                attestationResponse `json:"response"`
	ClientExtensionResults  map[string]any      `json:"clientExtensionResults"`
}

type attestationResponse struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AttestationObject  string   `json:"attestationObject"`
	Transports         []string `json:"transports"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	PublicKey          string   `json:"publicKey"`
	AuthenticatorData  string   `json:"authenticatorData"`
}

// Register answers navigator.credentials.create(): options is the creation
// options JSON a server sends ({"publicKey": {…}} or the bare object), origin
// the page's origin. It returns the registration response JSON and stores the
// new credential. Refusals wrap ErrType, ErrSecurity, ErrNotSupported,
// ErrInvalidState or ErrNotAllowed, as a browser would reject.
//
// Attestation conveyance "none", "indirect" or absent gets fmt "none" with the
// AAGUID zeroed, as Chrome does for security keys; "direct" and "enterprise"
// get the authenticator's own format (an Attestation of FormatNone then keeps
// its AAGUID, as synced passkey providers send it).
func (a *Authenticator) Register(options []byte, origin string) ([]byte, error) {
	o, err := parseCreationOptions(options)
	if err != nil {
		return nil, err
	}
	rpID, err := effectiveRPID(o.RP.ID, origin, !a.SkipOriginCheck)
	if err != nil {
		return nil, err
	}
	if err := checkAlgorithms(o); err != nil {
		return nil, err
	}
	if want := o.AuthenticatorSelection.AuthenticatorAttachment; want != "" && want != a.attachment() {
		return nil, fmt.Errorf("%w: options want a %s authenticator, this one is %s", ErrNotAllowed, want, a.attachment())
	}
	if err := a.checkExcluded(rpID, o.ExcludeCredentials); err != nil {
		return nil, err
	}
	format, stripped, err := a.conveyedFormat(o.Attestation)
	if err != nil {
		return nil, err
	}

	key, err := newCredentialKey()
	if err != nil {
		return nil, err
	}
	sel := o.AuthenticatorSelection
	cred := &credential{key: key, Credential: Credential{
		ID:             randomBytes(credentialIDLen),
		RPID:           rpID,
		UserHandle:     slices.Clone(o.User.ID),
		UserName:       o.User.Name,
		Discoverable:   sel.ResidentKey == "required" || sel.ResidentKey == "preferred" || sel.RequireResidentKey,
		AAGUID:         a.AAGUID,
		BackupEligible: a.BackupEligible,
		PublicKey:      &key.PublicKey,
	}}

	resp, err := a.attest(cred, format, stripped, o.Challenge, origin)
	if err != nil {
		return nil, err
	}
	if raw, ok := o.Extensions["credProps"]; ok && bytes.Equal(bytes.TrimSpace(raw), []byte("true")) {
		resp.ClientExtensionResults["credProps"] = map[string]bool{"rk": cred.Discoverable}
	}
	out, err := resp.marshal()
	if err != nil {
		return nil, fmt.Errorf("softkey: registration response: %w", err)
	}

	a.store(cred)
	return out, nil
}

// marshal is json.Marshal(r), byte for byte (TestRegistrationResponseJSON),
// without encoding/json's scan of every byte of the base64url members for
// characters to escape: their alphabet (A–Z, a–z, 0–9, '-', '_') has none,
// and the attestation object's few kilobytes were most of the load
// generator's own JSON work. The other members go through json.Marshal.
func (r *registrationResponse) marshal() ([]byte, error) {
	typ, err := json.Marshal(r.Type)
	if err != nil {
		return nil, err
	}
	attachment, err := json.Marshal(r.AuthenticatorAttachment)
	if err != nil {
		return nil, err
	}
	transports, err := json.Marshal(r.Response.Transports)
	if err != nil {
		return nil, err
	}
	extensions, err := json.Marshal(r.ClientExtensionResults)
	if err != nil {
		return nil, err
	}
	in := &r.Response
	out := make([]byte, 0, 256+len(r.ID)+len(r.RawID)+len(in.ClientDataJSON)+len(in.AttestationObject)+
		len(in.PublicKey)+len(in.AuthenticatorData)+len(transports)+len(extensions))
	out = appendB64URL(append(out, `{"id":`...), r.ID)
	out = appendB64URL(append(out, `,"rawId":`...), r.RawID)
	out = append(append(out, `,"type":`...), typ...)
	out = append(append(out, `,"authenticatorAttachment":`...), attachment...)
	out = appendB64URL(append(out, `,"response":{"clientDataJSON":`...), in.ClientDataJSON)
	out = appendB64URL(append(out, `,"attestationObject":`...), in.AttestationObject)
	out = append(append(out, `,"transports":`...), transports...)
	out = strconv.AppendInt(append(out, `,"publicKeyAlgorithm":`...), int64(in.PublicKeyAlgorithm), 10)
	out = appendB64URL(append(out, `,"publicKey":`...), in.PublicKey)
	out = appendB64URL(append(out, `,"authenticatorData":`...), in.AuthenticatorData)
	out = append(append(out, `},"clientExtensionResults":`...), extensions...)
	return append(out, '}'), nil
}

// appendB64URL appends s, base64url text made by encode, as a JSON string.
func appendB64URL(dst []byte, s string) []byte {
	return append(append(append(dst, '"'), s...), '"')
}

// store keeps a new credential. Like a CTAP2 authenticator, a discoverable
// credential replaces an earlier discoverable one for the same RP and user.
func (a *Authenticator) store(cred *credential) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cred.Discoverable {
		a.creds = slices.DeleteFunc(a.creds, func(c *credential) bool {
			return c.Discoverable && c.RPID == cred.RPID && bytes.Equal(c.UserHandle, cred.UserHandle)
		})
	}
	a.creds = append(a.creds, cred)
}

// attest builds the registration response for a new credential.
// stripped says the browser replaced the attestation with none, which also
// zeroes the AAGUID.
func (a *Authenticator) attest(cred *credential, format string, stripped bool, challenge []byte, origin string) (*registrationResponse, error) {
	aaguid := cred.AAGUID
	if stripped || format == FormatFIDOU2F {
		aaguid = uuid.Nil
	}
	cose, err := coseKey(&cred.key.PublicKey)
	if err != nil {
		return nil, err
	}
	rpIDHash := a.rpIDHash(cred.RPID)
	ad := authData(rpIDHash, a.flags(a.UserVerification, cred.BackupEligible), 0,
		&attestedCredential{aaguid: aaguid, id: cred.ID, publicKey: cose})
	cdj, cdh, err := clientDataJSON("webauthn.create", challenge, origin)
	if err != nil {
		return nil, err
	}
	fmtName, stmt, err := a.statement(format, cred, ad, cdh, rpIDHash)
	if err != nil {
		return nil, err
	}
	ao, err := attestationObject(fmtName, stmt, ad)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&cred.key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("softkey: public key: %w", err)
	}
	return &registrationResponse{
		ID:                      encode(cred.ID),
		RawID:                   encode(cred.ID),
		Type:                    "public-key",
		AuthenticatorAttachment: a.attachment(),
		Response: attestationResponse{
			ClientDataJSON:     encode(cdj),
			AttestationObject:  encode(ao),
			Transports:         a.transports(a.Transports),
			PublicKeyAlgorithm: coseAlgES256,
			PublicKey:          encode(spki),
			AuthenticatorData:  encode(ad),
		},
		ClientExtensionResults: map[string]any{},
	}, nil
}

// statement signs the attestation statement (WebAuthn §8.2, §8.6, §8.7).
func (a *Authenticator) statement(format string, cred *credential, ad []byte, cdh, rpIDHash [32]byte) (string, map[string]any, error) {
	switch format {
	case FormatNone:
		return "none", map[string]any{}, nil
	case FormatPackedSelf:
		sig, err := sign(cred.key, ad, cdh[:])
		if err != nil {
			return "", nil, err
		}
		return "packed", map[string]any{"alg": coseAlgES256, "sig": sig}, nil
	case FormatPacked:
		att, err := a.attestation(format)
		if err != nil {
			return "", nil, err
		}
		sig, err := sign(att.key, ad, cdh[:])
		if err != nil {
			return "", nil, err
		}
		return "packed", map[string]any{"alg": coseAlgES256, "sig": sig, "x5c": att.x5c}, nil
	case FormatFIDOU2F:
		att, err := a.attestation(format)
		if err != nil {
			return "", nil, err
		}
		point, err := cred.key.PublicKey.Bytes()
		if err != nil {
			return "", nil, fmt.Errorf("softkey: public key: %w", err)
		}
		// The U2F registration signature: 0x00 || rpIdHash || clientDataHash || credentialId || publicKey.
		sig, err := sign(att.key, []byte{0}, rpIDHash[:], cdh[:], cred.ID, point)
		if err != nil {
			return "", nil, err
		}
		return "fido-u2f", map[string]any{"sig": sig, "x5c": att.x5c[:1]}, nil
	}
	return "", nil, fmt.Errorf("softkey: unknown attestation format %q", format)
}

// conveyedFormat is the format the relying party receives after the browser
// applied the attestation conveyance preference; stripped reports that the
// browser replaced the authenticator's attestation with none.
func (a *Authenticator) conveyedFormat(conveyance string) (format string, stripped bool, err error) {
	format = a.format()
	switch format {
	case FormatPacked, FormatPackedSelf, FormatFIDOU2F, FormatNone:
	default:
		return "", false, fmt.Errorf("softkey: unknown attestation format %q", format)
	}
	switch conveyance {
	case "direct", "enterprise":
		return format, false, nil
	default: // "none", "indirect", absent or unknown: the spec's default is none
		return FormatNone, true, nil
	}
}

func checkAlgorithms(o *creationOptions) error {
	if len(o.PubKeyCredParams) == 0 {
		return nil // browsers then use ES256 and RS256
	}
	for _, p := range o.PubKeyCredParams {
		if p.Type == "public-key" && p.Alg == coseAlgES256 {
			return nil
		}
	}
	return fmt.Errorf("%w: pubKeyCredParams has no ES256 (-7), the only algorithm this authenticator has", ErrNotSupported)
}

func (a *Authenticator) checkExcluded(rpID string, exclude []descriptor) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, d := range exclude {
		if d.Type != "" && d.Type != "public-key" {
			continue
		}
		for _, c := range a.creds {
			if c.RPID == rpID && bytes.Equal(c.ID, d.ID) {
				return fmt.Errorf("%w: the authenticator already holds excluded credential %s", ErrInvalidState, encode(c.ID))
			}
		}
	}
	return nil
}
