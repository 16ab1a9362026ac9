package bench

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

// childProcAttr puts a server started by the benchmark in its own process
// group, so a Ctrl-C at the terminal reaches only the benchmark, which then
// deletes what it created and stops the server itself; and it makes the
// server receive SIGTERM if the benchmark dies without stopping it
// (kill -9), so no server is left behind holding the port and database.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// childCPU reads the CPU time (user + system, every thread) the process pid
// has used, in nanoseconds, from the kernel's per-process CPU clock
// (clock_gettime on the clock clock_getcpuclockid names). /proc and the
// server's process_cpu_seconds_total give the same time rounded to 10 ms
// clock ticks, too coarse for a level of a few hundred token requests.
func childCPU(pid int) func() (time.Duration, error) {
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) in the kernel's
	// include/linux/posix-timers.h: the whole process's scheduler time.
	const cpuclockSched = 2
	clock := uintptr((^int32(pid) << 3) | cpuclockSched)
	return func() (time.Duration, error) {
		var ts syscall.Timespec
		if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
			return 0, fmt.Errorf("reading process %d's CPU clock: %w", pid, e)
		}
		return time.Duration(ts.Nano()), nil
	}
}
