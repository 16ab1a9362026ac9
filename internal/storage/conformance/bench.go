package conformance

import (
	"testing"

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
