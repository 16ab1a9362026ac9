package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// Level is one load level: Concurrency sign-ins in flight at a time, for
// Count sign-ins in all when Count > 0, else for Duration.
type Level struct {
	Concurrency int
	Count       int
	Duration    time.Duration
}

// maxErrorSamples bounds the distinct error messages kept per level.
const maxErrorSamples = 5

// LevelResult is what one level measured. Latencies are of successful
// sign-ins only: the two requests, the authenticator's signing excluded.
type LevelResult struct {
	Concurrency  int
	SignIns      int // successful
	Errors       int
	ErrorSamples []string // a few distinct messages
	Elapsed      time.Duration
	PerSecond    float64
	P50          time.Duration
	P95          time.Duration
	P99          time.Duration
	Max          time.Duration
	// ServerCPU is the server's CPU time during the level, from its
	// /metrics, and ServerCPUPerSignIn that per sign-in attempt; nil when the
	// server's CPU could not be read. process_cpu_seconds_total counts in
	// clock ticks (10 ms on Linux), so short levels give coarse numbers.
	ServerCPU          *time.Duration
	ServerCPUPerSignIn *time.Duration
	// ClientCPUPerSignIn is this process's CPU time (the load generator and
	// software authenticators) per attempt; nil where unsupported.
	ClientCPUPerSignIn *time.Duration
	// RoundTripsPerSignIn is the server's database round trips per attempt
	// (keyward_db_round_trips_total before and after the level); nil when
	// the server does not report them.
	RoundTripsPerSignIn *float64
	// DBCPUPerSignIn is PostgreSQL's CPU per attempt (the backends serving
	// the database, see dbCPU); nil when it cannot be read.
	DBCPUPerSignIn *time.Duration
	// LogRestarts are the times SQLite's log was started again during the
	// level and WriterHeld how long its one writer was held idle for them
	// in all (keyward_sqlite_*); nil when the server does not report them.
	LogRestarts *int
	WriterHeld  *time.Duration
	// DBWaitPerSignIn is how long the server's requests waited for a
	// database connection (keyward_db_wait_duration_seconds_total, every
	// pool) per attempt; nil when the server does not report it.
	DBWaitPerSignIn *time.Duration
}

// Keys hands out authenticators so that each is used by one sign-in at a
// time: an authenticator's signature counter rises with every assertion,
// and two of its assertions finishing out of order would look like a
// cloned key to the server.
type Keys chan *softkey.Authenticator

// NewKeys returns a pool of the given authenticators.
func NewKeys(keys []*softkey.Authenticator) Keys {
	p := make(Keys, len(keys))
	for _, k := range keys {
		p <- k
	}
	return p
}

