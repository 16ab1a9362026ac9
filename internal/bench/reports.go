package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/reports"
	"github.com/keyward/keyward/internal/storage"
)

// ReportsOptions size the reports scenario: how many sign-in records and
// passkeys (one user each) it seeds, and how often it asks each question.
type ReportsOptions struct {
	SignIns  int
	Passkeys int
	Repeat   int
	Now      time.Time
	// Only, when set, asks only the questions whose names contain it.
	Only string
	// DatabaseURL, for PostgreSQL on this machine, is where MeasureReports
	// reads the server's CPU per question from.
	DatabaseURL string
	// Progress, when set, is told what the run is doing.
	Progress func(format string, args ...any)
}

// ReportTiming is how long one report or log page took, over Repeat runs,
// and the CPU it cost on average: this process's (on SQLite the database's
// work too), and PostgreSQL's backends' when they can be read (on this
// machine; -1 otherwise). CPU time does not grow with other work on a shared
// machine as the wall-clock times do.
type ReportTiming struct {
	Name          string  `json:"name"`
	Runs          int     `json:"runs"`
	P50Ms         float64 `json:"p50Ms"`
	P99Ms         float64 `json:"p99Ms"`
	CPUMs         float64 `json:"cpuMs"`
	DatabaseCPUMs float64 `json:"databaseCpuMs"`
	// Asks are the runs in the order they were asked: a p99 of 20 is the
	// slowest of them, and which one it was tells a cold first ask from a
	// collection or another process's work.
	Asks []AskTiming `json:"asks"`
}

// AskTiming is one ask of a question: its wall-clock time, this process's
// CPU during it, and the garbage collections that ended during it.
type AskTiming struct {
	Ms    float64 `json:"ms"`
	CPUMs float64 `json:"cpuMs"`
	GCs   uint32  `json:"gcs"`
}

// benchModels are the AAGUIDs the seeded passkeys spread over.
var benchModels = []string{
	"cb69481e-8ff7-4039-93ec-0a2729a154a8", "ee882879-721c-4913-9775-3dfcce97072a",
	"fa2b99dc-9e39-4257-8f92-4a30d23c4118", "2fc0579f-8113-47ea-b116-bb5a8db9202a",
	"00000000-0000-0000-0000-000000000000",
}

// benchApp is the application every fourth seeded sign-in is to.
const benchApp = "0b0c0000-0005-7000-8000-000000000000"

// seedChunk is how many records one transaction writes.
const seedChunk = 5000

// BenchGroup is the seeded group: every hundredth user is a member.
const BenchGroup = "0b0c0000-0004-7000-8000-000000000000"

