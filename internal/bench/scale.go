package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxAPIUsers is the most users keyward bench creates through the admin
// API; above it the users are seeded in bulk (the scale run).
const MaxAPIUsers = 10000

// BaselineUsers is the directory size the scale run compares with: the
// issue's "50-user figure".
const BaselineUsers = 50

// Targets of the scale run (docs/design.md, "Speed targets").
const (
	targetSeedMillion  = 10 * time.Minute // seeding a million users and passkeys
	targetScaleRatio   = 0.80             // sign-ins/s at full size ≥ 80% of the 50-user figure
	targetListP99      = 50 * time.Millisecond
	targetResidentMB   = 200
	millionUsers       = 1_000_000
	listRounds         = 40 // each list question is asked this often
	listPagesDeep      = 8  // pages followed through $skiptoken
	populationSeedText = "keyward bench"
	scaleWarmUp        = 3 * time.Second // of sign-ins before the full-size levels
)

// ScaleHooks reach the started server's database directly; env names it
// (KEYWARD_DATA_DIR or KEYWARD_DATABASE_URL).
type ScaleHooks struct {
	// Seed stores users from to to-1 of p with their passkeys in bulk.
	Seed func(ctx context.Context, env []string, p Population, from, to int) error
	// DatabaseSize is the database's size on disk in bytes (SQLite: the
	// file and its WAL; PostgreSQL: pg_database_size).
	DatabaseSize func(ctx context.Context, env []string) (int64, error)
	// PutMDSBlob stores a blob as another node's refresh would.
	PutMDSBlob func(ctx context.Context, env []string, raw []byte, number int, nextUpdate time.Time) error
}

// ScaleReport is what the scale run prints; with --json, exactly this.
type ScaleReport struct {
	Server     ServerInfo    `json:"server"`
	SignIn     string        `json:"signIn"`
	Users      int           `json:"users"`
	CPUs       int           `json:"cpus"`
	Bare       BareReport    `json:"bareVerify"`
	Seed       SeedReport    `json:"seed"`
	Baseline   []LevelReport `json:"baselineLevels"` // BaselineUsers users
	Levels     []LevelReport `json:"levels"`         // Users users
	Lists      []ListTiming  `json:"lists"`
	ResidentMB float64       `json:"serverResidentMB"`
	PeakMB     float64       `json:"serverPeakResidentMB,omitempty"` // VmHWM: the most since it started
	DBBytes    int64         `json:"databaseBytes"`
	DBPerUser  float64       `json:"databaseBytesPerUser"`
	Targets    []Target      `json:"targets"`
	Failed     int           `json:"signInsFailed"`
}

// SeedReport is how long the bulk seeding took.
type SeedReport struct {
	Users          int     `json:"users"`
	Seconds        float64 `json:"seconds"`
	UsersPerSecond float64 `json:"usersPerSecond"`
}

