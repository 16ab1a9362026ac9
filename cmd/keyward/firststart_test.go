package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A first start on a machine that cannot reach the FIDO Metadata Service
// says so in one short line, before the address to open and the setup link,
// and the link comes last: nothing logged at start buries it.
func TestFirstStartWithoutMDSSaysSoOnceBeforeTheSetupLink(t *testing.T) {
	t.Parallel()
	offline := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	t.Cleanup(offline.Close)
	env := []string{"KEYWARD_DATA_DIR=" + t.TempDir(), "KEYWARD_MDS_URL=" + offline.URL}
	n := launchServe(t, env)

	var order []string
	var listening logLine
	for {
		l := n.nextLog()
		msg, _ := l["msg"].(string)
		if strings.Contains(msg, "MDS") {
			order = append(order, "mds")
			if l["level"] != "WARN" || !strings.Contains(msg, "could not be downloaded") ||
				!strings.Contains(msg, `--mds-url ""`) || !strings.Contains(msg, "keyward mds import") ||
				l["reason"] != "the server answered 503 Service Unavailable" {
				t.Errorf("the MDS line does not say what happened, what it means and how to run offline: %v", l)
			}
			if len(msg) > 200 {
				t.Errorf("the MDS line is %d characters long; keep it short: %q", len(msg), msg)
			}
		}
		if msg == "listening" {
			order = append(order, "listening")
			listening = l
		}
		if strings.Contains(msg, "printed a one-time setup link") {
			order = append(order, "setup link")
			break
		}
	}
	if got := strings.Join(order, ", "); got != "mds, listening, setup link" {
		t.Errorf("start-up order: %s; want the MDS line, then listening, then the setup link", got)
	}
	if listening["open"] != "http://localhost:8080" {
		t.Errorf("the listening line does not name the public URL as the address to open: %v", listening)
	}
	if code := n.stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !setupLink.MatchString(n.stdout.String()) {
		t.Errorf("no setup link on stdout:\n%s", n.stdout.String())
	}
	if c := strings.Count(n.stderr.String(), "503 Service Unavailable"); c != 1 {
		t.Errorf("the download error appears %d times in the log, want once:\n%s", c, n.stderr.String())
	}
}

// nextLog returns the next JSON log line of the serve process.
func (n *node) nextLog() logLine {
	n.t.Helper()
	select {
	case l := <-n.logs:
		return l
	case <-n.exited:
		n.t.Fatalf("serve exited (%v)", n.err)
	case <-time.After(waitFor):
		n.t.Fatalf("serve logged nothing for %s", waitFor)
	}
	return nil
}
