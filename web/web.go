// Package web holds Keyward's web interface as files embedded in the binary:
// the HTML templates the page handlers render (internal/webui) and the
// static assets they link (CSS, the small JavaScript modules that call the
// JSON API, images). Nothing here needs a build step: the files are served
// as written.
package web

import (
	"embed"
	"io/fs"
)

//go:embed templates/*.html
var templates embed.FS

//go:embed static
var static embed.FS

// Templates is the HTML templates, at the root of the file system
// ("layout.html", "login.html", …).
func Templates() fs.FS {
	sub, err := fs.Sub(templates, "templates")
	if err != nil { // the directory is embedded above; this cannot fail
		panic(err)
	}
	return sub
}

// Static is the assets served under /static/ ("css/keyward.css", "js/…", "img/…").
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}
