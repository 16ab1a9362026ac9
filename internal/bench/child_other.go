//go:build !linux

package bench

import (
	"syscall"
	"time"
)

// childProcAttr has nothing to add outside Linux: the benchmark stops its
// server itself, also on Ctrl-C.
func childProcAttr() *syscall.SysProcAttr { return nil }

// childCPU is not read outside Linux: the server's /metrics is used.
func childCPU(int) func() (time.Duration, error) { return nil }
