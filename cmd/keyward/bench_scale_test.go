package main

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/bench"
)

// Above bench.MaxAPIUsers the users are seeded in bulk into the started
// server's database, and every seeded user can sign in: the sign-ins of
// the full-size levels pick users at random among all of them.
func TestBenchAboveTenThousandUsersSeedsInBulkAndSignsInAnyOfThem(t *testing.T) {
	c := cli{t: t, env: sqliteEnv(t)}
	var rep bench.ScaleReport
	c.json(&rep, "bench", "--server-binary", keywardBinary(t), "--users", "10001", "--concurrency", "2",
		"--count", "30", "--bare-duration", "200ms")
	if rep.Users != 10001 || rep.Seed.Users != 10001 || rep.Seed.Seconds <= 0 {
		t.Errorf("seed %+v for %d users", rep.Seed, rep.Users)
	}
	for name, levels := range map[string][]bench.LevelReport{"baseline": rep.Baseline, "full": rep.Levels} {
		if len(levels) != 1 || levels[0].SignIns != 30 || levels[0].Errors != 0 || levels[0].ServerCPUMs == nil {
			t.Errorf("%s levels %+v", name, levels)
		}
	}
	if len(rep.Lists) != 5 {
		t.Fatalf("lists %+v", rep.Lists)
	}
	for _, l := range rep.Lists {
		if l.Requests == 0 || l.P50Ms <= 0 || l.P50Ms > l.P99Ms {
			t.Errorf("list %+v", l)
		}
	}
	if rep.ResidentMB <= 0 || rep.DBBytes <= 0 || rep.DBPerUser <= 0 {
		t.Errorf("resident %v MB, database %d bytes (%v per user)", rep.ResidentMB, rep.DBBytes, rep.DBPerUser)
	}
	if len(rep.Targets) != 5 || rep.Failed != 0 {
		t.Errorf("targets %+v, %d failed", rep.Targets, rep.Failed)
	}
	assertBenchCleanedUp(t, rep.Server.PID, rep.Server.TempDir)
}

func TestBenchRefusesBulkUsersWithURL(t *testing.T) {
	c := cli{t: t, env: sqliteEnv(t)}
	c.fails("seeded into the database of the server keyward bench starts",
		"bench", "--url", "http://127.0.0.1:1", "--token", "x", "--users", "20000")
}

// The mds scenario refreshes a blob it made while sign-ins run, and reports
// each refresh's parse and the server's memory around it.
func TestBenchMDSScenarioRefreshesWhileSigningIn(t *testing.T) {
	c := cli{t: t, env: sqliteEnv(t)}
	var rep bench.MDSReport
	c.json(&rep, "bench", "--server-binary", keywardBinary(t), "--scenario", "mds", "--users", "4", "--concurrency", "2",
		"--duration", "2s", "--mds-entries", "40", "--mds-size-mb", "0.2", "--mds-refreshes", "2")
	if rep.Entries != 40 || rep.BlobBytes < 150_000 || rep.BlobBytes > 400_000 {
		t.Errorf("blob of %d bytes, %d entries", rep.BlobBytes, rep.Entries)
	}
	if len(rep.Refreshes) != 2 || rep.Refreshes[1].Number != rep.Refreshes[0].Number+1 {
		t.Fatalf("refreshes %+v", rep.Refreshes)
	}
	for _, f := range rep.Refreshes {
		if f.StoreMs <= 0 || f.ParseMs <= 0 || f.BeforeMB <= 0 || f.PeakMB < f.BeforeMB || f.GrowthMB != f.PeakMB-f.BeforeMB {
			t.Errorf("refresh %+v", f)
		}
	}
	if len(rep.Levels) != 1 || rep.Levels[0].Without.SignIns == 0 || rep.Levels[0].During.SignIns == 0 || rep.Levels[0].After.SignIns == 0 ||
		rep.Failed != 0 {
		t.Fatalf("levels %+v, %d failed", rep.Levels, rep.Failed)
	}
	// The refreshes are judged against the mean of the levels around them.
	if l := rep.Levels[0]; l.BaselineP99Ms != (l.Without.P99Ms+l.After.P99Ms)/2 || l.BaselineP99Ms <= 0 {
		t.Errorf("baseline p99 %.3f ms from %.3f and %.3f ms", l.BaselineP99Ms, l.Without.P99Ms, l.After.P99Ms)
	}
	// Every sign-in of the level with refreshes overlapped one or not.
	if l := rep.Levels[0]; l.SignInsInRefresh+l.SignInsOutside != l.During.SignIns {
		t.Errorf("%d sign-ins overlapped a refresh and %d did not, of %d", l.SignInsInRefresh, l.SignInsOutside, l.During.SignIns)
	}
	// Each overlapping sign-in met a store, a parse or both.
	if l := rep.Levels[0]; l.SignInsInStore > l.SignInsInRefresh || l.SignInsInParse > l.SignInsInRefresh ||
		l.SignInsInStore+l.SignInsInParse < l.SignInsInRefresh {
		t.Errorf("of %d overlapping sign-ins %d met a store and %d a parse", l.SignInsInRefresh, l.SignInsInStore, l.SignInsInParse)
	}
	if len(rep.Targets) != 3 || !strings.Contains(rep.Targets[2].Name, "≤ 1.2× the p99 without") {
		t.Errorf("targets %+v", rep.Targets)
	}
	assertBenchCleanedUp(t, rep.Server.PID, rep.Server.TempDir)
}

// keyward bench seeds its users in bulk only into an empty database: one
// that has users is refused with what to do, and keeps them.
func TestBenchRefusesADatabaseWithUsers(t *testing.T) {
	dsn := postgresDSN(t)
	c := cli{t: t, env: []string{"KEYWARD_DATABASE_URL=" + dsn, "KEYWARD_LOG_LEVEL=warn"}}
	c.ok("user", "add", "--upn", "alice@contoso.com", "--display-name", "Alice")
	out := c.fails("keyward bench seeds its users into an empty database, and this one already holds users (1): give it a new one",
		"bench", "--server-binary", keywardBinary(t), "--scenario", "mds", "--users", "4", "--concurrency", "2",
		"--duration", "1s", "--mds-entries", "2", "--mds-size-mb", "0.01", "--mds-refreshes", "1", "--database-url", dsn)
	if strings.Contains(out, "<nil>") {
		t.Errorf("the refusal shows a nil error: %s", out)
	}
	if list := c.ok("user", "list"); !strings.Contains(list, "alice@contoso.com") {
		t.Errorf("the users are not kept:\n%s", list)
	}
}