// SeedReports writes o.Passkeys users with a passkey each (every hundredth a
// member of BenchGroup) and o.SignIns sign-in records spread over the 30 days
// before o.Now, with the store's bulk imports in transactions of seedChunk
// records (the store's one audited writer: each chunk leaves one audit
// record saying the benchmark wrote it).
func SeedReports(ctx context.Context, st storage.Storage, o ReportsOptions) error {
	rng := rand.New(rand.NewPCG(1, 2))
	seed := func(what string, fn func(ctx context.Context) error) error {
		err := st.Audited(ctx, func(ctx context.Context) ([]storage.AuditEvent, error) {
			if err := fn(ctx); err != nil {
				return nil, err
			}
			return []storage.AuditEvent{{Time: o.Now, Actor: "cli", Action: "bench.seed", Target: "bench"}}, nil
		})
		if err != nil {
			return fmt.Errorf("seed %s: %w", what, err)
		}
		return nil
	}
	err := seed("the group", func(ctx context.Context) error {
		return st.CreateGroup(ctx, storage.Group{ID: BenchGroup, DisplayName: "Bench group", CreatedAt: o.Now, UpdatedAt: o.Now})
	})
	if err != nil {
		return err
	}
	users := make([]storage.Credential, o.Passkeys)
	for start := 0; start < o.Passkeys; start += seedChunk {
		end := min(start+seedChunk, o.Passkeys)
		batch := make([]storage.UserImport, 0, end-start)
		for i := start; i < end; i++ {
			u := storage.User{ID: benchID(1, i), UserPrincipalName: "bench-user-" + strconv.Itoa(i) + "@bench.invalid",
				DisplayName: "Bench user " + strconv.Itoa(i), AccountEnabled: true, CreatedAt: o.Now, UpdatedAt: o.Now}
			c := storage.Credential{ID: benchID(2, i), UserID: u.ID, CredentialID: []byte(benchID(2, i)),
				PublicKey: []byte{0xa0}, AAGUID: benchModels[i%len(benchModels)], DisplayName: "Bench key",
				AttestationLevel: storage.AttestationNotAttested, BackupEligible: i%3 == 0,
				CreatedAt: o.Now.Add(-time.Duration(rng.IntN(90*24)) * time.Hour)}
			batch = append(batch, storage.UserImport{User: u, Credentials: []storage.Credential{c}})
			users[i] = c
		}
		err := seed(fmt.Sprintf("passkeys %d-%d", start, end), func(ctx context.Context) error {
			if err := st.ImportUsers(ctx, batch); err != nil {
				return err
			}
			for i := start; i < end; i += 100 {
				if err := st.AddMember(ctx, BenchGroup, benchID(1, i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		o.progress("seeded %d of %d passkeys", end, o.Passkeys)
	}
	span := int64(30 * 24 * time.Hour / time.Microsecond)
	for start := 0; start < o.SignIns; start += seedChunk {
		end := min(start+seedChunk, o.SignIns)
		batch := make([]storage.SignInEvent, 0, end-start)
		for i := start; i < end; i++ {
			c := users[rng.IntN(len(users))]
			e := storage.SignInEvent{ID: benchID(3, i), Time: o.Now.Add(-time.Duration(rng.Int64N(span)) * time.Microsecond),
				UserID: c.UserID, UserPrincipalName: "bench-user@bench.invalid", Method: "passkey", CredentialID: c.ID,
				AAGUID: c.AAGUID, PasskeyType: "deviceBound", Result: storage.ResultSuccess, IP: "192.0.2.1", UserAgent: "bench"}
			if c.BackupEligible {
				e.PasskeyType = "synced"
			}
			if i%4 == 0 {
				e.AppID, e.AppDisplayName = benchApp, "Bench app"
			}
			if i%10 == 0 {
				e.Result, e.FailureReason, e.FailureCode = storage.ResultFailure, "bench refusal", "keyRestricted"
			}
			batch = append(batch, e)
		}
		if err := seed(fmt.Sprintf("sign-ins %d-%d", start, end), func(ctx context.Context) error {
			return st.ImportSignIns(ctx, batch)
		}); err != nil {
			return err
		}
		if end%100000 == 0 || end == o.SignIns {
			o.progress("seeded %d of %d sign-in records", end, o.SignIns)
		}
	}
	return nil
}

// SeededAt checks that st holds what SeedReports seeded with passkeys
// passkeys, and returns the time it was seeded at (its o.Now), so that a
// database kept from an earlier run is asked the same questions.
func SeededAt(ctx context.Context, st storage.Storage, passkeys int) (time.Time, error) {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if n != passkeys {
		return time.Time{}, fmt.Errorf("it holds %d users, not the %d of --passkeys", n, passkeys)
	}
	seeds, _, err := st.ListAuditEvents(ctx, storage.AuditQuery{Actor: "cli", ActionPrefix: "bench.seed", Limit: 1})
	if err != nil {
		return time.Time{}, err
	}
	if len(seeds) == 0 {
		return time.Time{}, errors.New("it was not seeded by the reports scenario")
	}
	return seeds[0].Time.UTC(), nil
}

func benchID(kind, i int) string { return fmt.Sprintf("0b0c0000-%04d-7000-8000-%012d", kind, i) }

func (o ReportsOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(format, args...)
	}
}

// MeasureReports asks each report and filtered log page o.Repeat times,
// through the same domain services the API uses, and returns p50 and p99.
func MeasureReports(ctx context.Context, st storage.Storage, o ReportsOptions) ([]ReportTiming, error) {
	now := func() time.Time { return o.Now }
	logs := &audit.Logs{Store: st}
	rep := &reports.Service{Store: st, Metadata: &mds.Service{Store: st, Now: now}, Now: now}
	pols := &methodpolicy.Service{Store: st, Now: now}
	mid := benchID(1, o.Passkeys/2)
	_, second, err := logs.SignIns(ctx, "", 100, "")
	if err != nil {
		return nil, err
	}
	day := o.Now.Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	// The reports judge passkeys under the passkey policy: the enabled
	// policy of a new install (every key of everyone), and one that does not
	// accept every key of everyone: an allow list of two of the seeded
	// models for everyone, and every model for the group. The stored policy
	// (disabled, as in a new install) is left alone.
	enabled, err := proposed(ctx, pols, `{"state":"enabled"}`)
	if err != nil {
		return nil, err
	}
	restricted, err := proposed(ctx, pols, `{"state":"enabled","includeTargets":[{"id":"all_users","allowedPasskeyProfiles":["restricted"]},
		{"id":"`+BenchGroup+`","allowedPasskeyProfiles":["default"]}],
		"passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":false,"aaGuids":[]}},
		{"id":"restricted","name":"Restricted","keyRestrictions":{"isEnforced":true,"enforcementType":"allow",
		"aaGuids":["`+benchModels[0]+`","`+benchModels[1]+`"]}}]}`)
	if err != nil {
		return nil, err
	}
	allowTwo := []byte(`{"state":"enabled","passkeyProfiles":[{"id":"default","keyRestrictions":{"isEnforced":true,"enforcementType":"allow",
		"aaGuids":["` + benchModels[0] + `","` + benchModels[1] + `"]}}]}`)
	upn := "bench-user-" + strconv.Itoa(o.Passkeys/2) + "@bench.invalid"
	week := o.Now.Add(-7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	page := func(filter string) func() error {
		return func() error { _, _, err := logs.SignIns(ctx, filter, 100, ""); return err }
	}
	audits := func(filter string) func() error {
		return func() error { _, _, err := logs.DirectoryAudits(ctx, filter, 100, ""); return err }
	}
	details := func(src reports.Fido2Source, filter string) func() error {
		return func() error { _, _, err := rep.RegistrationDetails(ctx, src, filter, 100, ""); return err }
	}
	questions := []struct {
		name string
		ask  func() error
	}{
		{"signIns: newest page", page("")},
		{"signIns: second page", func() error { _, _, err := logs.SignIns(ctx, "", 100, second); return err }},
		{"signIns: one user", page("userId eq '" + mid + "'")},
		{"signIns: one userPrincipalName", page("userPrincipalName eq '" + upn + "'")},
		{"signIns: one app", page("appId eq '" + benchApp + "'")},
		{"signIns: one model", page("aaGuid eq '" + benchModels[1] + "'")},
		{"signIns: successes", page("status/errorCode eq 0")},
		{"signIns: failures", page("status/errorCode ne 0")},
		{"signIns: last 24 hours", page("createdDateTime ge " + day)},
		{"signIns: a day a week ago", page("createdDateTime ge " + week + " and createdDateTime lt " +
			o.Now.Add(-6*24*time.Hour).UTC().Format(time.RFC3339))},
		{"signIns: one model, failures, a week", page("aaGuid eq '" + benchModels[1] +
			"' and status/errorCode ne 0 and createdDateTime ge " + week)},
		{"directoryAudits: newest page", audits("")},
		{"directoryAudits: since a week", audits("activityDateTime ge " + week)},
		{"directoryAudits: one initiator", audits("initiatedBy/user/userPrincipalName eq '" + upn + "'")},
		{"directoryAudits: one app", audits("initiatedBy/app/displayName eq 'ci'")},
		{"directoryAudits: one target", audits("targetResources/any(t: t/id eq 'bench')")},
		{"directoryAudits: one category", audits("category eq 'Policy'")},
		{"report: key models in use", func() error { _, err := rep.PasskeyModels(ctx, ""); return err }},
		{"report: key models, one group", func() error { _, err := rep.PasskeyModels(ctx, BenchGroup); return err }},
		{"report: userRegistrationDetails page", details(enabled, "")},
		{"report: userRegistrationDetails, synced", details(enabled, "methodsRegistered/any(m: m eq 'passKeySynced')")},
		{"report: userRegistrationDetails, device-bound", details(enabled, "methodsRegistered/any(m: m eq 'passKeyDeviceBound')")},
		{"report: userRegistrationDetails, passwordless", details(enabled, "isPasswordlessCapable eq true")},
		{"report: userRegistrationDetails, not passwordless, restricted", details(restricted, "isPasswordlessCapable eq false")},
		{"report: userRegistrationDetails, passwordless device-bound, restricted", details(restricted,
			"isPasswordlessCapable eq true and methodsRegistered/any(m: m eq 'passKeyDeviceBound')")},
		{"report: usersRegisteredByMethod", func() error { _, err := rep.UsersRegisteredByMethod(ctx, enabled); return err }},
		{"report: usersRegisteredByMethod, restricted", func() error {
			_, err := rep.UsersRegisteredByMethod(ctx, restricted)
			return err
		}},
		{"report: impact preview, allow two models", func() error { _, err := rep.PreviewFido2(ctx, enabled, allowTwo); return err }},
		{"chart: sign-ins per day by method", func() error { _, err := rep.Chart(ctx, reports.ChartSignInsByMethod); return err }},
		{"chart: phishing-resistant share", func() error {
			_, err := rep.Chart(ctx, reports.ChartPhishingResistantShare)
			return err
		}},
		{"chart: passkey registrations", func() error { _, err := rep.Chart(ctx, reports.ChartPasskeyRegistrations); return err }},
	}
	var db *dbCPU
	if o.DatabaseURL != "" {
		db, _ = openDBCPU(ctx, o.DatabaseURL)
		defer db.close(ctx)
	}
	dbRead := func() time.Duration {
		if db == nil {
			return 0
		}
		t, err := db.read(ctx)
		if err != nil {
			return 0
		}
		return t
	}
	var out []ReportTiming
	for _, q := range questions {
		if o.Only != "" && !strings.Contains(q.name, o.Only) {
			continue
		}
		d := make([]float64, 0, o.Repeat)
		asks := make([]AskTiming, 0, o.Repeat)
		cpu0, _ := ProcessCPU()
		db0 := dbRead()
		var ms runtime.MemStats
		for range o.Repeat {
			runtime.ReadMemStats(&ms)
			gc0 := ms.NumGC
			c0, _ := ProcessCPU()
			start := time.Now()
			if err := q.ask(); err != nil {
				return nil, fmt.Errorf("%s: %w", q.name, err)
			}
			took := float64(time.Since(start).Microseconds()) / 1000
			c1, _ := ProcessCPU()
			runtime.ReadMemStats(&ms)
			d = append(d, took)
			asks = append(asks, AskTiming{Ms: took, CPUMs: perRun(c1-c0, 1), GCs: ms.NumGC - gc0})
		}
		cpu1, _ := ProcessCPU()
		t := ReportTiming{Name: q.name, Runs: len(d), CPUMs: perRun(cpu1-cpu0, len(d)), DatabaseCPUMs: -1, Asks: asks}
		if db != nil {
			t.DatabaseCPUMs = perRun(dbRead()-db0, len(d))
		}
		slices.Sort(d)
		t.P50Ms, t.P99Ms = pct(d, 0.50), pct(d, 0.99)
		out = append(out, t)
		o.progress("%-40s p50 %8.2f ms  p99 %8.2f ms  CPU %7.2f ms  PostgreSQL CPU %7.2f ms",
			q.name, t.P50Ms, t.P99Ms, t.CPUMs, t.DatabaseCPUMs)
		if o.Only != "" {
			for i, a := range asks {
				o.progress("  ask %2d: %8.2f ms  CPU %7.2f ms  %d GC", i+1, a.Ms, a.CPUMs, a.GCs)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no question's name contains %q", o.Only)
	}
	return out, nil
}

// staticPolicy is a policy source that always answers one policy: the
// reports' questions under a policy other than the stored one.
type staticPolicy struct {
	pol  policy.Fido2
	pols *methodpolicy.Service
}

func (p staticPolicy) Fido2(context.Context) (policy.Fido2, error) { return p.pol, nil }

func (p staticPolicy) Propose(ctx context.Context, patch []byte) (cur, next policy.Fido2, err error) {
	_, next, err = p.pols.Propose(ctx, patch)
	return p.pol, next, err
}

// proposed is a policy source answering what the stored policy would be
// after patch, without saving it.
func proposed(ctx context.Context, pols *methodpolicy.Service, patch string) (staticPolicy, error) {
	_, next, err := pols.Propose(ctx, []byte(patch))
	if err != nil {
		return staticPolicy{}, fmt.Errorf("the restricted policy: %w", err)
	}
	return staticPolicy{pol: next, pols: pols}, nil
}

// perRun is d spread over n runs, in milliseconds.
func perRun(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / 1000 / float64(max(n, 1))
}

// pct is the p-th quantile of sorted values (nearest rank).
func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
