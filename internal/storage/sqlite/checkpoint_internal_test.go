package sqlite

import (
	"testing"
	"time"
)

func TestNextCheckpointWaitAimsAtTheFramesOfOneCheckpoint(t *testing.T) {
	for _, c := range []struct {
		wait  time.Duration
		added int
		want  time.Duration
	}{
		{200 * time.Millisecond, 3000, 200 * time.Millisecond}, // on aim: kept
		{200 * time.Millisecond, 7000, 100 * time.Millisecond}, // too many frames: sooner
		{200 * time.Millisecond, 100, 400 * time.Millisecond},  // too few: later
		{30 * time.Millisecond, 50000, checkpointMinWait},      // never below the least wait
		{800 * time.Millisecond, 0, checkpointMaxWait},         // never above the most
		{checkpointMinWait, 100000, checkpointMinWait},         // stays at the least
		{checkpointMaxWait, 1, checkpointMaxWait},              // stays at the most
		{time.Second / 4, checkpointAim / 2, time.Second / 4},  // the edges are on aim
		{time.Second / 4, 2 * checkpointAim, time.Second / 4},
	} {
		if got := nextCheckpointWait(c.wait, c.added); got != c.want {
			t.Errorf("nextCheckpointWait(%v, %d) = %v, want %v", c.wait, c.added, got, c.want)
		}
	}
}
