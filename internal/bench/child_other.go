//go:build !linux

package bench

import "syscall"

// ChildProcAttr has nothing to add outside Linux: the benchmark stops its
// server itself, also on Ctrl-C.
func ChildProcAttr() *syscall.SysProcAttr { return nil }
