package oidc

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// Signing algorithms an application may choose.
const (
	AlgES256 = "ES256" // the default
	AlgRS256 = "RS256"
)

// keyCacheTTL bounds how long a node signs with a key set it read from the
// database before looking again, so a rotation made on another node is seen.
const keyCacheTTL = 30 * time.Second

// keyRing loads the provider's signing keys from the database, creating them
// on first start, and opens sealed private keys.
type keyRing struct {
	store storage.Storage
	now   func() time.Time
	kek   []byte // 32 bytes, or nil: private keys are stored as they are

	mu       sync.Mutex
	loadedAt time.Time
	keys     []loadedKey
}

type loadedKey struct {
	rec  storage.SigningKey
	pub  crypto.PublicKey
	priv crypto.Signer
}

func (k loadedKey) ID() string                                  { return k.rec.ID }
func (k loadedKey) Algorithm() jose.SignatureAlgorithm          { return jose.SignatureAlgorithm(k.rec.Alg) }
func (k loadedKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.Algorithm() }
func (k loadedKey) Use() string                                 { return "sig" }
func (k loadedKey) Key() any                                    { return k.pub }

// signingKey is the private half handed to the library for signing.
type signingKey struct{ loadedKey }

func (k signingKey) Key() any { return k.priv }

// all returns every key, loading (and on first start creating) them when
// the cache is stale.
func (r *keyRing) all(ctx context.Context) ([]loadedKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.keys != nil && now.Sub(r.loadedAt) < keyCacheTTL && !now.Before(r.loadedAt) {
		return r.keys, nil
	}
	recs, err := r.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, alg := range []string{AlgES256, AlgRS256} {
		if !hasAlg(recs, alg) {
			rec, err := r.generate(alg, now)
			if err != nil {
				return nil, err
			}
			// Two nodes starting together may both create one; both are
			// published and every node signs with the same (oldest) one.
			if err := r.store.CreateSigningKey(ctx, rec); err != nil {
				return nil, err
			}
		}
	}
	if recs, err = r.store.ListSigningKeys(ctx); err != nil {
		return nil, err
	}
	keys := make([]loadedKey, 0, len(recs))
	for _, rec := range recs {
		k, err := r.open(rec)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", rec.ID, err)
		}
		keys = append(keys, k)
	}
	r.keys, r.loadedAt = keys, now
	return keys, nil
}

func hasAlg(recs []storage.SigningKey, alg string) bool {
	for _, k := range recs {
		if k.Alg == alg && k.RetiredAt == nil {
			return true
		}
	}
	return false
}

// signs reports whether k may sign at now: its SignFrom has come and a
// newer key has not taken over.
func signs(k storage.SigningKey, now time.Time) bool {
	return !now.Before(k.SignFrom) && (k.RetiredAt == nil || now.Before(*k.RetiredAt))
}

// signer returns the key to sign with for alg: of the keys that may sign
// now, the one that began signing last (every node picks the same one).
func (r *keyRing) signer(ctx context.Context, alg string) (signingKey, error) {
	keys, err := r.all(ctx)
	if err != nil {
		return signingKey{}, err
	}
	now := r.now()
	var best *loadedKey
	for i, k := range keys {
		if k.rec.Alg == alg && signs(k.rec, now) && (best == nil || !k.rec.SignFrom.Before(best.rec.SignFrom)) {
			best = &keys[i]
		}
	}
	if best == nil {
		return signingKey{}, fmt.Errorf("no %s signing key is active", alg)
	}
	return signingKey{*best}, nil
}

// rotate publishes a new key for every algorithm now, signs with it from
// now+overlap (relying parties refresh their copy of the key set in
// between), and retires the previous ones then; they stay published until
// every token they signed has expired (maxTokenLife later).
func (r *keyRing) rotate(ctx context.Context, overlap, maxTokenLife time.Duration) ([]storage.SigningKey, error) {
	if _, err := r.all(ctx); err != nil { // first start: there is something to rotate
		return nil, err
	}
	old, err := r.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := r.now()
	from := now.Add(overlap)
	expires := from.Add(maxTokenLife)
	var made []storage.SigningKey
	for _, alg := range []string{AlgES256, AlgRS256} {
		rec, err := r.generate(alg, now)
		if err != nil {
			return nil, err
		}
		rec.SignFrom = from
		if err := r.store.CreateSigningKey(ctx, rec); err != nil {
			return nil, err
		}
		made = append(made, rec)
	}
	for _, k := range old {
		if k.RetiredAt != nil {
			continue
		}
		_, err := r.store.UpdateSigningKey(ctx, k.ID, func(k storage.SigningKey) (storage.SigningKey, error) {
			k.RetiredAt, k.ExpiresAt = &from, &expires
			return k, nil
		})
		if err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.keys = nil // this node sees the change at once; the others within keyCacheTTL
	r.mu.Unlock()
	return made, nil
}

// published returns the keys of the JWKS: all but the expired ones.
func (r *keyRing) published(ctx context.Context) ([]loadedKey, error) {
	keys, err := r.all(ctx)
	if err != nil {
		return nil, err
	}
	now := r.now()
	out := make([]loadedKey, 0, len(keys))
	for _, k := range keys {
		if k.rec.ExpiresAt == nil || now.Before(*k.rec.ExpiresAt) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (r *keyRing) generate(alg string, now time.Time) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return storage.SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return storage.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, err
	}
	rec := storage.SigningKey{ID: uuid.NewString(), Alg: alg, PublicKey: pub, PrivateKey: der,
		CreatedAt: now, SignFrom: now}
	if r.kek != nil {
		if rec.PrivateKey, err = seal(r.kek, der, []byte(rec.ID)); err != nil {
			return storage.SigningKey{}, err
		}
		rec.Sealed = true
	}
	return rec, nil
}

func (r *keyRing) open(rec storage.SigningKey) (loadedKey, error) {
	der := rec.PrivateKey
	if rec.Sealed {
		if r.kek == nil {
			return loadedKey{}, errors.New("the private key is encrypted but no oidc_key_encryption_key is configured")
		}
		var err error
		if der, err = unseal(r.kek, der, []byte(rec.ID)); err != nil {
			return loadedKey{}, errors.New("the private key does not open with the configured oidc_key_encryption_key")
		}
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return loadedKey{}, err
	}
	priv, ok := k.(crypto.Signer)
	if !ok {
		return loadedKey{}, fmt.Errorf("private key of type %T cannot sign", k)
	}
	pub, err := x509.ParsePKIXPublicKey(rec.PublicKey)
	if err != nil {
		return loadedKey{}, err
	}
	return loadedKey{rec: rec, pub: pub, priv: priv}, nil
}

// seal encrypts with AES-256-GCM; the key's ID is bound as associated data
// so a sealed key cannot be swapped onto another row.
func seal(kek, plain, ad []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, ad), nil
}

func unseal(kek, sealed, ad []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed key is too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], ad)
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
