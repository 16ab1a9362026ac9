package webui

import (
	"net/http"
	"net/url"
	"strings"

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
			u.renderMessage(w, r, http.StatusForbidden, noStepUpKey(deviceBound, models))
			return
		}
	}
	v := u.baseView(r, "step-up", "Confirm it's you")
	v.Bare = true
	v.Data.Next, v.Data.ACR = next, acr
	if len(models) > 0 {
		v.Data.Models, v.Data.ModelNames = strings.Join(models, ","), conditionalaccess.ModelNames(models)
	}
	u.render(w, r, http.StatusOK, v)
}

// noStepUpKey tells a user without a suitable passkey what they need and
// where to get it, instead of a prompt no key of theirs can answer.
func noStepUpKey(deviceBound bool, models []string) message {
	if len(models) > 0 {
		return message{Title: "You need a passkey of a particular model to continue",
			Text: "This needs a sign-in with a passkey of model " + conditionalaccess.ModelNames(models) +
				", and your account has none (other passkeys do not count here). " +
				"Ask your administrator for a key of that model and to register it for you, or add one in My security info.",
			Link: homePath + "?add=passkey", LinkText: "Go to My security info"}
	}
	if deviceBound {
		return message{Title: "You need a security key to continue",
			Text: "This needs a sign-in with a security key or another passkey that stays on one device, and your account has none. " +
				"Add one in My security info, or ask your administrator to register one for you. A passkey synced across your devices does not count here.",
			Link: homePath + "?add=passkey", LinkText: "Go to My security info"}
	}
	return message{Title: "You need a passkey to continue",
		Text: "This needs a sign-in with a passkey or security key, and your account has none. " +
			"Add one in My security info, or ask your administrator to register one for you.",
		Link: homePath + "?add=passkey", LinkText: "Go to My security info"}
}
