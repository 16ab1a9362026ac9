package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/reports"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

// previewStore is a SQLite database of 100,000 passkeys (the reports
// scenario's, without sign-ins), kept in KEYWARD_PREVIEW_BENCH_DIR across
// runs when that is set (seeding takes a while), else in a temporary one.
func previewStore(b *testing.B) *sqlite.Store {
	dir := os.Getenv("KEYWARD_PREVIEW_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "keyward.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if n, err := st.CountUsers(ctx); err != nil {
		b.Fatal(err)
	} else if n == 0 {
		if err := bench.SeedReports(ctx, st, bench.ReportsOptions{Passkeys: 100_000, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// BenchmarkPreviewAllowTwoModels is the reports scenario's impact preview
// (an allow list of two of five models: 60,000 keys stop working) at
// 100,000 passkeys on SQLite.
func BenchmarkPreviewAllowTwoModels(b *testing.B) {
	st := previewStore(b)
	ctx := context.Background()
	pols := &methodpolicy.Service{Store: st, Now: time.Now}
	rep := &reports.Service{Store: st, Now: time.Now}
	allowTwo := []byte(`{"state":"enabled","passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"allow",
		"aaGuids":["cb69481e-8ff7-4039-93ec-0a2729a154a8","ee882879-721c-4913-9775-3dfcce97072a"]}}]}`)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := rep.PreviewFido2(ctx, pols, allowTwo); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPolicyPatch saves a passkey policy change at 100,000 passkeys:
// its lockout guard's read inside the writing transaction.
func BenchmarkPolicyPatch(b *testing.B) {
	st := previewStore(b)
	ctx := context.Background()
	pols := &methodpolicy.Service{Store: st, Now: time.Now}
	admin := authz.CLI()
	states := [][]byte{[]byte(`{"state":"enabled"}`), []byte(`{"state":"disabled"}`)}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		if _, err := pols.UpdateFido2(ctx, admin, states[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// reportCPU reports the process's CPU time (user and system, garbage
// collection included) per operation when the returned func is called: on
// a machine others share, wall time per operation measures them too.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op") }
}
