package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// AAGUID names the software authenticators' model in the sign-in log
// ("keywardbench" in ASCII).
var AAGUID = uuid.MustParse("6b657977-6172-6462-656e-636800000000")

// CleanupTimeout bounds the work done after the run or a Ctrl-C: deleting
// the benchmark's users, stopping the server, revoking its token.
const CleanupTimeout = 20 * time.Second

// Options say what to measure; keyward bench's flags, checked.
type Options struct {
	// URL, Origin and Token name a running Keyward; with URL empty, a
	// child server is started instead.
	URL, Origin, Token string
	// The started server: PostgreSQL at DatabaseURL (a temporary SQLite
	// database when empty), the binary to start, its log level and
	// sqlite_synchronous ("" for its default).
	DatabaseURL, ServerBinary, ServerLogLevel, SQLiteSynchronous string
	// ServerPprofListen is the started server's pprof_listen ("" = off),
	// for profiling it while the levels run.
	ServerPprofListen string
	Users             int
	Concurrency       []int
	Duration          time.Duration
	Count             int // sign-ins per level instead of Duration
	BareDuration      time.Duration
}

// Runner runs one benchmark. The token functions create and revoke a
// global-admin API token in the started server's database with the CLI's
// own code path (env names that database); Progress tells the person at
// the terminal what is happening.
type Runner struct {
	Options
	Env         []string // the caller's environment, passed on without KEYWARD_*
	Progress    func(format string, args ...any)
	CreateToken func(ctx context.Context, env []string, name string) (string, error)
	RevokeToken func(ctx context.Context, env []string, name string) error
	// ImportMDS imports an MDS blob file into the started server's
	// database with the CLI's own code path (the register scenario).
	ImportMDS func(ctx context.Context, env []string, blobFile string) error

	trust *RegisterTrust // the register scenario's made-up MDS trust, else nil
	// Scale reaches the started server's database for the scale run (scale.go).
	Scale ScaleHooks
}

// target is the Keyward being measured and how to let go of it.
type target struct {
	client    *Client
	server    ServerInfo
	serverCPU func(context.Context) (float64, error) // nil: the server's CPU is unknown
	// persistent: the database outlives the run, so the benchmark's users
	// are deleted at the end.
	persistent bool
	close      func(context.Context) error
	// alive reports a started server that has exited; nil with a URL.
	alive func() error
	// db reads PostgreSQL's CPU; nil on SQLite, with --url, or when it
	// cannot be read here (dbCPUNote says why).
	db        *dbCPU
	dbCPUNote string
	// env names a started server's database (nil with a URL).
	env []string
}

// Run measures and returns the report. Every exit path, Ctrl-C included,
// deletes what the run created where it outlives the run, stops the child
// server and removes the temporary directory. A run interrupted after
// some levels returns both the report of those levels and the error.
func (r *Runner) Run(ctx context.Context) (rep *Report, err error) {
	rep = NewReport(r.Users, r.Count, r.Duration)
	r.Progress("measuring go-webauthn's bare assertion verification for %s on %d cores…", r.BareDuration, runtime.GOMAXPROCS(0))
	rep.Bare, err = MeasureBare(ctx, r.BareDuration, runtime.GOMAXPROCS(0))
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	tgt, err := r.connect(ctx)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	defer func() { err = errors.Join(err, cleanup(ctx, tgt.close)) }()
	rep.Server = tgt.server
	rep.DBCPU = tgt.dbCPUNote

	keys, release, err := r.setup(ctx, tgt)
	defer func() { err = errors.Join(err, cleanup(ctx, release)) }()
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	levelsErr := r.levels(ctx, tgt, keys, rep)
	stopped := errors.Is(levelsErr, context.Canceled) && ctx.Err() != nil
	if levelsErr != nil && (!stopped || len(rep.Levels) == 0) {
		return nil, interrupted(ctx, levelsErr)
	}
	if tgt.serverCPU != nil && !stopped {
		if m, err := tgt.client.ServerProcess(ctx); err == nil {
			rep.ServerResidentMB = m.ResidentBytes / (1 << 20)
		}
	}
	rep.Evaluate()
	if stopped {
		return rep, interrupted(ctx, levelsErr)
	}
	return rep, nil
}

