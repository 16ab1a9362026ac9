package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/storage"
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

// RollupBackfillDay is the UTC day CheckRollupBackfill expects the sign-ins
// seeded before migration 00070 on.
var RollupBackfillDay = time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)

// CheckRollupBackfill checks a store migrated from a database that held
// sign-in records before the roll-ups existed: on RollupBackfillDay, user
// "u1" signed in twice with the model cb69481e-… (09:00 and 10:00) and was
// refused once with it (11:00), and signed in with a password once (12:00).
// The user also registered a synced passkey with the model that day (08:00).
// The reports must count them as if the roll-ups had always been written.
func CheckRollupBackfill(t *testing.T, s storage.Storage) {
	t.Helper()
	regs, err := s.PasskeysRegisteredPerDay(t.Context(), RollupBackfillDay)
	ok(t, err)
	equal(t, "passkeys registered per day", regs, []storage.DailyCount{{Day: RollupBackfillDay, Key: "synced", Count: 1}})
	c := newCredential("u1")
	ok(t, s.CreateCredential(t.Context(), c))
	got, err := s.PasskeyModels(t.Context(), storage.PasskeyModelQuery{Windows: []time.Time{RollupBackfillDay}})
	ok(t, err)
	if len(got) != 1 {
		t.Fatalf("report: %+v, want one model", got)
	}
	equal(t, "sign-ins and people", [][]int{got[0].SignIns, got[0].SignInUsers}, [][]int{{2}, {1}})
	// The passkey from before the counters and the one after: one holder.
	equal(t, "passkeys, holders, types, last use", []any{got[0].Model, got[0].Passkeys, got[0].Users, got[0].DeviceBound,
		got[0].Synced, got[0].Attested, got[0].LastUsed}, []any{c.Model, 2, 1, 1, 1, 1, ptr(RollupBackfillDay.Add(10 * time.Hour))})
	counts, err := s.CountRegistrations(t.Context(), RollupBackfillDay, storage.PasswordlessRule{
		Targets: []storage.PasswordlessTarget{{Except: true}}})
	ok(t, err)
	equal(t, "registrations", counts, storage.RegistrationCounts{Users: 1, PasswordlessCapable: 1,
		Methods: map[string]int{storage.RegisteredPasskeyDeviceBound: 1, storage.RegisteredPasskeySynced: 1,
			storage.RegisteredPassword: 0, storage.RegisteredSoftwareOath: 0, storage.RegisteredTAP: 0},
		Groups: map[string]storage.GroupRegistrationCount{}})
	days, err := s.SignInsPerDay(t.Context(), RollupBackfillDay)
	ok(t, err)
	equal(t, "sign-ins per day", days, []storage.DailyCount{
		{Day: RollupBackfillDay, Key: "passkey/deviceBound", Count: 2}, {Day: RollupBackfillDay, Key: "password", Count: 1},
	})
	// Records written after the migration add to the backfilled rows.
	e := logEvent(storage.User{ID: "u1-00000000", UserPrincipalName: "old@x.org"}, RollupBackfillDay.Add(13*time.Hour),
		storage.ResultSuccess, aaguidA)
	e.UserID = "u1"
	mustLog(t, s, e)
	days, err = s.SignInsPerDay(t.Context(), RollupBackfillDay)
	ok(t, err)
	equal(t, "sign-ins per day after one more", days[0].Count, 3)
}
