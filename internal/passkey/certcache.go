package passkey

import (
	"crypto/x509"
	"sync"
)

// maxCachedCertificates bounds the parsed attestation certificates a node
// keeps. A model's units share a few batch certificates and their
// intermediates, so a few hundred cover the keys people register; past
// the bound certificates are parsed on each registration, as without the
// cache.
const maxCachedCertificates = 512

// certCache holds parsed attestation certificates by their DER, so that a
// registration with a known model's chain does not parse it a second time
// after go-webauthn (which parses the x5c itself to check the statement's
// signature). Only certificates of chains that verified to a root the FIDO
// Metadata Service lists for the key's model go in (add), so what a client
// sends cannot fill it. A certificate found is the one the same bytes
// parse to; the chain is still judged in full on every registration
// (mds.Blob.CheckAttestation: status, roots, validity at that moment).
// The certificates are shared and must not be changed.
type certCache struct {
	mu sync.RWMutex
	m  map[string]*x509.Certificate
}

func newCertCache() *certCache {
	return &certCache{m: make(map[string]*x509.Certificate)}
}

// parse returns the certificate der holds: the cached one, or a new parse.
func (c *certCache) parse(der []byte) (*x509.Certificate, error) {
	if c != nil {
		c.mu.RLock()
		cert := c.m[string(der)] // no copy of der for the lookup
		c.mu.RUnlock()
		if cert != nil {
			return cert, nil
		}
	}
	return x509.ParseCertificate(der)
}

// add remembers the certificates of a chain that verified to an MDS root.
func (c *certCache) add(chain []*x509.Certificate) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cert := range chain {
		if len(c.m) >= maxCachedCertificates {
			return
		}
		if _, ok := c.m[string(cert.Raw)]; !ok {
			c.m[string(cert.Raw)] = cert
		}
	}
}
