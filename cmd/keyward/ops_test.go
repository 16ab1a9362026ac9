package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/passkey/softkey"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

func TestSQLiteSynchronousSettingReachesTheDatabase(t *testing.T) {
	for _, tc := range []struct{ setting, want string }{{"", "1"}, {"normal", "1"}, {"full", "2"}} {
		t.Run("setting_"+tc.setting, func(t *testing.T) {
			env := sqliteEnv(t)
			if tc.setting != "" {
				env = append(env, "KEYWARD_SQLITE_SYNCHRONOUS="+tc.setting)
			}
			st := openTestStore(t, env).(*sqlite.Store)
			var got string
			if err := st.Writer().QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA synchronous = %s, want %s", got, tc.want)
			}
		})
	}
}

// cookieRecorder keeps the cookies set by the last response, so a test can
// hold on to the session a sign-in created; one per goroutine.
type cookieRecorder struct {
	rt   http.RoundTripper
	last []*http.Cookie
}

func (r *cookieRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err == nil {
		r.last = resp.Cookies()
	}
	return resp, err
}

// opsClient talks to n as a browser at the default public URL would;
// cookies set by each response are kept in rec when it is not nil.
func opsClient(n *node, token string, rec *cookieRecorder) *bench.Client {
	hc := bench.NewHTTPClient(8)
	if rec != nil {
		rec.rt = hc.Transport
		hc.Transport = rec
	}
	return &bench.Client{BaseURL: "http://" + n.addr, Origin: "http://localhost:8080", Token: token, HTTP: hc}
}

// meAs answers GET /api/v1/me with the given session cookies: the user's ID,
// or "" when the session is not valid there.
func meAs(t *testing.T, n *node, cookies []*http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url("/api/v1/me"), nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ ID string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&me) != nil {
		return ""
	}
	return me.ID
}

