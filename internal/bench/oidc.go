package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// An app's sign-ins through Keyward, measured beside passkey sign-in: the
// browser's side of a sign-in to the app with a Keyward session (authorize,
// the hand-off, the callback), the app redeeming the code with PKCE and its
// client secret, refreshing the tokens it got, and (as a resource server
// does with an opaque token on each call it serves) introspecting the
// access tokens the refreshes gave. Each is timed on its own.

// benchRedirect is the benchmark app's redirect URI; nothing is ever sent there.
const benchRedirect = "https://bench.invalid/cb"

// DefaultTokenCount is the token requests per level when the levels are timed:
// codes expire after 60 s, so they are made up front in a fixed number. 600
// code exchanges use about half a second of server CPU or more; the server
// started by the benchmark has its CPU read in nanoseconds (childCPU), a
// server at --url in /metrics' 10 ms ticks, within 2% of such a level.
const DefaultTokenCount = 600

// Requests measured: the authorization with a session, two grants, and
// introspection.
const (
	Authorization = "authorize (session)"
	GrantCode     = "authorization_code+PKCE"
	GrantRefresh  = "refresh_token"
	Introspection = "introspection"
)

// tokenApp is the benchmark's registered web app and a browser session to
// authorize with.
type tokenApp struct {
	c                     *Client
	objectID, appID, pass string
	cookies               []*http.Cookie
}

// registerTokenApp registers a web app with a client secret and signs key
// in to get a browser session for the authorizations.
func registerTokenApp(ctx context.Context, c *Client, name string, key *softkey.Authenticator) (*tokenApp, error) {
	body, _ := json.Marshal(map[string]any{"displayName": name, "web": map[string]any{"redirectUris": []string{benchRedirect}}})
	data, err := c.do(ctx, http.MethodPost, "/api/v1/applications", body, true, http.StatusCreated)
	if err != nil {
		return nil, fmt.Errorf("registering the benchmark app: %w", err)
	}
	var app struct{ ID, AppID string }
	if err := json.Unmarshal(data, &app); err != nil {
		return nil, fmt.Errorf("registering the benchmark app: %w", err)
	}
	a := &tokenApp{c: c, objectID: app.ID, appID: app.AppID}
	data, err = c.do(ctx, http.MethodPost, "/api/v1/applications/"+app.ID+"/addPassword", []byte(`{"passwordCredential":{"displayName":"bench"}}`), true, http.StatusOK)
	if err != nil {
		return a, fmt.Errorf("adding the benchmark app's secret: %w", err)
	}
	var sec struct{ SecretText string }
	if err := json.Unmarshal(data, &sec); err != nil || sec.SecretText == "" {
		return a, fmt.Errorf("adding the benchmark app's secret: no secretText in %.100s", data)
	}
	a.pass = sec.SecretText
	a.cookies, err = c.signInCookies(ctx, key)
	return a, err
}

// delete removes the app (and with it every token issued to it).
func (a *tokenApp) delete(ctx context.Context) error {
	_, err := a.c.do(ctx, http.MethodDelete, "/api/v1/applications/"+a.objectID, nil, true, http.StatusNoContent)
	return err
}

// signInCookies is a passkey sign-in that keeps the session cookie.
func (c *Client) signInCookies(ctx context.Context, key *softkey.Authenticator) ([]*http.Cookie, error) {
	opts, err := c.do(ctx, http.MethodPost, "/api/v1/auth/passkey/options", []byte(`{}`), false, http.StatusOK)
	if err != nil {
		return nil, err
	}
	assertion, err := key.Assert(opts, c.Origin)
	if err != nil {
		return nil, fmt.Errorf("the software authenticator refused the sign-in options: %w", err)
	}
	res, _, err := c.raw(ctx, http.MethodPost, "/api/v1/auth/passkey", strings.NewReader(string(assertion)), "application/json", nil, "")
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || len(res.Cookies()) == 0 {
		return nil, fmt.Errorf("POST /api/v1/auth/passkey: %d without a session cookie", res.StatusCode)
	}
	return res.Cookies(), nil
}

// raw sends one request with cookies and optional Basic credentials
// ("" = none) and returns the answer and its body.
func (c *Client) raw(ctx context.Context, method, pathOrURL string, body io.Reader, contentType string, cookies []*http.Cookie, basic string) (*http.Response, []byte, error) {
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = c.BaseURL + u
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+basic)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	return res, data, err
}

// pendingCode is a code ready to redeem, with its PKCE verifier.
type pendingCode struct{ code, verifier string }

