package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// PolicyPath is the passkey (FIDO2) method policy in the admin API.
const PolicyPath = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"

// requestTimeout bounds one request, so a stuck server cannot hold the
// benchmark past its duration by more than this.
const requestTimeout = 30 * time.Second

// Client talks to one Keyward over HTTP, as the benchmark needs it. Every
// request goes to BaseURL and nowhere else.
type Client struct {
	BaseURL string // where requests go, e.g. http://127.0.0.1:8080
	Origin  string // the WebAuthn origin: Keyward's public URL
	Token   string // a global-admin API token, for setup
	HTTP    *http.Client
}

// NewHTTPClient returns a client that keeps up to conns idle connections to
// one host, ignores proxy settings (traffic goes straight to the target),
// keeps no cookies and follows no redirects.
func NewHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout: requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// StatusError is an answer other than the expected status.
type StatusError struct {
	Method, Path string
	Status       int
	Code         string // the API error's code, when the body has one
	Message      string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// do sends one request and returns the body when the status is want.
func (c *Client) do(ctx context.Context, method, path string, body []byte, admin bool, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return nil, statusError(method, path, resp.StatusCode, data)
	}
	return data, nil
}

func statusError(method, path string, status int, body []byte) *StatusError {
	e := &StatusError{Method: method, Path: path, Status: status}
	var apiErr struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &apiErr) == nil && apiErr.Error.Code != "" {
		e.Code, e.Message = apiErr.Error.Code, apiErr.Error.Message
	} else if len(body) > 0 {
		e.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	return e
}

// EnablePasskeys turns the passkey method policy on when it is off and
// returns a function that turns it off again (nil when nothing changed).
// The targets are left alone: a new install includes all users.
func (c *Client) EnablePasskeys(ctx context.Context) (restore func(context.Context) error, err error) {
	data, err := c.do(ctx, http.MethodGet, PolicyPath, nil, true, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("reading the passkey policy: %w", err)
	}
	var pol struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(data, &pol); err != nil {
		return nil, fmt.Errorf("reading the passkey policy: %w", err)
	}
	if pol.State == "enabled" {
		return nil, nil
	}
	if _, err := c.do(ctx, http.MethodPatch, PolicyPath, []byte(`{"state":"enabled"}`), true, http.StatusOK); err != nil {
		return nil, fmt.Errorf("enabling passkeys: %w", err)
	}
	prev, _ := json.Marshal(map[string]string{"state": pol.State})
	return func(ctx context.Context) error {
		_, err := c.do(ctx, http.MethodPatch, PolicyPath, prev, true, http.StatusOK)
		return err
	}, nil
}

// CreateUser creates a user through the admin API and returns its ID.
func (c *Client) CreateUser(ctx context.Context, upn, displayName string) (string, error) {
	body, _ := json.Marshal(map[string]string{"userPrincipalName": upn, "displayName": displayName})
	data, err := c.do(ctx, http.MethodPost, "/api/v1/users", body, true, http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("creating user %s: %w", upn, err)
	}
	var u struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &u); err != nil || u.ID == "" {
		return "", fmt.Errorf("creating user %s: the answer has no id: %s", upn, data)
	}
	return u.ID, nil
}

// DeleteUser deletes a user with their passkeys and sessions.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(id), nil, true, http.StatusNoContent)
	return err
}

// Provision registers key for the user as an administrator does:
// creationOptions, the authenticator's answer, then POST fido2Methods.
func (c *Client) Provision(ctx context.Context, userID string, key *softkey.Authenticator) error {
	methods := "/api/v1/users/" + url.PathEscape(userID) + "/authentication/fido2Methods"
	opts, err := c.do(ctx, http.MethodGet, methods+"/creationOptions", nil, true, http.StatusOK)
	if err != nil {
		return fmt.Errorf("provisioning a passkey: %w", err)
	}
	cred, err := key.Register(opts, c.Origin)
	if err != nil {
		return fmt.Errorf("provisioning a passkey: the software authenticator refused the options: %w", err)
	}
	body, _ := json.Marshal(map[string]any{"displayName": "keyward bench key", "publicKeyCredential": json.RawMessage(cred)})
	if _, err := c.do(ctx, http.MethodPost, methods, body, true, http.StatusCreated); err != nil {
		return fmt.Errorf("provisioning a passkey: %w", err)
	}
	return nil
}

