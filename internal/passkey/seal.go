package passkey

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// Sealed challenges. No ceremony's options write its state — sign-in,
// step-up, self-service registration, provisioning on behalf: they seal it
// (AES-256-GCM, the standard library's) under the newest key of a key set
// kept in the database, and the sealed bytes are the WebAuthn challenge
// itself. The authenticator signs over them, and the finish opens them on
// whichever node it reaches. Single use holds in the finishing transaction:
// the state's random ID is inserted into a table of used challenges, where a
// second use finds it (storage.SignInRecord.Used for a sign-in,
// Storage.UseChallenge beside the new credential for a registration). A key
// seals for keyRotation, then opens what it sealed until the longest
// challenge it may have sealed has expired.

// keyRotation is how long one key seals new challenges.
const keyRotation = 24 * time.Hour

// MaxChallengeTTL is the longest a ceremony may take: provisioning on
// behalf allows 30 days (a key mailed to its user), so a key opens for that
// long after it stops sealing.
const MaxChallengeTTL = 30 * 24 * time.Hour

// maxSealedChallenge bounds the client-supplied challenge opened: options
// never seal more (a user's allowCredentials is bounded by their passkeys).
const maxSealedChallenge = 16 << 10

// sealVersion is the first byte of a sealed challenge.
const sealVersion = 1

// sealHeader is the version and the key's 16-byte ID: the AEAD's additional
// data, so neither can be changed without the tag failing.
const sealHeader = 1 + 16

// sealedState is the ceremony's state inside a sealed challenge.
type sealedState struct {
	ID      string `json:"i"` // the used-challenge ID
	Kind    string `json:"k"`
	UserID  string `json:"u,omitempty"`
	Expires int64  `json:"e"` // Unix milliseconds
	Data    []byte `json:"d"` // go-webauthn's session data, without its challenge
}

// sealer holds the challenge keys, loaded from the database and cached.
type sealer struct {
	store storage.Storage
	ttl   time.Duration // the longest a challenge it seals lives

	mu      sync.Mutex
	aeads   map[string]cipher.AEAD // by key ID
	current string                 // the key that seals, "" when none yet
	until   time.Time              // when current stops sealing
	opens   time.Time              // when current stops opening (it expires)
}

func newSealer(store storage.Storage, ttl time.Duration) *sealer {
	return &sealer{store: store, ttl: ttl, aeads: map[string]cipher.AEAD{}}
}

// load reads the key set at now into the cache and picks the newest key
// still sealing. Callers hold mu.
func (k *sealer) load(ctx context.Context, now time.Time) error {
	keys, err := k.store.ListChallengeKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("load challenge keys: %w", err)
	}
	k.current = ""
	for _, key := range keys { // newest first
		if _, ok := k.aeads[key.ID]; !ok {
			a, err := newAEAD(key.Secret)
			if err != nil {
				return fmt.Errorf("challenge key %s: %w", key.ID, err)
			}
			k.aeads[key.ID] = a
		}
		if k.current == "" && now.Before(key.CreatedAt.Add(keyRotation)) {
			k.current, k.until, k.opens = key.ID, key.CreatedAt.Add(keyRotation), key.ExpiresAt
		}
	}
	return nil
}

// sealing returns the key that seals at now a challenge that expires at
// expires, loading the key set or making a new key when the cached one has
// stopped sealing or expires before the challenge would (a key made by an
// older version, whose longest challenge was shorter). Two nodes making a
// key at once both store theirs; each opens the other's.
func (k *sealer) sealing(ctx context.Context, now, expires time.Time) (string, cipher.AEAD, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	usable := func() bool { return k.current != "" && now.Before(k.until) && !expires.After(k.opens) }
	if usable() {
		return k.current, k.aeads[k.current], nil
	}
	if err := k.load(ctx, now); err != nil {
		return "", nil, err
	}
	if !usable() {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read never fails on supported platforms
		key := storage.ChallengeKey{ID: uuid.NewString(), Secret: secret, CreatedAt: now,
			ExpiresAt: maxTime(now.Add(keyRotation+k.ttl), expires)}
		if err := k.store.CreateChallengeKey(ctx, key); err != nil {
			return "", nil, fmt.Errorf("create challenge key: %w", err)
		}
		a, err := newAEAD(secret)
		if err != nil {
			return "", nil, err
		}
		k.aeads[key.ID], k.current, k.until, k.opens = a, key.ID, now.Add(keyRotation), key.ExpiresAt
	}
	return k.current, k.aeads[k.current], nil
}

