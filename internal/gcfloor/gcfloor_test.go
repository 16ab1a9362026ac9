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

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// settledGoal collects, waits for the watcher (which runs just after a
// collection), and does so again until the heap goal is within [lo, hi]
// or a second has passed; it returns the last goal.
func settledGoal(lo, hi uint64) uint64 {
	deadline := time.Now().Add(time.Second)
	for {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		g := heapGoal()
		if g >= lo && g <= hi || time.Now().After(deadline) {
			return g
		}
	}
}

// TestFloorRaisesTheGoalAndStopRestores: the heap size at which the next
// collection starts is what decides how often the collector runs; the
// test's heap is a few MiB, so without a floor the goal is Go's minimum.
func TestFloorRaisesTheGoalAndStopRestores(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	if g := settledGoal(0, 16*mib); g > 16*mib {
		t.Fatalf("without a floor the heap goal is %d MiB; the test expects a small heap", g/mib)
	}

	stop := Start(64 * mib)
	for range 64 << 20 / (32 << 10) { // collections after Start keep the floor
		sink = make([]byte, 32<<10)
	}
	goal := settledGoal(60*mib, 68*mib)
	stop()
	if goal < 60*mib || goal > 68*mib {
		t.Errorf("with a 64 MiB floor the heap goal was %d MiB", goal/mib)
	}

	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after stop the GC percent is %d, want the 100 found at the start", p)
	}
	if g := settledGoal(0, 16*mib); g > 16*mib {
		t.Errorf("after stop the heap goal is %d MiB, want Go's own pacing again", g/mib)
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
