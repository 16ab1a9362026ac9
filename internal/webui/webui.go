// Package webui serves Keyward's web pages: the sign-in page, My security
// info, the admin center and the first-run setup page. Pages are
// server-rendered shells (templates from package web) whose small JavaScript
// modules call the JSON API with fetch; the handlers here decide who may see
// a page, render it with the signed-in user and the session's CSRF token,
// set the security headers, and serve the embedded static assets.
package webui

import (
	"bytes"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/storage"
)

// Landing pages.
const (
	homePath  = "/my/security-info"
	loginPath = "/login"
	adminHome = "/admin/users"
)

// UI is the web interface, a server.Mounter: srv.Mount(&webui.UI{Logger: l}).
type UI struct {
	Logger *slog.Logger
	// OIDC, when set, is the OpenID Connect provider whose browser-facing
	// endpoints (authorize, the sign-in hand-off, logout) the UI serves.
	OIDC *oidc.Provider
	// Access is conditional access, for the step-up the admin center's
	// pages ask for (nil: a step-up is only explained).
	Access *conditionalaccess.Service
	// Passkeys runs the step-up page's checks (which keys can step up,
	// whether the user may register one that would).
	Passkeys *passkey.Service
	// Now is the clock (nil: time.Now), for whether a session's
	// multi-factor proof is recent.
	Now func() time.Time

	assets *assets
	pages  map[string]*template.Template
}

// Mount registers the page and asset routes. The templates and assets are
// embedded, so a failure to load them is a build defect: Mount panics, and
// the package tests catch it first. Every page is a GET that reads the
// browser's session (rt.Handle); what a page changes, it changes through the
// JSON API with the CSRF token the page carries.
func (u *UI) Mount(rt server.Router) {
	if u.Logger == nil {
		u.Logger = slog.Default()
	}
	u.assets = mustLoadAssets()
	u.pages = mustParsePages(u.assets)

	rt.Handle("GET /{$}", http.HandlerFunc(u.home))
	rt.Handle("GET /login", http.HandlerFunc(u.login))
	rt.Handle("GET "+StepUpPath, http.HandlerFunc(u.stepUp))
	rt.Handle("GET /setup", http.HandlerFunc(u.setup))
	rt.Handle("GET /my", redirectTo(homePath))
	rt.Handle("GET /my/security-info", u.signedIn(u.page("security-info", "Security info", "my", "")))
	rt.Handle("GET /admin", redirectTo(adminHome))
	rt.Handle("GET /admin/users", u.admin(u.page("admin-users", "Users", "admin", "users")))
	rt.Handle("GET /admin/users/{id}", u.admin(u.page("admin-user", "User", "admin", "users")))
	rt.Handle("GET /admin/groups", u.admin(u.page("admin-groups", "Groups", "admin", "groups")))
	rt.Handle("GET /admin/groups/{id}", u.admin(u.page("admin-group", "Group", "admin", "groups")))
	rt.Handle("GET /admin/applications", u.admin(u.page("admin-apps", "Applications", "admin", "applications")))
	rt.Handle("GET /admin/applications/{id}", u.admin(u.page("admin-app", "Application", "admin", "applications")))
	rt.Handle("GET /admin/authentication-methods", u.admin(u.page("admin-methods", "Authentication methods", "admin", "methods")))
	rt.Handle("GET /admin/authentication-methods/fido2", u.admin(u.page("admin-fido2", "Passkey (FIDO2) settings", "admin", "methods")))
	rt.Handle("GET /admin/authentication-methods/temporary-access-pass", u.admin(u.page("admin-tap", "Temporary Access Pass settings", "admin", "methods")))
	rt.Handle("GET /admin/conditional-access", u.admin(u.page("admin-conditional-access", "Conditional access", "admin", "conditional-access")))
	rt.Handle("GET /admin/sign-ins", u.admin(u.page("admin-sign-ins", "Sign-in log", "admin", "sign-ins")))
	rt.Handle("GET /admin/audit-log", u.admin(u.page("admin-audit-log", "Audit log", "admin", "audit-log")))
	rt.Handle("GET /admin/reports/registration", u.admin(u.page("admin-registration", "Registration details", "admin", "registration")))
	rt.Handle("GET /admin/reports/key-models", u.admin(u.page("admin-key-models", "Key models in use", "admin", "key-models")))
	rt.Handle("GET /admin/reports/distrusted-models", u.admin(u.page("admin-distrusted", "Distrusted key models", "admin", "distrusted")))
	rt.Handle("GET /my/{rest...}", u.signedIn(u.notFound))
	rt.Handle("GET /admin/{rest...}", u.admin(u.notFound))
	rt.Handle("GET /static/{path...}", u.assets)
	if u.OIDC != nil {
		u.mountOIDC(rt)
	}
}

