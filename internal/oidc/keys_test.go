package oidc_test

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// TestSigningKeysAreSealedAtRest: with oidc_key_encryption_key set, the
// private keys in the database are ciphertext; a node without the key, or
// with another, refuses to start rather than sign with nothing; every node
// with the key signs with the same keys.
func TestSigningKeysAreSealedAtRest(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			db := b.New(t)
			st := db.Open(t)
			kek := bytes.Repeat([]byte{7}, 32)
			node := func(k []byte) *oidc.Provider {
				p, err := oidc.New(oidc.Config{Store: db.Open(t), Issuer: "https://id.example.com", KeyEncryptionKey: k})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			if err := node(kek).CheckKeys(t.Context()); err != nil {
				t.Fatalf("first start: %v", err)
			}
			keys, err := st.ListSigningKeys(t.Context())
			if err != nil || len(keys) != 2 {
				t.Fatalf("first start made %d keys (%v), want an ES256 and an RS256 one", len(keys), err)
			}
			for _, k := range keys {
				if !k.Sealed {
					t.Fatalf("key %s (%s) is stored unsealed", k.ID, k.Alg)
				}
				if _, err := x509.ParsePKCS8PrivateKey(k.PrivateKey); err == nil {
					t.Fatalf("key %s: the stored private key parses as a plain key", k.ID)
				}
			}
			err = node(nil).CheckKeys(t.Context())
			if err == nil || !strings.Contains(err.Error(), "oidc_key_encryption_key") {
				t.Fatalf("a node without the key: %v, want a refusal naming oidc_key_encryption_key", err)
			}
			err = node(bytes.Repeat([]byte{8}, 32)).CheckKeys(t.Context())
			if err == nil || !strings.Contains(err.Error(), "does not open") {
				t.Fatalf("a node with another key: %v", err)
			}
			if err := node(kek).CheckKeys(t.Context()); err != nil {
				t.Fatalf("a second node with the key: %v", err)
			}
			if again, _ := st.ListSigningKeys(t.Context()); len(again) != 2 {
				t.Fatalf("a second node made keys of its own: %d keys", len(again))
			}
			if _, err := oidc.New(oidc.Config{Store: st, Issuer: "https://id.example.com", KeyEncryptionKey: []byte("short")}); err == nil {
				t.Fatal("a key encryption key that is not 32 bytes was accepted")
			}
		})
	}
}
