package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// TrustedProxyPrefixes parses TrustedProxies: addresses (a single host) and
// CIDR prefixes, comma-separated. Every malformed entry is reported.
func (c Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, item := range strings.Split(c.TrustedProxies, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("trusted_proxies: %q is neither an IP address nor a CIDR prefix (e.g. 10.0.0.5 or 10.0.0.0/8)", item))
	}
	return out, errors.Join(errs...)
}
