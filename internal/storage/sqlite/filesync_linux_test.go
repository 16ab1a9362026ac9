package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// descriptorsOf counts this process's descriptors open on path.
func descriptorsOf(t *testing.T, path string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == path {
			n++
		}
	}
	return n
}

func TestTheDatabaseFileIsSyncedThroughSQLitesOwnDescriptor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keyward.db")
	s, err := Open(t.Context(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	before := descriptorsOf(t, path)
	if before == 0 {
		t.Fatal("the open store holds no descriptor of its file")
	}
	f := newFileSyncer(path)
	if err := f.sync(); err != nil {
		t.Fatalf("sync with the store open: %v", err)
	}
	if f.fd < 0 || !f.names(f.fd) {
		t.Fatalf("sync used descriptor %d, which is not the database file's", f.fd)
	}
	if after := descriptorsOf(t, path); after != before {
		t.Fatalf("descriptors of the file: %d before, %d after; want the sync to open none", before, after)
	}

	// A remembered descriptor that now names another file is searched again.
	f.fd = int(os.Stdin.Fd())
	if err := f.sync(); err != nil || !f.names(f.fd) {
		t.Fatalf("after its descriptor changed: %v, descriptor %d", err, f.fd)
	}

	// Reached through a symbolic link, as /proc shows it resolved.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := newFileSyncer(filepath.Join(link, "keyward.db")).sync(); err != nil {
		t.Fatalf("sync through a symbolic link: %v", err)
	}

	// A file nobody holds open is not opened to be synced.
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := newFileSyncer(other).sync(); !errors.Is(err, errNoDescriptor) {
		t.Fatalf("sync of a file no one holds open: %v, want %v", err, errNoDescriptor)
	}
}
