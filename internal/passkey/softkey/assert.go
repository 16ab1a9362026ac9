package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
)

type assertionResponse struct {
	ID                      string         `json:"id"`
	RawID                   string         `json:"rawId"`
	Type                    string         `json:"type"`
	AuthenticatorAttachment string         `json:"authenticatorAttachment"`
	Response                assertionInner `json:"response"`
	ClientExtensionResults  map[string]any `json:"clientExtensionResults"`
}

type assertionInner struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

// AssertOptions change one assertion.
type AssertOptions struct {
	// CredentialID picks the credential, as a user choosing an account in
	// the browser's list; it must be allowed (or discoverable when the
	// options allow any). Default: the first allowed credential, or the
	// newest discoverable one.
	CredentialID []byte
	// NoUserVerification answers with UV=0 this once.
	NoUserVerification bool
	// OmitUserHandle leaves userHandle out, as U2F-era keys do.
	OmitUserHandle bool
}

// Assert answers navigator.credentials.get(): options is the request options
// JSON a server sends ({"publicKey": {…}} or the bare object), origin the
// page's origin. It uses allowCredentials when present, else any discoverable
// credential for the RP ID (ErrNotAllowed when there is none), increments
// that credential's sign count and returns the assertion response JSON.
func (a *Authenticator) Assert(options []byte, origin string) ([]byte, error) {
	return a.AssertWith(options, origin, AssertOptions{})
}

// AssertWith is Assert with per-assertion choices.
func (a *Authenticator) AssertWith(options []byte, origin string, ao AssertOptions) ([]byte, error) {
	o, err := parseRequestOptions(options)
	if err != nil {
		return nil, err
	}
	rpID, err := effectiveRPID(o.RPID, origin, !a.SkipOriginCheck)
	if err != nil {
		return nil, err
	}
	cred, count, err := a.use(rpID, o.AllowCredentials, ao.CredentialID)
	if err != nil {
		return nil, err
	}

	uv := a.UserVerification && !ao.NoUserVerification
	ad := authData(a.rpIDHash(rpID), a.flags(uv, cred.BackupEligible), count, nil)
	cdj, cdh, err := clientDataJSON("webauthn.get", o.Challenge, origin)
	if err != nil {
		return nil, err
	}
	sig, err := sign(cred.key, ad, cdh[:])
	if err != nil {
		return nil, err
	}
	resp := assertionResponse{
		ID:                      encode(cred.ID),
		RawID:                   encode(cred.ID),
		Type:                    "public-key",
		AuthenticatorAttachment: a.attachment(),
		Response: assertionInner{
			ClientDataJSON:    encode(cdj),
			AuthenticatorData: encode(ad),
			Signature:         encode(sig),
		},
		ClientExtensionResults: map[string]any{},
	}
	if !ao.OmitUserHandle {
		resp.Response.UserHandle = encode(cred.UserHandle)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("softkey: assertion response: %w", err)
	}
	return out, nil
}

// usedCredential is what an assertion needs, copied out under the lock.
type usedCredential struct {
	ID, UserHandle []byte
	BackupEligible bool
	key            *ecdsa.PrivateKey
}

// use picks the credential and increments its counter.
func (a *Authenticator) use(rpID string, allow []descriptor, want []byte) (*usedCredential, uint32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var candidates []*credential
	if len(allow) > 0 {
		for _, d := range allow {
			for _, c := range a.creds {
				if c.RPID == rpID && bytes.Equal(c.ID, d.ID) && (d.Type == "" || d.Type == "public-key") {
					candidates = append(candidates, c)
				}
			}
		}
	} else {
		for i := len(a.creds) - 1; i >= 0; i-- { // newest first
			if c := a.creds[i]; c.RPID == rpID && c.Discoverable {
				candidates = append(candidates, c)
			}
		}
	}
	if len(candidates) == 0 {
		if len(allow) > 0 {
			return nil, 0, fmt.Errorf("%w: none of the %d allowed credentials is on this authenticator for %s", ErrNotAllowed, len(allow), rpID)
		}
		return nil, 0, fmt.Errorf("%w: no discoverable credential for %s on this authenticator", ErrNotAllowed, rpID)
	}
	chosen := candidates[0]
	if want != nil {
		chosen = nil
		for _, c := range candidates {
			if bytes.Equal(c.ID, want) {
				chosen = c
				break
			}
		}
		if chosen == nil {
			return nil, 0, fmt.Errorf("%w: credential %s is not usable for this request", ErrNotAllowed, encode(want))
		}
	}
	if !a.NoSignCount {
		chosen.SignCount++
	}
	return &usedCredential{ID: chosen.ID, UserHandle: chosen.UserHandle, BackupEligible: chosen.BackupEligible, key: chosen.key},
		chosen.SignCount, nil
}
