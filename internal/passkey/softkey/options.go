package softkey

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// b64 is a binary member of the options JSON: base64url, padded or not, as
// the JSON forms of WebAuthn options (parseCreationOptionsFromJSON) carry it.
type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if text, ok := plainString(data); ok {
		s = text // the usual spelling: no JSON string to decode
	} else if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("want a base64url string")
	}
	out, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return fmt.Errorf("not base64url: %w", err)
	}
	*b = out
	return nil
}

func encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type descriptor struct {
	Type string `json:"type"`
	ID   b64    `json:"id"`
}

// creationOptions is the part of PublicKeyCredentialCreationOptions (JSON
// form) an authenticator and its browser act on; the rest is ignored.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          b64    `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        b64 `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int64  `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials     []descriptor `json:"excludeCredentials"`
	AuthenticatorSelection struct {
		AuthenticatorAttachment string `json:"authenticatorAttachment"`
		ResidentKey             string `json:"residentKey"`
		RequireResidentKey      bool   `json:"requireResidentKey"`
		UserVerification        string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Attestation string                     `json:"attestation"`
	Extensions  map[string]json.RawMessage `json:"extensions"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptions (JSON form)
// an authenticator and its browser act on.
type requestOptions struct {
	Challenge        b64          `json:"challenge"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
	UserVerification string       `json:"userVerification"`
}

// plainString returns the text of a JSON string spelled without escapes
// (which a base64url value needs none of).
func plainString(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	inner := data[1 : len(data)-1]
	if bytes.IndexByte(inner, '\\') >= 0 || bytes.IndexByte(inner, '"') >= 0 {
		return "", false
	}
	return string(inner), true
}

// unwrap accepts {"publicKey": {…}} (what a server sends for
// navigator.credentials.create/get) or the bare inner object, and decodes
// it. The wrapped form is decoded once, the options with the wrapper;
// anything else as before, in two steps, with their messages.
func unwrap[T any](data []byte, v *T) error {
	var wrapped struct {
		PublicKey *T `json:"publicKey"`
	}
	if json.Unmarshal(data, &wrapped) == nil && wrapped.PublicKey != nil {
		*v = *wrapped.PublicKey
		return nil
	}
	var outer struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(data, &outer); err != nil {
		return fmt.Errorf("%w: options are not a JSON object: %v", ErrType, err)
	}
	inner := data
	if len(bytes.TrimSpace(outer.PublicKey)) > 0 && !bytes.Equal(bytes.TrimSpace(outer.PublicKey), []byte("null")) {
		inner = outer.PublicKey
	}
	if err := json.Unmarshal(inner, v); err != nil {
		return fmt.Errorf("%w: options: %v", ErrType, err)
	}
	return nil
}

func parseCreationOptions(data []byte) (*creationOptions, error) {
	var o creationOptions
	if err := unwrap(data, &o); err != nil {
		return nil, err
	}
	switch {
	case len(o.Challenge) == 0:
		return nil, fmt.Errorf("%w: options have no challenge", ErrType)
	case len(o.User.ID) == 0 || len(o.User.ID) > 64:
		return nil, fmt.Errorf("%w: user.id must be 1 to 64 bytes, got %d", ErrType, len(o.User.ID))
	}
	return &o, nil
}

func parseRequestOptions(data []byte) (*requestOptions, error) {
	var o requestOptions
	if err := unwrap(data, &o); err != nil {
		return nil, err
	}
	if len(o.Challenge) == 0 {
		return nil, fmt.Errorf("%w: options have no challenge", ErrType)
	}
	return &o, nil
}

// effectiveRPID applies the browser's rules: the RP ID defaults to the
// origin's host and must be that host or a parent domain of it, and the
// origin must be https (or http on localhost). check=false skips the rules,
// for tests that need a response a browser would never send.
func effectiveRPID(rpID, origin string, check bool) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: origin %q is not a URL with a host", ErrSecurity, origin)
	}
	host := u.Hostname()
	if rpID == "" {
		rpID = host
	}
	if !check {
		return rpID, nil
	}
	secure := u.Scheme == "https" || (u.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost")))
	if !secure {
		return "", fmt.Errorf("%w: origin %q is not secure", ErrSecurity, origin)
	}
	if net.ParseIP(host) != nil && rpID != host {
		return "", fmt.Errorf("%w: RP ID %q does not match IP origin %q", ErrSecurity, rpID, origin)
	}
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return "", fmt.Errorf("%w: RP ID %q is not %q or a parent domain of it", ErrSecurity, rpID, host)
	}
	return rpID, nil
}
