// Package app is Keyward's composition root: it builds the domain services
// on a store and mounts their HTTP flows on one server. `keyward serve` and
// the end-to-end tests both use it, so what is tested is what runs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/alerts"
	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/compromise"
	"github.com/keyward/keyward/internal/conditionalaccess"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/oidc"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/reports"
	"github.com/keyward/keyward/internal/server"
	"github.com/keyward/keyward/internal/session"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/webui"
)

// Options configure an App; zero values get the documented defaults.
type Options struct {
	Store     storage.Storage
	Logger    *slog.Logger
	Registry  *prometheus.Registry
	Now       func() time.Time
	PublicURL *url.URL // required: gives the WebAuthn RP ID and origin
	// RelatedOrigins are other origins accepted in WebAuthn ceremonies and
	// served at /.well-known/webauthn (config.RelatedOriginsList).
	RelatedOrigins []string

	SessionIdleTimeout     time.Duration
	SessionAbsoluteTimeout time.Duration
	MaxBodyBytes           int64
	Ready                  func(ctx context.Context) error
	ChallengeTTL           time.Duration

	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	// AllowSingleFactorAdmins lets people use their admin role from a
	// one-factor session (require_mfa_for_admins: false); by default admin
	// work with a session needs a multi-factor sign-in.
	AllowSingleFactorAdmins bool

	// MDS: where `keyward mds update` and the scheduled refresh download the
	// blob, and the roots it must chain to (empty = the FIDO production root).
	MDSURL        string
	MDSRoots      []string
	MDSHTTPClient *http.Client

	// SignInLimits bound failed password, code and pass attempts (zero
	// fields = 10 per account and 50 per address in 15 minutes).
	SignInLimits signin.Limits

	// OIDCKeyEncryptionKey (32 bytes) seals the OpenID Connect signing keys
	// in the database; nil stores them unencrypted.
	OIDCKeyEncryptionKey []byte

	// AlertWebhooks receive emergency-access alerts (none = log and counter only).
	AlertWebhooks []alerts.Webhook
	// AlertClient posts them (nil = a client with a 10 s timeout).
	AlertClient *http.Client
}

// App is a wired Keyward.
type App struct {
	Server    *server.Server
	Directory *directory.Service
	Sessions  *session.Manager
	Policies  *methodpolicy.Service
	Passkeys  *passkey.Service
	MDS       *mds.Service
	// Distrust finds the passkeys of models MDS reports as revoked or compromised.
	Distrust *compromise.Service
	SignIn   *signin.Service
	OIDC     *oidc.Provider
	Apps     *oidc.Apps
	Access   *conditionalaccess.Service
	// Alerts scans for emergency-access sign-ins and delivers their alerts;
	// serve runs it in the background.
	Alerts *alerts.Service
}