// authorize runs the browser's side of one sign-in to the app with the
// session: authorize, Keyward's hand-off, the callback; the code comes back
// on the redirect URI.
func (a *tokenApp) authorize(ctx context.Context) (pendingCode, error) {
	v := make([]byte, 32)
	_, _ = rand.Read(v)
	verifier := base64.RawURLEncoding.EncodeToString(v)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {a.appID}, "redirect_uri": {benchRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "state": {"bench"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	next := "/oauth2/authorize?" + q.Encode()
	for range 4 {
		res, body, err := a.c.raw(ctx, http.MethodGet, next, nil, "", a.cookies, "")
		if err != nil {
			return pendingCode{}, err
		}
		loc := res.Header.Get("Location")
		if res.StatusCode < 300 || res.StatusCode > 399 || loc == "" {
			return pendingCode{}, fmt.Errorf("authorizing: %d at %s: %.200s", res.StatusCode, next, body)
		}
		if strings.HasPrefix(loc, benchRedirect) {
			u, err := url.Parse(loc)
			if err != nil || u.Query().Get("code") == "" {
				return pendingCode{}, fmt.Errorf("authorizing: the app got %s", loc)
			}
			return pendingCode{code: u.Query().Get("code"), verifier: verifier}, nil
		}
		next = loc
	}
	return pendingCode{}, fmt.Errorf("authorizing: no code after the hand-off (last at %s)", next)
}

// tokens are what a token request gave.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// post posts form to one of the provider's endpoints with the app's
// credentials and returns the 200's body.
func (a *tokenApp) post(ctx context.Context, path string, form url.Values) ([]byte, error) {
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(a.appID) + ":" + url.QueryEscape(a.pass)))
	res, body, err := a.c.raw(ctx, http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil, basic)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, statusError(http.MethodPost, path, res.StatusCode, body)
	}
	return body, nil
}

// token posts one token request with the app's credentials and returns the
// tokens it got.
func (a *tokenApp) token(ctx context.Context, form url.Values) (tokens, error) {
	body, err := a.post(ctx, "/oauth2/token", form)
	if err != nil {
		return tokens{}, err
	}
	var tok tokens
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return tokens{}, fmt.Errorf("POST /oauth2/token: 200 without an access token: %.200s", body)
	}
	return tok, nil
}

// introspect asks whether an access token is active, as the app's API
// would, and fails unless it is.
func (a *tokenApp) introspect(ctx context.Context, access string) error {
	body, err := a.post(ctx, "/oauth2/introspect", url.Values{"token": {access}})
	if err != nil {
		return err
	}
	var got struct {
		Active bool   `json:"active"`
		Sub    string `json:"sub"`
	}
	if err := json.Unmarshal(body, &got); err != nil || !got.Active || got.Sub == "" {
		return fmt.Errorf("POST /oauth2/introspect: not an active user's token: %.200s", body)
	}
	return nil
}

// TokenResult is one token-endpoint level: a LevelResult whose sign-ins
// are token requests.
type TokenResult struct {
	Grant string
	LevelResult
}

// runTokenLevels measures code exchanges and then refreshes at concurrency
// conc, n requests each.
func runTokenLevels(ctx context.Context, a *tokenApp, conc, n int, serverCPU func(context.Context) (float64, error), progress func(string, ...any)) ([]TokenResult, error) {
	codes := make([]pendingCode, n)
	authorized, err := runRequests(ctx, conc, n, serverCPU, func(ctx context.Context, i int) (err error) {
		codes[i], err = a.authorize(ctx)
		return err
	})
	out := []TokenResult{{Grant: Authorization, LevelResult: authorized}}
	if err != nil || authorized.Errors > 0 {
		return out, err
	}
	progress("token endpoint, concurrency %d: %d codes made; timing their exchanges…", conc, n)
	var mu sync.Mutex
	var refresh, access []string
	exchange, err := runRequests(ctx, conc, len(codes), serverCPU, func(ctx context.Context, i int) error {
		tok, err := a.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {codes[i].code},
			"redirect_uri": {benchRedirect}, "code_verifier": {codes[i].verifier}})
		if err == nil && tok.RefreshToken != "" {
			mu.Lock()
			refresh = append(refresh, tok.RefreshToken)
			mu.Unlock()
		}
		return err
	})
	out = append(out, TokenResult{Grant: GrantCode, LevelResult: exchange})
	if err != nil || len(refresh) == 0 {
		return out, err
	}
	progress("token endpoint, concurrency %d: timing %d refreshes…", conc, len(refresh))
	refreshed, err := runRequests(ctx, conc, len(refresh), serverCPU, func(ctx context.Context, i int) error {
		tok, err := a.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh[i]}})
		if err == nil {
			mu.Lock()
			access = append(access, tok.AccessToken)
			mu.Unlock()
		}
		return err
	})
	out = append(out, TokenResult{Grant: GrantRefresh, LevelResult: refreshed})
	if err != nil || len(access) == 0 {
		return out, err
	}
	progress("token endpoint, concurrency %d: timing %d introspections…", conc, len(access))
	introspected, err := runRequests(ctx, conc, len(access), serverCPU, func(ctx context.Context, i int) error {
		return a.introspect(ctx, access[i])
	})
	return append(out, TokenResult{Grant: Introspection, LevelResult: introspected}), err
}

// runRequests runs do(i) for i in [0, n) on conc workers and measures it
// as RunLevel measures sign-ins.
func runRequests(ctx context.Context, conc, n int, serverCPU func(context.Context) (float64, error), do func(context.Context, int) error) (LevelResult, error) {
	var cpuBefore float64
	if serverCPU != nil {
		var err error
		if cpuBefore, err = serverCPU(ctx); err != nil {
			return LevelResult{}, fmt.Errorf("reading the server's CPU before the level: %w", err)
		}
	}
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	workers := make([]worker, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			for j := range next {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := do(ctx, j)
				w.record(ctx, time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	r := collect(workers, conc, time.Since(start))
	if err := addServerCPU(ctx, &r, serverCPU, cpuBefore, r.SignIns+r.Errors); err != nil {
		return r, err
	}
	return r, ctx.Err()
}