// notFound is a readable page for a mistyped address inside the app (the
// rest of the site answers unknown paths with the API's JSON 404).
func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	u.renderMessage(w, r, http.StatusNotFound, message{
		Title: "This page doesn't exist",
		Text:  "The address may be mistyped, or the page has moved. Use the navigation above to find what you need.",
		Link:  homePath, LinkText: "Go to My security info",
	})
}

// view is what every template receives.
type view struct {
	Name, Title  string // template name and <title>
	Script       string // the page's module under static/, "" = none
	Bare         bool   // the centred sign-in layout instead of the app layout
	Section      string // main navigation entry: "my" or "admin"
	AdminSection string // admin navigation entry
	User         *viewer
	Admin        bool
	CSRF         string
	Data         pageData
	Message      message
	// AdminMFANotice explains, on My security info, why the admin center
	// sent the person here: it needs a multi-factor sign-in.
	AdminMFANotice bool
}

// viewer is the signed-in user shown in the header.
type viewer struct {
	UserPrincipalName, DisplayName, Initials string
}

// pageData becomes data-* attributes on <main>, read by the page's script.
type pageData struct {
	Next     string // where to go after signing in (a checked same-site path)
	ID       string // the user or group an admin page is about
	Token    string // the setup token
	Username string // a username to prefill
	ACR      string // the strength a step-up must reach
	// Models are the AAGUIDs (comma-joined) a step-up is restricted to, and
	// ModelNames the same in words.
	Models, ModelNames string
	// Mode is the step-up page's: modePasskey, modeRegister or modeReauth;
	// SignInAgain is the fresh sign-in that comes back (modeReauth), and
	// Registered says a passkey was just set up (modePasskey).
	Mode, SignInAgain string
	Registered        bool
	// Grants (space-separated) say what the admin's role may change, and
	// Role names that role, so admin pages show the rest read-only.
	Grants, Role string
	Me           string // the signed-in administrator's user ID
}

// message is the text of the simple message page (errors, no access).
type message struct {
	Title, Text, Link, LinkText string
}

// page renders the named template in the app layout for a signed-in user.
func (u *UI) page(name, title, section, adminSection string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := u.baseView(r, name, title)
		v.Section, v.AdminSection = section, adminSection
		v.Data.ID = r.PathValue("id")
		if p, ok := principal(r); ok && p.Role != "" {
			v.Data.Grants, v.Data.Role, v.Data.Me = grantsOf(p.Role), roleNames[p.Role], p.UserID
		}
		u.render(w, r, http.StatusOK, v)
	}
}

// roleNames are the admin roles as the pages name them.
var roleNames = map[string]string{
	storage.RoleGlobalAdmin:                   "Global administrator",
	storage.RolePrivilegedAuthenticationAdmin: "Privileged authentication administrator",
	storage.RoleAuthenticationAdmin:           "Authentication administrator",
	storage.RoleReader:                        "Reader",
}

