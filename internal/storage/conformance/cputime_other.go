//go:build !unix

package conformance

import "time"

// cpuTime is unknown here; the benchmark then reports 0 CPU per op.
func cpuTime() time.Duration { return 0 }
