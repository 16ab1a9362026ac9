package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/mds/mdstest"
)

// The mds scenario: the production-size FIDO metadata blob refreshed while
// sign-ins run. The run makes an MDS PKI and a blob of MDSOptions.Entries
// entries (about 5 MB as a JWT, like production's), tells its server to
// trust that root, and then, while sign-ins run, stores newer blobs in the
// database as another node's refresh does and asks the server for a key
// model only the new blob names until it knows it (waitForBlob), which makes
// it read and parse the new blob: the refresh every node of a cluster makes.
// It measures the parse (the time until the server uses the new blob), the
// server's resident memory during it (sampled from /proc), and sign-in
// latency during the refreshes — from the store to the end of the parse,
// and mdsRefreshTail after, for the garbage collection that may follow —
// against the levels without them just before and just after (their mean:
// the p99 of identical levels run one after another drifts upwards as the
// database grows, so a level before alone would flatter it and one after
// alone would flatter the refreshes) and against the same level's other
// sign-ins.

// MDSOptions size the mds scenario.
type MDSOptions struct {
	Entries   int // FIDO2 entries in each blob
	Refreshes int // refreshes during each level
	SizeMB    float64
}

// targetMDSGrowthMB bounds the server's resident memory growth while it
// parses a new blob (docs/design.md, "Speed targets").
const targetMDSGrowthMB = 50

// mdsStallFactor: sign-ins during a refresh must not be stalled, held as
// their p99 at most this many times the p99 without refreshes (the mean of
// the levels before and after the one with them)
// (issue 11: "close to the p99 without").
const mdsStallFactor = 1.2

// mdsRefreshTail is how long after a refresh's parse its sign-ins are still
// counted as during the refresh: the garbage collection the parse causes
// may run after it.
const mdsRefreshTail = 100 * time.Millisecond

// MDSReport is what the mds scenario prints; with --json, exactly this.
type MDSReport struct {
	Server    ServerInfo       `json:"server"`
	Users     int              `json:"users"`
	BlobBytes int              `json:"blobBytes"`
	Entries   int              `json:"entries"`
	Refreshes []MDSRefresh     `json:"refreshes"`
	Levels    []MDSLevelReport `json:"levels"`
	IdleMB    float64          `json:"serverResidentBeforeMB"`
	Targets   []Target         `json:"targets"`
	Failed    int              `json:"signInsFailed"`
	Load      string           `json:"loadAverage,omitempty"`
}

// MDSRefresh is one refresh the server made.
type MDSRefresh struct {
	Number int `json:"number"`
	// StoreMs is the time to store the blob in the database, as the node
	// that downloads it does (here the benchmark, as another node).
	StoreMs  float64 `json:"storeMs"`
	ParseMs  float64 `json:"parseMs"` // from the first request after the store until the server used the new blob
	BeforeMB float64 `json:"residentBeforeMB"`
	PeakMB   float64 `json:"residentPeakMB"`
	AfterMB  float64 `json:"residentAfterMB"`
	GrowthMB float64 `json:"growthMB"` // PeakMB - BeforeMB
}

// MDSLevelReport compares sign-ins without and during refreshes.
type MDSLevelReport struct {
	Concurrency int `json:"concurrency"`
	// Without and After are the levels without refreshes just before and
	// just after the level During, which has them.
	Without LevelReport `json:"without"`
	During  LevelReport `json:"withRefreshes"`
	After   LevelReport `json:"withoutAfter"`
	// BaselineP99Ms is the mean of Without's and After's p99: what the
	// sign-ins overlapping a refresh are judged against.
	BaselineP99Ms float64 `json:"baselineP99Ms"`
	// SignInsInRefresh are the sign-ins that overlapped a refresh (its
	// store, its parse and mdsRefreshTail after), and their p99.
	SignInsInRefresh int     `json:"signInsOverlappingARefresh"`
	P99InRefreshMs   float64 `json:"p99OverlappingARefreshMs"`
	// SignInsOutside are the same level's other sign-ins, and their p99:
	// the same time's load on the machine without a refresh.
	SignInsOutside int     `json:"signInsNotOverlappingARefresh"`
	P99OutsideMs   float64 `json:"p99NotOverlappingARefreshMs"`
	// The overlapping sign-ins split by the part of a refresh they met: the
	// other node's store (and nothing after it), or the server's read and
	// parse with mdsRefreshTail after (a sign-in that met both counts in
	// both). They tell which part of a refresh a stall comes from.
	SignInsInStore int     `json:"signInsOverlappingAStore"`
	P99InStoreMs   float64 `json:"p99OverlappingAStoreMs"`
	SignInsInParse int     `json:"signInsOverlappingAParse"`
	P99InParseMs   float64 `json:"p99OverlappingAParseMs"`
}