// ListTiming is one admin API list question asked listRounds times.
type ListTiming struct {
	Name     string  `json:"name"`
	Requests int     `json:"requests"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
}

// RunScale is keyward bench --users above MaxAPIUsers: it starts its own
// server, seeds BaselineUsers users in bulk and measures sign-ins over them,
// seeds the rest and measures again with sign-ins spread over every user at
// random, then times the admin API's user lists and reads the server's
// resident memory and the database's size.
func (r *Runner) RunScale(ctx context.Context) (rep *ScaleReport, err error) {
	if r.URL != "" {
		return nil, errors.New("a scale run seeds the database directly, so it starts its own server: leave out --url")
	}
	rep = &ScaleReport{SignIn: signInDescription + "; each sign-in is a random user's synced passkey (counter 0)",
		Users: r.Users, CPUs: runtime.NumCPU(), Baseline: []LevelReport{}, Levels: []LevelReport{}}
	r.Progress("measuring go-webauthn's bare assertion verification for %s on %d cores…", r.BareDuration, runtime.GOMAXPROCS(0))
	bare, err := MeasureBare(ctx, r.BareDuration, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	rep.Bare = bareReport(bare)
	tgt, err := r.startServer(ctx)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	defer func() { err = errors.Join(err, cleanup(ctx, tgt.close)) }()
	rep.Server = tgt.server
	if _, err := tgt.client.EnablePasskeys(ctx); err != nil {
		return nil, interrupted(ctx, err)
	}
	pop := Population{Seed: []byte(populationSeedText)}
	base := min(BaselineUsers, r.Users)
	start := time.Now()
	if err := r.Scale.Seed(ctx, tgt.env, pop, 0, base); err != nil {
		return nil, interrupted(ctx, err)
	}
	seeded := time.Since(start)
	signIn := randomSignIn(tgt.client, pop)
	if _, err := signIn(base)(ctx); err != nil {
		return nil, interrupted(ctx, fmt.Errorf("the first sign-in of a seeded user failed, so no level was run: %w", err))
	}
	if rep.Baseline, err = r.scaleLevels(ctx, tgt, bare, signIn(base), base); err != nil {
		return nil, interrupted(ctx, err)
	}
	r.Progress("seeding users %d to %d in bulk…", base, r.Users)
	start = time.Now()
	if err := r.Scale.Seed(ctx, tgt.env, pop, base, r.Users); err != nil {
		return nil, interrupted(ctx, err)
	}
	seeded += time.Since(start)
	rep.Seed = SeedReport{Users: r.Users, Seconds: seeded.Seconds(), UsersPerSecond: float64(r.Users) / seeded.Seconds()}
	r.Progress("seeded %d users with their passkeys in %s", r.Users, seeded.Round(time.Second))
	// Unmeasured: the first sign-ins after seeding meet a cold cache and the
	// seeding's WAL being checkpointed, which is not what the levels measure.
	r.Progress("warming up for %s…", scaleWarmUp)
	if _, err := RunLevelFunc(ctx, Level{Concurrency: slices.Max(r.Concurrency), Duration: scaleWarmUp}, signIn(r.Users), nil); err != nil {
		return nil, interrupted(ctx, err)
	}
	if rep.Levels, err = r.scaleLevels(ctx, tgt, bare, signIn(r.Users), r.Users); err != nil {
		return nil, interrupted(ctx, err)
	}
	if rep.Lists, err = r.measureLists(ctx, tgt.client, pop); err != nil {
		return nil, interrupted(ctx, err)
	}
	if rep.ResidentMB, rep.PeakMB, err = residentMB(ctx, tgt); err != nil {
		r.Progress("the server's resident memory is unknown: %v", err)
	}
	if rep.DBBytes, err = r.Scale.DatabaseSize(ctx, tgt.env); err != nil {
		return nil, interrupted(ctx, err)
	}
	rep.DBPerUser = float64(rep.DBBytes) / float64(r.Users)
	for _, l := range append(slices.Clone(rep.Baseline), rep.Levels...) {
		rep.Failed += l.Errors
	}
	rep.evaluate()
	return rep, nil
}

// randomSignIn returns, for a directory of n users, a sign-in as a user
// picked at random, whose key is derived for the occasion.
func randomSignIn(c *Client, pop Population) func(n int) func(context.Context) (time.Duration, error) {
	rpID := "localhost"
	if u, err := url.Parse(c.Origin); err == nil {
		rpID = u.Hostname()
	}
	return func(n int) func(context.Context) (time.Duration, error) {
		return func(ctx context.Context) (time.Duration, error) {
			k, err := pop.Authenticator(rand.IntN(n), rpID)
			if err != nil {
				return 0, err
			}
			return c.SignIn(ctx, k)
		}
	}
}

func (r *Runner) scaleLevels(ctx context.Context, tgt *target, bare BareResult, signIn func(context.Context) (time.Duration, error), users int) ([]LevelReport, error) {
	rep := &Report{Bare: bare}
	for _, conc := range r.Concurrency {
		if err := tgt.alive(); err != nil {
			return nil, err
		}
		r.Progress("%d users, concurrency %d…", users, conc)
		res, err := RunLevelFunc(ctx, Level{Concurrency: conc, Count: r.Count, Duration: r.Duration}, signIn, tgt.serverCPU)
		if err != nil {
			return nil, fmt.Errorf("at concurrency %d: %w", conc, err)
		}
		rep.Add(res)
		if res.Errors > 0 {
			r.Progress("concurrency %d: %d sign-ins failed, e.g. %s", conc, res.Errors, res.ErrorSamples[0])
		}
	}
	return rep.Levels, nil
}

// measureLists asks the admin API for user pages: the first page, pages
// followed through $skiptoken, and startswith filters on the UPN and the
// display name with their next pages; each round a different name.
func (r *Runner) measureLists(ctx context.Context, c *Client, pop Population) ([]ListTiming, error) {
	r.Progress("timing the admin API's user lists (%d rounds)…", listRounds)
	type question struct {
		name  string
		path  func(round int) string
		pages int
	}
	prefix := func(round int) (first, last string) {
		return firstNames[round%len(firstNames)], lastNames[(round*7)%len(lastNames)]
	}
	questions := []question{
		{"users: first page ($top=100)", func(int) string { return "/api/v1/users?$top=100" }, 1},
		{fmt.Sprintf("users: pages 2-%d ($skiptoken)", listPagesDeep+1), func(int) string { return "/api/v1/users?$top=100" }, listPagesDeep + 1},
		{"users: startswith(userPrincipalName) first page", func(round int) string {
			f, l := prefix(round)
			return "/api/v1/users?$top=100&$filter=" + url.QueryEscape("startswith(userPrincipalName,'"+strings.ToLower(f+"."+l[:2])+"')")
		}, 1},
		{"users: startswith(displayName) first page", func(round int) string {
			f, l := prefix(round)
			return "/api/v1/users?$top=100&$filter=" + url.QueryEscape("startswith(displayName,'"+f+" "+l[:2]+"')")
		}, 1},
		{"users: startswith(displayName) next pages", func(round int) string {
			f, _ := prefix(round) // a first name: one user in len(firstNames)
			return "/api/v1/users?$top=100&$filter=" + url.QueryEscape("startswith(displayName,'"+f+" ')")
		}, listPagesDeep + 1},
	}
	var out []ListTiming
	for _, q := range questions {
		var d []time.Duration
		for round := range listRounds {
			path := q.path(round)
			for page := range q.pages {
				start := time.Now()
				next, err := c.listPage(ctx, path)
				took := time.Since(start)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", q.name, err)
				}
				if q.pages == 1 || page > 0 {
					d = append(d, took)
				}
				if next == "" {
					break
				}
				path = next
			}
		}
		slices.Sort(d)
		t := ListTiming{Name: q.name, Requests: len(d), P50Ms: ms(Percentile(d, 0.50)), P99Ms: ms(Percentile(d, 0.99))}
		r.Progress("%-50s p50 %7.2f ms  p99 %7.2f ms  (%d requests)", t.Name, t.P50Ms, t.P99Ms, t.Requests)
		out = append(out, t)
	}
	return out, nil
}

// listPage GETs one page of a list and returns the path of the next one.
func (c *Client) listPage(ctx context.Context, path string) (string, error) {
	data, err := c.do(ctx, http.MethodGet, path, nil, true, http.StatusOK)
	if err != nil {
		return "", err
	}
	var page struct {
		Value    []struct{} `json:"value"`
		NextLink string     `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	if page.NextLink == "" {
		return "", nil
	}
	u, err := url.Parse(page.NextLink)
	if err != nil {
		return "", fmt.Errorf("GET %s: nextLink %q: %w", path, page.NextLink, err)
	}
	return u.RequestURI(), nil
}

