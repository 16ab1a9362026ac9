package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/passkey/softkey"
)

// The register scenario: passkey registration end to end over HTTP, as an
// administrator provisions a key — creationOptions, the software
// authenticator's packed full attestation (leaf and intermediate from a CA
// made for the run), POST …/fido2Methods, which verifies the statement,
// checks its chain against the FIDO metadata (a blob the run makes and
// signs with its own MDS root, which the started server is told to trust
// through mds_roots) and stores the key with its audit record.

// RegisterAAGUID names the register scenario's key model
// ("keywardregister!" in ASCII).
var RegisterAAGUID = uuid.MustParse("6b657977-6172-6472-6567-697374657221")

// registerModel is the model's name in the run's MDS blob.
const registerModel = "Keyward bench attested key"

// targetRegistrations is docs/design.md's registration target on SQLite.
const targetRegistrations = 1000.0

const registrationDescription = "an administrator provisions a passkey: GET …/fido2Methods/creationOptions, " +
	"the software authenticator's packed full attestation, POST …/fido2Methods (verified, checked against the FIDO metadata, stored)"

// registrationUserSetup is how many users are created at once before a level.
const registrationUserSetup = 8

// RegisterTrust is what the register scenario makes up for its run: the
// attestation CA of its software authenticators, and an MDS blob listing
// their model with that CA's root, signed under an MDS root of its own.
type RegisterTrust struct {
	MDSRootPEM string
	Blob       []byte
	CA         *softkey.CA
}

// NewRegisterTrust makes the run's attestation CA, MDS PKI and blob. The
// blob's number is the time in seconds, so that each run's blob is newer
// than the last one's in a database that outlives the run.
func NewRegisterTrust(now time.Time) (*RegisterTrust, error) {
	ca, err := softkey.NewCA("Keyward bench attestation")
	if err != nil {
		return nil, fmt.Errorf("making the attestation CA: %w", err)
	}
	pki, err := mdstest.NewPKI()
	if err != nil {
		return nil, fmt.Errorf("making the MDS root: %w", err)
	}
	blob, err := pki.Sign(mdstest.Payload{Number: int(now.Unix()), NextUpdate: now.Add(30 * 24 * time.Hour),
		Entries: []mdstest.EntryOptions{{AAGUID: RegisterAAGUID.String(), Description: registerModel,
			Statuses: []string{"FIDO_CERTIFIED_L1"}, AttestationRootPEMs: []string{ca.RootPEM()}}}})
	if err != nil {
		return nil, fmt.Errorf("signing the MDS blob: %w", err)
	}
	return &RegisterTrust{MDSRootPEM: pki.RootPEM(), Blob: blob, CA: ca}, nil
}

// prepareTrust writes the run's MDS root and blob into dir, tells the
// server's environment to trust that root (KEYWARD_MDS_ROOTS: the setting
// a deployment uses for a private metadata root; production's default is
// untouched) and imports the blob with `keyward mds import`.
func (r *Runner) prepareTrust(ctx context.Context, dir string, env []string) ([]string, error) {
	root, blob := filepath.Join(dir, "mds-root.pem"), filepath.Join(dir, "mds-blob.jwt")
	if err := os.WriteFile(root, []byte(r.trust.MDSRootPEM), 0o600); err != nil {
		return nil, fmt.Errorf("writing the run's MDS root: %w", err)
	}
	if err := os.WriteFile(blob, r.trust.Blob, 0o600); err != nil {
		return nil, fmt.Errorf("writing the run's MDS blob: %w", err)
	}
	env = append(env, "KEYWARD_MDS_ROOTS="+root)
	if r.ImportMDS == nil {
		return nil, errors.New("the register scenario needs a way to import its MDS blob")
	}
	if err := r.ImportMDS(ctx, env, blob); err != nil {
		return nil, err
	}
	return env, nil
}

// RegisterLevelReport is one level of the register scenario.
type RegisterLevelReport struct {
	Concurrency   int      `json:"concurrency"`
	Registrations int      `json:"registrations"` // successful
	Errors        int      `json:"errors"`
	Seconds       float64  `json:"seconds"`
	PerSecond     float64  `json:"registrationsPerSecond"`
	P50Ms         float64  `json:"p50Ms"`
	P95Ms         float64  `json:"p95Ms"`
	P99Ms         float64  `json:"p99Ms"`
	MaxMs         float64  `json:"maxMs"`
	ServerCPUMs   *float64 `json:"serverCpuPerRegistrationMs"` // null: the server's CPU is unknown
	ServerCPUSec  *float64 `json:"serverCpuSeconds"`
	ClientCPUMs   *float64 `json:"clientCpuPerRegistrationMs"`
	ErrorSample   []string `json:"errorSamples"`
}