// RunLevel runs one level of sign-ins against c. Failed sign-ins are counted
// and sampled, never dropped. serverCPU, when not nil, reads the server's
// CPU seconds before and after. It ends early when ctx does.
func RunLevel(ctx context.Context, c *Client, keys Keys, lv Level, serverCPU func(context.Context) (float64, error)) (LevelResult, error) {
	if lv.Concurrency < 1 || lv.Concurrency > len(keys) {
		return LevelResult{}, fmt.Errorf("concurrency %d needs 1 to %d authenticators", lv.Concurrency, len(keys))
	}
	return RunLevelFunc(ctx, lv, func(ctx context.Context) (time.Duration, error) {
		var k *softkey.Authenticator
		select {
		case k = <-keys:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		defer func() { keys <- k }()
		return c.SignIn(ctx, k)
	}, serverCPU)
}

// RunLevelFunc runs one level of signIn calls, each returning the time its
// requests took; it is RunLevel for callers that pick their own passkey
// per sign-in.
func RunLevelFunc(ctx context.Context, lv Level, signIn func(context.Context) (time.Duration, error),
	serverCPU func(context.Context) (float64, error)) (LevelResult, error) {
	if lv.Concurrency < 1 {
		return LevelResult{}, fmt.Errorf("concurrency %d is below 1", lv.Concurrency)
	}
	if lv.Count <= 0 && lv.Duration <= 0 {
		return LevelResult{}, errors.New("a level needs a count or a duration")
	}
	var cpuBefore float64
	if serverCPU != nil {
		var err error
		if cpuBefore, err = serverCPU(ctx); err != nil {
			return LevelResult{}, fmt.Errorf("reading the server's CPU before the level: %w", err)
		}
	}
	clientBefore, clientOK := ProcessCPU()

	// A timed level stops starting sign-ins at the deadline and lets those
	// in flight finish, so no request is cut off and no connection lost.
	more := lv.budget()
	workers := make([]worker, lv.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			for ctx.Err() == nil && more() {
				d, err := signIn(ctx)
				w.record(ctx, d, err)
			}
		})
	}
	wg.Wait()
	r := collect(workers, lv.Concurrency, time.Since(start))

	attempts := r.SignIns + r.Errors
	if clientAfter, ok := ProcessCPU(); ok && clientOK && attempts > 0 {
		d := (clientAfter - clientBefore) / time.Duration(attempts)
		r.ClientCPUPerSignIn = &d
	}
	if err := addServerCPU(ctx, &r, serverCPU, cpuBefore, attempts); err != nil {
		return r, err
	}
	return r, ctx.Err()
}

// addServerCPU records the server's CPU during a level of attempts, from
// its reading before the level (cpuBefore) and now; nothing when the
// server's CPU is unknown or the level was cut short.
func addServerCPU(ctx context.Context, r *LevelResult, serverCPU func(context.Context) (float64, error), cpuBefore float64, attempts int) error {
	if serverCPU == nil || attempts == 0 || ctx.Err() != nil {
		return nil
	}
	after, err := serverCPU(ctx)
	if err != nil {
		return fmt.Errorf("reading the server's CPU after the level: %w", err)
	}
	total := time.Duration((after - cpuBefore) * float64(time.Second))
	per := total / time.Duration(attempts)
	r.ServerCPU, r.ServerCPUPerSignIn = &total, &per
	return nil
}

// worker is one concurrent client's tally; workers never share one.
type worker struct {
	latencies []time.Duration
	errors    int
	samples   []string
}

// record counts one request: its latency when it succeeded, else the error.
func (w *worker) record(ctx context.Context, d time.Duration, err error) {
	switch {
	case err == nil:
		w.latencies = append(w.latencies, d)
	case ctx.Err() != nil:
		// Cut off by the end of a timed level or by Ctrl-C: not the
		// server's failure, and not a sign-in that completed.
	default:
		w.errors++
		if len(w.samples) < maxErrorSamples && !slices.Contains(w.samples, err.Error()) {
			w.samples = append(w.samples, err.Error())
		}
	}
}

func collect(workers []worker, concurrency int, elapsed time.Duration) LevelResult {
	r := LevelResult{Concurrency: concurrency, Elapsed: elapsed, ErrorSamples: []string{}}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.latencies...)
		r.Errors += w.errors
		for _, s := range w.samples {
			if len(r.ErrorSamples) < maxErrorSamples && !slices.Contains(r.ErrorSamples, s) {
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
	}
	slices.Sort(all)
	r.SignIns = len(all)
	if elapsed > 0 {
		r.PerSecond = float64(r.SignIns) / elapsed.Seconds()
	}
	r.P50, r.P95, r.P99 = Percentile(all, 0.50), Percentile(all, 0.95), Percentile(all, 0.99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 1) of
// sorted, or 0 when it is empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// budget answers, each time a worker is about to start an operation,
// whether the level has one left: --count operations in all, or until
// --duration has passed (those in flight then finish).
func (lv Level) budget() func() bool {
	deadline := time.Now().Add(lv.Duration)
	remaining := int64(lv.Count)
	return func() bool {
		if lv.Count > 0 {
			return atomic.AddInt64(&remaining, -1) >= 0
		}
		return time.Now().Before(deadline)
	}
}