// residentMB is the server's resident memory now and at its peak, from
// /proc (Linux) or else its /metrics (no peak).
func residentMB(ctx context.Context, tgt *target) (now, peak float64, err error) {
	if tgt.server.PID > 0 {
		if now, peak, err = procResident(tgt.server.PID); err == nil {
			return now, peak, nil
		}
	}
	m, err := tgt.client.ServerProcess(ctx)
	if err != nil {
		return 0, 0, err
	}
	return m.ResidentBytes / (1 << 20), 0, nil
}

// procResident reads VmRSS and VmHWM of pid from /proc, in MB.
func procResident(pid int) (rss, hwm float64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(data)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return rss, hwm, nil
}

func (r *ScaleReport) evaluate() {
	seed := Target{Name: fmt.Sprintf("seeding %d users with a passkey each < %s", millionUsers, targetSeedMillion), Status: statusNotMeasured}
	perMillion := time.Duration(float64(millionUsers) / max(r.Seed.UsersPerSecond, 1e-9) * float64(time.Second))
	seed.Measured = fmt.Sprintf("%d users in %.0f s (%.0f/s; a million at that rate: %s)", r.Seed.Users, r.Seed.Seconds,
		r.Seed.UsersPerSecond, perMillion.Round(time.Second))
	if r.Users >= millionUsers {
		seed.Status = metOrMissed(time.Duration(r.Seed.Seconds*float64(time.Second)) < targetSeedMillion)
	}
	ratio := Target{Name: fmt.Sprintf("sign-ins/s at %d users ≥ %.0f%% of the %d-user figure, at every concurrency",
		r.Users, targetScaleRatio*100, BaselineUsers), Status: statusNotMeasured}
	worst, worstAt := -1.0, 0
	for _, full := range r.Levels {
		for _, b := range r.Baseline {
			if b.Concurrency == full.Concurrency && b.PerSecond > 0 {
				if q := full.PerSecond / b.PerSecond; worst < 0 || q < worst {
					worst, worstAt = q, b.Concurrency
				}
			}
		}
	}
	if worst >= 0 {
		ratio.Measured = fmt.Sprintf("worst %.0f%% (at concurrency %d)", worst*100, worstAt)
		ratio.Status = metOrMissed(worst >= targetScaleRatio)
	}
	list := Target{Name: fmt.Sprintf("user lists (startswith, $skiptoken paging) p99 ≤ %d ms", targetListP99.Milliseconds()),
		Status: statusNotMeasured}
	var slow *ListTiming
	for i := range r.Lists {
		if slow == nil || r.Lists[i].P99Ms > slow.P99Ms {
			slow = &r.Lists[i]
		}
	}
	if slow != nil {
		list.Measured = fmt.Sprintf("worst %.1f ms (%s)", slow.P99Ms, slow.Name)
		list.Status = metOrMissed(slow.P99Ms <= ms(targetListP99))
	}
	mem := Target{Name: fmt.Sprintf("server resident memory < %d MB", targetResidentMB), Status: statusNotMeasured}
	if r.ResidentMB > 0 {
		mem.Measured = fmt.Sprintf("%.0f MB after the run", r.ResidentMB)
		if r.PeakMB > 0 {
			mem.Measured += fmt.Sprintf(", peak %.0f MB", r.PeakMB)
		}
		mem.Status = metOrMissed(max(r.ResidentMB, r.PeakMB) < targetResidentMB)
	}
	size := Target{Name: "database size per user (reported)", Status: "reported",
		Measured: fmt.Sprintf("%.0f bytes (%.1f MB for %d users)", r.DBPerUser, float64(r.DBBytes)/(1<<20), r.Users)}
	r.Targets = []Target{seed, ratio, list, mem, size}
}

