// Package gcfloor keeps Go's garbage collector from running while the heap
// is small: a floor under the heap size at which the next collection starts.
//
// With GOGC at its default of 100 a collection starts when the heap has
// grown by as much as survived the last one. Keyward's live heap is a few
// megabytes (its data is in the database), so under load the collector ran
// after every few megabytes allocated — for a registration about every 40
// requests — and each run has a fixed cost (stacks, the finalizer and sweep
// work, waking the workers) however little it marks. After each collection
// Start's watcher raises the GC percent just enough that the next goal is
// the floor, and never lowers it below the percent in effect when it
// started (GOGC's, 100 by default): a live heap above the floor is
// collected exactly as without it. A memory limit (GOMEMLIMIT) still caps
// the goal, as the runtime always does.
//
// The watcher runs just after a collection, on the runtime's cleanup
// goroutine; when it runs late (after the next collection has begun) the
// percent it sets is from the live heap of the collection before, so one
// cycle's goal may be somewhat under the floor, or, after the live heap
// jumped several-fold in one cycle, over it until the next.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// minimumHeap is the runtime's smallest goal at a percent of 100 (4 MiB),
// which it scales with the percent: the percent set is never so high that
// this minimum alone passes the floor.
const minimumHeap = 4 << 20

// what the goal is computed from: the runtime's goal is live +
// (live + stacks + globals) × percent / 100.
var samples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/gc/scan/stack:bytes"},
	{Name: "/gc/scan/globals:bytes"},
}

// Percent is the GC percent that puts the next collection's goal at floor
// bytes for a heap with live bytes surviving the last collection and scan
// bytes of stacks and globals (the runtime's minimum goal, 4 MiB × percent
// / 100, kept at or below the floor), and never below base.
func Percent(floor, live, scan uint64, base int) int {
	if base < 0 || floor <= live {
		return base
	}
	root := live + scan
	if root == 0 {
		root = 1
	}
	p := (floor - live) * 100 / root
	p = min(p, floor*100/minimumHeap)
	if int(p) < base {
		return base
	}
	return int(p)
}

// watcher re-arms itself on every collection.
type watcher struct {
	floor uint64
	base  int

	mu      sync.Mutex
	stopped bool
	samples []metrics.Sample
}

// sentinel is allocated for one collection to find unreachable; its
// cleanup then adjusts the percent and allocates the next. It holds a
// pointer and is larger than the tiny allocator's blocks, whose cleanups
// may never run.
type sentinel struct {
	_ *byte
	_ [16]byte
}

// Start puts the floor (bytes) under the collector's goal until stop is
// called, which restores the percent found at the start. It does nothing
// for a floor of 0 or when collection is off (GOGC=off).
func Start(floor uint64) (stop func()) {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if floor == 0 || base < 0 {
		return func() {}
	}
	w := &watcher{floor: floor, base: base, samples: append([]metrics.Sample(nil), samples...)}
	w.adjust()
	w.arm()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.stopped {
			w.stopped = true
			debug.SetGCPercent(w.base)
		}
	}
}

func (w *watcher) arm() {
	runtime.AddCleanup(new(sentinel), func(w *watcher) {
		if w.adjust() {
			w.arm()
		}
	}, w)
}

// adjust sets the percent for the heap the last collection left; false
// once stopped.
func (w *watcher) adjust() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	metrics.Read(w.samples)
	live := w.samples[0].Value.Uint64()
	scan := w.samples[1].Value.Uint64() + w.samples[2].Value.Uint64()
	debug.SetGCPercent(Percent(w.floor, live, scan, w.base))
	return true
}