// New wires the services and routes.
func New(o Options) (*App, error) {
	if o.Store == nil || o.PublicURL == nil {
		return nil, fmt.Errorf("app: Store and PublicURL are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	sessions := &session.Manager{
		Store: o.Store, Now: o.Now,
		IdleTimeout: o.SessionIdleTimeout, AbsoluteTimeout: o.SessionAbsoluteTimeout,
		Secure: o.PublicURL.Scheme == "https", // and so the __Host- cookie
	}
	md := &mds.Service{
		Store: o.Store, Options: mds.Options{Roots: o.MDSRoots}, URL: o.MDSURL,
		HTTPClient: o.MDSHTTPClient, Logger: o.Logger, Now: o.Now,
	}
	// The day a model is found unsafe: each newer blob re-evaluates the
	// registered passkeys against its status reports.
	distrust := &compromise.Service{Store: o.Store, Metadata: md, Logger: o.Logger, Now: o.Now}
	md.OnNewBlob = distrust.BlobChanged
	policies := &methodpolicy.Service{Store: o.Store, Now: o.Now, Metadata: md}
	pk, err := passkey.New(passkey.Config{
		Store: o.Store, Policies: policies, Metadata: md, Logger: o.Logger, Now: o.Now,
		PublicURL: o.PublicURL, RelatedOrigins: o.RelatedOrigins, ChallengeTTL: o.ChallengeTTL, Sessions: sessions,
	})
	if err != nil {
		return nil, err
	}
	dir := &directory.Service{Store: o.Store, Now: o.Now}
	signIn := &signin.Service{
		Store: o.Store, Sessions: sessions, Directory: dir, Policies: policies,
		Logger: o.Logger, Now: o.Now, Limits: o.SignInLimits,
	}
	ca := &conditionalaccess.Service{Store: o.Store, Now: o.Now}
	// The issuer is the public URL exactly: relying parties compare it byte for byte.
	provider, err := oidc.New(oidc.Config{
		Store: o.Store, Now: o.Now, Logger: o.Logger, Issuer: strings.TrimSuffix(o.PublicURL.String(), "/"),
		KeyEncryptionKey: o.OIDCKeyEncryptionKey, Access: ca.OIDCVerdict,
	})
	if err != nil {
		return nil, err
	}
	apps := &oidc.Apps{Store: o.Store, Now: o.Now}

	srv := server.New(server.Deps{
		Store: o.Store, Logger: o.Logger, Registry: o.Registry, Now: o.Now, PublicURL: o.PublicURL,
		Sessions: sessions, MaxBodyBytes: o.MaxBodyBytes, Ready: o.Ready,
		TrustedProxies: o.TrustedProxies, AllowSingleFactorAdmins: o.AllowSingleFactorAdmins,
		Access: ca.Surface, RelatedOrigins: o.RelatedOrigins,
	})
	if err := distrust.Register(srv.Registry()); err != nil {
		return nil, err
	}
	srv.Mount(
		// Sign-in: what the sign-in page calls.
		&server.SignInAPI{Store: o.Store, SignIn: signIn, Passkeys: pk, Sessions: sessions, Logger: o.Logger, Now: o.Now},
		// Self-service: the signed-in user.
		&server.MeAPI{Store: o.Store, SignIn: signIn, Now: o.Now},
		&server.MyPasskeysAPI{Store: o.Store, Passkeys: pk, SignIn: signIn},
		// The admin API.
		&server.DirectoryAPI{Directory: dir, PublicURL: o.PublicURL},
		&server.PasskeyAdminAPI{Store: o.Store, Directory: dir, Passkeys: pk, Policies: policies, SignIn: signIn, Metadata: md,
			Logger: o.Logger, PublicURL: o.PublicURL},
		&server.MethodsAdminAPI{Directory: dir, SignIn: signIn, Now: o.Now, PublicURL: o.PublicURL},
		&server.ApplicationsAPI{Apps: apps, PublicURL: o.PublicURL},
		&server.AccessAPI{Access: ca, PublicURL: o.PublicURL},
		&server.LogsAPI{Logs: &audit.Logs{Store: o.Store}, PublicURL: o.PublicURL},
		&server.ReportsAPI{Reports: &reports.Service{Store: o.Store, Metadata: md, Now: o.Now}, Policies: policies,
			PublicURL: o.PublicURL},
		// OpenID Connect's machine-facing endpoints.
		&server.DistrustedPasskeysAPI{Compromise: distrust},
		&server.OIDCEndpoints{Provider: provider},
		// The origins besides the public URL's that may use Keyward's passkeys.
		&server.WebAuthnWellKnown{Origins: o.RelatedOrigins},
		// The web pages, after the API they call.
		&webui.UI{Logger: o.Logger, OIDC: provider, Passkeys: pk, Access: ca, Now: o.Now},
	)
	return &App{Server: srv, Directory: dir, Sessions: sessions, Policies: policies, Passkeys: pk, MDS: md, Distrust: distrust, SignIn: signIn,
		OIDC: provider, Apps: apps, Access: ca,
		Alerts: &alerts.Service{Store: o.Store, Webhooks: o.AlertWebhooks, Client: o.AlertClient, Logger: o.Logger, Now: o.Now,
			SignIns: alerts.NewSignInCounter(srv.Registry())}}, nil
}

// Handler is the root HTTP handler.
func (a *App) Handler() http.Handler { return a.Server.Handler() }
