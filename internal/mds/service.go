package mds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/storage"
)

// Defaults of Service.
const (
	DefaultMaxBlobBytes  = 64 << 20
	DefaultHTTPTimeout   = 2 * time.Minute
	DefaultRetryInterval = time.Hour
)

// Service keeps the verified MDS blob in the database, shared by every
// node, and serves it parsed from memory. Use it by pointer; set the fields
// before the first call.
type Service struct {
	Store   storage.Storage
	Options Options // Options.Now is ignored: Service.Now is the clock
	// URL is where Update downloads the blob ("" = no downloads; Run does nothing).
	URL        string
	HTTPClient *http.Client // nil = a client with DefaultHTTPTimeout
	Logger     *slog.Logger // nil = discard
	Now        func() time.Time
	// MaxBlobBytes limits a download (0 = DefaultMaxBlobBytes).
	MaxBlobBytes int64
	// RetryInterval is Run's wait after a failed or fruitless update (0 = DefaultRetryInterval).
	RetryInterval time.Duration
	// After is Run's timer (nil = time.After); tests replace it to avoid sleeping.
	After func(time.Duration) <-chan time.Time
	// OnNewBlob, when set, runs after a newer blob is stored (import or
	// download) with the blob it replaced (nil when none): the re-evaluation
	// of registered passkeys against new status reports. Its error is
	// logged; the blob stays stored.
	OnNewBlob func(ctx context.Context, old, cur *Blob) error

	loadMu sync.Mutex // held while a blob is parsed, so it is parsed once
	mu     sync.RWMutex
	cur    *Blob
	failed failure // the last stored blob that did not parse
}

type failure struct {
	number int
	err    error
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) options(skipRevocation bool) Options {
	o := s.Options
	o.Now = s.now
	o.SkipRevocationCheck = o.SkipRevocationCheck || skipRevocation
	return o
}

// Import verifies raw and stores it as the current blob. A blob that does
// not verify, or whose number is not newer than the stored one, is refused
// with a 400 or 409 *apperr.Error and nothing changes.
func (s *Service) Import(ctx context.Context, raw []byte, source string) (*Blob, error) {
	b, err := s.verify(raw, source, false)
	if err != nil {
		return nil, err
	}
	return s.store(ctx, b, raw, source)
}

// verify parses raw fully, fetching CRLs; in the background (Options.Background)
// when no request waits for it.
func (s *Service) verify(raw []byte, source string, background bool) (*Blob, error) {
	opts := s.options(false)
	opts.Background = background
	b, err := Parse(raw, opts)
	if err != nil {
		return nil, apperr.BadRequest("the MDS blob from %s was refused: %v", source, err).Wrap(err)
	}
	if b.Number <= 0 {
		return nil, apperr.BadRequest("the MDS blob from %s has number %d; MDS blob numbers start at 1", source, b.Number)
	}
	return b, nil
}

func (s *Service) store(ctx context.Context, b *Blob, raw []byte, source string) (*Blob, error) {
	stored, err := s.Store.MDSBlobNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the stored MDS blob number: %w", err)
	}
	if b.Number <= stored {
		return nil, notNewer(source, b.Number, stored)
	}
	var old *Blob
	if s.OnNewBlob != nil && stored > 0 {
		if old, err = s.Current(ctx); err != nil {
			s.logger().Warn("the stored MDS blob could not be read to compare with the new one", "err", err)
		}
	}
	b.Source, b.ImportedAt = source, s.now().UTC()
	err = s.Store.PutMDSBlob(ctx, storage.MDSBlob{Number: b.Number, NextUpdate: b.NextUpdate, Raw: raw, Source: source, ImportedAt: b.ImportedAt})
	if errors.Is(err, storage.ErrConflict) {
		// Another node stored this or a newer blob meanwhile.
		return nil, notNewer(source, b.Number, b.Number).Wrap(err)
	}
	if err != nil {
		return nil, fmt.Errorf("storing MDS blob %d: %w", b.Number, err)
	}
	s.mu.Lock()
	s.cur = b
	s.mu.Unlock()
	s.logger().Info("MDS blob imported", "number", b.Number, "nextUpdate", b.NextUpdate.Format(time.DateOnly),
		"entries", b.Entries, "source", source)
	s.logWarnings(b)
	if s.OnNewBlob != nil {
		if err := s.OnNewBlob(ctx, old, b); err != nil {
			s.logger().Error("re-evaluating registered passkeys against the new MDS blob failed", "number", b.Number, "err", err)
		}
	}
	return b, nil
}

// notNewer refuses a blob whose number is not above the stored one's (FIDO
// MDS 3.0 §3.2: a BLOB whose no is less than or equal to the cached one's is
// ignored).
func notNewer(source string, number, stored int) *apperr.Error {
	return apperr.Conflict("the MDS blob from %s has number %d, which is not newer than the stored blob (number %d); nothing was changed",
		source, number, stored)
}

func (s *Service) logWarnings(b *Blob) {
	for _, w := range b.Warnings {
		s.logger().Warn("MDS blob warning", "number", b.Number, "warning", w)
	}
}

