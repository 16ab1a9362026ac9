// Package passkey runs the WebAuthn ceremonies — self-service registration,
// provisioning on behalf of a user, and sign-in — on top of go-webauthn. It
// loads what a ceremony needs, asks the pure policy package for a decision,
// judges attestation against the FIDO Metadata Service, and stores results.
// Every ceremony's challenge is its state sealed under keys kept in the
// database, so a ceremony begun on one node can be finished on another.
package passkey

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// DefaultChallengeTTL is how long a ceremony may take.
const DefaultChallengeTTL = 5 * time.Minute

// Metadata gives the current verified FIDO MDS blob; nil when none is loaded.
type Metadata interface {
	Current(ctx context.Context) (*mds.Blob, error)
	// CurrentAt is Current when the newest stored blob's number n has just
	// been read (mds.Service.CurrentAt).
	CurrentAt(ctx context.Context, n int) (*mds.Blob, error)
}

// Config configures a Service.
type Config struct {
	Store    storage.Storage
	Policies *methodpolicy.Service
	Metadata Metadata // optional: without it no key counts as attested
	Logger   *slog.Logger
	Now      func() time.Time

	// PublicURL gives the relying party: its host is the RP ID and its origin
	// the first origin accepted.
	PublicURL *url.URL
	// RelatedOrigins are the other origins accepted, exactly as browsers
	// serialise them (WebAuthn Level 3 related origins; config.RelatedOriginsList).
	RelatedOrigins []string
	RPDisplayName  string
	ChallengeTTL   time.Duration
	// Sessions builds the session of a sign-in (its lifetime, its client).
	Sessions *session.Manager
}

// Service runs the ceremonies.
type Service struct {
	cfg     Config
	wa      *webauthn.WebAuthn
	origin  string   // scheme://host[:port], exactly as browsers send it
	origins []string // origin, then the related origins
	sealer  *sealer  // seals every ceremony's challenge
	certs   *certCache
}

// New validates the configuration and builds the WebAuthn relying party.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Policies == nil || cfg.Sessions == nil || cfg.PublicURL == nil {
		return nil, fmt.Errorf("passkey: Store, Policies, Sessions and PublicURL are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = DefaultChallengeTTL
	}
	if cfg.RPDisplayName == "" {
		cfg.RPDisplayName = "Keyward"
	}
	origin := cfg.PublicURL.Scheme + "://" + cfg.PublicURL.Host
	origins := append([]string{origin}, cfg.RelatedOrigins...)
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.PublicURL.Hostname(),
		RPDisplayName: cfg.RPDisplayName,
		RPOrigins:     origins,
		// Keyward requests no extensions and reads none; some platforms
		// report credProps unasked, which must not fail a registration.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: relying party: %w", err)
	}
	return &Service{cfg: cfg, wa: wa, origin: origin, origins: origins,
		sealer: newSealer(cfg.Store, max(cfg.ChallengeTTL, MaxChallengeTTL)), certs: newCertCache()}, nil
}

// RelatedOrigins are the origins besides the public URL's that may run
// ceremonies, as served at /.well-known/webauthn.
func (s *Service) RelatedOrigins() []string { return slices.Clone(s.origins[1:]) }

// RPID is the relying party ID in use.
func (s *Service) RPID() string { return s.wa.Config.RPID }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// checkOrigin compares the clientData origin with Keyward's own and its
// related origins, byte for byte. go-webauthn reduces the origin to scheme and host before comparing,
// so it accepts "https://id.example.com/" and "https://id.example.com/x",
// which no browser sends (WebAuthn Level 2 §7.1 step 9 and §7.2 step 13
// compare the serialised origin); such a response is refused with the origin
// named.
func (s *Service) checkOrigin(origin string, status int) error {
	if slices.Contains(s.origins, origin) {
		return nil
	}
	if len(s.origins) > 1 {
		return apperr.New(status, "verificationFailed",
			"the passkey response failed verification: it was made for the origin %s, but this sign-in service is %s (related origins: %s)",
			strconv.Quote(truncateOrigin(origin)), s.origin, strings.Join(s.origins[1:], ", "))
	}
	return apperr.New(status, "verificationFailed",
		"the passkey response failed verification: it was made for the origin %s, but this sign-in service is %s",
		strconv.Quote(truncateOrigin(origin)), s.origin)
}

// truncateOrigin keeps a hostile origin from filling the message and log.
func truncateOrigin(o string) string {
	const max = 200
	if len(o) <= max {
		return o
	}
	return strings.ToValidUTF8(o[:max], "") + "…"
}
