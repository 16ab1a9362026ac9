package conformance

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/storage"
)

// BenchmarkSignIn measures the storage work of one passkey sign-in, as the
// finish does it: read the credential with its owner, groups and policy
// version (GetCredentialOwner), then record the outcome — the sealed
// challenge used up, the counter update, the session and the log event — in
// one transaction (RecordSignIn). The options write nothing. Each parallel
// goroutine signs in with its own credential, as different users do. s must
// be a migrated, empty store.
//
// Besides wall time it reports cpu-ns/op, the CPU this process spent per
// sign-in (for SQLite: all of it; for PostgreSQL: the client side only),
// which stays meaningful on a busy machine.
func BenchmarkSignIn(b *testing.B, s storage.Storage) {
	ctx := b.Context()
	u := newUser("bench@x.org")
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		c := newCredential(u.ID)
		if err := s.CreateCredential(ctx, c); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			got, err := s.GetCredentialOwner(ctx, c.CredentialID)
			if err != nil {
				b.Error(err)
				return
			}
			r := signIn(got.User, got.Credential, t0)
			r.Used = usedChallenge()
			if err := s.RecordSignIn(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAPITokenLookup measures what every admin API request asks the
// store to authenticate its bearer token (the token by its secret's hash),
// beside the one-row version read (AccessVersion) that a token cache checked
// against a revocation counter would send instead: what such a cache could
// save (docs/performance.md, "The API token lookup"). Both report cpu-ns/op
// as BenchmarkSignIn does. s must be a migrated store.
func BenchmarkAPITokenLookup(b *testing.B, s storage.Storage) {
	ctx := b.Context()
	hash := make([]byte, 32)
	copy(hash, "keyward bench token lookup")
	tok := storage.APIToken{ID: uuid.NewString(), Name: "bench-" + uuid.NewString(), Role: storage.RoleReader,
		SecretHash: hash, CreatedAt: t0}
	if err := s.CreateAPIToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, read func() error) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			if err := read(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("token", func(b *testing.B) {
		run(b, func() error { _, err := s.GetAPITokenByHash(ctx, hash); return err })
	})
	b.Run("version", func(b *testing.B) {
		run(b, func() error { _, err := s.AccessVersion(ctx); return err })
	})
}

// BenchmarkCodeExchange measures the storage work of one OIDC code exchange,
// as the token endpoint does it: read the code's grant with its user and
// client (GetCodeGrant), then use the code up and store the access and
// refresh token issued for it (RedeemAuthCode). It reports cpu-ns/op as
// BenchmarkSignIn does, to be read beside it. The codes are made before the
// timer starts. Sub-benchmarks: the requests in flight (2 as GOMAXPROCS on
// two cores, and 32 as keyward bench's highest level), and the rows' keys —
// time-ordered as the provider makes them (a UUIDv7 first), or random as it
// made them before, each row then on a page of its own. newStore returns a
// migrated, empty store.
func BenchmarkCodeExchange(b *testing.B, newStore func(testing.TB) storage.Storage) {
	for _, keys := range []string{"ordered", "random"} {
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("keys=%s/inflight=%d", keys, par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
				b.SetParallelism(par)
				codeExchanges(b, newStore(b), keys == "ordered")
			})
		}
	}
}

func codeExchanges(b *testing.B, s storage.Storage, ordered bool) {
	ctx := b.Context()
	u := newUser("bench@x.org")
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	a := newApplication("Bench")
	if err := s.CreateApplication(ctx, a); err != nil {
		b.Fatal(err)
	}
	key := func() string {
		if ordered {
			return uuid.Must(uuid.NewV7()).String()
		}
		return ""
	}
	type code struct {
		id   string
		hash []byte
	}
	codes := make(chan code, b.N)
	exp := at(time.Minute)
	for range b.N {
		r := newAuthRequest(a.AppID)
		if ordered {
			r.ID = key() + "-" + fmt.Sprintf("%x", randomBytes(8))
		}
		r.Request = []byte(benchAuthRequestJSON)
		r.UserID, r.SessionID, r.AuthTime, r.AMR, r.ACR, r.Done = u.ID, uuid.NewString(), t0, []string{"hwk", "user", "mfa"}, "phrh", true
		r.CodeHash, r.CodeExpiresAt = randomBytes(32), &exp
		if err := s.CreateAuthRequest(ctx, r); err != nil {
			b.Fatal(err)
		}
		codes <- code{r.ID, r.CodeHash}
	}
	close(codes)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := <-codes
			g, err := s.GetCodeGrant(ctx, c.hash, "oidc-client:", 15*time.Minute, t0)
			if err != nil {
				b.Error(err)
				return
			}
			acc := newOIDCToken(g.Client, g.User.ID, storage.TokenAccess, g.Request.ID)
			ref := newOIDCToken(g.Client, g.User.ID, storage.TokenRefresh, g.Request.ID)
			acc.ID, ref.ID = hexID(key()), hexID(key())
			acc.RefreshID, ref.ExpiresAt = ref.ID, at(30*24*time.Hour)
			if err := s.RedeemAuthCode(ctx, g.Request.ID, t0, acc, ref); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// hexID is an opaque token's row ID as the provider makes it: its key, when
// it has one, and the hex SHA-256 of the token.
func hexID(key string) string {
	if key == "" {
		return fmt.Sprintf("%x", randomBytes(32))
	}
	return strings.ReplaceAll(key, "-", "") + "." + fmt.Sprintf("%x", randomBytes(32))
}

// benchAuthRequestJSON is an authorization request as the provider stores it.
const benchAuthRequestJSON = `{"scope":"openid offline_access","response_type":"code","client_id":"5f0c2a61-3c0b-4a8e-9c2f-0b1d4f8a9e21","redirect_uri":"https://bench.invalid/cb","state":"bench","nonce":"","response_mode":"","display":"","prompt":null,"max_age":null,"ui_locales":null,"id_token_hint":"","login_hint":"","acr_values":null,"code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256","request":""}`