// Update downloads the blob from URL and imports it. A blob with the stored
// number means the source has nothing newer: Update returns the current blob
// without error. On any failure the stored blob stays current, and the
// error (a *apperr.Error, 502 mdsUpdateFailed unless internal) says so.
func (s *Service) Update(ctx context.Context) (*Blob, error) {
	return s.update(ctx, false)
}

// update is Update; Run's scheduled updates parse in the background.
func (s *Service) update(ctx context.Context, background bool) (*Blob, error) {
	if s.URL == "" {
		return nil, apperr.BadRequest("no MDS URL is configured; set one, or import a blob from a file")
	}
	raw, err := s.download(ctx)
	if err != nil {
		return nil, s.updateFailed(ctx, err)
	}
	b, err := s.verify(raw, s.URL, background)
	if err != nil {
		return nil, s.updateFailed(ctx, err)
	}
	stored, err := s.store(ctx, b, raw, s.URL)
	if err == nil {
		return stored, nil
	}
	if cur, cerr := s.Current(ctx); cerr == nil && cur != nil && cur.Number == b.Number {
		return cur, nil
	}
	return nil, s.updateFailed(ctx, err)
}

func (s *Service) updateFailed(ctx context.Context, cause error) error {
	kept := "no MDS blob is stored yet"
	if n, err := s.Store.MDSBlobNumber(ctx); err == nil && n > 0 {
		kept = fmt.Sprintf("the last good blob (number %d) is kept", n)
	}
	// Refusals and download problems are the operator's to see; storage
	// failures stay in the log.
	msg := "an internal error occurred; the details are in the server log"
	if ae, ok := errors.AsType[*apperr.Error](cause); ok && (ae.Status < 500 || ae.Code == codeUpdateFailed) {
		msg = ae.Message
	}
	// Not logged here: the caller reports it once (Run in the log, the CLI
	// and the API to the person who asked).
	return apperr.New(http.StatusBadGateway, codeUpdateFailed, "updating the MDS blob from %s failed: %s; %s", s.URL, msg, kept).Wrap(cause)
}

const codeUpdateFailed = "mdsUpdateFailed"

func (s *Service) download(ctx context.Context) ([]byte, error) {
	client := s.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	limit := s.MaxBlobBytes
	if limit <= 0 {
		limit = DefaultMaxBlobBytes
	}
	fail := func(format string, args ...any) error {
		return apperr.New(http.StatusBadGateway, codeUpdateFailed, format, args...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, fail("the MDS URL %q is not usable: %v", s.URL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fail("the download failed: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fail("the server answered %s", resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fail("reading the download failed: %v", err)
	}
	if int64(len(raw)) > limit {
		return nil, fail("the download is larger than the limit of %d bytes", limit)
	}
	return raw, nil
}

// Current returns the stored blob, parsed, or nil when none is stored. The
// parsed blob is cached; each call asks the database only for the newest
// blob number. When another node has stored a newer blob, the call starts
// reading and parsing it in the background and answers with the blob in use
// until that is done: no request waits for a refresh (issue 11: the parse of
// a 6 MB blob takes a few hundred milliseconds on a busy machine), and the
// new blob is in use a moment later on every node. Only a node with no blob
// parsed yet waits for the parse. A stored blob that does not parse is
// reported (once per number) while the blob parsed before it stays in use.
func (s *Service) Current(ctx context.Context) (*Blob, error) {
	n, err := s.Store.MDSBlobNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the stored MDS blob number: %w", err)
	}
	return s.CurrentAt(ctx, n)
}

// CurrentAt is Current for a caller that has just read the newest stored
// blob's number n itself (storage.Registrant comes with it): the cached blob
// when it is at n, without another query, else as Current.
func (s *Service) CurrentAt(ctx context.Context, n int) (*Blob, error) {
	if b, err, ok := s.cached(n); ok {
		return b, err
	}
	s.mu.RLock()
	cur := s.cur
	s.mu.RUnlock()
	if cur != nil {
		s.loadInBackground()
		return cur, nil
	}
	return s.Refresh(ctx)
}

// Refresh makes the newest stored blob the one in use and returns it,
// waiting for its parse (or for the one in progress): for callers that must
// see a blob another node has just stored, such as tests. Current does not
// wait.
func (s *Service) Refresh(ctx context.Context) (*Blob, error) {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	n, err := s.Store.MDSBlobNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the stored MDS blob number: %w", err)
	}
	if b, err, ok := s.cached(n); ok {
		return b, err
	}
	return s.load(ctx, false)
}

// loadInBackground reads and parses the newest stored blob in a goroutine of
// its own, unless one is already at it; the parse gives way to other work
// (Options.Background).
func (s *Service) loadInBackground() {
	if !s.loadMu.TryLock() {
		return
	}
	go func() {
		defer s.loadMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), DefaultHTTPTimeout)
		defer cancel()
		n, err := s.Store.MDSBlobNumber(ctx)
		if err != nil {
			s.logger().Error("reading the stored MDS blob number", "err", err)
			return
		}
		if _, _, ok := s.cached(n); ok {
			return
		}
		_, _ = s.load(ctx, true) // its failures are logged
	}()
}