// SignIn runs one discoverable passkey sign-in — options with an empty body
// ({}), the authenticator's assertion, the finish — and returns the time
// spent in the two requests (the authenticator's signing excluded).
func (c *Client) SignIn(ctx context.Context, key *softkey.Authenticator) (time.Duration, error) {
	start := time.Now()
	opts, err := c.do(ctx, http.MethodPost, "/api/v1/auth/passkey/options", []byte(`{}`), false, http.StatusOK)
	if err != nil {
		return 0, err
	}
	inOptions := time.Since(start)
	assertion, err := key.Assert(opts, c.Origin)
	if err != nil {
		return 0, fmt.Errorf("the software authenticator refused the sign-in options: %w", err)
	}
	start = time.Now()
	data, err := c.do(ctx, http.MethodPost, "/api/v1/auth/passkey", assertion, false, http.StatusOK)
	if err != nil {
		return 0, err
	}
	elapsed := inOptions + time.Since(start)
	if !bytes.Contains(data, []byte(`"signedIn"`)) {
		return 0, fmt.Errorf("POST /api/v1/auth/passkey: 200 without status signedIn: %.200s", data)
	}
	return elapsed, nil
}

// ErrNoProcessMetrics means /metrics has no process_cpu_seconds_total: the
// server's CPU cannot be read apart from the benchmark's.
var ErrNoProcessMetrics = errors.New("the server's /metrics has no process_cpu_seconds_total")

// ProcessMetrics are the server process's own numbers from /metrics.
type ProcessMetrics struct {
	CPUSeconds    float64
	ResidentBytes float64 // 0 when not exposed
	// RoundTrips is keyward_db_round_trips_total, HasRoundTrips whether the
	// server reports it.
	RoundTrips    float64
	HasRoundTrips bool
	// LogRestarts and WriterHeldSeconds are keyward_sqlite_log_restarts_total
	// and keyward_sqlite_writer_held_seconds_total, HasLog whether the
	// server reports both (SQLite).
	LogRestarts       float64
	WriterHeldSeconds float64
	HasLog            bool
	// DBWaitSeconds is keyward_db_wait_duration_seconds_total summed over
	// the server's pools, HasDBWait whether it reports any.
	DBWaitSeconds float64
	HasDBWait     bool
}

// ServerProcess reads process_cpu_seconds_total and
// process_resident_memory_bytes from the server's /metrics.
func (c *Client) ServerProcess(ctx context.Context) (ProcessMetrics, error) {
	data, err := c.do(ctx, http.MethodGet, "/metrics", nil, false, http.StatusOK)
	if err != nil {
		return ProcessMetrics{}, err
	}
	return ParseProcessMetrics(data)
}

// ParseProcessMetrics reads the process collector's CPU and memory from
// Prometheus' text format.
func ParseProcessMetrics(text []byte) (ProcessMetrics, error) {
	var m ProcessMetrics
	found, restarts, held := false, false, false
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return ProcessMetrics{}, fmt.Errorf("process_cpu_seconds_total %q: %w", value, err)
			}
			m.CPUSeconds, found = v, true
		case "process_resident_memory_bytes":
			m.ResidentBytes, _ = strconv.ParseFloat(strings.TrimSpace(value), 64)
		case "keyward_db_round_trips_total":
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			m.RoundTrips, m.HasRoundTrips = v, err == nil
		case "keyward_sqlite_log_restarts_total":
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			m.LogRestarts, restarts = v, err == nil
		case "keyward_sqlite_writer_held_seconds_total":
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			m.WriterHeldSeconds, held = v, err == nil
		default:
			if strings.HasPrefix(name, "keyward_db_wait_duration_seconds_total{") {
				if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
					m.DBWaitSeconds += v
					m.HasDBWait = true
				}
			}
		}
	}
	m.HasLog = restarts && held
	if err := sc.Err(); err != nil {
		return ProcessMetrics{}, fmt.Errorf("reading /metrics: %w", err)
	}
	if !found {
		return ProcessMetrics{}, ErrNoProcessMetrics
	}
	return m, nil
}
