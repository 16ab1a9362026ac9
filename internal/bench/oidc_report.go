package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// TokenReport is one token-endpoint level in the report.
type TokenReport struct {
	Grant        string   `json:"grant"`
	Concurrency  int      `json:"concurrency"`
	Requests     int      `json:"requests"` // successful
	Errors       int      `json:"errors"`
	Seconds      float64  `json:"seconds"`
	PerSecond    float64  `json:"tokensPerSecond"`
	P50Ms        float64  `json:"p50Ms"`
	P99Ms        float64  `json:"p99Ms"`
	ServerCPUMs  *float64 `json:"serverCpuPerRequestMs"`
	ServerCPUSec *float64 `json:"serverCpuSeconds"`
	ErrorSample  []string `json:"errorSamples"`
}

// tokenDescription says what the token levels measure.
const tokenDescription = "a web app's sign-ins through Keyward: the browser's authorize with a Keyward session " +
	"(authorize, hand-off, callback: three redirects to the code), then the app's POST /oauth2/token with its client secret (Basic): " +
	"authorization_code with a PKCE verifier, then refresh_token with the refresh token that gave (rotated), " +
	"then POST /oauth2/introspect of the access token each refresh gave, as the app's API checks an opaque token"

// AddToken records one token-endpoint level.
func (r *Report) AddToken(t TokenResult) {
	r.TokenEndpoint = tokenDescription
	r.Tokens = append(r.Tokens, TokenReport{Grant: t.Grant, Concurrency: t.Concurrency, Requests: t.SignIns, Errors: t.Errors,
		Seconds: t.Elapsed.Seconds(), PerSecond: t.PerSecond, P50Ms: ms(t.P50), P99Ms: ms(t.P99),
		ServerCPUMs: msPtr(t.ServerCPUPerSignIn), ServerCPUSec: secondsPtr(t.ServerCPU), ErrorSample: t.ErrorSamples})
	r.TokenFailed += t.Errors
}

// codeExchangeName names the code exchange's target (docs/design.md).
const codeExchangeName = "code exchange CPU < passkey sign-in CPU, at each concurrency"

// codeExchangeTarget: a code exchange costs the server less CPU than a
// passkey sign-in (docs/design.md), at every concurrency where the run has
// both with enough server CPU for the clock ticks (the same minimum for
// both). The two levels of a concurrency run one right after the other.
func (r *Report) codeExchangeTarget() Target {
	return judgeCodeExchange(r.Levels, r.Tokens)
}

// judgeCodeExchange compares each code-exchange level with the sign-in
// level of the same concurrency: met when every pair has the exchange
// cheaper, missed (naming the levels) when one does not.
func judgeCodeExchange(signIns []LevelReport, tokens []TokenReport) Target {
	t := Target{Name: codeExchangeName, Status: statusNotMeasured,
		Measured: "needs a code-exchange level and a sign-in level at the same concurrency, both with the server's CPU"}
	signIn := map[int]float64{}
	for _, l := range signIns {
		if l.ServerCPUMs != nil && l.ServerCPUSec != nil && *l.ServerCPUSec >= minServerCPUForTarget.Seconds() {
			signIn[l.Concurrency] = *l.ServerCPUMs
		}
	}
	var pairs, missed []string
	for _, l := range tokens {
		s, ok := signIn[l.Concurrency]
		if l.Grant != GrantCode || !ok || l.ServerCPUMs == nil || l.ServerCPUSec == nil ||
			*l.ServerCPUSec < minServerCPUForTarget.Seconds() {
			continue
		}
		pair := fmt.Sprintf("%d: %.3f vs %.3f ms (%.2f×)", l.Concurrency, *l.ServerCPUMs, s, *l.ServerCPUMs/s)
		pairs = append(pairs, pair)
		if *l.ServerCPUMs >= s {
			missed = append(missed, pair)
		}
	}
	if len(pairs) == 0 {
		return t
	}
	t.Measured = "exchange vs sign-in at concurrency " + strings.Join(pairs, ", ")
	t.Status = metOrMissed(len(missed) == 0)
	if len(missed) > 0 {
		t.Measured += "; not cheaper at " + strings.Join(missed, ", ")
	}
	return t
}

// writeTokenText prints the token levels, when there are any.
func (r *Report) writeTokenText(w io.Writer) error {
	if len(r.Tokens) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nOpenID Connect (%s):\n", r.TokenEndpoint)
	rows := [][]string{{"REQUEST", "CONCURRENCY", "REQUESTS", "ERRORS", "REQUESTS/S", "P50", "P99", "SERVER CPU/REQUEST"}}
	for _, l := range r.Tokens {
		rows = append(rows, []string{l.Grant, strconv.Itoa(l.Concurrency), strconv.Itoa(l.Requests), strconv.Itoa(l.Errors),
			fmt.Sprintf("%.1f", l.PerSecond), fmtMs(l.P50Ms), fmtMs(l.P99Ms), fmtMsPtr(l.ServerCPUMs)})
	}
	if err := columns(w, rows); err != nil {
		return err
	}
	for _, l := range r.Tokens {
		for _, s := range l.ErrorSample {
			fmt.Fprintf(w, "  %s at concurrency %d FAILED: %s\n", l.Grant, l.Concurrency, s)
		}
	}
	return nil
}