// mdsModelPath asks for one key model's name, which reads the current blob.
var mdsModelPath = PolicyPath + "/models?aaGuid=" + RegisterAAGUID.String()

// makeMDSBlobs signs n blobs (numbers first, first+1, …) of entries
// entries, each about sizeMB as a JWT.
func makeMDSBlobs(pki *mdstest.PKI, caPEM string, entries, first, n int, sizeMB float64) ([][]byte, error) {
	payload := func(number, iconBytes int) mdstest.Payload {
		icon := make([]byte, iconBytes)
		_, _ = rand.Read(icon)
		p := mdstest.Payload{Number: number, NextUpdate: time.Now().Add(30 * 24 * time.Hour)}
		for i := range entries {
			p.Entries = append(p.Entries, mdstest.EntryOptions{
				AAGUID:              fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, number),
				Description:         fmt.Sprintf("Authenticator model %d", i+1),
				Statuses:            []string{"FIDO_CERTIFIED_L1"},
				AttestationRootPEMs: []string{caPEM},
				Icon:                "data:image/png;base64," + base64.StdEncoding.EncodeToString(icon),
			})
		}
		p.Entries[0].AAGUID = RegisterAAGUID.String()
		return p
	}
	probe, err := pki.Sign(payload(first, 0))
	if err != nil {
		return nil, err
	}
	// Each icon byte is 4/3 in base64 inside the JSON, and 4/3 again in the JWT.
	icon := max(0, int((sizeMB*1e6-float64(len(probe)))/float64(entries)*9/16))
	var out [][]byte
	for i := range n {
		b, err := pki.Sign(payload(first+i, icon))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// RunMDS runs the mds scenario.
func (r *Runner) RunMDS(ctx context.Context, o MDSOptions) (rep *MDSReport, err error) {
	if r.URL != "" {
		return nil, errors.New("the mds scenario starts its own server, which must trust the MDS root it makes: not with --url")
	}
	if o.Entries < 1 || o.Refreshes < 1 {
		return nil, fmt.Errorf("the mds scenario needs at least one entry and one refresh a level")
	}
	pki, err := mdstest.NewPKI()
	if err != nil {
		return nil, err
	}
	ca, err := mdstest.NewAttestationCA("Keyward bench MDS vendor")
	if err != nil {
		return nil, err
	}
	n := 1 + o.Refreshes*len(r.Concurrency)
	r.Progress("signing %d MDS blobs of %d entries (about %.0f MB each)…", n, o.Entries, o.SizeMB)
	first := int(time.Now().Unix())
	blobs, err := makeMDSBlobs(pki, ca.CertPEM(), o.Entries, first, n, o.SizeMB)
	if err != nil {
		return nil, fmt.Errorf("making the MDS blobs: %w", err)
	}
	r.trust = &RegisterTrust{MDSRootPEM: pki.RootPEM(), Blob: blobs[0]}
	tgt, err := r.startServer(ctx)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	defer func() { err = errors.Join(err, cleanup(ctx, tgt.close)) }()
	rep = &MDSReport{Server: tgt.server, Users: r.Users, BlobBytes: len(blobs[0]), Entries: o.Entries,
		Refreshes: []MDSRefresh{}, Levels: []MDSLevelReport{}, Load: loadAverage()}
	if _, err := tgt.client.EnablePasskeys(ctx); err != nil {
		return nil, interrupted(ctx, err)
	}
	pop := Population{Seed: []byte(populationSeedText)}
	if err := r.Scale.Seed(ctx, tgt.env, pop, 0, r.Users); err != nil {
		return nil, interrupted(ctx, err)
	}
	// The first blob is parsed once before anything is measured: a server
	// holds its current blob when the next one comes.
	if _, err := tgt.client.do(ctx, http.MethodGet, mdsModelPath, nil, true, http.StatusOK); err != nil {
		return nil, interrupted(ctx, err)
	}
	runtime.GC()
	if rep.IdleMB, _, err = procResident(tgt.server.PID); err != nil {
		return nil, interrupted(ctx, fmt.Errorf("the mds scenario reads the server's memory from /proc: %w", err))
	}
	signIn := randomSignIn(tgt.client, pop)(r.Users)
	next := 1
	for _, conc := range r.Concurrency {
		lv := Level{Concurrency: conc, Duration: r.Duration}
		r.Progress("concurrency %d without refreshes…", conc)
		without, err := RunLevelFunc(ctx, lv, signIn, tgt.serverCPU)
		if err != nil {
			return nil, interrupted(ctx, err)
		}
		r.Progress("concurrency %d with %d refreshes of the %.1f MB blob…", conc, o.Refreshes, float64(len(blobs[0]))/1e6)
		lr, refreshes, err := r.levelWithRefreshes(ctx, tgt, lv, signIn, blobs[next:next+o.Refreshes], first+next)
		if err != nil {
			return nil, interrupted(ctx, err)
		}
		next += o.Refreshes
		rep.Refreshes = append(rep.Refreshes, refreshes...)
		r.Progress("concurrency %d without refreshes again…", conc)
		after, err := RunLevelFunc(ctx, lv, signIn, tgt.serverCPU)
		if err != nil {
			return nil, interrupted(ctx, err)
		}
		one := &Report{}
		one.Add(without)
		one.Add(lr.result)
		one.Add(after)
		rep.Levels = append(rep.Levels, MDSLevelReport{Concurrency: conc, Without: one.Levels[0], During: one.Levels[1], After: one.Levels[2],
			BaselineP99Ms:    (one.Levels[0].P99Ms + one.Levels[2].P99Ms) / 2,
			SignInsInRefresh: lr.overlapping, P99InRefreshMs: lr.p99Overlapping, SignInsOutside: lr.outside, P99OutsideMs: lr.p99Outside,
			SignInsInStore: lr.inStore, P99InStoreMs: lr.p99Store, SignInsInParse: lr.inParse, P99InParseMs: lr.p99Parse})
		rep.Failed += without.Errors + lr.result.Errors + after.Errors
	}
	rep.evaluate()
	return rep, nil
}

type refreshLevel struct {
	result                     LevelResult
	overlapping, outside       int
	p99Overlapping, p99Outside float64
	inStore, inParse           int
	p99Store, p99Parse         float64
}

type span struct{ start, end time.Time }

func (w span) overlaps(s span) bool { return s.start.Before(w.end) && s.end.After(w.start) }

// refreshSpans are one refresh's parts: the store, then the parse.
type refreshSpans struct{ store, parse span }

// levelWithRefreshes runs a level of sign-ins and, from 200 ms into it,
// the refreshes one after another.
func (r *Runner) levelWithRefreshes(ctx context.Context, tgt *target, lv Level, signIn func(context.Context) (time.Duration, error),
	blobs [][]byte, firstNumber int) (refreshLevel, []MDSRefresh, error) {
	var mu sync.Mutex
	var signIns []span
	var lats []time.Duration
	timed := func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		d, err := signIn(ctx)
		if err == nil {
			mu.Lock()
			signIns, lats = append(signIns, span{start, time.Now()}), append(lats, d)
			mu.Unlock()
		}
		return d, err
	}
	type levelOut struct {
		res LevelResult
		err error
		end time.Time
	}
	done := make(chan levelOut, 1)
	go func() {
		res, err := RunLevelFunc(ctx, lv, timed, tgt.serverCPU)
		done <- levelOut{res, err, time.Now()}
	}()
	var refreshes []MDSRefresh
	var windows []refreshSpans
	var refreshErr error
	select {
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
	}
	for i, raw := range blobs {
		if ctx.Err() != nil {
			break
		}
		f, w, err := r.refresh(ctx, tgt, raw, firstNumber+i)
		if err != nil {
			refreshErr = err
			break
		}
		refreshes, windows = append(refreshes, f), append(windows, w)
		r.Progress("  refresh %d: stored in %.0f ms, parsed in %.0f ms, resident %.0f → peak %.0f MB (+%.0f), after %.0f MB",
			f.Number, f.StoreMs, f.ParseMs, f.BeforeMB, f.PeakMB, f.GrowthMB, f.AfterMB)
	}
	out := <-done
	if err := errors.Join(out.err, refreshErr); err != nil {
		return refreshLevel{}, nil, err
	}
	lr := refreshLevel{result: out.res}
	var in, others, inStore, inParse []time.Duration
	for i, s := range signIns {
		store := slices.ContainsFunc(windows, func(w refreshSpans) bool { return w.store.overlaps(s) })
		parse := slices.ContainsFunc(windows, func(w refreshSpans) bool {
			return span{w.parse.start, w.parse.end.Add(mdsRefreshTail)}.overlaps(s)
		})
		switch {
		case store || parse:
			in = append(in, lats[i])
		default:
			others = append(others, lats[i])
		}
		if store {
			inStore = append(inStore, lats[i])
		}
		if parse {
			inParse = append(inParse, lats[i])
		}
	}
	for _, d := range [][]time.Duration{in, others, inStore, inParse} {
		slices.Sort(d)
	}
	lr.overlapping, lr.p99Overlapping = len(in), ms(Percentile(in, 0.99))
	lr.outside, lr.p99Outside = len(others), ms(Percentile(others, 0.99))
	lr.inStore, lr.p99Store = len(inStore), ms(Percentile(inStore, 0.99))
	lr.inParse, lr.p99Parse = len(inParse), ms(Percentile(inParse, 0.99))
	if len(windows) > 0 && windows[len(windows)-1].parse.end.After(out.end) {
		r.Progress("  the refreshes outlasted the level's sign-ins; give a longer --duration")
	}
	return lr, refreshes, nil
}

