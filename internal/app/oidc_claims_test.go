package app_test

import (
	"net/http"
	"slices"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/passkey/softkey"
)

// emailClaims are the email scope's claims; Verified is nil when the
// token leaves email_verified out.
type emailClaims struct {
	Email    string `json:"email"`
	Verified *bool  `json:"email_verified"`
}

// TestOIDCEmailClaim: the email claim is the user's mail when an
// administrator set one (verified), and the UPN otherwise, about which
// Keyward claims nothing (email_verified left out).
func TestOIDCEmailClaim(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		p := w.newApp(t, "Wiki", map[string]any{"web": map[string]any{"redirectUris": []string{"https://wiki.example/cb"}}}, true,
			gooidc.ScopeOpenID, "email")
		b := w.browser(t)
		claims := func(f flow, code string) (id, ui emailClaims) {
			t.Helper()
			tok, err := p.conf.Exchange(p.ctx(), code, oauth2.VerifierOption(f.verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			idt, _ := p.verifyID(tok)
			if err := idt.Claims(&id); err != nil {
				t.Fatal(err)
			}
			info, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if err := info.Claims(&ui); err != nil {
				t.Fatal(err)
			}
			return id, ui
		}

		f := p.start()
		id, ui := claims(f, p.signInAtApp(b, k, "alice@contoso.com", f))
		for _, c := range []emailClaims{id, ui} {
			if c.Email != "alice@contoso.com" || c.Verified != nil {
				t.Fatalf("without mail: %+v, want the UPN and no email_verified", c)
			}
		}

		w.mustStatus(w.do("PATCH", "/api/v1/users/"+alice, bearer(w.admin), map[string]any{"mail": "alice.lee@mail.contoso.com"}), http.StatusOK)
		f = p.start()
		res, _ := b.get(f.url) // signed in already: straight back with a code
		id, ui = claims(f, landed(t, res, p.conf.RedirectURL).Get("code"))
		for _, c := range []emailClaims{id, ui} {
			if c.Email != "alice.lee@mail.contoso.com" || c.Verified == nil || !*c.Verified {
				t.Fatalf("with mail: %+v, want the mail, verified", c)
			}
		}
	})
}

// groupClaims are the groups scope's claims; nil when absent.
type groupClaims struct {
	Groups     []string `json:"groups"`
	GroupNames []string `json:"group_names"`
}

// TestOIDCGroupsClaim: an app that opted in (groupMembershipClaims) and asks
// for the groups scope gets the user's group IDs in groups and their names
// in group_names, in the ID token and from userinfo; an app that did not
// opt in gets neither, whatever it asks for.
func TestOIDCGroupsClaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, w *world) {
		k := w.key(goodAAGUID, softkey.FormatPacked)
		alice := registered(t, w, k)
		staff, admins := w.group("Staff", alice), w.group("Admins", alice)
		w.group("Contractors")
		optedIn := w.newApp(t, "Grafana", map[string]any{"web": map[string]any{"redirectUris": []string{"https://grafana.example/cb"}},
			"groupMembershipClaims": true}, true, gooidc.ScopeOpenID, "groups")
		other := w.newApp(t, "Wiki", map[string]any{"web": map[string]any{"redirectUris": []string{"https://wiki.example/cb"}}}, true,
			gooidc.ScopeOpenID, "groups")
		b := w.browser(t)
		claims := func(p *rp, first bool) (id, ui groupClaims) {
			t.Helper()
			f := p.start()
			var code string
			if first {
				code = p.signInAtApp(b, k, "alice@contoso.com", f)
			} else {
				res, _ := b.get(f.url)
				code = landed(t, res, p.conf.RedirectURL).Get("code")
			}
			tok, err := p.conf.Exchange(p.ctx(), code, oauth2.VerifierOption(f.verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			idt, _ := p.verifyID(tok)
			if err := idt.Claims(&id); err != nil {
				t.Fatal(err)
			}
			info, err := p.provider.UserInfo(p.ctx(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if err := info.Claims(&ui); err != nil {
				t.Fatal(err)
			}
			return id, ui
		}
		id, ui := claims(optedIn, true)
		for _, c := range []groupClaims{id, ui} {
			if !slices.Equal(c.Groups, []string{admins, staff}) || !slices.Equal(c.GroupNames, []string{"Admins", "Staff"}) {
				t.Fatalf("opted-in app: %+v, want [%s %s] [Admins Staff]", c, admins, staff)
			}
		}
		id, ui = claims(other, false)
		for _, c := range []groupClaims{id, ui} {
			if c.Groups != nil || c.GroupNames != nil {
				t.Fatalf("an app that did not opt in got %+v", c)
			}
		}
	})
}
