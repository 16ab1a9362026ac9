package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

func TestPercentileIsNearestRank(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", ms(7), 0.99, 7 * time.Millisecond},
		{"median of four", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p95 of 100", ms(hundred...), 0.95, 95 * time.Millisecond},
		{"p100 is the max", ms(1, 5, 9), 1, 9 * time.Millisecond},
	} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestParseProcessMetricsReadsTheProcessCollector(t *testing.T) {
	for _, tc := range []struct {
		name    string
		text    string
		want    ProcessMetrics
		wantErr error
	}{
		{"text format", "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
			"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.34\n" +
			"process_resident_memory_bytes 3.1457280e+07\ngo_goroutines 9\n",
			ProcessMetrics{CPUSeconds: 12.34, ResidentBytes: 31457280}, nil},
		{"exponent", "process_cpu_seconds_total 1.5e+01\n", ProcessMetrics{CPUSeconds: 15}, nil},
		{"round trips", "process_cpu_seconds_total 1\nkeyward_db_round_trips_total 1.234567e+06\n",
			ProcessMetrics{CPUSeconds: 1, RoundTrips: 1234567, HasRoundTrips: true}, nil},
		{"sqlite log", "process_cpu_seconds_total 1\nkeyward_sqlite_log_restarts_total 7\nkeyward_sqlite_writer_held_seconds_total 0.125\n",
			ProcessMetrics{CPUSeconds: 1, LogRestarts: 7, WriterHeldSeconds: 0.125, HasLog: true}, nil},
		{"half the sqlite log", "process_cpu_seconds_total 1\nkeyward_sqlite_log_restarts_total 7\n",
			ProcessMetrics{CPUSeconds: 1, LogRestarts: 7}, nil},
		{"connection waits, every pool", "process_cpu_seconds_total 1\n" +
			"keyward_db_wait_duration_seconds_total{pool=\"writer\"} 0.25\nkeyward_db_wait_count_total{pool=\"writer\"} 9\n" +
			"keyward_db_wait_duration_seconds_total{pool=\"reader\"} 1.5\n",
			ProcessMetrics{CPUSeconds: 1, DBWaitSeconds: 1.75, HasDBWait: true}, nil},
		{"no process collector", "go_goroutines 9\n", ProcessMetrics{}, ErrNoProcessMetrics},
	} {
		got, err := ParseProcessMetrics([]byte(tc.text))
		if !errors.Is(err, tc.wantErr) || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := ParseProcessMetrics([]byte("process_cpu_seconds_total lots\n")); err == nil {
		t.Error("a malformed value was accepted")
	}
}

func TestMeasureBareVerifiesOnEveryWorker(t *testing.T) {
	r, err := MeasureBare(context.Background(), 50*time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verifications <= 0 || r.PerSecond <= 0 || r.Workers != 2 || r.Elapsed < 50*time.Millisecond {
		t.Fatalf("result %+v", r)
	}
	if _, err := MeasureBare(context.Background(), time.Second, 0); err == nil {
		t.Error("zero workers accepted")
	}
}

// fakeKeyward answers sign-in options with a discoverable challenge and
// refuses every other finish, so a level has known successes and failures.
func fakeKeyward(t *testing.T) *httptest.Server {
	var finishes atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/passkey/options", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"publicKey":{"challenge":"Y2hhbGxlbmdl","rpId":"localhost","userVerification":"required"}}`))
	})
	mux.HandleFunc("POST /api/v1/auth/passkey", func(w http.ResponseWriter, _ *http.Request) {
		if finishes.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"code":"verificationFailed","message":"bad signature"}}`))
			return
		}
		w.Write([]byte(`{"status":"signedIn","user":{}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// discoverableKey makes an authenticator holding a discoverable credential
// for localhost.
func discoverableKey(t *testing.T) *softkey.Authenticator {
	k := softkey.New(softkey.Options{Attestation: softkey.FormatNone})
	_, err := k.Register([]byte(`{"publicKey":{"rp":{"id":"localhost","name":"x"},"user":{"id":"dXNlcg","name":"u","displayName":"U"},`+
		`"challenge":"Y2hhbGxlbmdl","pubKeyCredParams":[{"type":"public-key","alg":-7}],"authenticatorSelection":{"residentKey":"required"}}}`),
		"http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRunLevelCountsAndSamplesFailedSignIns(t *testing.T) {
	srv := fakeKeyward(t)
	c := &Client{BaseURL: srv.URL, Origin: "http://localhost:8080", HTTP: NewHTTPClient(4)}
	keys := NewKeys([]*softkey.Authenticator{discoverableKey(t), discoverableKey(t)})
	var cpu atomic.Int64
	serverCPU := func(context.Context) (float64, error) { return float64(cpu.Add(1)), nil } // one second per read

	r, err := RunLevel(context.Background(), c, keys, Level{Concurrency: 2, Count: 10}, serverCPU)
	if err != nil {
		t.Fatal(err)
	}
	if r.SignIns != 5 || r.Errors != 5 {
		t.Fatalf("%d succeeded, %d failed; want 5 and 5", r.SignIns, r.Errors)
	}
	if len(r.ErrorSamples) != 1 || !strings.Contains(r.ErrorSamples[0], "401") || !strings.Contains(r.ErrorSamples[0], "verificationFailed") {
		t.Errorf("error samples %q", r.ErrorSamples)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.PerSecond <= 0 {
		t.Errorf("numbers %+v", r)
	}
	if r.ServerCPU == nil || *r.ServerCPU != time.Second || *r.ServerCPUPerSignIn != 100*time.Millisecond {
		t.Errorf("server CPU %v per sign-in %v; want 1s over 10 attempts", r.ServerCPU, r.ServerCPUPerSignIn)
	}
}

func TestRunLevelRefusesMoreConcurrencyThanKeys(t *testing.T) {
	c := &Client{BaseURL: "http://127.0.0.1:1", HTTP: NewHTTPClient(1)}
	if _, err := RunLevel(context.Background(), c, NewKeys(nil), Level{Concurrency: 1, Count: 1}, nil); err == nil {
		t.Error("a level without keys ran")
	}
}
