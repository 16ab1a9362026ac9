package conformance

import (
	"context"
	"strings"
	"testing"
)

// Migratable is a backend store before and after its migrations.
type Migratable interface {
	Ping(ctx context.Context) error
	Migrate(ctx context.Context) error
	MigrationVersion(ctx context.Context) (current, latest int64, err error)
}

// CheckMigrations is the migration life cycle every backend shares: an
// unmigrated store is not ready and says how to fix it; Migrate brings it to
// the latest version; running it again changes nothing. s must be empty.
func CheckMigrations(t *testing.T, s Migratable) {
	t.Helper()
	err := s.Ping(t.Context())
	if err == nil || !strings.Contains(err.Error(), "keyward migrate") {
		t.Fatalf("Ping before Migrate = %v, want an error telling to run `keyward migrate`", err)
	}
	cur, latest, err := s.MigrationVersion(t.Context())
	if err != nil || cur != 0 || latest < 1 {
		t.Fatalf("MigrationVersion before Migrate = %d, %d, %v; want 0, ≥1, nil", cur, latest, err)
	}
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping after Migrate #%d: %v", i+1, err)
		}
		cur, l, err := s.MigrationVersion(t.Context())
		if err != nil || cur != latest || l != latest {
			t.Fatalf("MigrationVersion after Migrate = %d, %d, %v; want %d, %d", cur, l, err, latest, latest)
		}
	}
}
