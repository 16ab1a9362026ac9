package main

import (
	"crypto/tls"
	"log/slog"
	"sync/atomic"

	"github.com/keyward/keyward/internal/config"
)

// certificate is the TLS certificate serve answers with. A reload swaps it
// atomically: handshakes from then on get the new pair, connections already
// open keep theirs, and a pair that fails to load leaves the old one in use.
type certificate struct {
	cfg     config.Config
	log     *slog.Logger
	current atomic.Pointer[tls.Certificate]
}

// newCertificate loads the configured pair; nil without TLS.
func newCertificate(cfg config.Config, log *slog.Logger) (*certificate, error) {
	pair, err := cfg.LoadTLSCertificate()
	if pair == nil || err != nil {
		return nil, err
	}
	c := &certificate{cfg: cfg, log: log}
	c.current.Store(pair)
	return c, nil
}

// reload reads the files again, as SIGHUP asks after a renewal.
func (c *certificate) reload() {
	pair, err := c.cfg.LoadTLSCertificate()
	if err != nil {
		c.log.Error("reloading the TLS certificate failed; still serving the previous one", "err", err)
		return
	}
	c.current.Store(pair)
	c.log.Info("TLS certificate reloaded", certAttrs(pair)...)
}

// tlsConfig serves the current pair, TLS 1.2 and up with Go's default
// cipher suites (all forward-secret).
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

func certAttrs(pair *tls.Certificate) []any {
	if pair.Leaf == nil {
		return nil
	}
	return []any{"subject", pair.Leaf.Subject.String(), "dns_names", pair.Leaf.DNSNames,
		"serial", pair.Leaf.SerialNumber.String(), "not_after", pair.Leaf.NotAfter}
}
