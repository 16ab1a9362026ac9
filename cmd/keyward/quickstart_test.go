package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// The README's quick start is run as written: the commands of its marked
// blocks are read from README.md, so they cannot drift from what is tested.
// The binary is built once with the README's go build line; each block then
// runs in its own empty directory, `./keyward serve` included, and the test
// goes from there to a person signed in with a passkey — a software
// authenticator over HTTP, sending what a browser at the public URL sends.
//
// Three things differ from a person's first run, all through the
// environment so that the commands stay the README's: the server listens on
// a free port (KEYWARD_LISTEN) and the test's client dials it for
// localhost:8080, logs are JSON to be read, and the FIDO Metadata Service is
// not downloaded (KEYWARD_MDS_URL="", as the README says to run offline).
func TestReadmeQuickStart(t *testing.T) {
	blocks := quickStartBlocks(t, doc(t, "README.md"))
	if len(blocks) != 2 {
		t.Fatalf("README.md has %d quick-start blocks, want 2 (the setup link, the command line)", len(blocks))
	}
	bin := buildAsTheReadmeSays(t, blocks)

	t.Run("setup_link", func(t *testing.T) {
		t.Parallel()
		q := startQuickStart(t, bin, blocks[0], nil)
		link := q.setupLink(t)
		q.page(t, link.String(), "Welcome to Keyward")
		token := link.Query().Get("token")
		q.call(t, "GET", "/api/v1/setup?token="+url.QueryEscape(token), nil, 200, `"valid":true`)
		// What the setup page sends with its box "Turn on passkeys" checked.
		q.call(t, "POST", "/api/v1/setup", map[string]any{"token": token, "userPrincipalName": "admin@example.com",
			"displayName": "Admin", "password": quickStartPassword, "enablePasskeys": true}, 200, `"status":"signedIn"`)
		q.page(t, publicURL+"/my/security-info", "Security info")
		q.addPasskeyAndSignInWithIt(t)
	})
	t.Run("command_line", func(t *testing.T) {
		t.Parallel()
		var pass string
		q := startQuickStart(t, bin, blocks[1], func(line, stdout string) {
			if strings.Contains(line, " user tap ") {
				pass = strings.TrimSpace(stdout)
			}
		})
		if !regexp.MustCompile(`^[A-Z2-9]{16}$`).MatchString(pass) {
			t.Fatalf("the README's user tap line printed %q, not a pass", pass)
		}
		q.page(t, publicURL+"/login", "Sign in")
		q.call(t, "POST", "/api/v1/auth/tap", map[string]string{"username": "admin@example.com", "temporaryAccessPass": pass},
			200, `"status":"signedIn"`)
		q.page(t, publicURL+"/my/security-info", "Security info")
		q.addPasskeyAndSignInWithIt(t)
	})
}

// publicURL is the README's address to open: keyward serve's default.
const publicURL = "http://localhost:8080"

// quickStartPassword is what the person types when user add asks; the
// README's commands read it from standard input.
const quickStartPassword = "correct horse battery staple"

// quickStartBlocks returns the commands of each ```sh block that follows a
// "<!-- quick start: … -->" marker, a line each.
func quickStartBlocks(t *testing.T, readme string) [][]string {
	t.Helper()
	var blocks [][]string
	re := regexp.MustCompile("(?s)<!-- quick start:[^>]*-->\n```sh\n(.*?)```")
	for _, m := range re.FindAllStringSubmatch(readme, -1) {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(m[1]), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		blocks = append(blocks, lines)
	}
	return blocks
}

// buildAsTheReadmeSays checks that every block begins with the same
// `go build -o NAME PACKAGE` line and runs it once, from the repository's
// root, with NAME in a temporary directory.
func buildAsTheReadmeSays(t *testing.T, blocks [][]string) string {
	t.Helper()
	build := blocks[0][0]
	for _, b := range blocks {
		if b[0] != build {
			t.Fatalf("the quick-start blocks begin with different builds: %q and %q", build, b[0])
		}
	}
	f := strings.Fields(build)
	if len(f) != 5 || f[0] != "go" || f[1] != "build" || f[2] != "-o" {
		t.Fatalf("the README builds with %q; this test knows `go build -o NAME PACKAGE`", build)
	}
	out := filepath.Join(t.TempDir(), f[3])
	cmd := exec.Command("go", "build", "-o", out, f[4])
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	return out
}

// quickStart is one block run in its own directory, with its server.
type quickStart struct {
	n      *node
	client *http.Client
	csrf   string
}

