package bench

import "syscall"

// childProcAttr puts a server started by the benchmark in its own process
// group, so a Ctrl-C at the terminal reaches only the benchmark, which then
// deletes what it created and stops the server itself; and it makes the
// server receive SIGTERM if the benchmark dies without stopping it
// (kill -9), so no server is left behind holding the port and database.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
