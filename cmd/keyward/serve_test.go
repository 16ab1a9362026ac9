package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The end-to-end tests run the real binary, built once per test run.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func keywardBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("the go tool is not on PATH: %w", err)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "keyward-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "keyward")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// waitFor bounds every wait on the child process; a healthy run takes well
// under a second for each step.
const waitFor = 60 * time.Second

// node is one running `keyward serve` process.
type node struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	addr   string        // from the "listening" log line
	logs   chan logLine  // every JSON log line, for waiting on events
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after exited
}

type logLine map[string]any

// startServe runs the binary's serve command on a random port with JSON logs
// and returns once it logs its listen address.
func startServe(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	n := launchServe(t, env, args...)
	n.waitListening()
	return n
}

// launchServe starts the serve process without waiting for it.
func launchServe(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	cmd := exec.Command(keywardBinary(t), args...)
	// Tests never reach the real FIDO Metadata Service; a test that wants a
	// download names its own server (the last value of a variable wins).
	cmd.Env = append(append(os.Environ(), "KEYWARD_MDS_URL="), env...)
	return launch(t, cmd)
}

// launch starts cmd, a serve process logging JSON, without waiting for it;
// it is killed at the end of the test if it is still running.
func launch(t *testing.T, cmd *exec.Cmd) *node {
	t.Helper()
	n := &node{t: t, cmd: cmd, logs: make(chan logLine, 1000), exited: make(chan struct{})}
	n.cmd.Stdout = &n.stdout
	pipe, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go n.scanLogs(pipe, scanned)
	go func() {
		<-scanned // Wait closes the pipe; read it to the end first
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("serve stdout:\n%s\nserve stderr:\n%s", n.stdout.String(), n.stderr.String())
		}
	})
	return n
}

// waitListening waits for the "listening" log line and records the address.
func (n *node) waitListening() {
	n.t.Helper()
	l := n.waitLog("listening")
	n.addr, _ = l["addr"].(string)
	if n.addr == "" {
		n.t.Fatalf("listening log line without addr: %v", l)
	}
}

func (n *node) scanLogs(r io.Reader, done chan<- struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		n.stderr.Write(append(sc.Bytes(), '\n'))
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			select {
			case n.logs <- l:
			default: // nobody waits for that many lines
			}
		}
	}
}

// waitLog returns the next log line with the given msg.
func (n *node) waitLog(msg string) logLine {
	n.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case l := <-n.logs:
			if l["msg"] == msg {
				return l
			}
		case <-n.exited:
			n.t.Fatalf("serve exited (%v) before logging %q", n.err, msg)
		case <-deadline:
			n.t.Fatalf("serve did not log %q within %s", msg, waitFor)
		}
	}
}

func (n *node) url(path string) string { return "http://" + n.addr + path }

// waitReady polls /readyz until it answers 200.
func (n *node) waitReady() {
	n.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		resp, err := http.Get(n.url("/readyz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			n.t.Fatalf("/readyz not 200 within %s (last: %v)", waitFor, err)
		}
	}
}

// stop sends SIGTERM and returns the exit code.
func (n *node) stop() int {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	return n.wait()
}

func (n *node) wait() int {
	n.t.Helper()
	select {
	case <-n.exited:
	case <-time.After(waitFor):
		n.t.Fatalf("serve did not exit within %s", waitFor)
	}
	var ee *exec.ExitError
	if errors.As(n.err, &ee) {
		return ee.ExitCode()
	}
	if n.err != nil {
		n.t.Fatal(n.err)
	}
	return 0
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// runBinary runs a one-shot command of the real binary.
func runBinary(t *testing.T, env []string, args ...string) (stdout string) {
	t.Helper()
	cmd := exec.Command(keywardBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyward %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

var setupLink = regexp.MustCompile(`http://localhost:8080/setup\?token=kwsetup_[A-Za-z0-9_-]{43}\n`)

func TestServeStartsPrintsSetupLinkAndStopsOnSIGTERM(t *testing.T) {
	env := []string{"KEYWARD_DATA_DIR=" + t.TempDir()}
	n := startServe(t, env)
	n.waitReady()
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(n.url(path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if !setupLink.MatchString(n.stdout.String()) {
		t.Errorf("no setup link on stdout:\n%s", n.stdout.String())
	}
	if strings.Contains(n.stderr.String(), "kwsetup_") {
		t.Error("the setup secret appears in the log")
	}
	if !strings.Contains(n.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", n.stderr.String())
	}
}

// With pprof_listen the profiler answers on its own loopback address, and
// never on the main one.
func TestServeProfilerOnlyWhereAsked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n := startServe(t, []string{"KEYWARD_DATA_DIR=" + t.TempDir(), "KEYWARD_PPROF_LISTEN=" + addr})
	n.waitReady()
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + addr + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ on %s: %d %.200s", addr, code, body)
	}
	if code, body := get(n.url("/debug/pprof/")); code == http.StatusOK && strings.Contains(body, "goroutine") {
		t.Errorf("the main listener serves the profiler: %d", code)
	}
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestServeSkipsSetupLinkOnceUsersExist(t *testing.T) {
	env := []string{"KEYWARD_DATA_DIR=" + t.TempDir()}
	runBinary(t, env, "user", "add", "--upn", "admin@example.com", "--display-name", "Admin")
	n := startServe(t, env)
	n.waitReady()
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if strings.Contains(n.stdout.String(), "setup?token=") {
		t.Errorf("setup link printed although a user exists:\n%s", n.stdout.String())
	}
}

// TestServeFinishesInFlightRequestOnSIGTERM holds a request open in the
// handler (it waits for the rest of its body, after "100 Continue"), sends
// SIGTERM, checks that new connections are refused, then completes the
// request and expects its real response and a clean exit.
func TestServeFinishesInFlightRequestOnSIGTERM(t *testing.T) {
	env := []string{"KEYWARD_DATA_DIR=" + t.TempDir()}
	tok := strings.TrimSpace(runBinary(t, env, "token", "create", "--name", "e2e", "--role", "global-admin"))
	n := startServe(t, env)
	n.waitReady()

	conn, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitFor))
	body := `{"userPrincipalName":"inflight@example.com","displayName":"In Flight"}`
	fmt.Fprintf(conn, "POST /api/v1/users HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", n.addr, tok, len(body))
	br := bufio.NewReader(conn)
	// The server answers 100 Continue when the handler starts reading the body.
	if status, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(status, "HTTP/1.1 100") {
		t.Fatalf("want 100 Continue, got %q (%v)", status, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("malformed 100 Continue: %q", blank)
	}

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	n.waitLog("shutting down; waiting for in-flight requests")
	waitRefused(t, n.addr)

	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the in-flight response: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(got), "inflight@example.com") {
		t.Fatalf("in-flight request got %d: %s", resp.StatusCode, got)
	}
	if code := n.wait(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if out := runBinary(t, env, "user", "show", "inflight@example.com"); !strings.Contains(out, "In Flight") {
		t.Fatalf("the in-flight request's user is missing:\n%s", out)
	}
}

// waitRefused waits until the server stops accepting connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s still accepts connections after SIGTERM", addr)
		}
	}
}

