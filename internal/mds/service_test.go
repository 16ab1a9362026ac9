package mds

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

func openStore(t testing.TB) storage.Storage {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "keyward.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// fixture is one MDS PKI with a store and a way to sign numbered blobs.
type fixture struct {
	pki   *mdstest.PKI
	ca    *mdstest.AttestationCA
	store storage.Storage
}

func newFixture(t *testing.T) *fixture {
	return &fixture{pki: newPKI(t), ca: newCA(t, "Vendor"), store: openStore(t)}
}

func (f *fixture) blob(t *testing.T, number int) []byte {
	return sign(t, f.pki, simplePayload(number, f.ca))
}

func (f *fixture) service(roots ...string) *Service {
	if len(roots) == 0 {
		roots = []string{f.pki.RootPEM()}
	}
	return &Service{Store: f.store, Options: Options{Roots: roots}}
}

func appCode(err error) (int, string) {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Status, ae.Code
	}
	return 0, ""
}

func TestServiceImport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b := f.service(), f.service()

	t.Run("current_is_nil_without_blob", func(t *testing.T) {
		if cur, err := b.Current(ctx); cur != nil || err != nil {
			t.Fatalf("got %v, %v", cur, err)
		}
	})
	t.Run("import_stores_and_another_service_sees_it", func(t *testing.T) {
		got, err := a.Import(ctx, f.blob(t, 5), "mds.jwt")
		if err != nil || got.Number != 5 || got.Source != "mds.jwt" {
			t.Fatalf("Import = %+v, %v", got, err)
		}
		cur, err := b.Current(ctx)
		if err != nil || cur == nil || cur.Number != 5 || cur.Source != "mds.jwt" || cur.ImportedAt.IsZero() {
			t.Fatalf("other node's Current = %+v, %v", cur, err)
		}
		if _, ok := cur.Lookup(aaguidYubi); !ok {
			t.Error("entry missing on the other node")
		}
	})
	t.Run("refuses_equal_number", func(t *testing.T) {
		_, err := a.Import(ctx, f.blob(t, 5), "again.jwt")
		if status, code := appCode(err); status != 409 || code != "conflict" || !strings.Contains(err.Error(), "not newer than the stored blob (number 5)") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("refuses_older_number", func(t *testing.T) {
		_, err := a.Import(ctx, f.blob(t, 4), "old.jwt")
		if status, _ := appCode(err); status != 409 {
			t.Errorf("got %v", err)
		}
	})
	t.Run("refuses_blob_from_untrusted_root", func(t *testing.T) {
		_, err := a.Import(ctx, sign(t, newPKI(t), simplePayload(9, f.ca)), "evil.jwt")
		if status, code := appCode(err); status != 400 || code != "invalidRequest" || !strings.Contains(err.Error(), "evil.jwt was refused") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("refuses_garbage", func(t *testing.T) {
		_, err := a.Import(ctx, []byte("<html>not a blob</html>"), "page.html")
		if status, _ := appCode(err); status != 400 || !strings.Contains(err.Error(), "not a JWT") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("refuses_number_zero", func(t *testing.T) {
		_, err := a.Import(ctx, f.blob(t, 0), "zero.jwt")
		if status, _ := appCode(err); status != 400 || !strings.Contains(err.Error(), "numbers start at 1") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("refusals_changed_nothing", func(t *testing.T) {
		if n, err := f.store.MDSBlobNumber(ctx); n != 5 || err != nil {
			t.Errorf("stored number %d, %v", n, err)
		}
	})
}

func TestServiceCurrentParsesOnlyWhenTheNumberChanges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	importer, reader := f.service(), f.service()
	if _, err := importer.Import(ctx, f.blob(t, 1), "one"); err != nil {
		t.Fatal(err)
	}
	first, err := reader.Current(ctx)
	if err != nil || first == nil {
		t.Fatal(first, err)
	}
	for range 3 {
		again, err := reader.Current(ctx)
		if err != nil || again != first {
			t.Fatalf("Current parsed again without a new number: %p vs %p, %v", again, first, err)
		}
	}
	if _, err := importer.Import(ctx, f.blob(t, 2), "two"); err != nil {
		t.Fatal(err)
	}
	// The caller that finds the newer number is answered at once with the
	// blob in use; the new one is parsed in the background.
	if b, err := reader.Current(ctx); err != nil || b != first {
		t.Fatalf("Current after another node's import = %+v, %v; want blob 1 at once", b, err)
	}
	second := eventuallyNumber(t, reader, 2)
	if again, err := reader.Current(ctx); err != nil || again != second {
		t.Fatalf("Current parsed again without a new number: %p vs %p, %v", again, second, err)
	}
}

// eventuallyNumber waits for s's background parse to put blob n in use.
func eventuallyNumber(t *testing.T, s *Service, n int) *Blob {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := s.Current(t.Context())
		if err == nil && b != nil && b.Number == n {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("blob %d never came into use: Current = %+v, %v", n, b, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Refresh waits for the newest stored blob, as Current does not.
func TestServiceRefreshWaitsForTheNewestBlob(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	importer, reader := f.service(), f.service()
	if b, err := reader.Refresh(ctx); err != nil || b != nil {
		t.Fatalf("Refresh with nothing stored = %v, %v", b, err)
	}
	for n := 1; n <= 2; n++ {
		if _, err := importer.Import(ctx, f.blob(t, n), "blob"); err != nil {
			t.Fatal(err)
		}
		if b, err := reader.Refresh(ctx); err != nil || b.Number != n {
			t.Fatalf("Refresh after blob %d was stored = %+v, %v", n, b, err)
		}
	}
}

// A caller that read the stored number itself (a registration reads it with
// the user) gets the cached blob while the number is the cached one's, and
// the newer blob once another node imported it.
func TestServiceCurrentAtServesTheNumberItIsGiven(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	importer, reader := f.service(), f.service()
	none, err := reader.CurrentAt(ctx, 0)
	if err != nil || none != nil {
		t.Fatalf("CurrentAt(0) with nothing stored = %v, %v", none, err)
	}
	if _, err := importer.Import(ctx, f.blob(t, 1), "one"); err != nil {
		t.Fatal(err)
	}
	first, err := reader.CurrentAt(ctx, 1)
	if err != nil || first == nil || first.Number != 1 {
		t.Fatalf("CurrentAt(1) = %+v, %v", first, err)
	}
	if again, err := reader.CurrentAt(ctx, 1); err != nil || again != first {
		t.Fatalf("CurrentAt parsed again at the same number: %p vs %p, %v", again, first, err)
	}
	if _, err := importer.Import(ctx, f.blob(t, 2), "two"); err != nil {
		t.Fatal(err)
	}
	n, err := f.store.MDSBlobNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := reader.CurrentAt(ctx, n); err != nil || b != first {
		t.Fatalf("CurrentAt(%d) after another node's import = %+v, %v; want blob 1 until the new one is parsed", n, b, err)
	}
	eventuallyNumber(t, reader, 2)
	if b, err := reader.CurrentAt(ctx, n); err != nil || b.Number != 2 {
		t.Fatalf("CurrentAt(%d) once blob 2 is parsed = %+v, %v", n, b, err)
	}
}

func TestServiceCurrentParsesOnceUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.service().Import(ctx, f.blob(t, 1), "one"); err != nil {
		t.Fatal(err)
	}
	reader := f.service()
	var wg sync.WaitGroup
	got := make([]*Blob, 8)
	for i := range got {
		wg.Go(func() {
			b, err := reader.Current(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	for _, b := range got {
		if b == nil || b != got[0] {
			t.Fatalf("concurrent callers got different parses: %p vs %p", b, got[0])
		}
	}
}

// While one caller parses a new blob, the others are answered at once with
// the blob in use: a sign-in that checks a key's model does not wait on a
// refresh. Once the parse is done they get the new one.
func TestServiceCurrentDoesNotWaitForAParseInProgress(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	importer, reader := f.service(), f.service()
	if _, err := importer.Import(ctx, f.blob(t, 1), "one"); err != nil {
		t.Fatal(err)
	}
	if b, err := reader.Current(ctx); err != nil || b.Number != 1 {
		t.Fatal(b, err)
	}
	if _, err := importer.Import(ctx, f.blob(t, 2), "two"); err != nil {
		t.Fatal(err)
	}
	reader.loadMu.Lock() // a parse in progress
	got := make(chan *Blob, 1)
	go func() {
		b, err := reader.Current(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	select {
	case b := <-got:
		if b == nil || b.Number != 1 {
			t.Errorf("during the parse Current = %+v, want blob 1", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Current waited for the parse in progress")
	}
	reader.loadMu.Unlock()
	eventuallyNumber(t, reader, 2)
}

func TestServiceCurrentKeepsLastGoodWhenStoredBlobDoesNotVerify(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	other := newPKI(t)
	strict := f.service() // trusts only f.pki
	if _, err := strict.Import(ctx, f.blob(t, 1), "one"); err != nil {
		t.Fatal(err)
	}
	// A node that also trusts another root stores a blob the strict node cannot verify.
	lenient := f.service(f.pki.RootPEM(), other.RootPEM())
	if _, err := lenient.Import(ctx, sign(t, other, simplePayload(2, f.ca)), "two"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		cur, err := strict.Current(ctx)
		if err != nil || cur == nil || cur.Number != 1 {
			t.Fatalf("Current = %+v, %v; want blob 1 kept", cur, err)
		}
	}
	fresh := f.service()
	for range 2 {
		if cur, err := fresh.Current(ctx); err == nil || cur != nil || !strings.Contains(err.Error(), "stored MDS blob 2 does not verify") {
			t.Errorf("a node with nothing loaded got %v, %v", cur, err)
		}
	}
}

// mdsServer serves whatever body holds; status 0 means 200.
type mdsServer struct {
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int32
	*httptest.Server
}

func newMDSServer(t *testing.T) *mdsServer {
	s := &mdsServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != 0 {
			w.WriteHeader(s.status)
		}
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *mdsServer) serve(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func TestServiceUpdate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	srv := newMDSServer(t)
	svc := f.service()
	svc.URL = srv.URL

	t.Run("no_blob_yet_and_download_fails", func(t *testing.T) {
		srv.serve(http.StatusServiceUnavailable, nil)
		_, err := svc.Update(ctx)
		if status, code := appCode(err); status != 502 || code != "mdsUpdateFailed" ||
			!strings.Contains(err.Error(), "503 Service Unavailable; no MDS blob is stored yet") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("good_blob_is_stored", func(t *testing.T) {
		srv.serve(0, f.blob(t, 3))
		b, err := svc.Update(ctx)
		if err != nil || b.Number != 3 || b.Source != srv.URL {
			t.Fatalf("Update = %+v, %v", b, err)
		}
	})
	failures := []struct {
		name   string
		status int
		body   []byte
		want   string
	}{
		{"garbage_keeps_last_good", 0, []byte("garbage"), "not a JWT"},
		{"untrusted_blob_keeps_last_good", 0, sign(t, newPKI(t), simplePayload(4, f.ca)), "does not chain to the trusted MDS root"},
		{"older_blob_keeps_last_good", 0, f.blob(t, 2), "number 2, which is not newer"},
		{"server_error_keeps_last_good", http.StatusInternalServerError, []byte("oops"), "the server answered 500"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			srv.serve(tt.status, tt.body)
			b, err := svc.Update(ctx)
			if b != nil || err == nil || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "the last good blob (number 3) is kept") {
				t.Fatalf("Update = %v, %v", b, err)
			}
			if cur, err := svc.Current(ctx); err != nil || cur.Number != 3 {
				t.Errorf("Current after failure = %+v, %v", cur, err)
			}
		})
	}
	t.Run("same_number_is_no_change", func(t *testing.T) {
		srv.serve(0, f.blob(t, 3))
		b, err := svc.Update(ctx)
		if err != nil || b == nil || b.Number != 3 {
			t.Errorf("Update = %+v, %v", b, err)
		}
	})
	t.Run("download_over_the_size_limit", func(t *testing.T) {
		small := f.service()
		small.URL, small.MaxBlobBytes = srv.URL, 100
		srv.serve(0, f.blob(t, 9))
		_, err := small.Update(ctx)
		if err == nil || !strings.Contains(err.Error(), "larger than the limit of 100 bytes") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("without_url", func(t *testing.T) {
		_, err := f.service().Update(ctx)
		if status, _ := appCode(err); status != 400 || !strings.Contains(err.Error(), "no MDS URL is configured") {
			t.Errorf("got %v", err)
		}
	})
}

// fakeTimer lets a test see each wait Run asks for and decide when it ends.
type fakeTimer struct {
	waits chan time.Duration
	fire  chan time.Time
}

func newFakeTimer() *fakeTimer {
	return &fakeTimer{waits: make(chan time.Duration), fire: make(chan time.Time)}
}

func (ft *fakeTimer) after(d time.Duration) <-chan time.Time {
	ft.waits <- d
	return ft.fire
}

func (ft *fakeTimer) expect(t *testing.T, want time.Duration) {
	t.Helper()
	select {
	case got := <-ft.waits:
		if got != want {
			t.Fatalf("Run waits %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not ask to wait %v", want)
	}
}

func TestServiceRun(t *testing.T) {
	t.Run("does_nothing_without_url", func(t *testing.T) {
		if err := newFixture(t).service().Run(context.Background()); err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	t.Run("updates_at_once_then_at_next_update_then_retries_after_failure", func(t *testing.T) {
		f := newFixture(t)
		srv := newMDSServer(t)
		now := time.Now().UTC().Truncate(24 * time.Hour)
		p := simplePayload(1, f.ca)
		p.NextUpdate = now.AddDate(0, 0, 10)
		srv.serve(0, sign(t, f.pki, p))

		ft := newFakeTimer()
		svc := f.service()
		svc.URL, svc.After, svc.RetryInterval = srv.URL, ft.after, 90*time.Minute
		svc.Now = func() time.Time { return now }
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- svc.Run(ctx) }()

		ft.expect(t, 0) // nothing stored: update at once
		ft.fire <- now
		ft.expect(t, 10*24*time.Hour) // until nextUpdate
		if n, _ := f.store.MDSBlobNumber(ctx); n != 1 {
			t.Fatalf("stored number %d after the first update", n)
		}
		srv.serve(0, []byte("garbage"))
		ft.fire <- now
		ft.expect(t, 90*time.Minute) // failed: retry
		if hits := srv.hits.Load(); hits != 2 {
			t.Errorf("%d downloads, want 2", hits)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
	t.Run("waits_for_next_update_of_stored_blob", func(t *testing.T) {
		f := newFixture(t)
		now := time.Now().UTC().Truncate(24 * time.Hour)
		p := simplePayload(1, f.ca)
		p.NextUpdate = now.AddDate(0, 0, 3)
		svc := f.service()
		svc.Now = func() time.Time { return now }
		if _, err := svc.Import(context.Background(), sign(t, f.pki, p), "file"); err != nil {
			t.Fatal(err)
		}
		ft := newFakeTimer()
		svc.URL, svc.After = "http://127.0.0.1:1/", ft.after
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- svc.Run(ctx) }()
		ft.expect(t, 3*24*time.Hour)
		cancel()
		<-done
	})
}

func TestServiceWarnings(t *testing.T) {
	ctx := context.Background()
	pki := newPKI(t, mdstest.WithCRL("http://127.0.0.1:1/mds.crl"))
	var logs strings.Builder
	svc := &Service{Store: openStore(t), Options: Options{Roots: []string{pki.RootPEM()}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	imported, err := svc.Import(ctx, sign(t, pki, simplePayload(1, newCA(t, "CA"))), "offline.jwt")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("import_reports_and_logs_unreachable_crl", func(t *testing.T) {
		if len(imported.Warnings) != 2 || !strings.Contains(logs.String(), "MDS blob warning") {
			t.Errorf("warnings %q, logs %s", imported.Warnings, logs.String())
		}
	})
	t.Run("reload_on_another_node_does_not_fetch_crls", func(t *testing.T) {
		other := &Service{Store: svc.Store, Options: svc.Options}
		cur, err := other.Current(ctx)
		if err != nil || len(cur.Warnings) != 0 {
			t.Errorf("Current = %+v, %v", cur, err)
		}
	})
	t.Run("verify_checks_crls_again_for_status", func(t *testing.T) {
		b, err := svc.Verify(ctx)
		if err != nil || len(b.Warnings) != 2 || b.Source != "offline.jwt" {
			t.Errorf("Verify = %+v, %v", b, err)
		}
	})
	t.Run("verify_without_blob", func(t *testing.T) {
		b, err := (&Service{Store: openStore(t)}).Verify(ctx)
		if b != nil || err != nil {
			t.Errorf("Verify = %v, %v", b, err)
		}
	})
}

// serve's first start tries the download in the foreground with
// UpdateIfDue, then hands RunAfter the wait it returned: a failed first try
// is retried after the retry interval, not at once, and each failed attempt
// is one log line whose reason appears once.
func TestServiceUpdateIfDueThenRunAfter(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	srv := newMDSServer(t)
	srv.serve(http.StatusServiceUnavailable, nil)
	var logs syncBuffer
	svc := f.service()
	svc.URL, svc.RetryInterval = srv.URL, 90*time.Minute
	svc.Logger = slog.New(slog.NewTextHandler(&logs, nil))

	next, err := svc.UpdateIfDue(ctx)
	if err == nil || next != 90*time.Minute || Reason(err) != "the server answered 503 Service Unavailable" {
		t.Fatalf("UpdateIfDue = %v, %v (reason %q)", next, err, Reason(err))
	}
	if logs.String() != "" {
		t.Errorf("UpdateIfDue logged; its caller reports the failure:\n%s", logs.String())
	}

	ft := newFakeTimer()
	svc.After = ft.after
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- svc.RunAfter(runCtx, next) }()
	ft.expect(t, 90*time.Minute)
	ft.fire <- time.Now()
	ft.expect(t, 90*time.Minute) // failed again: one more line, then wait again
	cancel()
	<-done
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "scheduled MDS update failed") ||
		strings.Count(lines[0], "503 Service Unavailable") != 1 {
		t.Errorf("want one log line naming the reason once, got:\n%s", logs.String())
	}

	srv.serve(0, f.blob(t, 5))
	next, err = svc.UpdateIfDue(ctx)
	if err != nil || next < 27*24*time.Hour { // until the blob's nextUpdate, next month
		t.Fatalf("UpdateIfDue with a good blob = %v, %v", next, err)
	}
	if n, _ := f.store.MDSBlobNumber(ctx); n != 5 {
		t.Errorf("stored number %d, want 5", n)
	}
	if next, err := (&Service{Store: f.store}).UpdateIfDue(ctx); next != 0 || err != nil {
		t.Errorf("without a URL UpdateIfDue = %v, %v; want nothing done", next, err)
	}
}

// syncBuffer is a strings.Builder that Run's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readThenWait is the real store whose blob reads, once gate is set, wait
// for it after reading: a background parse that read blob 2 finishes only
// when the test says so.
type readThenWait struct {
	storage.Storage
	gate chan struct{}
}

func (s *readThenWait) GetMDSBlob(ctx context.Context) (storage.MDSBlob, error) {
	b, err := s.Storage.GetMDSBlob(ctx)
	if s.gate != nil {
		<-s.gate
	}
	return b, err
}

// A background parse that ends after this node imported a newer blob does
// not put the older one back in use: the number never goes backwards.
func TestServiceBackgroundParseNeverGoesBackwards(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	st := &readThenWait{Storage: f.store}
	reader := &Service{Store: st, Options: Options{Roots: []string{f.pki.RootPEM()}}}
	if _, err := reader.Import(ctx, f.blob(t, 1), "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.service().Import(ctx, f.blob(t, 2), "two"); err != nil {
		t.Fatal(err)
	}
	st.gate = make(chan struct{})
	if b, err := reader.Current(ctx); err != nil || b.Number != 1 {
		t.Fatalf("Current = %+v, %v; want blob 1 while 2 is parsed", b, err)
	}
	// Blob 2 is being read in the background; this node imports 3 meanwhile.
	if _, err := reader.Import(ctx, f.blob(t, 3), "three"); err != nil {
		t.Fatal(err)
	}
	close(st.gate)
	// The background parse holds loadMu from before Current returned until it
	// ends, so taking the lock waits for its end.
	reader.loadMu.Lock()
	//lint:ignore SA2001 the empty critical section is the wait
	reader.loadMu.Unlock()
	if b, err := reader.Current(ctx); err != nil || b.Number != 3 {
		t.Fatalf("after the background parse of blob 2 ended, Current = %+v, %v; want blob 3", b, err)
	}
}
