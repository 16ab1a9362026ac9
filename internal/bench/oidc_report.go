package bench

import (
	"fmt"
	"io"
	"strconv"
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
const tokenDescription = "a web app's POST /oauth2/token with its client secret (Basic): " +
	"authorization_code with a PKCE verifier, then refresh_token with the refresh token that gave (rotated); " +
	"the authorizations that make the codes run before each level and are not counted"

// AddToken records one token-endpoint level.
func (r *Report) AddToken(t TokenResult) {
	r.TokenEndpoint = tokenDescription
	r.Tokens = append(r.Tokens, TokenReport{Grant: t.Grant, Concurrency: t.Concurrency, Requests: t.SignIns, Errors: t.Errors,
		Seconds: t.Elapsed.Seconds(), PerSecond: t.PerSecond, P50Ms: ms(t.P50), P99Ms: ms(t.P99),
		ServerCPUMs: msPtr(t.ServerCPUPerSignIn), ServerCPUSec: secondsPtr(t.ServerCPU), ErrorSample: t.ErrorSamples})
	r.TokenFailed += t.Errors
}

// codeExchangeTarget: a code exchange costs the server less CPU than a
// passkey sign-in (docs/design.md), compared at the levels both measured
// long enough for the clock ticks.
func (r *Report) codeExchangeTarget() Target {
	t := Target{Name: "server CPU of a code exchange < that of a passkey sign-in", Status: statusNotMeasured,
		Measured: "needs a token level and a sign-in level with the server's CPU"}
	worstCode, bestSignIn := -1.0, -1.0
	for _, l := range r.Tokens {
		if l.Grant == GrantCode && l.ServerCPUMs != nil && *l.ServerCPUSec >= minServerCPUForTarget.Seconds()/4 && *l.ServerCPUMs > worstCode {
			worstCode = *l.ServerCPUMs
		}
	}
	for _, l := range r.Levels {
		if l.ServerCPUMs != nil && *l.ServerCPUSec >= minServerCPUForTarget.Seconds() && (bestSignIn < 0 || *l.ServerCPUMs < bestSignIn) {
			bestSignIn = *l.ServerCPUMs
		}
	}
	if worstCode < 0 || bestSignIn < 0 {
		return t
	}
	t.Measured = fmt.Sprintf("code exchange worst %.3f ms, passkey sign-in best %.3f ms", worstCode, bestSignIn)
	t.Status = metOrMissed(worstCode < bestSignIn)
	return t
}

// writeTokenText prints the token levels, when there are any.
func (r *Report) writeTokenText(w io.Writer) error {
	if len(r.Tokens) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nToken endpoint (%s):\n", r.TokenEndpoint)
	rows := [][]string{{"GRANT", "CONCURRENCY", "TOKENS", "ERRORS", "TOKENS/S", "P50", "P99", "SERVER CPU/REQUEST"}}
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