func TestServeBinaryWithInvalidConfigExitsNonZero(t *testing.T) {
	cmd := exec.Command(keywardBinary(t), "serve", "--listen", "nowhere", "--log-level", "loud",
		"--public-url", "ftp://id.example.com", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "KEYWARD_SHUTDOWN_TIMEOUT=0s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero exit code", err)
	}
	for _, want := range []string{"listen:", "log_level:", "public_url:", "shutdown_timeout:"} {
		if !strings.Contains(stderr.String(), "\n  "+want) {
			t.Errorf("stderr lacks a line for %s:\n%s", want, stderr.String())
		}
	}
}

// TestServeSeveralNodesOnPostgres starts two nodes at once on one empty
// database (so they migrate concurrently): both become ready, and a user
// created through one is served by the other.
func TestServeSeveralNodesOnPostgres(t *testing.T) {
	env := []string{"KEYWARD_DATABASE_URL=" + postgresDSN(t)}
	a, b := launchServe(t, env), launchServe(t, env)
	a.waitListening()
	b.waitListening()
	a.waitReady()
	b.waitReady()
	tok := strings.TrimSpace(runBinary(t, env, "token", "create", "--name", "nodes", "--role", "global-admin"))

	req, _ := http.NewRequest(http.MethodPost, a.url("/api/v1/users"),
		strings.NewReader(`{"userPrincipalName":"shared@example.com","displayName":"Shared"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create on node a: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, b.url("/api/v1/users/shared@example.com"), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read on node b: %d", resp.StatusCode)
	}
	for _, n := range []*node{a, b} {
		if code := n.stop(); code != 0 {
			t.Errorf("node %s exit code %d", n.addr, code)
		}
	}
	// Each node warns at start when the server's autovacuum is off (as on
	// the test machine), and only then.
	conn, err := pgx.Connect(t.Context(), os.Getenv("KEYWARD_TEST_POSTGRES_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var on bool
	if err := conn.QueryRow(t.Context(), `SELECT current_setting('autovacuum')::boolean`).Scan(&on); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, b} {
		if warned := strings.Contains(n.stderr.String(), `"msg":"`+autovacuumOffWarning+`"`); warned != !on {
			t.Errorf("node %s: autovacuum on = %v, warned = %v:\n%s", n.addr, on, warned, n.stderr.String())
		}
	}
}

// TestServeDownloadsTheMDSBlob starts serve with an MDS URL and a private
// root: with no blob stored it downloads one at once, in the background,
// and the commands see it in the shared database.
func TestServeDownloadsTheMDSBlob(t *testing.T) {
	f := newMDSFixture(t)
	src := &blobServer{}
	src.set(http.StatusOK, f.sign(f.payload(3)))
	mdsSrv := httptest.NewServer(src)
	t.Cleanup(mdsSrv.Close)
	env := []string{"KEYWARD_DATA_DIR=" + t.TempDir(), "KEYWARD_MDS_URL=" + mdsSrv.URL, "KEYWARD_MDS_ROOTS=" + f.rootFile}
	// A first start downloads before it listens, so that the outcome is
	// logged before the setup link.
	n := launchServe(t, env)
	l := n.waitLog("MDS blob imported")
	if l["number"] != float64(3) || l["source"] != mdsSrv.URL {
		t.Errorf("import log line %v", l)
	}
	n.waitListening()
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if out := runBinary(t, env, "mds", "status"); !strings.Contains(out, "Number:      3") {
		t.Fatalf("mds status after serve:\n%s", out)
	}
}

// TestServeLogsTheOIDCLibraryAsItsOwn: what zitadel/oidc logs (here, an
// authorization request from an unknown app that it will not redirect)
// comes out as Keyward's own JSON log lines, not Go's default logger's.
func TestServeLogsTheOIDCLibraryAsItsOwn(t *testing.T) {
	n := startServe(t, []string{"KEYWARD_DATA_DIR=" + t.TempDir()})
	n.waitReady()
	res, err := http.Get(n.url("/oauth2/authorize?client_id=nobody&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("an unknown client's authorization request: %d", res.StatusCode)
	}
	l := n.waitLog("auth request: not redirecting")
	if l["level"] == nil || l["oidc_error"] == nil {
		t.Fatalf("the library's log line lacks Keyward's fields: %v", l)
	}
}
