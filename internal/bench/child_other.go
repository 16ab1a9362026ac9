//go:build !linux

package bench

import "syscall"

// childProcAttr has nothing to add outside Linux: the benchmark stops its
// server itself, also on Ctrl-C.
func childProcAttr() *syscall.SysProcAttr { return nil }
