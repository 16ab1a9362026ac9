package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// MaxRelatedOriginLabels is how many distinct registrable-domain labels the
// related_origins list may span. WebAuthn Level 3, §5.11.1 "Related Origins
// Validation": clients supporting related origins "MUST support at least five
// origin labels" and SHOULD limit themselves to about that many; a browser
// skips origins whose label lies past its limit, so an origin beyond the
// fifth label would be silently refused. (The label of https://login.example.co.uk
// is "example": the registrable domain without its public suffix.)
const MaxRelatedOriginLabels = 5

// RelatedOriginsList parses RelatedOrigins: comma-separated https origins
// (scheme://host[:port], nothing else) that may run WebAuthn ceremonies for
// the public URL's RP ID. Every problem is reported at once.
func (c Config) RelatedOriginsList() ([]string, error) {
	var out, labels []string
	var errs []error
	own := c.Origin()
	for _, item := range strings.Split(c.RelatedOrigins, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		origin, label, err := parseRelatedOrigin(item)
		switch {
		case err != nil:
			errs = append(errs, err)
			continue
		case origin == own:
			errs = append(errs, fmt.Errorf("related_origins: %q is the public URL's own origin; list only the other origins", item))
			continue
		case slices.Contains(out, origin):
			errs = append(errs, fmt.Errorf("related_origins: %q is listed twice", item))
			continue
		}
		out = append(out, origin)
		if !slices.Contains(labels, label) {
			labels = append(labels, label)
		}
	}
	if len(labels) > MaxRelatedOriginLabels {
		errs = append(errs, fmt.Errorf("related_origins: the origins span %d registrable domains (%s); browsers honour at most %d (WebAuthn Level 3, §5.11.1), so the rest would be refused",
			len(labels), strings.Join(labels, ", "), MaxRelatedOriginLabels))
	}
	if len(out) > 0 && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("related_origins: browsers read them from https://<RP ID>/.well-known/webauthn, so public_url must be https (it is %q)", c.PublicURL))
	}
	return out, errors.Join(errs...)
}

// parseRelatedOrigin checks one origin and returns it as browsers serialise
// it (lower-case scheme and host, no default port) with its label.
func parseRelatedOrigin(raw string) (origin, label string, err error) {
	u, perr := url.Parse(raw)
	if perr != nil || u.Host == "" {
		return "", "", fmt.Errorf("related_origins: %q is not an origin (write https://host[:port])", raw)
	}
	if u.Scheme != "https" {
		return "", "", fmt.Errorf("related_origins: %q must start with https:// (browsers accept related origins only over https)", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", "", fmt.Errorf("related_origins: %q must be https://host[:port] only, with no path, query, fragment or user", raw)
	}
	if err := checkHTTPURL("related_origins", raw); err != nil {
		return "", "", err
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return "", "", fmt.Errorf("related_origins: %q is an IP address; a related origin needs a domain name", raw)
	}
	etld1, perr := publicsuffix.EffectiveTLDPlusOne(host)
	if perr != nil {
		return "", "", fmt.Errorf("related_origins: %q has no registrable domain (a public suffix or an IP address cannot be a related origin)", raw)
	}
	label, _, _ = strings.Cut(etld1, ".")
	hostPort := host
	if p := u.Port(); p != "" && p != "443" {
		hostPort += ":" + p
	}
	return "https://" + hostPort, label, nil
}