// cleanup runs f with a context that outlives a Ctrl-C by CleanupTimeout.
func cleanup(ctx context.Context, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	return f(cctx)
}

// ErrInterrupted is a run stopped by a Ctrl-C (SIGINT/SIGTERM).
var ErrInterrupted = errors.New("interrupted")

// interrupted words a Ctrl-C as what it is.
func interrupted(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ErrInterrupted
	}
	return err
}

// connect connects to the URL, or starts the child server.
func (r *Runner) connect(ctx context.Context) (*target, error) {
	if r.URL == "" {
		return r.startServer(ctx)
	}
	c := &Client{BaseURL: strings.TrimSuffix(r.URL, "/"), Origin: strings.TrimSuffix(r.Origin, "/"),
		Token: r.Token, HTTP: NewHTTPClient(slices.Max(r.Concurrency) + 8)}
	tgt := &target{client: c, persistent: true, close: func(context.Context) error { return nil },
		server: ServerInfo{Kind: "url", URL: c.BaseURL, Origin: c.Origin}}
	// A server whose /metrics lacks process metrics (or is not exposed) is
	// still measured, without its CPU.
	if _, err := c.ServerProcess(ctx); err == nil {
		tgt.serverCPU = cpuReader(c)
	} else {
		r.Progress("the server's CPU is not reported: %v", err)
	}
	return tgt, nil
}

func cpuReader(c *Client) func(context.Context) (float64, error) {
	return func(ctx context.Context) (float64, error) {
		m, err := c.ServerProcess(ctx)
		return m.CPUSeconds, err
	}
}

// startServer starts `keyward serve` as a child process on a free loopback
// port with a temporary directory for its SQLite database and log (or on
// DatabaseURL), creates a global-admin token for it, and waits until it is
// ready. close stops it with SIGTERM, revokes the token where the database
// outlives the run, and removes the directory.
func (r *Runner) startServer(ctx context.Context) (*target, error) {
	dir, err := os.MkdirTemp("", "keyward-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	removeDir := func() error {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing the temporary directory: %w", err)
		}
		return nil
	}
	db := []string{"KEYWARD_DATA_DIR=" + filepath.Join(dir, "data")}
	info := ServerInfo{Kind: "child", Database: "sqlite", TempDir: dir}
	if r.SQLiteSynchronous != "" {
		db = append(db, "KEYWARD_SQLITE_SYNCHRONOUS="+r.SQLiteSynchronous)
		info.Database = "sqlite (synchronous " + r.SQLiteSynchronous + ")"
	}
	if r.DatabaseURL != "" {
		db, info.Database = []string{"KEYWARD_DATABASE_URL=" + r.DatabaseURL}, "postgres"
	}
	if r.ServerPprofListen != "" {
		db = append(db, "KEYWARD_PPROF_LISTEN="+r.ServerPprofListen)
	}
	env := ChildEnv(r.Env, db...)
	if r.trust != nil {
		if env, err = r.prepareTrust(ctx, dir, env); err != nil {
			return nil, errors.Join(err, removeDir())
		}
	}
	tokenName := "keyward-bench-" + randomHex(4)
	revoke := func(ctx context.Context) error {
		if r.DatabaseURL == "" { // a temporary SQLite database is simply removed
			return nil
		}
		return r.RevokeToken(ctx, env, tokenName)
	}
	token, err := r.CreateToken(ctx, env, tokenName)
	if err != nil {
		return nil, errors.Join(err, removeDir())
	}
	exe := r.ServerBinary
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			err = fmt.Errorf("finding this keyward binary to start as the server: %w", err)
			return nil, errors.Join(err, cleanup(ctx, revoke), removeDir())
		}
	}
	child, err := StartChild(exe, r.ServerLogLevel, dir, env)
	if err != nil {
		return nil, errors.Join(err, cleanup(ctx, revoke), removeDir())
	}
	info.URL, info.Origin, info.PID, info.Binary = child.BaseURL, child.Origin, child.PID(), child.Binary()
	c := &Client{BaseURL: child.BaseURL, Origin: child.Origin, Token: token,
		HTTP: NewHTTPClient(slices.Max(r.Concurrency) + 8)}
	tgt := &target{client: c, server: info, serverCPU: cpuReader(c), persistent: r.DatabaseURL != "", alive: child.Alive, env: env}
	if clock := childCPU(info.PID); clock != nil {
		if _, err := clock(); err == nil {
			tgt.serverCPU, tgt.server.CPUClock = func(context.Context) (float64, error) {
				d, err := clock()
				return d.Seconds(), err
			}, true
		} else {
			r.Progress("reading the server's CPU from its /metrics: %v", err)
		}
	}
	if r.DatabaseURL != "" {
		var why string
		if tgt.db, why = openDBCPU(ctx, r.DatabaseURL); tgt.db == nil {
			tgt.dbCPUNote = "unavailable: " + why
			r.Progress("PostgreSQL's CPU is not reported: %s", why)
		} else {
			tgt.dbCPUNote = "the backends serving the benchmark's database, user + system time from /proc"
		}
	}
	tgt.close = func(ctx context.Context) error {
		tgt.db.close(ctx)
		return errors.Join(child.Stop(ctx), revoke(ctx), removeDir())
	}
	r.Progress("started keyward serve (pid %d) at %s, %s database, temporary directory %s",
		info.PID, child.BaseURL, info.Database, dir)
	if err := child.WaitReady(ctx, c); err != nil {
		return nil, errors.Join(err, cleanup(ctx, tgt.close))
	}
	return tgt, nil
}