// RegisterReport is what keyward bench --scenario register prints; with
// --json, exactly this.
type RegisterReport struct {
	Server        ServerInfo            `json:"server"`
	Registration  string                `json:"registration"`
	Attestation   string                `json:"attestation"`
	AAGUID        string                `json:"aaguid"`
	UsersPerLevel int                   `json:"usersPerLevel"`
	DurationSec   float64               `json:"levelDurationSeconds,omitempty"`
	Count         int                   `json:"levelCount,omitempty"`
	CPUs          int                   `json:"cpus"`
	GOMAXPROCS    int                   `json:"gomaxprocs"`
	Platform      string                `json:"platform"`
	LoadAverage   string                `json:"loadAverage,omitempty"` // /proc/loadavg's 1, 5 and 15 minutes at the start
	Levels        []RegisterLevelReport `json:"levels"`
	Succeeded     int                   `json:"registrationsSucceeded"`
	Failed        int                   `json:"registrationsFailed"`
	Targets       []Target              `json:"targets"`
}

func (r *RegisterReport) add(l LevelResult) {
	r.Levels = append(r.Levels, RegisterLevelReport{Concurrency: l.Concurrency, Registrations: l.SignIns, Errors: l.Errors,
		Seconds: l.Elapsed.Seconds(), PerSecond: l.PerSecond, P50Ms: ms(l.P50), P95Ms: ms(l.P95), P99Ms: ms(l.P99), MaxMs: ms(l.Max),
		ServerCPUMs: msPtr(l.ServerCPUPerSignIn), ServerCPUSec: secondsPtr(l.ServerCPU), ClientCPUMs: msPtr(l.ClientCPUPerSignIn),
		ErrorSample: l.ErrorSamples})
	r.Succeeded += l.SignIns
	r.Failed += l.Errors
}

// evaluate judges the registration target: at least targetRegistrations a
// second at some level. It is set for SQLite; a PostgreSQL run is judged
// against it too, and says so.
func (r *RegisterReport) evaluate() {
	name := fmt.Sprintf("registrations ≥ %.0f/s (SQLite)", targetRegistrations)
	if strings.HasPrefix(r.Server.Database, "postgres") {
		name = fmt.Sprintf("registrations ≥ %.0f/s (SQLite's target, on PostgreSQL)", targetRegistrations)
	}
	t := Target{Name: name, Status: statusNotMeasured, Measured: "no level ran"}
	best, at := -1.0, 0
	for _, l := range r.Levels {
		if l.PerSecond > best {
			best, at = l.PerSecond, l.Concurrency
		}
	}
	if best >= 0 {
		t.Measured = fmt.Sprintf("best %.0f/s at concurrency %d", best, at)
		t.Status = metOrMissed(best >= targetRegistrations && r.Failed == 0)
	}
	r.Targets = []Target{t}
}

// WriteText writes the register report for a person at a terminal.
func (r *RegisterReport) WriteText(w io.Writer) error {
	fmt.Fprintln(w, "Keyward passkey registration benchmark")
	server := fmt.Sprintf("keyward serve, child process %d, %s database, at %s", r.Server.PID, r.Server.Database, r.Server.URL)
	level := fmt.Sprintf("%d registrations", r.Count)
	if r.Count == 0 {
		level = fmt.Sprintf("%gs", r.DurationSec)
	}
	for _, kv := range [][2]string{
		{"Server", server},
		{"Registration", r.Registration},
		{"Attestation", r.Attestation},
		{"Users", fmt.Sprintf("%d new users a level, registered to in turn", r.UsersPerLevel)},
		{"Each level", level},
		{"Machine", fmt.Sprintf("%d CPUs, GOMAXPROCS %d, %s, load average %s", r.CPUs, r.GOMAXPROCS, r.Platform, r.LoadAverage)},
	} {
		fmt.Fprintf(w, "%-13s %s\n", kv[0]+":", kv[1])
	}
	fmt.Fprintln(w)
	rows := [][]string{{"CONCURRENCY", "REGISTRATIONS", "ERRORS", "REGISTRATIONS/S", "P50", "P95", "P99", "MAX", "SERVER CPU/REGISTRATION", "CLIENT CPU/REGISTRATION"}}
	for _, l := range r.Levels {
		rows = append(rows, []string{fmt.Sprint(l.Concurrency), fmt.Sprint(l.Registrations), fmt.Sprint(l.Errors),
			fmt.Sprintf("%.1f", l.PerSecond), fmtMs(l.P50Ms), fmtMs(l.P95Ms), fmtMs(l.P99Ms), fmtMs(l.MaxMs),
			fmtMsPtr(l.ServerCPUMs), fmtMsPtr(l.ClientCPUMs)})
	}
	if err := columns(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n(latency is the two requests; the software authenticator's key generation and signing are not included;"+
		" CPU is per attempt, the server's from its /metrics.)")
	if err := writeTargets(w, r.Targets); err != nil {
		return err
	}
	for _, l := range r.Levels {
		for _, s := range l.ErrorSample {
			fmt.Fprintf(w, "  registration at concurrency %d FAILED: %s\n", l.Concurrency, s)
		}
	}
	return nil
}

// loadAverage is /proc/loadavg's first three fields, "" where there is none.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], ", ")
}