// startQuickStart runs a block's lines after the build in a new directory
// holding the built binary: each command line with sh (standard input is
// the password, for --password-stdin), and the serve line last, left
// running. seen gets each command's standard output.
func startQuickStart(t *testing.T, bin string, block []string, seen func(line, stdout string)) *quickStart {
	t.Helper()
	dir := t.TempDir()
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(bin)), raw, 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYWARD_") { // the README's commands, not the runner's settings
			env = append(env, kv)
		}
	}
	env = append(env, "KEYWARD_LISTEN=127.0.0.1:0", "KEYWARD_LOG_FORMAT=json", "KEYWARD_MDS_URL=")
	serve := block[len(block)-1]
	if !strings.HasSuffix(serve, " serve") && !strings.Contains(serve, " serve ") {
		t.Fatalf("the block's last line %q does not start the server", serve)
	}
	for _, line := range block[1 : len(block)-1] {
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir, cmd.Env = dir, env
		cmd.Stdin = strings.NewReader(quickStartPassword + "\n")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s%s", line, err, stdout.String(), stderr.String())
		}
		if seen != nil {
			seen(line, stdout.String())
		}
	}
	cmd := exec.Command("sh", "-c", "exec "+serve)
	cmd.Dir, cmd.Env = dir, env
	n := launch(t, cmd)
	n.waitListening()
	q := &quickStart{n: n}
	// The client is a browser at the public URL: it asks for localhost:8080
	// and reaches the port the server took.
	jar, _ := cookiejar.New(nil)
	dial := &net.Dialer{Timeout: 5 * time.Second}
	q.client = &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial.DialContext(ctx, network, n.addr)
		},
	}}
	t.Cleanup(func() {
		if code := n.stop(); code != 0 {
			t.Errorf("serve exited with %d after SIGTERM", code)
		}
	})
	return q
}

// setupLink waits for the setup link serve prints and checks that the
// address it logged to open is the link's.
func (q *quickStart) setupLink(t *testing.T) *url.URL {
	t.Helper()
	re := regexp.MustCompile(`\n      (http\S+/setup\?token=kwsetup_\S+)\n`)
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(q.n.stdout.String()); m != nil {
			u, err := url.Parse(m[1])
			if err != nil || u.Scheme+"://"+u.Host != publicURL {
				t.Fatalf("the setup link %q is not at %s", m[1], publicURL)
			}
			return u
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve printed no setup link:\n%s", q.n.stdout.String())
	return nil
}

// page loads a page as a browser does and checks that it shows want.
func (q *quickStart) page(t *testing.T, u, want string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := q.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Fatalf("GET %s: %d, without %q\n%s", u, resp.StatusCode, want, body)
	}
}

// call sends a JSON API request as the pages do and returns the answer.
func (q *quickStart) call(t *testing.T, method, path string, body any, status int, want string) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, publicURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if q.csrf != "" {
		req.Header.Set("X-CSRF-Token", q.csrf)
	}
	resp, err := q.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(got), want) {
		t.Fatalf("%s %s: %d %s; want %d with %s", method, path, resp.StatusCode, got, status, want)
	}
	return got
}

type quickStartMe struct {
	UserPrincipalName     string   `json:"userPrincipalName"`
	AuthenticationMethods []string `json:"authenticationMethods"`
	CSRFToken             string   `json:"csrfToken"`
}

func (q *quickStart) me(t *testing.T) quickStartMe {
	t.Helper()
	var me quickStartMe
	if err := json.Unmarshal(q.call(t, "GET", "/api/v1/me", nil, 200, "csrfToken"), &me); err != nil {
		t.Fatal(err)
	}
	q.csrf = me.CSRFToken
	return me
}

// addPasskeyAndSignInWithIt is what My security info and the sign-in page
// do: register a security key, sign out, and sign in with the key alone.
func (q *quickStart) addPasskeyAndSignInWithIt(t *testing.T) {
	t.Helper()
	key := softkey.New(softkey.Options{})
	q.me(t)
	options := q.call(t, "POST", "/api/v1/me/passkeys/registration/options", nil, 200, "publicKey")
	cred, err := key.Register(options, publicURL)
	if err != nil {
		t.Fatal(err)
	}
	q.call(t, "POST", "/api/v1/me/passkeys", map[string]any{"displayName": "My key", "publicKeyCredential": json.RawMessage(cred)},
		201, `"displayName":"My key"`)
	q.call(t, "POST", "/api/v1/auth/signout", nil, 204, "")
	q.csrf = ""
	q.call(t, "GET", "/api/v1/me", nil, 401, "")

	q.page(t, publicURL+"/login", "Sign in")
	options = q.call(t, "POST", "/api/v1/auth/passkey/options", map[string]any{}, 200, "publicKey")
	assertion, err := key.Assert(options, publicURL)
	if err != nil {
		t.Fatal(err)
	}
	q.call(t, "POST", "/api/v1/auth/passkey", json.RawMessage(assertion), 200, `"userPrincipalName":"admin@example.com"`)
	me := q.me(t)
	if me.UserPrincipalName != "admin@example.com" || !slices.Contains(me.AuthenticationMethods, "hwk") ||
		!slices.Contains(me.AuthenticationMethods, "mfa") {
		t.Fatalf("signed in as %+v; want admin@example.com with a passkey (hwk, mfa)", me)
	}
}
