package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds the child's start: migrations on an empty database
// and the first listen take well under a second on a healthy machine.
const readyTimeout = 60 * time.Second

// Child is a `keyward serve` started by the benchmark on a free loopback
// port, its log going to a file.
type Child struct {
	BaseURL string // where requests go: http://127.0.0.1:PORT
	Origin  string // its public URL: http://localhost:PORT
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result, valid after exited
}

// PID is the child's process ID.
func (ch *Child) PID() int { return ch.cmd.Process.Pid }

// Binary is the path of the started binary.
func (ch *Child) Binary() string { return ch.cmd.Path }

// ChildEnv is the environment of a started server and of the in-process
// token commands: env minus every KEYWARD_* setting (the benchmark ignores
// the configuration), plus extra.
func ChildEnv(env []string, extra ...string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KEYWARD_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// StartChild starts exe serve on a free loopback port with env, logging at
// logLevel into a file in dir. It does not wait for the server: see
// WaitReady.
func StartChild(exe, logLevel, dir string, env []string) (*Child, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	ch := &Child{
		BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		// The public URL is localhost (browsers allow passkeys on http only
		// there); requests still go to 127.0.0.1, never to a name lookup.
		Origin:  fmt.Sprintf("http://localhost:%d", port),
		logPath: filepath.Join(dir, "serve.log"),
		exited:  make(chan struct{}),
	}
	logFile, err := os.Create(ch.logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the server's log file: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	ch.cmd = exec.Command(exe, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--public-url", ch.Origin,
		"--mds-url=", "--log-level", logLevel, "--shutdown-timeout", "10s")
	ch.cmd.Env = env
	ch.cmd.Stderr = logFile // stdout (the setup link) is discarded
	ch.cmd.SysProcAttr = childProcAttr()
	if err := ch.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s serve: %w", exe, err)
	}
	go func() {
		ch.waitErr = ch.cmd.Wait()
		close(ch.exited)
	}()
	return ch, nil
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1. The child
// binds it a moment later; the public URL must name the port in advance,
// because the WebAuthn origin includes it.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return strconv.Atoi(port)
}

// WaitReady polls /readyz through c until it answers 200.
func (ch *Child) WaitReady(ctx context.Context, c *Client) error {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(readyTimeout)
	for {
		if _, err := c.ServerProcess(ctx); err == nil {
			// /metrics answers as soon as the server listens; /readyz also
			// needs the database.
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ch.BaseURL+"/readyz", nil)
			if resp, err := c.HTTP.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-tick.C:
		case <-ch.exited:
			return fmt.Errorf("the server exited while starting (%v); its log:\n%s", ch.waitErr, ch.logTail())
		case <-deadline:
			return fmt.Errorf("the server was not ready within %s; its log:\n%s", readyTimeout, ch.logTail())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Alive returns an error once the server has exited.
func (ch *Child) Alive() error {
	select {
	case <-ch.exited:
		return fmt.Errorf("the server exited during the run (%v); its log:\n%s", ch.waitErr, ch.logTail())
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits for a clean exit; a server that does not
// stop before ctx ends is killed.
func (ch *Child) Stop(ctx context.Context) error {
	if err := ch.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping the server: %w", err)
	}
	select {
	case <-ch.exited:
	case <-ctx.Done():
		_ = ch.cmd.Process.Kill()
		<-ch.exited
		return fmt.Errorf("the server did not stop after SIGTERM and was killed; its log:\n%s", ch.logTail())
	}
	if ch.waitErr != nil {
		return fmt.Errorf("the server exited with %v; its log:\n%s", ch.waitErr, ch.logTail())
	}
	return nil
}

// logTail is the end of the child's log, for error messages.
func (ch *Child) logTail() string {
	data, err := os.ReadFile(ch.logPath)
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	lines = lines[max(0, len(lines)-15):]
	return "  " + strings.Join(lines, "\n  ")
}