// WriteText writes the scale report for a person at a terminal.
func (r *ScaleReport) WriteText(w io.Writer) error {
	fmt.Fprintln(w, "Keyward passkey sign-in benchmark at scale")
	fmt.Fprintf(w, "Server:      keyward serve, child process %d, %s database, at %s\n", r.Server.PID, r.Server.Database, r.Server.URL)
	fmt.Fprintf(w, "Sign-in:     %s\n", r.SignIn)
	fmt.Fprintf(w, "Users:       %d, one passkey each, seeded in bulk in %.0f s (%.0f users/s)\n", r.Users, r.Seed.Seconds, r.Seed.UsersPerSecond)
	fmt.Fprintf(w, "Bare verify: %.0f/s on %d workers, %.3f ms of CPU each; %d CPUs\n\n", r.Bare.PerSecond, r.Bare.Workers, r.Bare.CPUMs, r.CPUs)
	rows := [][]string{{"USERS", "CONCURRENCY", "SIGN-INS", "ERRORS", "SIGN-INS/S", "P50", "P99", "SERVER CPU/SIGN-IN"}}
	for _, set := range []struct {
		users  int
		levels []LevelReport
	}{{min(BaselineUsers, r.Users), r.Baseline}, {r.Users, r.Levels}} {
		for _, l := range set.levels {
			rows = append(rows, []string{strconv.Itoa(set.users), strconv.Itoa(l.Concurrency), strconv.Itoa(l.SignIns),
				strconv.Itoa(l.Errors), fmt.Sprintf("%.1f", l.PerSecond), fmtMs(l.P50Ms), fmtMs(l.P99Ms), fmtMsPtr(l.ServerCPUMs)})
		}
	}
	if err := columns(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	lists := [][]string{{"ADMIN API LIST", "REQUESTS", "P50", "P99"}}
	for _, l := range r.Lists {
		lists = append(lists, []string{l.Name, strconv.Itoa(l.Requests), fmtMs(l.P50Ms), fmtMs(l.P99Ms)})
	}
	if err := columns(w, lists); err != nil {
		return err
	}
	if err := writeTargets(w, r.Targets); err != nil {
		return err
	}
	if r.Failed > 0 {
		fmt.Fprintf(w, "\n%d sign-ins FAILED:\n", r.Failed)
		for _, l := range append(slices.Clone(r.Baseline), r.Levels...) {
			for _, s := range l.ErrorSample {
				fmt.Fprintf(w, "  concurrency %d: %s\n", l.Concurrency, s)
			}
		}
	}
	return nil
}
