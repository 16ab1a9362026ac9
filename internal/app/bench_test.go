package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/gcfloor"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// BenchmarkPasskeySignIn measures the whole passkey sign-in over real HTTP on
// SQLite: options, a fresh assertion from a software authenticator, and its
// verification with the session, counter update and sign-in log written.
// The authenticator's signing is excluded from the timer where it can be;
// compare with BenchmarkBareAssertionVerify, go-webauthn alone, in the same
// run (docs/design.md: at least 25% of the bare rate).
func BenchmarkPasskeySignIn(b *testing.B) {
	passkeySignIns(b, storagetest.NewSQLite(b))
}

// BenchmarkPasskeySignInPostgres is BenchmarkPasskeySignIn on PostgreSQL
// (KEYWARD_TEST_POSTGRES_DSN): one read and one write statement a sign-in.
func BenchmarkPasskeySignInPostgres(b *testing.B) {
	passkeySignIns(b, storagetest.NewPostgres(b))
}

func passkeySignIns(b *testing.B, db storagetest.Database) {
	w := newWorld(b, db)
	alice := w.user("alice@contoso.com")
	w.enableForAll()
	var keys sync.Pool
	keys.New = func() any {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		w.mustStatus(w.register(k, w.session(alice, true), ""), http.StatusCreated)
		return k
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := w.nodes[0].URL
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		k := keys.Get().(*softkey.Authenticator)
		defer keys.Put(k)
		for pb.Next() {
			opts := post(b, client, url+"/api/v1/auth/passkey/options", []byte(`{}`))
			resp, err := k.Assert(opts, w.origin())
			if err != nil {
				b.Fatal(err)
			}
			post(b, client, url+"/api/v1/auth/passkey", resp)
		}
	})
}

func post(b *testing.B, c *http.Client, url string, body []byte) []byte {
	res, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s %v", url, res.StatusCode, data, err)
	}
	return data
}

// BenchmarkBareAssertionVerify is go-webauthn alone: parse and verify one
// ES256 assertion against a known credential, no storage, no HTTP. It is the
// same verifier `keyward bench` measures its bare rate with.
func BenchmarkBareAssertionVerify(b *testing.B) {
	v, err := bench.NewBareVerifier()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := v.Verify(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthenticatedRequest is the session check every signed-in page and
// API call pays, over real HTTP on SQLite: the cookie's session and its user
// loaded, then the smallest authenticated answer (GET /api/v1/me).
func BenchmarkAuthenticatedRequest(b *testing.B) {
	w := newWorld(b, storagetest.NewSQLite(b))
	s := w.session(w.user("alice@contoso.com"), true)
	b.ReportAllocs()
	for b.Loop() {
		w.mustStatus(w.do("GET", "/api/v1/me", cookie(s), nil), http.StatusOK)
	}
}

// BenchmarkPasskeyRegistration measures provisioning on behalf over real
// HTTP on SQLite, as `keyward bench --scenario register` does: creation
// options, a packed full attestation from the world's CA (its model in the
// world's MDS blob), and the finish that verifies the statement, checks the
// chain against MDS, judges the policy and stores the key with its audit
// record. The software authenticator's key generation and signing are
// inside the timer. The process collects garbage as keyward serve and
// keyward bench do, with the default floor under the heap (gcfloor).
func BenchmarkPasskeyRegistration(b *testing.B) {
	defer gcfloor.Start(uint64(config.Defaults().GCHeapFloorMB) << 20)()
	w := newWorld(b, storagetest.NewSQLite(b))
	w.enableForAll()
	users := make([]string, 200)
	for i := range users {
		users[i] = w.user(fmt.Sprintf("user%03d@contoso.com", i))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var turn atomic.Int64
	b.ReportAllocs()
	before, ioOK := ioSyscalls()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		bc := &bench.Client{BaseURL: w.nodes[0].URL, Origin: w.origin(), Token: w.admin, HTTP: client}
		for pb.Next() {
			if _, err := bc.Register(context.Background(), users[int(turn.Add(1))%len(users)], k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	// Read and write system calls per registration, the process's own
	// (client and server: SQLite's page reads and WAL frames, two writes a
	// page, and the sockets'), counts a loaded machine does not change.
	if after, ok := ioSyscalls(); ok && ioOK {
		b.ReportMetric(float64(after[0]-before[0])/float64(b.N), "reads/op")
		b.ReportMetric(float64(after[1]-before[1])/float64(b.N), "writes/op")
	}
}

// ioSyscalls is /proc/self/io's syscr and syscw: the read and write system
// calls this process has made; false where there is no such file.
func ioSyscalls() ([2]int64, bool) {
	var n [2]int64
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return n, false
	}
	found := 0
	for line := range strings.Lines(string(data)) {
		for i, name := range []string{"syscr:", "syscw:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), name); ok {
				if n[i], err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					found++
				}
			}
		}
	}
	return n, found == 2
}
