package webui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/keyward/keyward/web"
)

// asset is one embedded static file, held in memory with its content hash.
type asset struct {
	body        []byte
	contentType string
	etag        string
	version     string // the first hex digits of the hash, for ?v= in links
}

// assets serves /static/{path...} from the embedded files.
type assets struct {
	files map[string]asset
}

func mustLoadAssets() *assets {
	a, err := loadAssets(web.Static())
	if err != nil {
		panic(fmt.Sprintf("webui: load embedded assets: %v", err))
	}
	return a
}

func loadAssets(fsys fs.FS) (*assets, error) {
	a := &assets{files: map[string]asset{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.files[p] = asset{body: body, contentType: ct, etag: `"` + h[:32] + `"`, version: h[:12]}
		return nil
	})
	return a, err
}

// url is the link to a static file; the version query lets browsers cache
// it for a year, since a changed file gets a new link.
func (a *assets) url(name string) (string, error) {
	f, ok := a.files[name]
	if !ok {
		return "", fmt.Errorf("no static asset %q", name)
	}
	return "/static/" + name + "?v=" + f.version, nil
}

// ServeHTTP serves one asset. A request naming the current version may be
// cached for good; others (module imports, which carry no version) are
// revalidated by ETag.
func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	f, ok := a.files[name]
	h := w.Header()
	setAssetHeaders(h)
	if !ok || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	if r.URL.Query().Get("v") == f.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// mustParsePages parses every page template with the layout; each page gets
// its own template set, so their "content" blocks do not clash.
func mustParsePages(a *assets) map[string]*template.Template {
	pages, err := parsePages(web.Templates(), a)
	if err != nil {
		panic(fmt.Sprintf("webui: parse embedded templates: %v", err))
	}
	return pages
}

func parsePages(fsys fs.FS, a *assets) (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(template.FuncMap{"asset": a.url}).ParseFS(fsys, "layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == "layout.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(fsys, n)
		if err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(n, ".html")] = t
	}
	return pages, nil
}