// refresh stores a newer blob and has the server read and parse it,
// sampling its resident memory every 5 ms meanwhile. It returns the spans of
// the store and of the parse (from the first request after the store until
// the server used the new blob).
func (r *Runner) refresh(ctx context.Context, tgt *target, raw []byte, number int) (MDSRefresh, refreshSpans, error) {
	f := MDSRefresh{Number: number}
	stored := time.Now()
	if err := r.Scale.PutMDSBlob(ctx, tgt.env, raw, number, time.Now().Add(30*24*time.Hour)); err != nil {
		return f, refreshSpans{}, fmt.Errorf("storing MDS blob %d: %w", number, err)
	}
	storedEnd := time.Now()
	f.StoreMs = ms(storedEnd.Sub(stored))
	var err error
	if f.BeforeMB, _, err = procResident(tgt.server.PID); err != nil {
		return f, refreshSpans{}, err
	}
	f.PeakMB = f.BeforeMB
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if rss, _, err := procResident(tgt.server.PID); err == nil {
					f.PeakMB = max(f.PeakMB, rss)
				}
			}
		}
	}()
	start := time.Now()
	err = waitForBlob(ctx, tgt.client, number)
	end := time.Now()
	// Memory freed after the parse shows a little later; keep sampling.
	time.Sleep(50 * time.Millisecond)
	close(stop)
	<-sampled
	if err != nil {
		return f, refreshSpans{}, fmt.Errorf("asking the server for a key model after storing blob %d: %w", number, err)
	}
	f.ParseMs = ms(end.Sub(start))
	f.AfterMB, _, _ = procResident(tgt.server.PID)
	f.GrowthMB = f.PeakMB - f.BeforeMB
	return f, refreshSpans{store: span{stored, storedEnd}, parse: span{start, end}}, nil
}

