package webui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/access"
	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/server"

	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/policy"
)

// StepUpPath is the step-up page: a signed-in user whose sign-in is too
// weak for what they asked for signs in again with a passkey that is strong
// enough, then goes on. It is generic — ?acr= names the strength (phr: any
// passkey, phrh: a device-bound one), ?models= the key models (AAGUIDs,
// comma-separated) a strength restricts it to, and ?next= where to go after
// — so an app's acr_values and conditional access both send people here.
const StepUpPath = "/login/step-up"

// StepUpURL is the step-up page for acr and, when not empty, only passkeys
// of models, going on to next (a same-site path).
func StepUpURL(acr string, models []string, next string) string {
	q := url.Values{"acr": {acr}, "next": {next}}
	if len(models) > 0 {
		q.Set("models", strings.Join(models, ","))
	}
	return StepUpPath + "?" + q.Encode()
}

// maxStepUpModels bounds the models one step-up link may name.
const maxStepUpModels = 200

// stepUpModels reads ?models=: normalised AAGUIDs, or ok false when the
// list is too long or holds something that is not an AAGUID.
func stepUpModels(raw string) (models []string, ok bool) {
	if raw == "" {
		return nil, true
	}
	parts := strings.Split(raw, ",")
	if len(parts) > maxStepUpModels {
		return nil, false
	}
	for _, p := range parts {
		n, err := policy.NormalizeAAGUID(p)
		if err != nil {
			return nil, false
		}
		models = append(models, n)
	}
	return models, true
}

func (u *UI) stepUp(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	next := safeNext(q.Get("next"))
	if next == "" {
		next = homePath
	}
	p, ok := principal(r)
	if !ok || p.User == nil {
		// Nobody to step up: a plain sign-in, after which next decides again.
		setPageHeaders(w.Header())
		http.Redirect(w, r, loginPath+"?"+url.Values{"next": {next}}.Encode(), http.StatusSeeOther)
		return
	}
	acr := q.Get("acr")
	models, modelsOK := stepUpModels(q.Get("models"))
	if !oidc.IsPasskeyACR(acr) || !modelsOK {
		u.renderMessage(w, r, http.StatusBadRequest, message{Title: "This link is incomplete",
			Text: "Go back to where you came from and try again.", Link: homePath, LinkText: "Go to My security info"})
		return
	}
	deviceBound := acr == oidc.ACRPhishingResistantHardware
	if u.Passkeys != nil {
		keys, err := u.Passkeys.StepUpKeys(r.Context(), p.User.ID, deviceBound, models)
		if err != nil {
			u.Logger.ErrorContext(r.Context(), "step-up: list the user's passkeys", "error", err)
			u.renderMessage(w, r, http.StatusInternalServerError, message{Title: "Something went wrong",
				Text: "Keyward could not check your sign-in methods. Try again in a moment."})
			return
		}
		if len(keys) == 0 {
			u.registerToStepUp(w, r, p, acr, models, next)
			return
		}
	}
	v := u.baseView(r, "step-up", "Confirm it's you")
	v.Bare = true
	v.Data.Next, v.Data.ACR, v.Data.Mode = next, acr, modePasskey
	v.Data.Registered = q.Get("registered") == "1"
	if len(models) > 0 {
		v.Data.Models, v.Data.ModelNames = strings.Join(models, ","), policy.ModelNames(models)
	}
	u.render(w, r, http.StatusOK, v)
}

// Step-up page modes (data-mode): a passkey sign-in with a key the user
// has, setting one up first, or a fresh multi-factor sign-in before that.
const (
	modePasskey  = "passkey"
	modeRegister = "register"
	modeReauth   = "reauth"
)

// registerToStepUp is the step-up page for a user with no passkey that
// gives the strength: when the passkey policy lets them register one that
// would (in scope, self-service on, a model the strength allows possible)
// and conditional access lets them add a method, they set one up here —
// after a fresh multi-factor sign-in when their session's proof is not
// recent (authz.RecentMFA), the rule for adding a method — and then sign in
// with it once, which is what satisfies the strength (registering alone
// does not: as in Entra, the new key must be used). Otherwise a page says
// what they need and whom to ask.
func (u *UI) registerToStepUp(w http.ResponseWriter, r *http.Request, p server.Principal, acr string, models []string, next string) {
	deviceBound := acr == oidc.ACRPhishingResistantHardware
	why := ""
	err := u.Passkeys.MayRegisterFor(r.Context(), *p.User, deviceBound, models)
	if e, ok := errors.AsType[*apperr.Error](err); ok && e.Status < 500 {
		why = e.Message
	} else if err != nil {
		u.stepUpFailed(w, r, err)
		return
	}
	if why == "" && u.Access != nil {
		d, err := u.Access.Registration(r.Context(), *p.Session, *p.User, p.Session.IP)
		if err != nil {
			u.stepUpFailed(w, r, err)
			return
		}
		if d.Decision != access.Grant {
			why = "adding a sign-in method is not allowed for your account this way. " + conditionalaccess.Explain(d)
		}
	}
	if why != "" {
		u.renderMessage(w, r, http.StatusForbidden, noStepUpKey(deviceBound, models, why))
		return
	}
	v := u.baseView(r, "step-up", "Set up a passkey")
	v.Bare = true
	v.Data.Next, v.Data.ACR, v.Data.Mode = next, acr, modeRegister
	if len(models) > 0 {
		v.Data.Models, v.Data.ModelNames = strings.Join(models, ","), policy.ModelNames(models)
	}
	if !authz.RecentMFA(*p.Session, u.now()) {
		v.Title, v.Data.Mode = "Confirm it's you", modeReauth
		v.Data.SignInAgain = loginPath + "?" + url.Values{"prompt": {"login"}, "username": {p.User.UserPrincipalName},
			"next": {r.URL.RequestURI()}}.Encode()
	}
	u.render(w, r, http.StatusOK, v)
}

func (u *UI) stepUpFailed(w http.ResponseWriter, r *http.Request, err error) {
	u.Logger.ErrorContext(r.Context(), "step-up: may the user register a passkey", "error", err)
	u.renderMessage(w, r, http.StatusInternalServerError, message{Title: "Something went wrong",
		Text: "Keyward could not check your sign-in methods. Try again in a moment."})
}

func (u *UI) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

// noStepUpKey tells a user without a suitable passkey, who cannot add one
// themselves (why), what they need and whom to ask, instead of a prompt no
// key of theirs can answer.
func noStepUpKey(deviceBound bool, models []string, why string) message {
	ask := " Ask an administrator of your organisation (an authentication administrator or a global administrator) to register one for you."
	why = "You cannot add one yourself: " + strings.TrimSuffix(why, ".") + "."
	if len(models) > 0 {
		return message{Title: "You need a passkey of a particular model to continue",
			Text: "This needs a sign-in with a passkey of model " + policy.ModelNames(models) +
				", and your account has none (other passkeys do not count here). " + why + ask,
			Link: homePath, LinkText: "Go to My security info"}
	}
	if deviceBound {
		return message{Title: "You need a security key to continue",
			Text: "This needs a sign-in with a security key or another passkey that stays on one device, and your account has none. " + why + ask,
			Link: homePath, LinkText: "Go to My security info"}
	}
	return message{Title: "You need a passkey to continue",
		Text: "This needs a sign-in with a passkey or security key, and your account has none. " + why + ask,
		Link: homePath, LinkText: "Go to My security info"}
}
