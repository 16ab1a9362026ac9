//go:build !linux

package sqlite

import "errors"

// fileSyncer syncs the database file where the system shows which
// descriptors SQLite holds (filesync_linux.go); elsewhere it does nothing,
// and the checkpointer's held pass syncs the file as SQLite always does.
type fileSyncer struct{}

func newFileSyncer(string) *fileSyncer { return &fileSyncer{} }

func (*fileSyncer) sync() error { return errors.ErrUnsupported }