// RunRegister runs the register scenario on a started server (never on a
// --url: the server must trust the run's MDS root) and returns its report.
// Every exit path stops the server and removes what the run made; where
// the database outlives the run, its users are deleted.
func (r *Runner) RunRegister(ctx context.Context) (rep *RegisterReport, err error) {
	if r.URL != "" {
		return nil, errors.New("the register scenario starts its own server, which must trust the run's MDS root: not with --url")
	}
	rep = &RegisterReport{Registration: registrationDescription, AAGUID: RegisterAAGUID.String(), UsersPerLevel: r.Users,
		Attestation: "packed full attestation (leaf and intermediate of the run's CA), model listed in the run's MDS blob",
		CPUs:        runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		LoadAverage: loadAverage(), Levels: []RegisterLevelReport{}, Targets: []Target{}}
	if r.Count > 0 {
		rep.Count = r.Count
	} else {
		rep.DurationSec = r.Duration.Seconds()
	}
	if r.trust, err = NewRegisterTrust(time.Now()); err != nil {
		return nil, err
	}
	tgt, err := r.connect(ctx)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	defer func() { err = errors.Join(err, cleanup(ctx, tgt.close)) }()
	rep.Server = tgt.server
	c := tgt.client
	var userIDs []string
	restore, err := c.EnablePasskeys(ctx)
	defer func() {
		err = errors.Join(err, cleanup(ctx, func(ctx context.Context) error {
			if !tgt.persistent {
				return nil
			}
			var errs []error
			if len(userIDs) > 0 {
				r.Progress("deleting the %d benchmark users…", len(userIDs))
				errs = append(errs, deleteUsers(ctx, c, userIDs))
			}
			if restore != nil {
				errs = append(errs, restore(ctx))
			}
			return errors.Join(errs...)
		}))
	}()
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	run := randomHex(4)
	for i, conc := range r.Concurrency {
		if tgt.alive != nil {
			if err := tgt.alive(); err != nil {
				return nil, err
			}
		}
		r.Progress("concurrency %d: creating %d users…", conc, r.Users)
		users, err := createUsers(ctx, c, fmt.Sprintf("%s-%d", run, i), r.Users)
		userIDs = append(userIDs, users...)
		if err != nil {
			return nil, interrupted(ctx, err)
		}
		if i == 0 {
			// A setup problem (the blob not trusted, the origin) stops the
			// run before any measurement.
			k := softkey.New(softkey.Options{AAGUID: RegisterAAGUID, Attestation: softkey.FormatPacked, CA: r.trust.CA})
			if _, err := c.Register(ctx, users[0], k); err != nil {
				return nil, fmt.Errorf("the first registration failed, so no level was run: %w", err)
			}
		}
		if r.Count > 0 {
			r.Progress("concurrency %d: %d registrations…", conc, r.Count)
		} else {
			r.Progress("concurrency %d: %s of registrations…", conc, r.Duration)
		}
		res, err := r.registerLevel(ctx, tgt, users, Level{Concurrency: conc, Count: r.Count, Duration: r.Duration})
		if errors.Is(err, context.Canceled) && ctx.Err() != nil && len(rep.Levels) > 0 {
			rep.evaluate()
			return rep, ErrInterrupted
		}
		if err != nil {
			return nil, interrupted(ctx, fmt.Errorf("at concurrency %d: %w", conc, err))
		}
		rep.add(res)
		if res.Errors > 0 {
			r.Progress("concurrency %d: %d registrations failed, e.g. %s", conc, res.Errors, res.ErrorSamples[0])
		}
		if tgt.persistent { // between levels, so the end has little left to delete
			r.Progress("concurrency %d: deleting its %d users…", conc, len(users))
			if err := deleteUsers(ctx, c, users); err != nil {
				return nil, interrupted(ctx, err)
			}
			userIDs = userIDs[:len(userIDs)-len(users)]
		}
	}
	rep.evaluate()
	return rep, nil
}

