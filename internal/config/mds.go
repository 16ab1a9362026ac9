package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/keyward/keyward/internal/mds"
)

// MDSRootFiles lists the files named by MDSRoots, in order, without blanks.
func (c Config) MDSRootFiles() []string {
	var files []string
	for _, f := range strings.Split(c.MDSRoots, ",") {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	return files
}

// ReadMDSRoots reads the MDS root certificates named by MDSRoots and returns
// each file's PEM text, the form mds.Options.Roots takes; nil means "the FIDO
// production root". The roots live in the configuration, not the database,
// because they are the trust anchor the stored blob is checked against: a
// root written next to the blob would let whoever can write the database
// vouch for any blob. Every unreadable file is reported, one per line.
func (c Config) ReadMDSRoots() ([]string, error) {
	var roots []string
	var errs []error
	for _, f := range c.MDSRootFiles() {
		pemText, err := ReadPEMCertificates(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("mds_roots: %w", err))
			continue
		}
		roots = append(roots, pemText)
	}
	return roots, errors.Join(errs...)
}

// ReadPEMCertificates reads a file of PEM certificates and returns its text,
// after checking that it holds at least one certificate and that each one
// parses, so a wrong file is named when it is configured rather than when a
// blob fails to verify.
func ReadPEMCertificates(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the root certificate file: %w", err)
	}
	certs, err := mds.PEMCertificates(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	if len(certs) == 0 {
		return "", fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file)
	}
	return string(data), nil
}