// setup turns passkeys on, creates the users and provisions one software
// passkey each, then signs each in once, so a setup problem (an origin
// mismatch, a policy refusing the keys) stops the run before any
// measurement. release deletes the users (where the database outlives the
// run) and restores the policy; it is never nil.
func (r *Runner) setup(ctx context.Context, tgt *target) (keys Keys, release func(context.Context) error, err error) {
	c := tgt.client
	var (
		restorePolicy func(context.Context) error
		userIDs       []string
	)
	release = func(ctx context.Context) error {
		var errs []error
		if tgt.persistent && len(userIDs) > 0 {
			r.Progress("deleting the %d benchmark users…", len(userIDs))
			for _, id := range userIDs {
				if err := c.DeleteUser(ctx, id); err != nil {
					errs = append(errs, fmt.Errorf("deleting benchmark user %s: %w", id, err))
				}
			}
		}
		if restorePolicy != nil && tgt.persistent {
			if err := restorePolicy(ctx); err != nil {
				errs = append(errs, fmt.Errorf("turning passkeys off again: %w", err))
			}
		}
		return errors.Join(errs...)
	}
	if restorePolicy, err = c.EnablePasskeys(ctx); err != nil {
		return nil, release, err
	}
	r.Progress("creating %d users with one software passkey each…", r.Users)
	run := randomHex(4)
	list := make([]*softkey.Authenticator, 0, r.Users)
	for i := range r.Users {
		id, err := c.CreateUser(ctx, fmt.Sprintf("bench-%s-%04d@bench.example.com", run, i),
			fmt.Sprintf("Keyward bench %s %d", run, i))
		if err != nil {
			return nil, release, err
		}
		userIDs = append(userIDs, id)
		k := softkey.New(softkey.Options{AAGUID: AAGUID, Attestation: softkey.FormatPackedSelf})
		if err := c.Provision(ctx, id, k); err != nil {
			return nil, release, originHint(tgt, err)
		}
		if _, err := c.SignIn(ctx, k); err != nil {
			return nil, release, originHint(tgt, fmt.Errorf("the first sign-in with a provisioned passkey failed, so no level was run: %w", err))
		}
		list = append(list, k)
	}
	return NewKeys(list), release, nil
}

// originHint adds what most often goes wrong with a URL: the WebAuthn
// origin is the server's public URL, which need not be the URL reached.
func originHint(tgt *target, err error) error {
	if tgt.server.Kind != "url" {
		return err
	}
	return fmt.Errorf("%w\n(the WebAuthn origin used was %s: set --origin to the server's public_url if it differs)", err, tgt.client.Origin)
}

