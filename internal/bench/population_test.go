package bench

import (
	"encoding/hex"
	"testing"
	"time"
)

// The derived keys are pinned: a change in the derivation (or in Go's
// HKDF or raw-key parsing) would make a seeded database unusable by a later
// benchmark binary, and must show here.
func TestPopulationKeysAreDerivedStablyFromSeedAndIndex(t *testing.T) {
	p := Population{Seed: []byte("keyward bench")}
	for i, want := range map[int]string{
		0:      "0486b389afd9ab3dc3209cb125ba40f8239ded5d6ea28a3cdccaab21791255bf76faf9c3fd5cfb72754d02ad1dc75f6f4e39f28cd98d2c19e7930c7387430c1a6b",
		999999: "04c979cee11e563b993cd1255de292d1038ad117e69799bf4084fa4ee37a52a0e756be336a1e401ad85b3d80443016d8c6ad2ded5f57fa58b32ecb080daab7ee06",
	} {
		k, err := p.Key(i)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := k.PublicKey.Bytes()
		if hex.EncodeToString(got) != want {
			t.Errorf("user %d: public key %x, want %s", i, got, want)
		}
	}
	other, _ := Population{Seed: []byte("another seed")}.Key(0)
	first, _ := p.Key(0)
	if other.Equal(first) {
		t.Error("two seeds gave user 0 the same key")
	}
}

func TestPopulationRecordsAreDistinctAndConsistent(t *testing.T) {
	p := Population{Seed: []byte("keyward bench")}
	a, err := p.Import(41, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Import(42, time.Now())
	if a.User.ID == b.User.ID || a.User.UserPrincipalName == b.User.UserPrincipalName ||
		string(a.Credentials[0].CredentialID) == string(b.Credentials[0].CredentialID) {
		t.Fatalf("users 41 and 42 share a key field: %+v %+v", a.User, b.User)
	}
	if a.Credentials[0].UserID != a.User.ID {
		t.Fatalf("passkey of user 41 belongs to %s", a.Credentials[0].UserID)
	}
	if got := p.DisplayName(30*3 + 2); got != "Barbara Kernighan" {
		t.Fatalf("DisplayName(92) = %q", got)
	}
	if got := p.UPN(92); got != "barbara.kernighan.000000092@bench.example.com" {
		t.Fatalf("UPN(92) = %q", got)
	}
}