// waitForBlob asks the server for the name of a model only blob number has
// until it knows it: the first request makes the server notice the new
// blob, which it parses in the background (a server that parses it in the
// request answers once it has), and the time until then is the refresh's.
// It asks every 20 ms, so that its own requests weigh little on the
// sign-ins measured meanwhile.
func waitForBlob(ctx context.Context, c *Client, number int) error {
	want := fmt.Sprintf("Authenticator model %d", 2)
	path := PolicyPath + "/models?aaGuid=" + fmt.Sprintf("%08x-0000-4000-8000-%012x", 2, number)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		body, err := c.do(ctx, http.MethodGet, path, nil, true, http.StatusOK)
		if err != nil {
			return err
		}
		if strings.Contains(string(body), want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not use MDS blob %d within 2 minutes", number)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *MDSReport) evaluate() {
	growth := Target{Name: fmt.Sprintf("server resident memory growth while parsing a %.1f MB blob ≤ %d MB",
		float64(r.BlobBytes)/1e6, targetMDSGrowthMB), Status: statusNotMeasured}
	parse := Target{Name: "refresh parse time (reported)", Status: "reported"}
	if len(r.Refreshes) > 0 {
		worst := slices.MaxFunc(r.Refreshes, func(a, b MDSRefresh) int { return cmpFloat(a.GrowthMB, b.GrowthMB) })
		growth.Measured = fmt.Sprintf("worst +%.0f MB (%.0f → %.0f MB)", worst.GrowthMB, worst.BeforeMB, worst.PeakMB)
		growth.Status = metOrMissed(worst.GrowthMB <= targetMDSGrowthMB)
		var p []float64
		for _, f := range r.Refreshes {
			p = append(p, f.ParseMs)
		}
		slices.Sort(p)
		parse.Measured = fmt.Sprintf("median %.0f ms, worst %.0f ms over %d refreshes", p[len(p)/2], p[len(p)-1], len(p))
	}
	stall := Target{Name: fmt.Sprintf("sign-in p99 during refreshes ≤ %.1f× the p99 without (the mean of the levels before and after)", mdsStallFactor),
		Status: statusNotMeasured}
	worstRatio, at, control := -1.0, 0, 0.0
	for _, l := range r.Levels {
		if l.SignInsInRefresh == 0 || l.BaselineP99Ms <= 0 {
			continue
		}
		if q := l.P99InRefreshMs / l.BaselineP99Ms; q > worstRatio {
			worstRatio, at, control = q, l.Concurrency, 0
			if l.P99OutsideMs > 0 {
				control = l.P99InRefreshMs / l.P99OutsideMs
			}
		}
	}
	if worstRatio >= 0 {
		stall.Measured = fmt.Sprintf("worst ×%.2f (at concurrency %d; ×%.2f the same level's other sign-ins)", worstRatio, at, control)
		stall.Status = metOrMissed(worstRatio <= mdsStallFactor)
	}
	r.Targets = []Target{growth, parse, stall}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// WriteText writes the mds scenario's report.
func (r *MDSReport) WriteText(w io.Writer) error {
	fmt.Fprintln(w, "Keyward FIDO metadata refresh under sign-in load")
	fmt.Fprintf(w, "Server:  keyward serve, child process %d, %s database, at %s\n", r.Server.PID, r.Server.Database, r.Server.URL)
	fmt.Fprintf(w, "Blob:    %.2f MB JWT, %d entries; the server held %.0f MB resident with the first one parsed\n",
		float64(r.BlobBytes)/1e6, r.Entries, r.IdleMB)
	fmt.Fprintf(w, "Users:   %d (sign-ins as random ones); load average %s\n\n", r.Users, r.Load)
	rows := [][]string{{"REFRESH", "STORE", "PARSE", "RESIDENT BEFORE", "PEAK", "GROWTH", "AFTER"}}
	for _, f := range r.Refreshes {
		rows = append(rows, []string{strconv.Itoa(f.Number), fmtMs(f.StoreMs), fmtMs(f.ParseMs), fmt.Sprintf("%.0f MB", f.BeforeMB),
			fmt.Sprintf("%.0f MB", f.PeakMB), fmt.Sprintf("%+.0f MB", f.GrowthMB), fmt.Sprintf("%.0f MB", f.AfterMB)})
	}
	if err := columns(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	levels := [][]string{{"CONCURRENCY", "SIGN-INS/S WITHOUT", "P99 WITHOUT (BEFORE, AFTER)", "SIGN-INS/S WITH", "P99 WITH", "OVERLAPPING A REFRESH", "THEIR P99",
		"THE OTHERS' P99", "P99 IN A STORE", "P99 IN A PARSE"}}
	for _, l := range r.Levels {
		levels = append(levels, []string{strconv.Itoa(l.Concurrency), fmt.Sprintf("%.1f, %.1f", l.Without.PerSecond, l.After.PerSecond),
			fmt.Sprintf("%s (%.2f, %.2f)", fmtMs(l.BaselineP99Ms), l.Without.P99Ms, l.After.P99Ms),
			fmt.Sprintf("%.1f", l.During.PerSecond), fmtMs(l.During.P99Ms), strconv.Itoa(l.SignInsInRefresh), fmtMs(l.P99InRefreshMs), fmtMs(l.P99OutsideMs),
			fmt.Sprintf("%s (%d)", fmtMs(l.P99InStoreMs), l.SignInsInStore), fmt.Sprintf("%s (%d)", fmtMs(l.P99InParseMs), l.SignInsInParse)})
	}
	if err := columns(w, levels); err != nil {
		return err
	}
	if err := writeTargets(w, r.Targets); err != nil {
		return err
	}
	if r.Failed > 0 {
		fmt.Fprintf(w, "\n%d sign-ins FAILED\n", r.Failed)
	}
	return nil
}
