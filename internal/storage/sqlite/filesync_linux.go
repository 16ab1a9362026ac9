package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// fileSyncer syncs the database file through a descriptor SQLite itself
// holds, found in /proc/self/fd. It never opens the file: a descriptor of
// its own, once closed, would take every POSIX lock this process holds on
// the file with it (the locks belong to the process and the file, not to
// the descriptor), and SQLite's connections, in this store or another one
// on the same file, would go on unaware that they had lost them.
type fileSyncer struct {
	path string // the file's path with symbolic links resolved, as /proc shows it
	fd   int    // the descriptor found last; -1 before the first search
}

func newFileSyncer(path string) *fileSyncer {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return &fileSyncer{path: path, fd: -1}
}

var errNoDescriptor = errors.New("no descriptor of the database file is open")

// sync fsyncs the file. The descriptor found last is checked again first
// (SQLite may have closed it, and the number may now name another file).
func (f *fileSyncer) sync() error {
	if f.fd < 0 || !f.names(f.fd) {
		f.fd = -1
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return err
		}
		for _, e := range entries {
			if fd, err := strconv.Atoi(e.Name()); err == nil && f.names(fd) {
				f.fd = fd
				break
			}
		}
		if f.fd < 0 {
			return errNoDescriptor
		}
	}
	// Closed and reused since the check: the sync lands on another file,
	// which it does no harm, and the next one searches again.
	return syscall.Fsync(f.fd)
}

// names reports whether descriptor fd is open on the database file.
func (f *fileSyncer) names(fd int) bool {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && target == f.path
}
