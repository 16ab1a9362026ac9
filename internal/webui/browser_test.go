package webui_test

// The harness of the browser tests: a real Keyward (internal/app on SQLite)
// on httptest, and one headless Chromium whose tabs each have their own
// cookie jar (browser context) and their own WebAuthn virtual authenticator.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/mds/mdstest"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/storagetest"
)

// virtualAAGUID is the AAGUID of Chromium's virtual authenticator; the
// test MDS blob names it virtualModel.
const (
	virtualAAGUID = "01020304-0506-0708-0102-030405060708"
	virtualModel  = "Chromium Virtual Authenticator"
)

// stepTimeout bounds one browser step (a click, a wait for some text).
const stepTimeout = 15 * time.Second

// screenshotDir is where the tests leave pictures of each main page for a
// reviewer: testdata/screenshots at the repository root.
var screenshotDir = filepath.Join("..", "..", "testdata", "screenshots")

// chromiumPath finds Chromium. Without one the browser tests skip, except in
// CI, where a missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KEYWARD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (looked for chromium, chromium-browser, google-chrome on PATH, and $KEYWARD_CHROMIUM); CI must run the browser tests: apt-get install -y chromium")
	}
	t.Skip("browser tests skipped: no Chromium found (install it with: apt-get install -y chromium)")
	return ""
}

// offsetClock is wall time plus an offset tests can move forward, e.g. to
// the next authenticator-code window.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// keyward is one running Keyward with its own database and a test MDS
// blob that names the virtual authenticator's model.
type keyward struct {
	app   *app.App
	store storage.Storage
	clock *offsetClock
	pki   *mdstest.PKI // signs the test MDS blobs
	port  string
	url   string // http://localhost:PORT, the public URL
}

func startKeyward(t *testing.T) *keyward {
	t.Helper()
	k := &keyward{clock: &offsetClock{}}
	k.store = storagetest.NewSQLite(t).Open(t)
	srv := httptest.NewUnstartedServer(nil)
	_, k.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	k.url = "http://localhost:" + k.port
	public, _ := url.Parse(k.url)
	pki, err := mdstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(app.Options{
		Store: k.store, Now: k.clock.Now, PublicURL: public, Registry: prometheus.NewRegistry(),
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		MDSRoots: []string{pki.RootPEM()},
	})
	if err != nil {
		t.Fatal(err)
	}
	k.app, k.pki = a, pki
	blob, err := pki.Sign(mdstest.Payload{Number: 1, NextUpdate: k.clock.Now().Add(30 * 24 * time.Hour),
		Entries: []mdstest.EntryOptions{{AAGUID: virtualAAGUID, Description: virtualModel}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.MDS.Import(context.Background(), blob, "test"); err != nil {
		t.Fatalf("import the test MDS blob: %v", err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return k
}

// browser is one Chromium process shared by every journey.
type browser struct {
	ctx context.Context
}

// clearFailures removes the failure screenshots of earlier runs, once.
var clearFailures sync.Once

func startBrowser(t *testing.T, path string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	clearFailures.Do(func() {
		old, _ := filepath.Glob(filepath.Join(screenshotDir, "failure-*.png"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return &browser{ctx: ctx}
}

// tab is a browser tab with its own cookies and virtual authenticator; it
// records every console error and uncaught exception of its pages.
type tab struct {
	name string
	ctx  context.Context
	base string // origin pages are opened on
	// authenticator is the tab's virtual authenticator.
	authenticator webauthn.AuthenticatorID

	mu       sync.Mutex
	problems []string
}

// newTab opens a tab whose virtual authenticator is a USB security key
// (transport usb) or, for internal, the device's own platform authenticator.
func (b *browser) newTab(t *testing.T, name, base string, transport webauthn.AuthenticatorTransport) *tab {
	t.Helper()
	tb := &tab{name: name, base: base}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	tb.ctx = ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the log domain: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable WebAuthn emulation: %v", err)
	}
	auth, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: transport,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("add the virtual authenticator: %v", err)
	}
	tb.authenticator = auth.AuthenticatorID
	t.Cleanup(func() {
		if p := tb.takeProblems(); len(p) > 0 {
			t.Errorf("tab %s: the pages logged errors:\n  %s", name, strings.Join(p, "\n  "))
		}
	})
	return tb
}

// listen runs on the tab's event loop: it only records.
func (tb *tab) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		problem = "uncaught exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			problem += " " + d.Exception.Description
		}
		problem += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		problem = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		// API refusals (4xx) are answers the page shows, not page errors; a
		// missing asset or a CSP violation is a defect.
		if e.Level != cdplog.EntryLevelError || (e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.URL, "/api/v1/")) {
			return
		}
		problem = fmt.Sprintf("%s error: %s %s", e.Source, e.Text, e.URL)
	default:
		return
	}
	tb.mu.Lock()
	tb.problems = append(tb.problems, problem)
	tb.mu.Unlock()
}

func (tb *tab) takeProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	p := tb.problems
	tb.problems = nil
	return p
}

// step runs actions with a deadline; on failure it saves a screenshot of the
// tab for the person reading the failure.
func (tb *tab) step(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fail(t, "%s: %v", what, err)
	}
}

func (tb *tab) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	name := "failure-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + ".png"
	tb.screenshotTo(t, name)
	body, _ := tb.evalErr(`document.body ? document.body.innerText.slice(0, 2000) : ""`)
	t.Fatalf("tab %s: "+format+"\npage %s shows:\n%s\n(screenshot %s)", append(append([]any{tb.name}, args...), tb.location(), body, filepath.Join(screenshotDir, name))...)
}

