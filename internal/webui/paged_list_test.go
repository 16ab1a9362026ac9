package webui_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/storage"
)

const aliceUPN = "alice@contoso.example"

// searchHold pauses, in the browser, every request of a user search
// ($filter) so the test decides when, and whether, each answer arrives.
// The server answering them is the real one.
type searchHold struct {
	paused chan *fetch.EventRequestPaused

	mu      sync.Mutex
	done    map[network.RequestID]bool // requests whose answer reached the page, or failed
	changed chan struct{}
}

func holdSearches(t *testing.T, tb *tab) *searchHold {
	t.Helper()
	h := &searchHold{paused: make(chan *fetch.EventRequestPaused, 64),
		done: map[network.RequestID]bool{}, changed: make(chan struct{}, 1)}
	// The listener runs on the tab's event loop: it must never block.
	finished := func(id network.RequestID) {
		h.mu.Lock()
		h.done[id] = true
		h.mu.Unlock()
		select {
		case h.changed <- struct{}{}:
		default:
		}
	}
	if err := chromedp.Listen(tb.ctx, func(ev any) {
		switch ev := ev.(type) {
		case *fetch.EventRequestPaused:
			select {
			case h.paused <- ev:
			default:
			}
		case *network.EventLoadingFinished:
			finished(ev.RequestID)
		case *network.EventLoadingFailed:
			finished(ev.RequestID)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tb.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enable the network domain: %v", err)
	}
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/users?*$filter=*"}},
	}); err != nil {
		t.Fatalf("enable request interception: %v", err)
	}
	t.Cleanup(func() { _, _ = chromedp.Call(tb.ctx, fetch.Disable, cdp.Empty{}) })
	return h
}

// next waits for the next held search and checks what it searches for.
func (h *searchHold) next(t *testing.T, tb *tab, prefix string) *fetch.EventRequestPaused {
	t.Helper()
	select {
	case ev := <-h.paused:
		if want := "startswith(userPrincipalName%2C%27" + prefix + "%27)"; !strings.Contains(ev.Request.URL, want) {
			tb.fail(t, "held search %s, want one for %q", ev.Request.URL, prefix)
		}
		return ev
	case <-time.After(stepTimeout):
		tb.fail(t, "no search for %q was sent", prefix)
	}
	return nil
}

// release lets a held search reach the server and its answer the page.
func (h *searchHold) release(t *testing.T, tb *tab, ev *fetch.EventRequestPaused) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil {
		t.Fatalf("release a held search: %v", err)
	}
}

// fail ends a held search as a broken connection, so the page's request fails.
func (h *searchHold) fail(t *testing.T, tb *tab, ev *fetch.EventRequestPaused) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonFailed}); err != nil {
		t.Fatalf("fail a held search: %v", err)
	}
}

// settled waits until the answer (or failure) of ev reached the page, and
// then for the page's tasks that handle it.
func (h *searchHold) settled(t *testing.T, tb *tab, ev *fetch.EventRequestPaused) {
	t.Helper()
	deadline := time.After(stepTimeout)
	for {
		h.mu.Lock()
		done := h.done[ev.NetworkID]
		h.mu.Unlock()
		if done {
			break
		}
		select {
		case <-h.changed:
		case <-deadline:
			tb.fail(t, "the held search's answer never reached the page")
		}
	}
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((r) => setTimeout(() => r(true), 200))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserPagedListKeepsTheLatestSearch types one search into the admin
// center's user list, then another before the first is answered: the
// first answer, arriving last, must not replace the second's results —
// neither when it is a list nor when it is an error.
func TestBrowserPagedListKeepsTheLatestSearch(t *testing.T) {
	chromium := chromiumPath(t)
	k := startKeyward(t)
	k.user(t, adminUPN, "Ada Lovelace", adminPassword, storage.RoleGlobalAdmin)
	k.user(t, aliceUPN, "Alice Early", "", "")
	k.user(t, bobUPN, "Bob Franco", "", "")

	b := startBrowser(t, chromium)
	admin := b.newTab(t, "admin", k.url, webauthn.AuthenticatorTransportUsb)
	signInWithPassword(t, admin, adminUPN, adminPassword, "/my/security-info")
	secondFactorForTheAdminCenter(t, admin, k, "/admin/users")
	admin.waitText(t, "#users", bobUPN)
	hold := holdSearches(t, admin)

	for _, tc := range []struct {
		name  string
		stale func(t *testing.T, tb *tab, ev *fetch.EventRequestPaused)
	}{
		{"a_late_list", hold.release},
		{"a_late_error", hold.fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			admin.fill(t, "#user-search", "al")
			first := hold.next(t, admin, "al")
			admin.fill(t, "#user-search", "bo")
			second := hold.next(t, admin, "bo")
			hold.release(t, admin, second)
			admin.waitFor(t, "the results for \"bo\"", fmt.Sprintf(
				`(t => t.includes(%q) && !t.includes(%q))(document.querySelector("#users").textContent)`, bobUPN, aliceUPN))

			tc.stale(t, admin, first)
			hold.settled(t, admin, first)
			shown := admin.text(t, "#users")
			if !strings.Contains(shown, bobUPN) || strings.Contains(shown, aliceUPN) || admin.visible(t, "#users .alert") {
				admin.fail(t, "after the first search's late answer the list shows %q; want the results for \"bo\" alone", shown)
			}
			admin.fill(t, "#user-search", "")
			admin.waitText(t, "#users", aliceUPN)
		})
	}
}
