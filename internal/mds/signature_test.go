package mds

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signatureKeys are one key of each kind an MDS blob may be signed with.
type signatureKeys struct {
	private []any // *ecdsa.PrivateKey (P-256, P-384, P-521), *rsa.PrivateKey
}

func newSignatureKeys(t testing.TB) signatureKeys {
	t.Helper()
	var k signatureKeys
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		p, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.private = append(k.private, p)
	}
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signatureKeys{private: append(k.private, r)}
}

func publicOf(private any) any {
	switch p := private.(type) {
	case *ecdsa.PrivateKey:
		return &p.PublicKey
	case *rsa.PrivateKey:
		return &p.PublicKey
	}
	return nil
}

// signedJWS is a JWS over payload with a signature of alg by key, or with
// sig as the signature when sign is false or the key cannot make one.
func signedJWS(t testing.TB, alg string, key any, payload string, sign bool, sig []byte) (jws, []byte) {
	t.Helper()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `"}`))
	input := header + "." + payload
	if sign {
		if s, err := jwt.GetSigningMethod(alg).Sign(input, key); err == nil {
			sig = s
		}
	}
	enc := base64.RawURLEncoding.EncodeToString(sig)
	return jws{token: input + "." + enc, header: header, payload: payload, signature: enc}, sig
}

// The signature is checked as golang-jwt's Verify checks it, with the
// signing input hashed in slices: a good signature of every algorithm over
// an input of many slices verifies, in the background too, and one changed
// bit of the input, or a key of another kind, is refused.
func TestVerifySignatureAsGolangJWT(t *testing.T) {
	keys := newSignatureKeys(t)
	payload := strings.Repeat("eyJubyI6MX0", 3*hashSlice/11+5) // over three slices
	byAlg := map[string]any{"ES256": keys.private[0], "ES384": keys.private[1], "ES512": keys.private[2]}
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		byAlg[alg] = keys.private[3]
	}
	for _, alg := range signingMethods {
		key := byAlg[alg]
		cert := &x509.Certificate{Subject: pkix.Name{CommonName: "signer"}, PublicKey: publicOf(key)}
		j, _ := signedJWS(t, alg, key, payload, true, nil)
		for _, background := range []bool{false, true} {
			if err := verifySignature(j, alg, cert, &pacer{on: background, since: time.Now()}); err != nil {
				t.Errorf("%s (background %v): a good signature is refused: %v", alg, background, err)
			}
		}
		bad, _ := signedJWS(t, alg, key, payload, true, nil)
		bad.payload = payload[:len(payload)-1] + "Q"
		bad.token = bad.header + "." + bad.payload + "." + bad.signature
		if err := verifySignature(bad, alg, cert, &pacer{}); err == nil {
			t.Errorf("%s: a changed input verified", alg)
		}
		other := keys.private[0]
		if _, ok := key.(*ecdsa.PrivateKey); ok {
			other = keys.private[3]
		}
		wrong := &x509.Certificate{PublicKey: publicOf(other)}
		if err := verifySignature(j, alg, wrong, &pacer{}); !errors.Is(err, jwt.ErrInvalidKeyType) {
			t.Errorf("%s with a key of another kind: %v, want golang-jwt's ErrInvalidKeyType", alg, err)
		}
	}
}

// FuzzVerifySignature holds verifySignature to golang-jwt's Verify for the
// same algorithm, key, signing input and signature: both accept or both
// refuse, for the same golang-jwt or crypto/rsa reason.
func FuzzVerifySignature(f *testing.F) {
	keys := newSignatureKeys(f)
	f.Add(uint8(0), uint8(0), "eyJubyI6MX0", true, []byte{})
	f.Add(uint8(3), uint8(3), "eyJubyI6MX0", true, []byte{0, 1})
	f.Add(uint8(6), uint8(3), "x", true, []byte{0, 0, 0, 4})
	f.Add(uint8(2), uint8(1), "eyJubyI6MX0", true, []byte{})
	f.Add(uint8(1), uint8(3), "", false, []byte{1, 2, 3})
	f.Add(uint8(8), uint8(0), strings.Repeat("A", hashSlice+1), true, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, algN, keyN uint8, payload string, sign bool, sig []byte) {
		alg := signingMethods[int(algN)%len(signingMethods)]
		key := keys.private[int(keyN)%len(keys.private)]
		j, made := signedJWS(t, alg, key, payload, sign, sig)
		if sign && len(sig) > 0 {
			// Flip the bits sig names in the signature made.
			for i, b := range sig {
				if len(made) > 0 {
					made[i%len(made)] ^= b
				}
			}
			j, _ = signedJWS(t, alg, key, payload, false, made)
		}
		decoded, err := base64.RawURLEncoding.DecodeString(j.signature)
		if err != nil {
			t.Fatal(err)
		}
		pub := publicOf(key)
		want := jwt.GetSigningMethod(alg).Verify(j.signingInput(), decoded, pub)
		got := verifySignature(j, alg, &x509.Certificate{PublicKey: pub}, &pacer{})
		if (got == nil) != (want == nil) {
			t.Fatalf("%s, %T, input %d bytes: verifySignature says %v, golang-jwt %v", alg, pub, len(j.signingInput()), got, want)
		}
		for _, e := range []error{jwt.ErrInvalidKeyType, jwt.ErrECDSAVerification, jwt.ErrHashUnavailable, rsa.ErrVerification} {
			if errors.Is(got, e) != errors.Is(want, e) {
				t.Fatalf("%s, %T: verifySignature says %v, golang-jwt %v", alg, pub, got, want)
			}
		}
	})
}