// opening returns the key id; one this node has not seen (another node made
// it) is looked up in the database.
func (k *sealer) opening(ctx context.Context, id string, now time.Time) (cipher.AEAD, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if a, ok := k.aeads[id]; ok {
		return a, nil
	}
	if err := k.load(ctx, now); err != nil {
		return nil, err
	}
	return k.aeads[id], nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func newAEAD(secret []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("challenge key: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal returns the sealed challenge carrying st.
func (k *sealer) seal(ctx context.Context, st sealedState, now time.Time) ([]byte, error) {
	id, aead, err := k.sealing(ctx, now, time.UnixMilli(st.Expires))
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode ceremony state: %w", err)
	}
	keyID := uuid.MustParse(id)
	out := make([]byte, sealHeader, sealHeader+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], keyID[:])
	nonce := out[sealHeader : sealHeader+aead.NonceSize()]
	out = out[:sealHeader+aead.NonceSize()]
	_, _ = rand.Read(nonce)
	var header [sealHeader]byte
	copy(header[:], out)
	return aead.Seal(out, nonce, plain, header[:]), nil
}

// errUnsealable: a challenge that no key of the set opens, or that does not
// hold a ceremony's state. To the person it is an unknown challenge.
var errUnsealable = errors.New("the challenge was not sealed by this service")

// open returns the state sealed in challenge (base64url, as clientData
// carries it). Anything else — not base64url, too long, another version, a
// key not in the set, a failed tag, an expired state — is errUnsealable or
// an error of the key set's store.
func (k *sealer) open(ctx context.Context, challenge string, now time.Time) (sealedState, error) {
	var st sealedState
	if len(challenge) > base64.RawURLEncoding.EncodedLen(maxSealedChallenge) {
		return st, errUnsealable
	}
	raw, err := base64.RawURLEncoding.DecodeString(challenge)
	if err != nil || len(raw) < sealHeader || raw[0] != sealVersion {
		return st, errUnsealable
	}
	keyID, err := uuid.FromBytes(raw[1:sealHeader])
	if err != nil {
		return st, errUnsealable
	}
	aead, err := k.opening(ctx, keyID.String(), now)
	if err != nil {
		return st, err
	}
	if aead == nil || len(raw) < sealHeader+aead.NonceSize()+aead.Overhead() {
		return st, errUnsealable
	}
	nonce, sealed := raw[sealHeader:sealHeader+aead.NonceSize()], raw[sealHeader+aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, sealed, raw[:sealHeader])
	if err != nil {
		return st, errUnsealable
	}
	if err := json.Unmarshal(plain, &st); err != nil || st.ID == "" {
		return sealedState{}, errUnsealable
	}
	if !now.Before(time.UnixMilli(st.Expires)) {
		return sealedState{}, errUnsealable
	}
	return st, nil
}

// sealLogin makes the sealed challenge of a sign-in's options: the session
// data go-webauthn made, whose own random challenge it replaces. It returns
// when the challenge expires.
func (s *Service) sealLogin(ctx context.Context, userID string, sd *webauthn.SessionData, challenge *[]byte) (time.Time, error) {
	return s.sealCeremony(ctx, sealedState{Kind: storage.ChallengeLogin, UserID: userID}, sd, s.cfg.ChallengeTTL, challenge)
}

// sealCeremony seals st — its kind, user and what else the finish needs —
// with the session data sd go-webauthn made, whose own random challenge the
// sealed bytes replace in *challenge; the challenge expires after ttl, which
// it returns.
func (s *Service) sealCeremony(ctx context.Context, st sealedState, sd *webauthn.SessionData, ttl time.Duration, challenge *[]byte) (time.Time, error) {
	now := s.now()
	sd.Challenge, sd.Expires = "", time.Time{}
	data, err := sd.MarshalMsg(nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("encode session data: %w", err)
	}
	st.ID, st.Expires, st.Data = usedChallengeID(), now.Add(ttl).UnixMilli(), data
	sealed, err := s.sealer.seal(ctx, st, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("seal challenge: %w", err)
	}
	*challenge = sealed
	return time.UnixMilli(st.Expires).UTC(), nil
}

// openLogin opens a sign-in's sealed challenge: the session data to verify
// the assertion against, and the record that uses the challenge up.
func (s *Service) openLogin(ctx context.Context, challenge string) (webauthn.SessionData, *storage.UsedChallenge, error) {
	_, sd, used, err := s.openCeremony(ctx, challenge, storage.ChallengeLogin, "")
	return sd, used, err
}

// openCeremony opens a sealed challenge of kind and, unless userID is "",
// for that user: its state, the session data to verify the response
// against, and the record that uses the challenge up. Anything else — not
// sealed here, expired, another kind of ceremony, another user's — is
// errChallenge, as an unknown challenge is, and is not used up.
func (s *Service) openCeremony(ctx context.Context, challenge, kind, userID string) (sealedState, webauthn.SessionData, *storage.UsedChallenge, error) {
	var sd webauthn.SessionData
	st, err := s.sealer.open(ctx, challenge, s.now())
	if errors.Is(err, errUnsealable) {
		return st, sd, nil, errChallenge
	}
	if err != nil {
		return st, sd, nil, fmt.Errorf("open challenge: %w", err)
	}
	if st.Kind != kind || (userID != "" && st.UserID != userID) {
		return st, sd, nil, errChallenge
	}
	if _, err := sd.UnmarshalMsg(st.Data); err != nil {
		return st, sd, nil, errChallenge
	}
	sd.Challenge = challenge
	return st, sd, &storage.UsedChallenge{ID: st.ID, ExpiresAt: time.UnixMilli(st.Expires).UTC()}, nil
}

// usedChallengeID names a challenge in the used challenges' table: a UUIDv7,
// whose text sorts by the millisecond it was made, so each sign-in's insert
// lands at the right edge of the table's key, on the page the sign-ins
// before it wrote, not on a random page of a table that holds every
// challenge of the last minutes (and the sweep deletes from the left edge).
// Its 74 random bits keep two nodes' IDs of one millisecond apart; the ID is
// inside the sealed state, never shown.
func usedChallengeID() string {
	return uuid.Must(uuid.NewV7()).String()
}