// levels runs every level and adds it to the report: at each concurrency
// the sign-ins, then right after them the token endpoint (a registered app
// redeeming codes with PKCE, then refreshing), so that the code exchange is
// compared with sign-ins measured moments before on the same machine, not
// minutes apart.
func (r *Runner) levels(ctx context.Context, tgt *target, keys Keys, rep *Report) (err error) {
	k := <-keys
	app, err := registerTokenApp(ctx, tgt.client, "Keyward bench "+randomHex(4), k)
	keys <- k
	if app != nil && app.objectID != "" && tgt.persistent {
		defer func() { err = errors.Join(err, cleanup(ctx, app.delete)) }()
	}
	if err != nil {
		return err
	}
	for _, conc := range r.Concurrency {
		if tgt.alive != nil {
			if err := tgt.alive(); err != nil {
				return err
			}
		}
		lv := Level{Concurrency: conc, Count: r.Count, Duration: r.Duration}
		if r.Count > 0 {
			r.Progress("concurrency %d: %d sign-ins…", conc, r.Count)
		} else {
			r.Progress("concurrency %d: %s…", conc, r.Duration)
		}
		before := tgt.sampleDB(ctx)
		res, err := RunLevel(ctx, tgt.client, keys, lv, tgt.serverCPU)
		if err != nil {
			return fmt.Errorf("at concurrency %d: %w", conc, err)
		}
		tgt.sampleDB(ctx).perAttempt(before, &res)
		rep.Add(res)
		if res.Errors > 0 {
			r.Progress("concurrency %d: %d sign-ins failed, e.g. %s", conc, res.Errors, res.ErrorSamples[0])
		}
		if err := r.tokenLevel(ctx, tgt, app, conc, rep); err != nil {
			return err
		}
	}
	return nil
}

// tokenLevel measures the token endpoint at concurrency conc.
func (r *Runner) tokenLevel(ctx context.Context, tgt *target, app *tokenApp, conc int, rep *Report) error {
	n := r.Count
	if n <= 0 {
		n = DefaultTokenCount
	}
	r.Progress("token endpoint, concurrency %d: %d code exchanges, then %d refreshes…", conc, n, n)
	res, err := runTokenLevels(ctx, app, conc, n, tgt.serverCPU, r.Progress)
	for _, t := range res {
		rep.AddToken(t)
	}
	if err != nil {
		return fmt.Errorf("token endpoint at concurrency %d: %w", conc, err)
	}
	return nil
}

// dbSample is the server's database round trips and PostgreSQL's CPU at
// one moment; a figure that could not be read is left out.
type dbSample struct {
	roundTrips    float64
	hasRoundTrips bool
	cpu           time.Duration
	hasCPU        bool
	// SQLite's log restarts and the time its writer was held for them.
	restarts float64
	held     float64 // seconds
	hasLog   bool
	// The time waited for a database connection, every pool.
	dbWait    float64 // seconds
	hasDBWait bool
}

// sampleDB reads the round trips from the server's /metrics and
// PostgreSQL's CPU from /proc.
func (t *target) sampleDB(ctx context.Context) dbSample {
	var s dbSample
	if m, err := t.client.ServerProcess(ctx); err == nil {
		s.roundTrips, s.hasRoundTrips = m.RoundTrips, m.HasRoundTrips
		s.restarts, s.held, s.hasLog = m.LogRestarts, m.WriterHeldSeconds, m.HasLog
		s.dbWait, s.hasDBWait = m.DBWaitSeconds, m.HasDBWait
	}
	if t.db != nil {
		if cpu, err := t.db.read(ctx); err == nil {
			s.cpu, s.hasCPU = cpu, true
		}
	}
	return s
}

// perAttempt sets a level's round trips and PostgreSQL CPU per sign-in
// attempt, and SQLite's log restarts in it, from the samples before it and
// now (s).
func (s dbSample) perAttempt(before dbSample, r *LevelResult) {
	n := r.SignIns + r.Errors
	if n == 0 {
		return
	}
	if s.hasRoundTrips && before.hasRoundTrips {
		v := (s.roundTrips - before.roundTrips) / float64(n)
		r.RoundTripsPerSignIn = &v
	}
	if s.hasCPU && before.hasCPU {
		d := (s.cpu - before.cpu) / time.Duration(n)
		r.DBCPUPerSignIn = &d
	}
	if s.hasLog && before.hasLog {
		restarts := int(s.restarts - before.restarts)
		held := time.Duration((s.held - before.held) * float64(time.Second))
		r.LogRestarts, r.WriterHeld = &restarts, &held
	}
	if s.hasDBWait && before.hasDBWait {
		d := time.Duration((s.dbWait - before.dbWait) * float64(time.Second) / float64(n))
		r.DBWaitPerSignIn = &d
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