func (tb *tab) open(t *testing.T, path string) {
	t.Helper()
	tb.step(t, "open "+path, chromedp.Navigate(tb.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

func (tb *tab) click(t *testing.T, sel string) {
	t.Helper()
	// A page's module scripts attach the handlers; a click on a button drawn
	// before they have run would do nothing, so wait for the document to load.
	tb.waitFor(t, "the page to load before clicking "+sel, `document.readyState === "complete"`)
	tb.step(t, "click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.WaitEnabled(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// fill replaces a field's text by typing, as a person would.
func (tb *tab) fill(t *testing.T, sel, text string) {
	t.Helper()
	// chromedp.Clear empties the value attribute, not what was typed before.
	clear := fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel)
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Evaluate[chromedp.Void](clear)}
	if text != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(sel), text))
	}
	tb.step(t, "type into "+sel, steps...)
}

// choose picks an option of a select by value and tells the page.
func (tb *tab) choose(t *testing.T, sel, value string) {
	t.Helper()
	tb.step(t, "choose "+value+" in "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.SetValue(chromedp.CSS(sel), value),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event("change", {bubbles: true}))`, sel)))
}

func (tb *tab) evalErr(js string) (string, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](js))
}

func (tb *tab) location() string {
	loc, _ := tb.evalErr(`location.href`)
	return loc
}

// waitFor polls a JavaScript condition until it holds. A navigation ends a
// poll early (its page is gone); it then starts again on the new page.
func (tb *tab) waitFor(t *testing.T, what, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			tb.fail(t, "waiting for %s: %v", what, err)
		}
	}
}

// waitText waits until the element is visible and its text contains want.
func (tb *tab) waitText(t *testing.T, sel, want string) {
	t.Helper()
	tb.waitFor(t, fmt.Sprintf("%s to show %q", sel, want), fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); return !!e && e.checkVisibility() && e.textContent.includes(%q); })()`, sel, want))
}

// waitPath waits until the tab is on path (ignoring the query).
func (tb *tab) waitPath(t *testing.T, path string) {
	t.Helper()
	tb.waitFor(t, "the page "+path, fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, path))
}

func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := tb.evalErr(fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel))
	if err != nil {
		tb.fail(t, "read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (tb *tab) visible(t *testing.T, sel string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.checkVisibility(); })()`, sel)))
	if err != nil {
		tb.fail(t, "check %s: %v", sel, err)
	}
	return v
}

// cookies lists the names of the cookies the browser would send to u.
func (tb *tab) cookies(t *testing.T, u string) []string {
	t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatalf("read cookies: %v", err)
	}
	var names []string
	for _, c := range res.Cookies {
		names = append(names, c.Name)
	}
	return names
}

// screenshot saves the whole page at desktop width and at a 390 px phone
// width, as NAME.png and NAME-phone.png.
func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	tb.checkLabels(t)
	tb.screenshotTo(t, name+".png")
	tb.step(t, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	tb.screenshotTo(t, name+"-phone.png")
	tb.step(t, "desktop width", chromedp.EmulateViewport(1280, 900))
}

// unlabelled lists the visible form fields a screen reader could not name.
const unlabelled = `Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
	.filter((e) => e.checkVisibility() && !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
	.map((e) => e.id || e.name || e.outerHTML.slice(0, 80))`

// checkLabels fails when a visible field of the page has no label.
func (tb *tab) checkLabels(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	missing, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](unlabelled))
	if err != nil {
		tb.fail(t, "look for unlabelled fields: %v", err)
	}
	if len(missing) > 0 {
		tb.fail(t, "fields without a label: %v", missing)
	}
}

// press sends a key (e.g. kb.Enter) to a field, as a keyboard user would.
func (tb *tab) press(t *testing.T, sel, key string) {
	t.Helper()
	tb.step(t, "press a key in "+sel, chromedp.SendKeys(chromedp.CSS(sel), key))
}

func (tb *tab) screenshotTo(t *testing.T, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	// From the top, so the sticky header is where a reader expects it.
	// Toasts float over the page and fade on their own; a still picture
	// is clearer without them.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0); document.querySelectorAll(".toast").forEach((t) => t.remove())`)); err != nil {
		t.Logf("scroll to the top: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", file, err)
		return
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Logf("screenshot folder: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, file), png, 0o644); err != nil {
		t.Logf("write screenshot: %v", err)
	}
}
