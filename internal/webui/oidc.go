package webui

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/storage"
)

// mountOIDC registers the browser-facing OpenID Connect endpoints: the
// authorization request, the hand-off to and from the sign-in page, and
// RP-initiated logout. They run with the browser's session.
func (u *UI) mountOIDC(rt server.Router) {
	rt.Handle("GET "+oidc.AuthorizePath, http.HandlerFunc(u.oidcAuthorize))
	rt.Handle("GET "+oidc.CallbackPath, u.withOIDC(u.OIDC.ServeCallback))
	rt.Handle("GET "+oidc.EndSessionPath, u.withOIDC(u.OIDC.ServeEndSession))
	rt.Handle("GET "+oidc.ContinuePath, http.HandlerFunc(u.oidcContinue))
}

func browserSession(r *http.Request) *storage.Session {
	if p, ok := principal(r); ok {
		return p.Session
	}
	return nil
}

// withOIDC runs a provider endpoint with the browser's session and turns
// the plain-text refusals it writes when it must not redirect (unknown
// client, unregistered redirect URI) into a readable page.
func (u *UI) withOIDC(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(oidc.WithBrowserSession(r.Context(), browserSession(r)))
		cw := &captureWriter{header: http.Header{}}
		h(cw, r)
		if cw.status == http.StatusBadRequest && strings.HasPrefix(cw.header.Get("Content-Type"), "text/plain") {
			text := strings.TrimSpace(cw.body.String())
			if text == "" || len(text) > 500 {
				text = "The application sent a request Keyward cannot accept."
			}
			u.renderMessage(w, r, http.StatusBadRequest, message{
				Title: "This sign-in request can't be completed",
				Text:  text + " Go back to the application and try again; if it keeps happening, tell the application's administrator.",
			})
			return
		}
		setPageHeaders(cw.header)
		cw.writeTo(w)
	}
}

// oidcAuthorize is the authorization endpoint. Where the answer sends the
// browser on to Keyward's own hand-off (oidcContinue), and the hand-off on
// to the callback, it follows those redirects itself, within the request:
// a browser whose session will do gets the redirect to the app with its
// code in one answer instead of three; one that must sign in or step up
// gets the redirect to that page. The requests it skips are the ones the
// browser would have made next, with its cookies and its session; they
// share what each read and write the request they create once
// (oidc.Provider.BeginAuthorization).
func (u *UI) oidcAuthorize(w http.ResponseWriter, r *http.Request) {
	r = u.OIDC.BeginAuthorization(r)
	// The steps followed, each only from the one before it.
	steps := []struct {
		path string
		h    http.HandlerFunc
	}{
		{oidc.AuthorizePath, u.withOIDC(u.OIDC.ServeAuthorize)},
		{oidc.ContinuePath, u.oidcContinue},
		{oidc.CallbackPath, u.withOIDC(u.OIDC.ServeCallback)},
	}
	var cookies []string
	for i, step := range steps {
		cw := &captureWriter{header: http.Header{}}
		step.h(cw, r)
		to := redirectedTo(cw)
		if i+1 == len(steps) || to == nil || to.Path != steps[i+1].path || to.Query().Get("id") == "" {
			if err := u.OIDC.FinishAuthorization(r.Context()); err != nil {
				u.Logger.ErrorContext(r.Context(), "oidc: store an authorization request", "error", err)
				u.renderMessage(w, r, http.StatusInternalServerError, message{Title: "Something went wrong",
					Text: "Keyward could not start signing you in. Go back to the application and try again."})
				return
			}
			if len(cookies) > 0 {
				cw.header["Set-Cookie"] = append(cookies, cw.header["Set-Cookie"]...)
			}
			cw.writeTo(w)
			return
		}
		cookies = append(cookies, cw.header.Values("Set-Cookie")...)
		r = r.Clone(r.Context())
		r.URL, r.RequestURI = to, to.RequestURI()
	}
}

// redirectedTo is the path on this server a captured answer redirects to
// (nil: none).
func redirectedTo(cw *captureWriter) *url.URL {
	if cw.status != http.StatusFound && cw.status != http.StatusSeeOther {
		return nil
	}
	to, err := url.Parse(cw.header.Get("Location"))
	if err != nil || to.Scheme != "" || to.Host != "" || !strings.HasPrefix(to.Path, "/") {
		return nil
	}
	return to
}

// captureWriter holds a response until it is known whether to pass it on.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }

// writeTo passes the held response on.
func (c *captureWriter) writeTo(w http.ResponseWriter) {
	for k, v := range c.header {
		w.Header()[k] = v
	}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body.Bytes())
}
func (c *captureWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// oidcContinue is where an authorization request comes for a signed-in
// user: straight back to the app when the session will do, or to the
// sign-in page, which returns here when done.
func (u *UI) oidcContinue(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 64 {
		u.renderMessage(w, r, http.StatusBadRequest, message{Title: "This sign-in link is incomplete",
			Text: "Go back to the application and sign in again."})
		return
	}
	var sess *storage.Session
	var user *storage.User
	if p, ok := principal(r); ok {
		sess, user = p.Session, p.User
	}
	step, err := u.OIDC.Continue(r.Context(), id, sess, user)
	if err != nil {
		u.Logger.ErrorContext(r.Context(), "oidc: continue an authorization request", "error", err)
		u.renderMessage(w, r, http.StatusInternalServerError, message{Title: "Something went wrong",
			Text: "Keyward could not finish signing you in. Go back to the application and try again."})
		return
	}
	setPageHeaders(w.Header())
	switch step.Kind {
	case oidc.StepRedirect:
		http.Redirect(w, r, step.URL, http.StatusFound)
	case oidc.StepStepUp:
		http.Redirect(w, r, StepUpURL(step.ACR, step.Models, oidc.ContinuePath+"?id="+url.QueryEscape(id)), http.StatusFound)
	case oidc.StepSignIn:
		q := url.Values{"next": {oidc.ContinuePath + "?id=" + url.QueryEscape(id)}}
		if step.Fresh {
			q.Set("prompt", "login")
		}
		http.Redirect(w, r, loginPath+"?"+q.Encode(), http.StatusFound)
	default:
		u.renderMessage(w, r, http.StatusForbidden, message{Title: step.Title, Text: step.Text})
	}
}