// createUsers creates n users, registrationUserSetup at a time.
func createUsers(ctx context.Context, c *Client, run string, n int) ([]string, error) {
	ids := make([]string, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range registrationUserSetup {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				ids[i], errs[i] = c.CreateUser(ctx, fmt.Sprintf("bench-reg-%s-%05d@bench.example.com", run, i),
					fmt.Sprintf("Keyward bench %s %d", run, i))
			}
		})
	}
	wg.Wait()
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return out, err
	}
	return out, nil
}

// deleteUsers deletes the users, registrationUserSetup at a time.
func deleteUsers(ctx context.Context, c *Client, ids []string) error {
	errs := make([]error, len(ids))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range registrationUserSetup {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(ids) && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := c.DeleteUser(ctx, ids[i]); err != nil {
					errs[i] = fmt.Errorf("deleting benchmark user %s: %w", ids[i], err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

// registerLevel runs one level: each worker has its own software
// authenticator and registers a new key for the level's users in turn.
func (r *Runner) registerLevel(ctx context.Context, tgt *target, users []string, lv Level) (LevelResult, error) {
	var cpuBefore float64
	if tgt.serverCPU != nil {
		var err error
		if cpuBefore, err = tgt.serverCPU(ctx); err != nil {
			return LevelResult{}, fmt.Errorf("reading the server's CPU before the level: %w", err)
		}
	}
	clientBefore, clientOK := ProcessCPU()
	more := lv.budget()
	var turn atomic.Int64
	workers := make([]worker, lv.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		k := softkey.New(softkey.Options{AAGUID: RegisterAAGUID, Attestation: softkey.FormatPacked, CA: r.trust.CA})
		wg.Go(func() {
			for ctx.Err() == nil && more() {
				user := users[int(turn.Add(1)-1)%len(users)]
				d, err := tgt.client.Register(ctx, user, k)
				w.record(ctx, d, err)
			}
		})
	}
	wg.Wait()
	res := collect(workers, lv.Concurrency, time.Since(start))
	attempts := res.SignIns + res.Errors
	if clientAfter, ok := ProcessCPU(); ok && clientOK && attempts > 0 {
		d := (clientAfter - clientBefore) / time.Duration(attempts)
		res.ClientCPUPerSignIn = &d
	}
	if err := addServerCPU(ctx, &res, tgt.serverCPU, cpuBefore, attempts); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// Register provisions a new passkey of key for the user as an
// administrator does, and returns the time spent in the two requests (the
// authenticator's work excluded). A key stored without being attested is
// an error: the scenario measures the full attestation check. The
// authenticator forgets the credential afterwards, so it never meets one of
// its own in a later excludeCredentials.
func (c *Client) Register(ctx context.Context, userID string, key *softkey.Authenticator) (time.Duration, error) {
	methods := "/api/v1/users/" + url.PathEscape(userID) + "/authentication/fido2Methods"
	start := time.Now()
	opts, err := c.do(ctx, http.MethodGet, methods+"/creationOptions", nil, true, http.StatusOK)
	if err != nil {
		return 0, err
	}
	inOptions := time.Since(start)
	cred, err := key.Register(opts, c.Origin)
	if err != nil {
		return 0, fmt.Errorf("the software authenticator refused the creation options: %w", err)
	}
	for _, kc := range key.Credentials() {
		_ = key.RemoveCredential(kc.ID)
	}
	// The authenticator's JSON goes in as it is: marshalled as a
	// json.RawMessage it would be scanned and copied again (compacted), the
	// larger part of the client's own JSON work.
	body := append(append([]byte(`{"displayName":"keyward bench key","publicKeyCredential":`), cred...), '}')
	start = time.Now()
	data, err := c.do(ctx, http.MethodPost, methods, body, true, http.StatusCreated)
	if err != nil {
		return 0, err
	}
	elapsed := inOptions + time.Since(start)
	// One member of the answer is read: JSON v2 decodes it in one pass, where
	// encoding/json checks the whole answer first and then decodes it.
	var m struct {
		AttestationLevel string `json:"attestationLevel"`
	}
	if err := jsonv2.Unmarshal(data, &m); err != nil || m.AttestationLevel != "attested" {
		return 0, fmt.Errorf("POST %s: 201, but the key is not attested (%q): the server does not trust the run's MDS blob", methods, m.AttestationLevel)
	}
	return elapsed, nil
}