// grantsOf lists what role may change as the pages' data-grants.
func grantsOf(role string) string {
	g := authz.GrantsOf(role)
	var out []string
	for _, x := range []struct {
		name string
		on   bool
	}{{"directory", g.Directory}, {"methodPolicies", g.MethodPolicies}, {"methods", g.Methods},
		{"methodsOfAdmins", g.MethodsOfAdmins}, {"addMethodsToAdmins", g.AddMethodsToAdmins}, {"applications", g.Applications},
		{"conditionalAccess", g.ConditionalAccess}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return strings.Join(out, " ")
}

// baseView fills in the signed-in user, their CSRF token and the page's script.
func (u *UI) baseView(r *http.Request, name, title string) view {
	v := view{Name: name, Title: title, Script: "js/" + name + ".js"}
	p, ok := principal(r)
	if !ok {
		return v
	}
	v.CSRF = session.CSRFToken(p.Session.ID)
	v.Admin = p.Role != ""
	v.AdminMFANotice = p.MFAMissing
	who := &viewer{UserPrincipalName: p.Name, DisplayName: p.Name}
	if p.User != nil && p.User.DisplayName != "" { // as loaded with the session
		who.DisplayName = p.User.DisplayName
	}
	who.Initials = initials(who.DisplayName)
	v.User = who
	return v
}

// render executes the page into a buffer first, so a template error becomes
// a clean 500 rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	t, ok := u.pages[v.Name]
	if !ok {
		u.Logger.ErrorContext(r.Context(), "web page template missing", "page", v.Name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		u.Logger.ErrorContext(r.Context(), "render web page", "page", v.Name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderMessage shows a short page with a title, a sentence and a link.
func (u *UI) renderMessage(w http.ResponseWriter, r *http.Request, status int, m message) {
	v := u.baseView(r, "message", m.Title)
	v.Script, v.Message = "", m
	v.Bare = v.User == nil
	u.render(w, r, status, v)
}

// principal returns the signed-in user (session cookie), not an API token.
func principal(r *http.Request) (server.Principal, bool) {
	p, ok := server.PrincipalFrom(r.Context())
	if !ok || p.Kind != server.PrincipalUser || p.Session == nil {
		return server.Principal{}, false
	}
	return p, true
}

// signedIn sends visitors without a session to the sign-in page, with a
// way back here.
func (u *UI) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := principal(r); !ok {
			setPageHeaders(w.Header())
			http.Redirect(w, r, loginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

// admin is signedIn plus an admin role. Which role may do what is the API's
// decision; the pages only keep people without any role out, and send an
// administrator signed in with one factor to My security info, which says
// why and lets them add (or sign in again with) a second method.
func (u *UI) admin(next http.HandlerFunc) http.HandlerFunc {
	return u.signedIn(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal(r)
		if p.Role != "" && p.MFAMissing {
			setPageHeaders(w.Header())
			http.Redirect(w, r, homePath, http.StatusSeeOther)
			return
		}
		if p.Role == "" {
			u.renderMessage(w, r, http.StatusForbidden, message{
				Title: "You don't have access to the admin center",
				Text:  "The admin center is for administrators. If you need access, ask one of your organisation's administrators to give you an admin role.",
				Link:  homePath, LinkText: "Go to My security info",
			})
			return
		}
		if !u.adminAccess(w, r, p) {
			return
		}
		next(w, r)
	})
}

// home sends signed-in users to their security info and others to sign in.
func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w.Header())
	if _, ok := principal(r); ok {
		http.Redirect(w, r, homePath, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}

// login shows the sign-in page. A signed-in user goes straight on to next,
// unless prompt=login asks to sign in again (for a fresh multi-factor
// sign-in before adding a security key).
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	next := safeNext(q.Get("next"))
	if _, ok := principal(r); ok && q.Get("prompt") != "login" {
		setPageHeaders(w.Header())
		if next == "" {
			next = homePath
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := u.baseView(r, "login", "Sign in")
	v.Bare = true
	v.Data.Next = next
	v.Data.Username = strings.TrimSpace(q.Get("username"))
	if len(v.Data.Username) > directory.MaxUPNLength {
		v.Data.Username = ""
	}
	u.render(w, r, http.StatusOK, v)
}

// setup shows the first-run page that creates the first global administrator.
// Whether the token is valid is asked of the API by the page itself.
func (u *UI) setup(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 256 {
		u.renderMessage(w, r, http.StatusBadRequest, message{
			Title: "This setup link is incomplete",
			Text:  "Open the whole link that keyward serve printed on its first start, including the part after ?token=.",
		})
		return
	}
	v := u.baseView(r, "setup", "Set up Keyward")
	v.Bare = true
	v.Data.Token = token
	u.render(w, r, http.StatusOK, v)
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		http.Redirect(w, r, path, http.StatusSeeOther)
	}
}

// initials are the avatar letters: the first letter of the first two words.
func initials(name string) string {
	var out []rune
	for _, f := range strings.Fields(name) {
		for _, c := range f {
			out = append(out, c)
			break
		}
		if len(out) == 2 {
			break
		}
	}
	return strings.ToUpper(string(out))
}

// adminAccess asks conditional access about the admin center (as its API
// does at every call) before the page is shown: a step-up that only a
// passkey meets goes to the step-up page and back here; any other
// step-up or a block is a page saying what the person needs. It reports
// whether the page may be shown.
func (u *UI) adminAccess(w http.ResponseWriter, r *http.Request, p server.Principal) bool {
	err := p.CheckAccess(r.Context(), access.AppAdmin, "")
	if err == nil {
		return true
	}
	e, ok := errors.AsType[*apperr.Error](err)
	if !ok || (e.Code != conditionalaccess.CodeStepUp && e.Code != conditionalaccess.CodeBlocked) {
		u.Logger.ErrorContext(r.Context(), "admin center: conditional access", "error", err)
		u.renderMessage(w, r, http.StatusInternalServerError, message{Title: "Something went wrong",
			Text: "Keyward could not check your access to the admin center. Try again in a moment."})
		return false
	}
	if e.Code == conditionalaccess.CodeStepUp && u.Access != nil {
		d, err := u.Access.Check(r.Context(), *p.Session, nil, conditionalaccess.Target{AppID: access.AppAdmin}, p.Session.IP)
		models, ok := conditionalaccess.StepUpModels(d.RequiredStrengths)
		allPasskey := len(d.RequiredStrengths) > 0
		for _, st := range d.RequiredStrengths {
			allPasskey = allPasskey && st.NeedsFido2()
		}
		if err == nil && ok && allPasskey {
			setPageHeaders(w.Header())
			http.Redirect(w, r, StepUpURL(oidc.ACRPhishingResistant, models, r.URL.RequestURI()), http.StatusSeeOther)
			return false
		}
	}
	u.renderMessage(w, r, http.StatusForbidden, message{Title: "You cannot use the admin center this way",
		Text: e.Message, Link: homePath, LinkText: "Go to My security info"})
	return false
}
