package bench

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The child's CPU clock counts what the process used, in nanoseconds: the
// same time getrusage reports for this process, and an error for a process
// that is not there.
func TestChildCPUReadsTheProcessCPUClock(t *testing.T) {
	clock := childCPU(os.Getpid())
	before, err := clock()
	if err != nil {
		t.Fatal(err)
	}
	ru0, _ := ProcessCPU()
	for deadline := time.Now().Add(60 * time.Millisecond); time.Now().Before(deadline); {
	}
	after, err := clock()
	if err != nil {
		t.Fatal(err)
	}
	ru1, _ := ProcessCPU()
	used, want := after-before, ru1-ru0
	if used <= 0 || used%time.Millisecond == 0 {
		t.Fatalf("the clock moved by %s: not nanoseconds of CPU", used)
	}
	if used < want/2 || used > want*2+20*time.Millisecond {
		t.Fatalf("the clock moved by %s while getrusage moved by %s", used, want)
	}
	max, err := os.ReadFile("/proc/sys/kernel/pid_max") // pids stay below it
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(max)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := childCPU(pid)(); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
