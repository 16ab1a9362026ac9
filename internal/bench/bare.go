// Package bench measures Keyward's passkey sign-in: go-webauthn's bare
// assertion verification (the ceiling docs/design.md's targets are relative to),
// and the whole sign-in over real HTTP against a running server, the way
// `keyward bench` reports it. The in-process benchmarks in internal/app use
// the same bare verifier, so both measure the same thing.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

const (
	bareOrigin = "http://localhost:8080"
	bareRPID   = "localhost"
)

// BareVerifier holds one ES256 assertion from a software authenticator and
// what go-webauthn needs to verify it, so Verify can be repeated: parsing and
// verifying, no storage, no HTTP. It is safe for concurrent use.
type BareVerifier struct {
	wa       *webauthn.WebAuthn
	user     *bareUser
	session  webauthn.SessionData
	response []byte
}

// NewBareVerifier registers a software authenticator (packed self
// attestation, a discoverable credential) with a go-webauthn relying party
// and keeps one assertion of it.
func NewBareVerifier() (*BareVerifier, error) {
	wa, err := webauthn.New(&webauthn.Config{RPID: bareRPID, RPDisplayName: "bench", RPOrigins: []string{bareOrigin}})
	if err != nil {
		return nil, fmt.Errorf("bare verifier: %w", err)
	}
	u := &bareUser{id: []byte("bench-user-handle-0123456789abcd")}
	k := softkey.New(softkey.Options{})
	creation, regSession, err := wa.BeginRegistration(u, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		return nil, fmt.Errorf("bare verifier: begin registration: %w", err)
	}
	opts, _ := json.Marshal(creation)
	regResp, err := k.Register(opts, bareOrigin)
	if err != nil {
		return nil, fmt.Errorf("bare verifier: register: %w", err)
	}
	parsedReg, err := protocol.ParseCredentialCreationResponseBytes(regResp)
	if err != nil {
		return nil, fmt.Errorf("bare verifier: parse registration: %w", err)
	}
	cred, err := wa.CreateCredential(u, *regSession, parsedReg)
	if err != nil {
		return nil, fmt.Errorf("bare verifier: create credential: %w", err)
	}
	u.creds = []webauthn.Credential{*cred}
	assertion, session, err := wa.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("bare verifier: begin login: %w", err)
	}
	opts, _ = json.Marshal(assertion)
	resp, err := k.Assert(opts, bareOrigin)
	if err != nil {
		return nil, fmt.Errorf("bare verifier: assert: %w", err)
	}
	v := &BareVerifier{wa: wa, user: u, session: *session, response: resp}
	// The session expires (go-webauthn's default login timeout); a
	// measurement never runs that long, but a stale verifier must fail
	// loudly rather than measure the error path.
	return v, v.Verify()
}

// Verify parses the assertion and validates it (challenge, origin, RP ID,
// flags, ES256 signature), as a server does for every sign-in. The stored
// credential is not updated, so the same assertion verifies every time.
func (v *BareVerifier) Verify() error {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(v.response)
	if err != nil {
		return fmt.Errorf("parse assertion: %w", err)
	}
	if _, err := v.wa.ValidateLogin(v.user, v.session, parsed); err != nil {
		return fmt.Errorf("validate assertion: %w", err)
	}
	return nil
}

// BareResult is a measured bare verification rate.
type BareResult struct {
	Verifications int64
	Workers       int
	Elapsed       time.Duration
	PerSecond     float64
	// CPU is what this process used during the run (user + system), zero
	// where the platform does not say.
	CPU time.Duration
}

// CPUPerVerification is the CPU one verification took: the process's CPU
// over the verifications when it was read, else each worker's wall time
// (a worker has a core to itself). Zero when nothing was verified.
func (b BareResult) CPUPerVerification() time.Duration {
	if b.Verifications <= 0 {
		return 0
	}
	if b.CPU > 0 {
		return b.CPU / time.Duration(b.Verifications)
	}
	return time.Duration(b.Workers) * b.Elapsed / time.Duration(b.Verifications)
}

// MeasureBare verifies with workers goroutines for about d (or until ctx
// ends) and returns the rate. Use one worker per core for "all cores".
func MeasureBare(ctx context.Context, d time.Duration, workers int) (BareResult, error) {
	if workers < 1 || d <= 0 {
		return BareResult{}, fmt.Errorf("bare verify: want at least one worker and a positive duration")
	}
	v, err := NewBareVerifier()
	if err != nil {
		return BareResult{}, err
	}
	// The run ends by its own clock, not a context deadline, so the result's
	// Elapsed is never shorter than d: under load a deadline's context once
	// ended a 50 ms run after 30 ms by time.Since.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		n       atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	cpuBefore, cpuKnown := ProcessCPU()
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Since(start) < d {
				// Check the clock once per batch: ctx.Err is cheap but not free.
				for range 16 {
					if err := v.Verify(); err != nil {
						errOnce.Do(func() { firstEr = err; cancel() })
						return
					}
				}
				n.Add(16)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstEr != nil {
		return BareResult{}, fmt.Errorf("bare verify: %w", firstEr)
	}
	r := BareResult{Verifications: n.Load(), Workers: workers, Elapsed: elapsed}
	if cpuAfter, ok := ProcessCPU(); ok && cpuKnown {
		r.CPU = cpuAfter - cpuBefore
	}
	r.PerSecond = float64(r.Verifications) / elapsed.Seconds()
	return r, nil
}

type bareUser struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *bareUser) WebAuthnID() []byte                         { return u.id }
func (u *bareUser) WebAuthnName() string                       { return "bench" }
func (u *bareUser) WebAuthnDisplayName() string                { return "Bench" }
func (u *bareUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }
