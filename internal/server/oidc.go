package server

import (
	"net/http"

	"github.com/keyward/keyward/internal/oidc"
)

// OIDCEndpoints mounts the provider's machine-facing endpoints. Clients
// authenticate to them by the OAuth rules (Basic client secrets, access
// tokens), not with Keyward's API tokens, so they skip Keyward's
// authentication; the browser-facing ones are the web UI's.
type OIDCEndpoints struct {
	Provider *oidc.Provider
}

// Mount implements Mounter.
func (o *OIDCEndpoints) Mount(rt Router) {
	rt.HandlePublic("GET "+oidc.DiscoveryPath, http.HandlerFunc(o.Provider.ServeDiscovery))
	h := o.Provider.Handler()
	for _, p := range []string{
		"GET " + oidc.KeysPath,
		"POST " + oidc.TokenPath,
		"GET " + oidc.UserinfoPath,
		"POST " + oidc.UserinfoPath, // RFC 6750 §2.2
		"POST " + oidc.RevocationPath,
		"POST " + oidc.IntrospectionPath,
		"OPTIONS /oauth2/", // CORS preflight for browser apps
	} {
		rt.HandlePublic(p, h)
	}
}
