package webui

import (
	"net/http"
	"net/url"
	"strings"
)

// contentSecurityPolicy allows only Keyward's own scripts, styles and API:
// no inline script, no framing, no other origin. data: images are the QR
// codes of authenticator app set-up.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setPageHeaders sets the security headers of an HTML page (and of the
// redirects that lead to one).
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("X-Content-Type-Options", "nosniff")
	// Pages carry the session's CSRF token: never keep them in a shared cache.
	h.Set("Cache-Control", "no-store")
}

// setAssetHeaders protects static files opened on their own (an SVG is a
// document too).
func setAssetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// safeNext returns next when it is a path on this site ("/…"), and "" for
// anything that could lead elsewhere: absolute URLs, scheme-relative
// "//host", backslashes (which browsers read as slashes), control characters.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") {
		return ""
	}
	for _, c := range next {
		if c == '\\' || c < 0x20 || c == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}
