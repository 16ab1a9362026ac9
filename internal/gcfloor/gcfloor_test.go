package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		name              string
		floor, live, scan uint64
		base, want        int
	}{
		{"a small heap gets the floor", 32 * mib, 3 * mib, 1 * mib, 100, 725},
		{"the runtime's minimum goal stays at the floor", 32 * mib, 0, 0, 100, 800},
		{"a heap above the floor keeps the base", 32 * mib, 40 * mib, 1 * mib, 100, 100},
		{"a heap just below the floor keeps the base", 32 * mib, 30 * mib, 1 * mib, 100, 100},
		{"a higher GOGC is kept", 32 * mib, 3 * mib, 1 * mib, 1000, 1000},
		{"GOGC=off stays off", 32 * mib, 3 * mib, 1 * mib, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.floor, tc.live, tc.scan, tc.base); got != tc.want {
				t.Errorf("Percent(%d MiB, %d MiB, %d MiB, %d) = %d, want %d",
					tc.floor/mib, tc.live/mib, tc.scan/mib, tc.base, got, tc.want)
			}
		})
	}
}

var sink []byte

// collections allocates n bytes of garbage in 32 KiB pieces and returns
// how many collections ran meanwhile.
func collections(n int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n / (32 << 10) {
		sink = make([]byte, 32<<10)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// settledGoal waits up to a second for the heap goal to come within
// [lo, hi] (the watcher runs just after a collection) and returns it.
func settledGoal(lo, hi uint64) uint64 {
	deadline := time.Now().Add(time.Second)
	for {
		g := heapGoal()
		if g >= lo && g <= hi || time.Now().After(deadline) {
			return g
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFloorRunsFewerCollectionsAndStopRestores(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	runtime.GC()
	without := collections(256 * mib)

	stop := Start(64 * mib)
	runtime.GC() // its cleanup sets the percent for what this left
	with := collections(256 * mib)
	runtime.GC()
	goal := settledGoal(56*mib, 72*mib)
	stop()

	if without < 16 {
		t.Fatalf("without a floor, 256 MiB of garbage took %d collections; the test expects the default pacing (≥ 16)", without)
	}
	if with > 8 {
		t.Errorf("with a 64 MiB floor, 256 MiB of garbage took %d collections (%d without), want at most 8", with, without)
	}
	if goal < 56*mib || goal > 72*mib {
		t.Errorf("with a 64 MiB floor the heap goal was %d MiB", goal/mib)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after stop the GC percent is %d, want the 100 found at the start", p)
	}
	runtime.GC()
	if again := collections(256 * mib); again < 16 {
		t.Errorf("after stop, 256 MiB of garbage took %d collections, want the default pacing (≥ 16) again", again)
	}
}

func TestNoFloorWhenCollectionIsOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	stop := Start(64 * mib)
	defer stop()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("with GOGC=off Start set the GC percent to %d", p)
	}
}
