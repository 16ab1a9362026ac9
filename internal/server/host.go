package server

import (
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// A browser that opens Keyward under another name than its public URL's —
// http://127.0.0.1:8080 where the public URL says http://localhost:8080, or
// a server's IP address — gets pages that look right, but its passkeys are
// refused without a word: WebAuthn binds them to the public URL's host. So
// such a page load gets a page that says where Keyward is instead, with a
// link to the same path there.
//
// The check is for people, not programs: only a browser's page load (GET or
// HEAD, Sec-Fetch-Mode: navigate, or an Accept that asks for HTML) is
// answered this way. API clients, scripts and the benchmark may reach a node
// by any name — they send the origin themselves — and so may probes.
//
// Host is only meaningful where Keyward is reached directly: over TLS that
// Keyward serves itself, or over plain HTTP with a plain-HTTP public URL (a
// local install). Behind a proxy that ends TLS for an https:// public URL,
// the Host it forwards is its own business (nginx sends its upstream's name
// unless told otherwise), so such requests are never turned away. Probes and
// the metrics scrape answer under any name: their routes say so when they
// are registered (route.anyHost).

// hosts is where a browser's page load is served: the public URL's host
// and the hosts of the related origins, where Keyward's passkeys work too.
type hosts struct {
	public  *url.URL
	related []string // host[:port] of each related origin (https)
}

func newHosts(public *url.URL, relatedOrigins []string) hosts {
	h := hosts{public: public}
	for _, o := range relatedOrigins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			h.related = append(h.related, withPort(u.Host, u.Scheme))
		}
	}
	return h
}

// misdirected reports whether r is a browser's page load that names a host
// other than the public URL's (or a related origin's).
func (h hosts) misdirected(r *http.Request) bool {
	public := h.public
	if public == nil || public.Host == "" {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if public.Scheme == "https" && r.TLS == nil {
		return false
	}
	if !pageLoad(r) {
		return false
	}
	host := withPort(r.Host, public.Scheme)
	return host != withPort(public.Host, public.Scheme) && !slices.Contains(h.related, host)
}

// pageLoad tells a browser's navigation from a script's or program's request.
func pageLoad(r *http.Request) bool {
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// withPort writes host[:port] one way for comparing: lower-case, without
// IPv6 brackets when there is no port, and without the scheme's default port.
func withPort(host, scheme string) string {
	h, port, err := net.SplitHostPort(host)
	switch {
	case err != nil: // no port
		h = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	case scheme == "http" && port == "80", scheme == "https" && port == "443":
	default:
		h = host
	}
	return strings.ToLower(h)
}

var misdirectedPage = template.Must(template.New("misdirected").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Open Keyward at {{.Host}}</title>
</head>
<body>
<main>
<h1>Open Keyward at {{.Host}}</h1>
<p>You opened this page at <strong>{{.Opened}}</strong>, but Keyward's address is
<strong>{{.Base}}</strong>. Passkeys work only there: your browser ties them to that address, and
here they would be refused.</p>
<p><a id="public-url" href="{{.Link}}">Continue to {{.Link}}</a></p>
</main>
</body>
</html>
`))

// writeMisdirected answers a misdirected page load with a page linking to
// the same path and query under the public URL. It is a 400 (not a
// redirect): a proxy that rewrites Host would otherwise send a browser round
// in circles, and a person should see which address to use from now on.
func writeMisdirected(w http.ResponseWriter, r *http.Request, public *url.URL) {
	base := BaseURL(public, r)
	link := base + r.URL.RequestURI()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	// The link may carry a setup token: never pass it on in a Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	if r.Method == http.MethodHead {
		return
	}
	_ = misdirectedPage.Execute(w, struct{ Host, Opened, Base, Link string }{
		Host: public.Host, Opened: r.Host, Base: base, Link: link,
	})
}