// TestBackupUnderSignInLoadRestoresEverythingAcknowledgedBeforeIt runs the
// real server with passkey sign-ins and passkey registrations going on at
// once, runs `keyward backup` in the middle of them, restores the file into a
// fresh data directory and starts a server there. Every sign-in acknowledged
// before the backup began must be there — its session signs the person in
// and its sign-in log line is present — and every passkey registered before
// it must sign its owner in on the restored server.
func TestBackupUnderSignInLoadRestoresEverythingAcknowledgedBeforeIt(t *testing.T) {
	ctx := t.Context()
	envA := []string{"KEYWARD_DATA_DIR=" + t.TempDir()}
	tok := strings.TrimSpace(runBinary(t, envA, "token", "create", "--name", "ops", "--role", "global-admin"))
	a := startServe(t, envA)
	a.waitReady()
	admin := opsClient(a, tok, nil)
	if _, err := admin.EnablePasskeys(ctx); err != nil {
		t.Fatal(err)
	}
	const signers, registrars, opsBefore = 6, 2, 8
	newKey := func() *softkey.Authenticator {
		return softkey.New(softkey.Options{AAGUID: bench.AAGUID, Attestation: softkey.FormatPackedSelf})
	}
	userIDs, keys := make([]string, signers), make([]*softkey.Authenticator, signers)
	for i := range signers {
		id, err := admin.CreateUser(ctx, fmt.Sprintf("signer-%d@example.com", i), "Signer")
		if err != nil {
			t.Fatal(err)
		}
		userIDs[i], keys[i] = id, newKey()
		if err := admin.Provision(ctx, id, keys[i]); err != nil {
			t.Fatal(err)
		}
	}

	type signIn struct {
		userID  string
		cookies []*http.Cookie
	}
	type registration struct {
		userID string
		key    *softkey.Authenticator
	}
	var (
		mu       sync.Mutex
		progress = sync.NewCond(&mu)
		done     [signers + registrars]int
		signIns  []signIn
		regs     []registration
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	acknowledge := func(worker int, add func()) {
		mu.Lock()
		defer mu.Unlock()
		add()
		done[worker]++
		progress.Broadcast()
	}
	failed := func(worker int, err error) {
		t.Errorf("worker %d: %v", worker, err)
		acknowledge(worker, func() { done[worker] = 1 << 30 }) // nobody waits for it any more
	}
	for i := range signers {
		wg.Go(func() {
			rec := &cookieRecorder{}
			c := opsClient(a, "", rec)
			for !stop.Load() {
				if _, err := c.SignIn(ctx, keys[i]); err != nil {
					failed(i, err)
					return
				}
				acknowledge(i, func() { signIns = append(signIns, signIn{userIDs[i], rec.last}) })
			}
		})
	}
	for r := range registrars {
		w := signers + r
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				id, err := admin.CreateUser(ctx, fmt.Sprintf("registrar-%d-%d@example.com", r, n), "Registered")
				if err != nil {
					failed(w, err)
					return
				}
				k := newKey()
				if err := admin.Provision(ctx, id, k); err != nil {
					failed(w, err)
					return
				}
				acknowledge(w, func() { regs = append(regs, registration{id, k}) })
			}
		})
	}

	stopLoad := sync.OnceFunc(func() { stop.Store(true); wg.Wait() })
	defer stopLoad() // also when the test fails early: no goroutine outlives it
	mu.Lock()
	for w := range done {
		for done[w] < opsBefore {
			progress.Wait()
		}
	}
	signedInBefore, registeredBefore := slices.Clone(signIns), slices.Clone(regs)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "keyward-backup.db")
	out := runBinary(t, envA, "backup", file)
	mu.Lock()
	during := len(signIns) + len(regs) - len(signedInBefore) - len(registeredBefore)
	mu.Unlock()
	stopLoad()
	if code := a.stop(); code != 0 {
		t.Fatalf("the backed-up server exited with %d", code)
	}
	t.Logf("%s%d sign-ins and %d registrations acknowledged before the backup began, %d while it ran",
		out, len(signedInBefore), len(registeredBefore), during)

	envB := []string{"KEYWARD_DATA_DIR=" + filepath.Join(t.TempDir(), "restored")}
	if out := runBinary(t, envB, "restore", file); !strings.Contains(out, "restored "+file) {
		t.Fatalf("restore printed %q", out)
	}
	b := startServe(t, envB)
	b.waitReady()

	perUser := map[string]int{}
	for i, s := range signedInBefore {
		perUser[s.userID]++
		if got := meAs(t, b, s.cookies); got != s.userID {
			t.Fatalf("sign-in %d of %d (user %s), acknowledged before the backup, has no valid session on the restored server",
				i+1, len(signedInBefore), s.userID)
		}
	}
	st := openTestStore(t, envB)
	for id, want := range perUser {
		events, err := st.ListSignInEvents(ctx, storage.EventFilter{UserID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(events); got < min(want, 1000) {
			t.Errorf("user %s: %d sign-in log lines restored, %d sign-ins were acknowledged before the backup", id, got, want)
		}
	}
	rec := &cookieRecorder{}
	c := opsClient(b, "", rec)
	for _, r := range registeredBefore {
		if _, err := c.SignIn(ctx, r.key); err != nil {
			t.Fatalf("a passkey registered before the backup does not sign in on the restored server: %v", err)
		}
		if got := meAs(t, b, rec.last); got != r.userID {
			t.Fatalf("the restored server signed in %q, want %q", got, r.userID)
		}
	}
	if _, err := c.SignIn(ctx, keys[0]); err != nil {
		t.Fatalf("a signer's passkey does not sign in on the restored server: %v", err)
	}
	if code := b.stop(); code != 0 {
		t.Fatalf("the restored server exited with %d", code)
	}
}

func TestBackupAndRestoreRefuseWhatWouldLoseData(t *testing.T) {
	dir := t.TempDir()
	c := cli{t: t, env: []string{"KEYWARD_DATA_DIR=" + filepath.Join(dir, "data"), "KEYWARD_LOG_LEVEL=warn"}}
	c.fails("no database to back up", "backup", filepath.Join(dir, "b.db"))
	c.ok("user", "add", "--upn", "a@example.com", "--display-name", "A")
	file := filepath.Join(dir, "b.db")
	if out := c.ok("backup", file); !strings.Contains(out, "(schema version ") {
		t.Errorf("backup printed %q", out)
	}
	c.fails("already exists", "backup", file)
	c.fails("already exists", "backup", filepath.Join(dir, "data", "keyward.db"))
	c.fails("not empty", "restore", file)
	c.ok("user", "show", "a@example.com")

	other := cli{t: t, env: []string{"KEYWARD_DATA_DIR=" + filepath.Join(dir, "other"), "KEYWARD_LOG_LEVEL=warn"}}
	other.fails("not a Keyward SQLite database", "restore", filepath.Join("..", "..", "README.md"))
	other.ok("restore", file)
	other.ok("user", "show", "a@example.com")

	pg := cli{t: t, env: []string{"KEYWARD_DATABASE_URL=postgres://127.0.0.1:1/keyward"}}
	pg.fails("pg_dump", "backup", filepath.Join(dir, "pg.db"))
	pg.fails("pg_restore", "restore", file)
	if _, err := os.Stat(filepath.Join(dir, "pg.db")); err == nil {
		t.Error("backup on PostgreSQL wrote a file")
	}
}
