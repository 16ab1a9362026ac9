package config

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// UsesTLS reports whether serve is to speak HTTPS itself.
func (c Config) UsesTLS() bool { return c.TLSCertFile != "" || c.TLSKeyFile != "" }

// LoadTLSCertificate reads the pair named by TLSCertFile and TLSKeyFile; nil
// without TLS. Both must be set, and the key must match the certificate.
func (c Config) LoadTLSCertificate() (*tls.Certificate, error) {
	switch {
	case !c.UsesTLS():
		return nil, nil
	case c.TLSCertFile == "":
		return nil, errors.New("tls_cert_file: must be set with tls_key_file (or neither, to serve plain HTTP)")
	case c.TLSKeyFile == "":
		return nil, errors.New("tls_key_file: must be set with tls_cert_file (or neither, to serve plain HTTP)")
	}
	pair, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls_cert_file/tls_key_file: cannot use %s with %s: %w", c.TLSCertFile, c.TLSKeyFile, err)
	}
	return &pair, nil
}