// cached returns the cached answer for stored number n, if there is one.
func (s *Service) cached(n int) (*Blob, error, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case n == 0:
		return nil, nil, true
	case s.cur != nil && s.cur.Number == n:
		return s.cur, nil, true
	case s.failed.number == n && s.cur != nil:
		return s.cur, nil, true
	case s.failed.number == n:
		return nil, s.failed.err, true
	}
	return nil, nil, false
}

func (s *Service) load(ctx context.Context, background bool) (*Blob, error) {
	rec, err := s.Store.GetMDSBlob(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		err = fmt.Errorf("reading the stored MDS blob: %w", err)
		s.logger().Error("the stored MDS blob could not be read; the blob loaded before it, if any, stays in use", "err", err)
		return nil, err
	}
	opts := s.options(true)
	opts.Background = background
	b, err := Parse(rec.Raw, opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("the stored MDS blob %d does not verify: %w", rec.Number, err)
		s.failed = failure{rec.Number, err}
		s.logger().Error("the stored MDS blob does not verify; the blob loaded before it, if any, stays in use",
			"number", rec.Number, "source", rec.Source, "err", err)
		if s.cur != nil {
			return s.cur, nil
		}
		return nil, err
	}
	b.Source, b.ImportedAt = rec.Source, rec.ImportedAt
	if s.cur == nil || b.Number > s.cur.Number {
		s.cur = b
	}
	s.logWarnings(b)
	return s.cur, nil
}

// Verify re-reads the stored blob and verifies it fully, fetching CRLs,
// for status displays; nil when no blob is stored. It does not touch the cache.
func (s *Service) Verify(ctx context.Context) (*Blob, error) {
	rec, err := s.Store.GetMDSBlob(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stored MDS blob: %w", err)
	}
	b, err := Parse(rec.Raw, s.options(false))
	if err != nil {
		return nil, fmt.Errorf("the stored MDS blob %d does not verify: %w", rec.Number, err)
	}
	b.Source, b.ImportedAt = rec.Source, rec.ImportedAt
	return b, nil
}

// Run refreshes the blob from URL until ctx ends: at once when no blob is
// stored or it is past its nextUpdate, then at each nextUpdate, and after
// RetryInterval when an update fails or brings nothing newer. Without a URL
// it returns at once.
func (s *Service) Run(ctx context.Context) error {
	if s.URL == "" {
		return nil
	}
	return s.RunAfter(ctx, s.firstWait(ctx))
}

// UpdateIfDue is Run's first step on its own, for a caller that wants its
// outcome before going on (serve's first start): when no blob is stored or
// the stored one is past its nextUpdate, it updates now. It returns how long
// to wait before the next attempt — what to give RunAfter — and the update's
// error; nil when nothing was due or the update succeeded. Without a URL it
// does nothing.
func (s *Service) UpdateIfDue(ctx context.Context) (next time.Duration, err error) {
	if s.URL == "" {
		return 0, nil
	}
	if wait := s.firstWait(ctx); wait > 0 {
		return wait, nil
	}
	b, err := s.Update(ctx)
	return s.nextWait(b, err), err
}

// RunAfter is Run, with its first attempt after wait instead of when the
// stored blob says. Each failed attempt is logged once, as one line.
func (s *Service) RunAfter(ctx context.Context, wait time.Duration) error {
	if s.URL == "" {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.after(wait):
		}
		b, err := s.update(ctx, true)
		if err != nil && ctx.Err() == nil {
			s.logger().Warn("scheduled MDS update failed", "url", s.URL, "reason", Reason(err), "retryIn", s.retry())
		}
		wait = s.nextWait(b, err)
	}
}

// Reason is the part of an update error a person reads in a log line: the
// innermost message, such as "the download failed: …: no such host",
// without error codes and without the cause repeated around it.
func Reason(err error) string {
	msg := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ae, ok := e.(*apperr.Error); ok {
			msg = ae.Message
		}
	}
	return msg
}

func (s *Service) firstWait(ctx context.Context) time.Duration {
	b, err := s.Current(ctx)
	if err != nil || b == nil {
		return 0
	}
	if d := b.NextUpdate.Sub(s.now()); d > 0 {
		return d
	}
	return 0
}

func (s *Service) nextWait(b *Blob, err error) time.Duration {
	if err != nil || b == nil {
		return s.retry()
	}
	if d := b.NextUpdate.Sub(s.now()); d > 0 {
		return d
	}
	return s.retry() // the source has nothing newer yet
}

func (s *Service) retry() time.Duration {
	if s.RetryInterval > 0 {
		return s.RetryInterval
	}
	return DefaultRetryInterval
}

func (s *Service) after(d time.Duration) <-chan time.Time {
	if s.After != nil {
		return s.After(d)
	}
	return time.After(d)
}
