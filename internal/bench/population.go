package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
)

// Population is a directory of users that is never held in memory: user
// i's ID, name and passkey (its ES256 key too) all derive from Seed and i,
// so the benchmark stores a million of them in bulk and signs in as any of
// them by deriving that one key again.
type Population struct {
	Seed []byte
}

// The population's names: user i is firstNames[i%len] lastNames[i/len%len],
// so a prefix such as "Ada Lo" finds one user in every
// len(firstNames)·len(lastNames).
var (
	firstNames = []string{"Ada", "Alan", "Barbara", "Brian", "Claude", "Dennis", "Donald", "Edsger", "Frances", "Grace",
		"Hedy", "Ivan", "Jean", "John", "Ken", "Leslie", "Linus", "Margaret", "Niklaus", "Radia",
		"Rob", "Shafi", "Sophie", "Tim", "Whitfield", "Yukihiro", "Adele", "Bjarne", "Carol", "Guido"}
	lastNames = []string{"Lovelace", "Turing", "Liskov", "Kernighan", "Shannon", "Ritchie", "Knuth", "Dijkstra", "Allen", "Hopper",
		"Lamarr", "Sutherland", "Sammet", "McCarthy", "Thompson", "Lamport", "Torvalds", "Hamilton", "Wirth", "Perlman",
		"Pike", "Goldwasser", "Wilson", "Berners-Lee", "Diffie", "Matsumoto", "Goldberg", "Stroustrup", "Shaw", "Rossum"}
)

// PopulationAAGUID is the seeded passkeys' model.
var PopulationAAGUID = AAGUID

// UserID is user i's ID (a UUID).
func (p Population) UserID(i int) string { return fmt.Sprintf("5ca1eb00-0000-4000-8000-%012d", i) }

func (p Population) credentialRowID(i int) string {
	return fmt.Sprintf("5ca1eb00-0001-4000-8000-%012d", i)
}

// DisplayName is user i's display name, e.g. "Ada Lovelace".
func (p Population) DisplayName(i int) string {
	return firstNames[i%len(firstNames)] + " " + lastNames[i/len(firstNames)%len(lastNames)]
}

// UPN is user i's user principal name, e.g. "ada.lovelace.000000042@bench.example.com".
func (p Population) UPN(i int) string {
	name := strings.ToLower(strings.ReplaceAll(p.DisplayName(i), " ", "."))
	return fmt.Sprintf("%s.%09d@bench.example.com", name, i)
}

// CredentialID is the WebAuthn credential ID of user i's passkey.
func (p Population) CredentialID(i int) []byte {
	return binary.BigEndian.AppendUint64([]byte("kwbench"), uint64(i))
}

// Key derives user i's P-256 private key: HKDF-SHA-256 of Seed, with the
// index in the info, read as a scalar (SEC 1 raw form). A value that is not
// a valid scalar (zero or above the order, about one in 2³²) is skipped for
// the next attempt's. Only HKDF and the raw-key parsing define the result,
// so it does not change between Go versions as ecdsa.GenerateKey's use of
// its reader may.
func (p Population) Key(i int) (*ecdsa.PrivateKey, error) {
	for attempt := range 16 {
		raw, err := hkdf.Key(sha256.New, p.Seed, nil, "keyward bench passkey "+strconv.Itoa(i)+"/"+strconv.Itoa(attempt), 32)
		if err != nil {
			return nil, err
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no valid P-256 scalar for user %d", i)
}

// Import is user i with their passkey as stored: a synced passkey (backed
// up, signature counter 0), self-attested.
func (p Population) Import(i int, now time.Time) (storage.UserImport, error) {
	key, err := p.Key(i)
	if err != nil {
		return storage.UserImport{}, err
	}
	cose, err := softkey.COSEKey(&key.PublicKey)
	if err != nil {
		return storage.UserImport{}, err
	}
	u := storage.User{ID: p.UserID(i), UserPrincipalName: p.UPN(i), DisplayName: p.DisplayName(i),
		AccountEnabled: true, CreatedAt: now, UpdatedAt: now}
	c := storage.Credential{ID: p.credentialRowID(i), UserID: u.ID, CredentialID: p.CredentialID(i), PublicKey: cose,
		AAGUID: PopulationAAGUID.String(), DisplayName: "keyward bench key", AttestationFormat: "packed",
		AttestationType: "self", AttestationLevel: storage.AttestationNotAttested, Transports: []string{"internal"},
		UserVerified: true, BackupEligible: true, BackupState: true, CreatedAt: now}
	return storage.UserImport{User: u, Credentials: []storage.Credential{c}}, nil
}

// Authenticator is a software authenticator holding only user i's
// passkey, for rpID. It reports a signature counter of 0, as synced
// passkeys do, so two sign-ins of one user may run at once.
func (p Population) Authenticator(i int, rpID string) (*softkey.Authenticator, error) {
	key, err := p.Key(i)
	if err != nil {
		return nil, err
	}
	a := softkey.New(softkey.Options{AAGUID: PopulationAAGUID, Attachment: "platform", BackupEligible: true, BackupState: true})
	a.NoSignCount = true
	err = a.AddCredential(softkey.Credential{ID: p.CredentialID(i), RPID: rpID, UserHandle: passkey.UserHandle(p.UserID(i)),
		UserName: p.UPN(i), AAGUID: PopulationAAGUID, BackupEligible: true}, key)
	return a, err
}

// populationChunk is how many users one transaction imports.
const populationChunk = 5000

// SeedPopulation stores users from to to-1 of p with their passkeys
// through Storage.ImportUsers, populationChunk users a transaction, each
// with one audit record saying the benchmark wrote them. The keys of the
// next chunk are derived on all cores while the database writes this one.
func SeedPopulation(ctx context.Context, st storage.Storage, p Population, from, to int, now time.Time,
	progress func(format string, args ...any)) error {
	type chunk struct {
		users []storage.UserImport
		err   error
	}
	chunks := make(chan chunk, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(chunks)
		for start := from; start < to; start += populationChunk {
			c := chunk{users: make([]storage.UserImport, min(start+populationChunk, to)-start)}
			var wg sync.WaitGroup
			var mu sync.Mutex
			workers := runtime.GOMAXPROCS(0)
			for w := range workers {
				wg.Go(func() {
					for j := w; j < len(c.users); j += workers {
						u, err := p.Import(start+j, now)
						if err != nil {
							mu.Lock()
							c.err = err
							mu.Unlock()
							return
						}
						c.users[j] = u
					}
				})
			}
			wg.Wait()
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	done, last := from, time.Now()
	for c := range chunks {
		if c.err != nil {
			return c.err
		}
		err := st.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
			if err := st.ImportUsers(ctx, c.users); err != nil {
				return nil, err
			}
			return []storage.AuditEvent{{Time: now, Actor: "cli", Action: "bench.seed", Target: "bench",
				Details: fmt.Appendf(nil, `{"users":%d}`, len(c.users))}}, nil
		})
		if err != nil {
			return fmt.Errorf("seeding users %d-%d: %w", done, done+len(c.users)-1, err)
		}
		done += len(c.users)
		if progress != nil && (time.Since(last) > 10*time.Second || done == to) {
			progress("seeded %d of %d users with their passkeys", done, to)
			last = time.Now()
		}
	}
	return ctx.Err()
}
