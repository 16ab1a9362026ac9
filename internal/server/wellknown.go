package server

import (
	"net/http"

	"github.com/keyward/keyward/internal/apperr"
)

// WebAuthnWellKnown serves the related origins document (WebAuthn Level 3,
// §5.11 "Using Web Authentication across related origins"): browsers
// fetch https://<RP ID>/.well-known/webauthn when a page at another origin
// asks for a passkey of Keyward's RP ID, and allow the ceremony when that
// origin is listed.
type WebAuthnWellKnown struct {
	Origins []string // the configured related origins; none → 404
}

// WebAuthnWellKnownPath is where browsers look for the related origins.
const WebAuthnWellKnownPath = "/.well-known/webauthn"

// Mount implements Mounter.
func (h *WebAuthnWellKnown) Mount(rt Router) {
	rt.HandlePublic("GET "+WebAuthnWellKnownPath, http.HandlerFunc(h.serve))
}

func (h *WebAuthnWellKnown) serve(w http.ResponseWriter, r *http.Request) {
	if len(h.Origins) == 0 {
		WriteError(w, r, apperr.New(http.StatusNotFound, "notFound",
			"this Keyward has no related origins (setting related_origins)"))
		return
	}
	WriteJSON(w, http.StatusOK, struct {
		Origins []string `json:"origins"`
	}{h.Origins})
}
